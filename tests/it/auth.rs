//! Sign-in, sessions, lockout, CSRF and API tokens, over real HTTP.

use diesel::prelude::*;
use hookdesk::auth::login::{self, LoginPolicy, LoginResult};
use hookdesk::auth::{User, password, sessions};
use hookdesk::db::schema;

use crate::db_tests;
use crate::helpers::{ADMIN_PASSWORD, PASSWORD, TestApp, client};

db_tests!(
    login_then_logout_ends_the_session,
    login_page_redirects_anonymous_users_back_after_login,
    logout_and_password_change_end_other_sessions,
    lockout_after_five_failures_and_its_expiry,
    unknown_user_and_wrong_password_look_alike,
    csrf_token_and_origin_are_enforced,
    api_tokens_authenticate_and_revoke,
    expired_sessions_are_refused,
    session_cookie_is_hardened,
);

async fn login_then_logout_ends_the_session(app: TestApp) {
    let r = app.get("/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2F");

    app.login_admin().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Welcome, Administrator"));

    // Keep the signed-in cookie to replay it after logout.
    let cookie = session_cookie(&app).await;
    let r = app.post_form("/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(app.get("/").await.status(), 303);

    let replay = client();
    let r = replay
        .get(app.url("/"))
        .header("cookie", format!("hookdesk_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "a logged-out session must not work again");
}

async fn session_cookie(app: &TestApp) -> String {
    // The jar is not readable from reqwest; ask for a page and read Set-Cookie instead.
    let c = client();
    let page = c.get(app.url("/login")).send().await.unwrap();
    let token = crate::helpers::csrf_from(&page.text().await.unwrap());
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let sc = r.headers()["set-cookie"].to_str().unwrap().to_string();
    sc.split(';')
        .next()
        .unwrap()
        .trim_start_matches("hookdesk_session=")
        .to_string()
}

async fn login_page_redirects_anonymous_users_back_after_login(app: TestApp) {
    let r = app.get("/admin/users?x=1").await;
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(loc, "/login?next=%2Fadmin%2Fusers%3Fx%3D1");
    let page = app.get(&loc).await.text().await.unwrap();
    let token = crate::helpers::csrf_from(&page);
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/admin/users?x=1"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/users?x=1");

    // An absolute URL is never followed.
    let c = client();
    let page = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::helpers::csrf_from(&page);
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "//evil.example/"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
}

async fn logout_and_password_change_end_other_sessions(app: TestApp) {
    app.create_user("tina", &["Technician"]);
    let laptop = client();
    let phone = client();
    let tablet = client();
    for c in [&laptop, &phone, &tablet] {
        app.login_with(c, "tina", PASSWORD).await;
        assert_eq!(app.get_with(c, "/account").await.status(), 200);
    }

    // A password change keeps the session that made it and ends the others.
    let r = app
        .post_form_with(
            &laptop,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-password-2"),
                ("confirm_password", "another-password-2"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get_with(&laptop, "/account").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Password changed"));
    assert_eq!(app.get_with(&phone, "/account").await.status(), 303);
    assert_eq!(app.get_with(&tablet, "/account").await.status(), 303);
    // The old password no longer works, the new one does.
    let r = app.try_login_with(&phone, "tina", PASSWORD).await;
    assert_eq!(r.status(), 401);
    app.login_with(&phone, "tina", "another-password-2").await;

    // Logout ends every session of the user.
    let r = app.post_form_with(&laptop, "/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get_with(&phone, "/account").await.status(), 303);
    let uid = app.with_conn(|c| User::find_by_username(c, "tina").unwrap().unwrap().id);
    let live = app.with_conn(|c| sessions::count_for_user(c, uid, hookdesk::db::now()).unwrap());
    assert_eq!(live, 0);
}

async fn lockout_after_five_failures_and_its_expiry(app: TestApp) {
    app.create_user("lou", &["Technician"]);
    let c = client();
    for _ in 0..5 {
        let r = app.try_login_with(&c, "lou", "wrong-password").await;
        assert_eq!(r.status(), 401);
    }
    // Locked: even the right password is refused, with the same message.
    let r = app.try_login_with(&c, "lou", PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains(login::FAILED_MESSAGE));

    // Time is passed in: 14 minutes later still locked, 16 minutes later open again.
    let policy = LoginPolicy::from_config(&app.config);
    let dummy = password::dummy_hash().unwrap();
    let now = hookdesk::db::now();
    let at = |mins| now + chrono::Duration::minutes(mins);
    let r = app.with_conn(|c| {
        login::attempt(c, "lou", PASSWORD, &policy, &dummy, "127.0.0.1", at(14)).unwrap()
    });
    assert!(matches!(r, LoginResult::Failed("account locked")), "{r:?}");
    let r = app.with_conn(|c| {
        login::attempt(c, "lou", PASSWORD, &policy, &dummy, "127.0.0.1", at(16)).unwrap()
    });
    assert!(matches!(r, LoginResult::Success(_)), "{r:?}");

    // Failures spread wider than the window do not lock.
    for i in 0..8 {
        let r = app.with_conn(|c| {
            login::attempt(
                c,
                "lou",
                "nope-nope-nope",
                &policy,
                &dummy,
                "127.0.0.1",
                at(20 + i * 16),
            )
            .unwrap()
        });
        assert!(matches!(r, LoginResult::Failed("wrong password")), "{r:?}");
    }
    let r = app.with_conn(|c| {
        login::attempt(
            c,
            "lou",
            PASSWORD,
            &policy,
            &dummy,
            "127.0.0.1",
            at(20 + 8 * 16),
        )
        .unwrap()
    });
    assert!(matches!(r, LoginResult::Success(_)));

    // The failures are in the audit log, without the passwords tried.
    let details: Vec<(String, String, String)> = app.with_conn(|c| {
        schema::audit_log::table
            .filter(schema::audit_log::action.eq("auth.login"))
            .select((
                schema::audit_log::target,
                schema::audit_log::outcome,
                schema::audit_log::detail,
            ))
            .load(c)
            .unwrap()
    });
    assert!(
        details
            .iter()
            .filter(|(t, o, _)| t == "lou" && o == "failure")
            .count()
            >= 5
    );
    assert!(
        details
            .iter()
            .all(|(_, _, d)| !d.contains("wrong-password"))
    );
}

async fn unknown_user_and_wrong_password_look_alike(app: TestApp) {
    app.create_user("uma", &["Technician"]);
    let c = client();
    let a = app.try_login_with(&c, "uma", "not-her-password").await;
    let b = app
        .try_login_with(&c, "nobody-at-all", "not-her-password")
        .await;
    assert_eq!(a.status(), b.status());
    let ta = a.text().await.unwrap();
    let tb = b.text().await.unwrap();
    assert!(ta.contains(login::FAILED_MESSAGE) && tb.contains(login::FAILED_MESSAGE));
}

async fn csrf_token_and_origin_are_enforced(app: TestApp) {
    app.login_admin().await;
    // No token.
    let r = app
        .client
        .post(app.url("/admin/roles"))
        .form(&[("name", "Auditors"), ("description", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("security token"));
    // A wrong token.
    let r = app
        .client
        .post(app.url("/admin/roles"))
        .form(&[("name", "Auditors"), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The right token in the header, but from a foreign origin.
    let token = app.csrf_of(&app.client).await;
    let r = app
        .client
        .post(app.url("/admin/roles"))
        .header("x-csrf-token", &token)
        .header("origin", "https://evil.example")
        .form(&[("name", "Auditors")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Origin"));
    let r = app
        .client
        .post(app.url("/admin/roles"))
        .header("x-csrf-token", &token)
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "Auditors")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Nothing was created by the refused requests.
    let n: i64 = app.with_conn(|c| {
        schema::roles::table
            .filter(schema::roles::name.eq("Auditors"))
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(n, 0);
    // The right token in the header, same origin: accepted.
    let r = app
        .client
        .post(app.url("/admin/roles"))
        .header("x-csrf-token", &token)
        .header("origin", app.address.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "Auditors")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

async fn api_tokens_authenticate_and_revoke(app: TestApp) {
    let r = app.get("/api/v1/me").await;
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    let tech = app.client_as("ivan", &["Technician"]).await;
    let r = app
        .post_form_with(&tech, "/account/tokens", &[("name", "CRM sync")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#new-token").unwrap();
    let token = doc
        .select(&sel)
        .next()
        .expect("token shown once")
        .text()
        .collect::<String>();
    assert!(token.starts_with("hdk_"));

    // Shown once: the account page does not show it again.
    let again = app.get_with(&tech, "/account").await.text().await.unwrap();
    assert!(!again.contains(&token));
    assert!(again.contains("CRM sync"));

    let api = reqwest::Client::new();
    let r = api
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["username"], "ivan");
    assert_eq!(me["roles"], serde_json::json!(["Technician"]));

    // Only the hash is stored.
    let rows: Vec<(String, String)> = app.with_conn(|c| {
        schema::api_tokens::table
            .select((schema::api_tokens::token_hash, schema::api_tokens::prefix))
            .load(c)
            .unwrap()
    });
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains(&token[4..]));
    assert_eq!(rows[0].0, hookdesk::auth::sha256_hex(&token));
    assert!(token.starts_with(&rows[0].1) && rows[0].1.len() < 16);

    // Last use is recorded.
    let used: Option<chrono::NaiveDateTime> = app.with_conn(|c| {
        schema::api_tokens::table
            .select(schema::api_tokens::last_used_at)
            .first(c)
            .unwrap()
    });
    assert!(used.is_some());

    // Revoke and it stops working.
    let id: i64 = app.with_conn(|c| {
        schema::api_tokens::table
            .select(schema::api_tokens::id)
            .first(c)
            .unwrap()
    });
    let r = app
        .post_form_with(&tech, &format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let r = api
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Another user cannot revoke someone else's token.
    let other = app.client_as("olga", &["Technician"]).await;
    let r = app
        .post_form_with(&other, "/account/tokens", &[("name", "x")])
        .await;
    assert_eq!(r.status(), 200);
    let olga_tok: i64 = app.with_conn(|c| {
        schema::api_tokens::table
            .select(schema::api_tokens::id)
            .order(schema::api_tokens::id.desc())
            .first(c)
            .unwrap()
    });
    let r = app
        .post_form_with(&tech, &format!("/account/tokens/{olga_tok}/revoke"), &[])
        .await;
    assert_eq!(r.status(), 404);

    // Cookies never authenticate the API.
    let r = app.get_with(&tech, "/api/v1/me").await;
    assert_eq!(r.status(), 401);
}

async fn expired_sessions_are_refused(app: TestApp) {
    let tech = app.client_as("sam", &["Technician"]).await;
    assert_eq!(app.get_with(&tech, "/account").await.status(), 200);
    let uid = app.with_conn(|c| User::find_by_username(c, "sam").unwrap().unwrap().id);

    // Absolute lifetime: pretend the login happened long ago.
    app.with_conn(|c| {
        let state: String = schema::sessions::table
            .filter(schema::sessions::user_id.eq(uid))
            .select(schema::sessions::state)
            .first(c)
            .unwrap();
        let mut m: std::collections::HashMap<String, String> =
            serde_json::from_str(&state).unwrap();
        let old = chrono::Utc::now().timestamp() - app.config.session_absolute_minutes * 60 - 1;
        m.insert("auth_at".into(), old.to_string());
        diesel::update(schema::sessions::table.filter(schema::sessions::user_id.eq(uid)))
            .set(schema::sessions::state.eq(serde_json::to_string(&m).unwrap()))
            .execute(c)
            .unwrap();
    });
    assert_eq!(app.get_with(&tech, "/account").await.status(), 303);

    // Idle lifetime: the row's expiry has passed.
    app.login_with(&tech, "sam", PASSWORD).await;
    assert_eq!(app.get_with(&tech, "/account").await.status(), 200);
    app.with_conn(|c| {
        diesel::update(schema::sessions::table.filter(schema::sessions::user_id.eq(uid)))
            .set(
                schema::sessions::expires_at.eq(hookdesk::db::now() - chrono::Duration::seconds(1)),
            )
            .execute(c)
            .unwrap();
    });
    assert_eq!(app.get_with(&tech, "/account").await.status(), 303);
}

async fn session_cookie_is_hardened(app: TestApp) {
    let c = client();
    let page = c.get(app.url("/login")).send().await.unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = crate::helpers::csrf_from(&page.text().await.unwrap());
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Strict"),
        "{pre}"
    );
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    let post = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let key = |s: &str| s.split(';').next().unwrap().to_string();
    assert_ne!(key(&pre), key(&post), "login must issue a new session id");
    // The session table holds digests, not the cookie's key.
    let hashes: Vec<String> = app.with_conn(|c| {
        schema::sessions::table
            .select(schema::sessions::key_hash)
            .load(c)
            .unwrap()
    });
    let raw = key(&post);
    assert!(hashes.iter().all(|h| !raw.contains(h.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookie_switch() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |c| {
        c.secure_cookies = true
    })
    .await
    .unwrap();
    let r = app.get("/login").await;
    let sc = r.headers()["set-cookie"].to_str().unwrap();
    assert!(sc.contains("Secure"), "{sc}");
}
