//! Connection pages and API: every auth kind, write-only secrets, host changes, clone,
//! delete, validation beside each field.

use hookdesk::auth::User;
use hookdesk::auth::tokens::ApiToken;
use hookdesk::connections::{Auth, Connection};
use hookdesk::secrets::{Secret, SecretBox, key::open_secret_box};
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    create_with_each_auth_kind,
    edit_keeps_clears_and_guards_host_changes,
    headers_and_tls_warning,
    clone_and_delete,
    signing_secret_generation_and_rotation,
    api_flows,
    validation_errors_name_each_field
);

pub fn secret_box(app: &TestApp) -> SecretBox {
    app.with_conn(|c| open_secret_box(&app.config, c)).unwrap()
}

pub fn by_name(app: &TestApp, name: &str) -> Connection {
    app.with_conn(|c| Connection::find_by_name(c, name))
        .unwrap()
        .unwrap_or_else(|| panic!("no connection {name}"))
}

/// The form fields of a connection, before the caller's additions.
fn base<'a>(name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("app_type", "generic"),
        ("environment", "production"),
        ("base_url", url),
        ("timeout_ms", "5000"),
        ("verify_tls", "on"),
    ]
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app.post_form(path, fields).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.unwrap()
}

fn field_error(html: &str, field: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{field}-error")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect())
        .unwrap_or_else(|| panic!("no error shown for {field}"))
}

/// An auth kind, the form fields that configure it, and the auth it must resolve to.
type AuthCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, Auth);

async fn create_with_each_auth_kind(app: TestApp) {
    app.login_admin().await;
    let cases: Vec<AuthCase> = vec![
        ("none", vec![], Auth::None),
        (
            "basic",
            vec![("auth_username", "bob"), ("auth_secret", "basic-pw-111")],
            Auth::Basic {
                user: "bob".into(),
                password: Secret("basic-pw-111".into()),
            },
        ),
        (
            "bearer",
            vec![("auth_secret", "bearer-tok-222")],
            Auth::Bearer {
                token: Secret("bearer-tok-222".into()),
            },
        ),
        (
            "api_key",
            vec![("auth_header", "X-Api-Key"), ("auth_secret", "api-key-333")],
            Auth::ApiKey {
                header: "X-Api-Key".into(),
                value: Secret("api-key-333".into()),
            },
        ),
        (
            "ntlm",
            vec![
                ("auth_username", "svc"),
                ("auth_domain", "CORP"),
                ("auth_secret", "ntlm-pw-444"),
            ],
            Auth::Ntlm {
                user: "svc".into(),
                password: Secret("ntlm-pw-444".into()),
                domain: "CORP".into(),
            },
        ),
    ];
    let sb = secret_box(&app);
    for (kind, extra, expected) in cases {
        let name = format!("conn-{kind}");
        let mut f = base(&name, "https://example.test/hooks/{{ticket.team}}");
        f.push(("auth_kind", kind));
        f.extend(extra.iter().cloned());
        let (status, body) = post(&app, "/admin/connections", &f).await;
        assert_eq!(status, 303, "create {kind}: {body}");
        let c = by_name(&app, &name);
        assert_eq!(c.resolved_auth(&sb).unwrap(), expected, "{kind}");
        let html = page(&app, &format!("/admin/connections/{}", c.id)).await;
        if kind != "none" {
            assert!(html.contains("stored — leave blank to keep it"), "{kind}");
        }
        for (_, v) in &extra {
            if v.contains("-pw-") || v.contains("-tok-") || v.contains("-key-") {
                assert!(!html.contains(v), "{kind}: the page shows the secret");
            }
        }
    }
    let list = page(&app, "/admin/connections").await;
    for kind in [
        "conn-none",
        "conn-basic",
        "conn-bearer",
        "conn-api_key",
        "conn-ntlm",
    ] {
        assert!(list.contains(kind));
    }
    assert!(list.contains("NTLM (user, password, domain)"));
    assert!(list.contains("https://example.test/hooks/{{ticket.team}}"));
}

async fn edit_keeps_clears_and_guards_host_changes(app: TestApp) {
    app.login_admin().await;
    let sb = secret_box(&app);
    let mut f = base("crm", "https://crm.example.test/api");
    f.extend([
        ("auth_kind", "basic"),
        ("auth_username", "bob"),
        ("auth_secret", "first-password-1"),
    ]);
    assert_eq!(post(&app, "/admin/connections", &f).await.0, 303);
    let c = by_name(&app, "crm");
    let path = format!("/admin/connections/{}", c.id);

    // A blank secret keeps the stored one while other fields change.
    let mut f = base("crm", "https://crm.example.test/api/v2");
    f.extend([("auth_kind", "basic"), ("auth_username", "alice")]);
    let (status, body) = post(&app, &path, &f).await;
    assert_eq!(status, 303, "{body}");
    let c = by_name(&app, "crm");
    assert_eq!(
        c.resolved_auth(&sb).unwrap(),
        Auth::Basic {
            user: "alice".into(),
            password: Secret("first-password-1".into())
        }
    );

    // A new host without the password again is refused beside the field; nothing saved.
    let mut f = base("crm", "https://evil.example.test/api");
    f.extend([("auth_kind", "basic"), ("auth_username", "alice")]);
    let (status, body) = post(&app, &path, &f).await;
    assert_eq!(status, 422);
    assert!(field_error(&body, "auth_secret").contains("host changed"));
    assert_eq!(
        by_name(&app, "crm").base_url,
        "https://crm.example.test/api/v2"
    );

    // With the password entered again it is accepted.
    f.push(("auth_secret", "second-password-2"));
    assert_eq!(post(&app, &path, &f).await.0, 303);
    let c = by_name(&app, "crm");
    assert_eq!(c.base_url, "https://evil.example.test/api");
    assert_eq!(
        c.resolved_auth(&sb).unwrap(),
        Auth::Basic {
            user: "alice".into(),
            password: Secret("second-password-2".into())
        }
    );

    // "Clear" removes it.
    let mut f = base("crm", "https://evil.example.test/api");
    f.extend([
        ("auth_kind", "basic"),
        ("auth_username", "alice"),
        ("auth_secret_clear", "on"),
    ]);
    assert_eq!(post(&app, &path, &f).await.0, 303);
    assert!(by_name(&app, "crm").auth_secret_sealed.is_none());
    let html = page(&app, &path).await;
    assert!(html.contains("(not set)"));

    // Switching to bearer needs a token: the basic password does not carry over.
    let mut f = base("crm", "https://evil.example.test/api");
    f.push(("auth_kind", "bearer"));
    let (status, body) = post(&app, &path, &f).await;
    assert_eq!(status, 422);
    assert!(field_error(&body, "auth_secret").contains("Enter the token"));

    let audit: Vec<String> = app.with_conn(|c| {
        use diesel::prelude::*;
        use hookdesk::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.like("connection.%"))
            .select(audit_log::detail)
            .load(c)
            .unwrap()
    });
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert!(audit.iter().any(|d| d.contains("auth_secret")));
    assert!(!audit.iter().any(|d| d.contains("password-")));
}

async fn headers_and_tls_warning(app: TestApp) {
    app.login_admin().await;
    let sb = secret_box(&app);
    let f = vec![
        ("name", "hdr"),
        ("app_type", "slack"),
        ("environment", "test"),
        ("base_url", "https://hooks.example.test/x"),
        ("timeout_ms", "2500"),
        ("auth_kind", "none"),
        ("header_name", "X-Tenant"),
        ("header_value", "acme"),
        ("header_name", "X-Secret-Token"),
        ("header_value", "hdr-secret-555"),
        ("header_secret", "1"),
        ("header_name", ""),
        ("header_value", ""),
    ];
    let (status, body) = post(&app, "/admin/connections", &f).await;
    assert_eq!(status, 303, "{body}");
    let c = by_name(&app, "hdr");
    assert!(!c.verify_tls);
    assert_eq!(c.timeout_ms, 2500);
    let hs = c.resolved_headers(&sb).unwrap();
    assert_eq!(hs.len(), 2);
    assert_eq!(hs[0].value.expose(), "acme");
    assert_eq!(hs[1].value.expose(), "hdr-secret-555");
    let path = format!("/admin/connections/{}", c.id);
    let html = page(&app, &path).await;
    assert!(!html.contains("hdr-secret-555"));
    assert!(
        html.contains("id=\"tls-warning\""),
        "TLS off shows a warning"
    );
    assert!(page(&app, "/admin/connections").await.contains("TLS off"));

    // Saving with the secret header value blank keeps it; the plain one can change.
    let f2 = vec![
        ("name", "hdr"),
        ("app_type", "slack"),
        ("environment", "test"),
        ("base_url", "https://hooks.example.test/y"),
        ("timeout_ms", "2500"),
        ("verify_tls", "on"),
        ("auth_kind", "none"),
        ("header_name", "X-Tenant"),
        ("header_value", "globex"),
        ("header_name", "X-Secret-Token"),
        ("header_value", ""),
        ("header_secret", "1"),
    ];
    assert_eq!(post(&app, &path, &f2).await.0, 303);
    let hs = by_name(&app, "hdr").resolved_headers(&sb).unwrap();
    assert_eq!(hs[0].value.expose(), "globex");
    assert_eq!(hs[1].value.expose(), "hdr-secret-555");
    assert!(!page(&app, &path).await.contains("id=\"tls-warning\""));

    // A new host with the secret header left blank is refused.
    let mut f3 = f2.clone();
    f3[3] = ("base_url", "https://other.example.test/y");
    let (status, body) = post(&app, &path, &f3).await;
    assert_eq!(status, 422);
    assert!(field_error(&body, "headers").contains("X-Secret-Token"));
}

async fn clone_and_delete(app: TestApp) {
    app.login_admin().await;
    let mut f = base("orig", "https://orig.example.test/");
    f.extend([("auth_kind", "bearer"), ("auth_secret", "clone-tok-666")]);
    assert_eq!(post(&app, "/admin/connections", &f).await.0, 303);
    let c = by_name(&app, "orig");
    let html = page(&app, &format!("/admin/connections/{}/clone", c.id)).await;
    assert!(html.contains("value=\"Copy of orig\""));
    assert!(html.contains("are not copied"));
    assert!(!html.contains("clone-tok-666"));
    // Saving the copy without a token is refused: secrets are not copied.
    let mut f = base("Copy of orig", "https://orig.example.test/");
    f.push(("auth_kind", "bearer"));
    let (status, body) = post(&app, "/admin/connections", &f).await;
    assert_eq!(status, 422);
    assert!(field_error(&body, "auth_secret").contains("token"));
    f.push(("auth_secret", "other-tok-777"));
    assert_eq!(post(&app, "/admin/connections", &f).await.0, 303);
    // A second clone gets a fresh name.
    let html = page(&app, &format!("/admin/connections/{}/clone", c.id)).await;
    assert!(html.contains("value=\"Copy of orig (2)\""));

    let (status, _) = post(&app, &format!("/admin/connections/{}/delete", c.id), &[]).await;
    assert_eq!(status, 303);
    assert!(
        app.with_conn(|x| Connection::find_by_name(x, "orig"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.get(&format!("/admin/connections/{}", c.id))
            .await
            .status(),
        404
    );
    assert!(
        app.with_conn(|x| hookdesk::connections::users_of(x, c.id))
            .unwrap()
            .is_empty()
    );
}

async fn signing_secret_generation_and_rotation(app: TestApp) {
    app.login_admin().await;
    let sb = secret_box(&app);
    let mut f = base("sig", "https://sig.example.test/");
    f.push(("auth_kind", "none"));
    assert_eq!(post(&app, "/admin/connections", &f).await.0, 303);
    let c = by_name(&app, "sig");
    let path = format!("/admin/connections/{}", c.id);
    assert!(page(&app, &path).await.contains("Generate signing secret"));
    let (status, html) = post(&app, &format!("{path}/signing-secret"), &[]).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#signing-secret-value").unwrap();
    let first: String = doc.select(&sel).next().unwrap().text().collect();
    assert!(first.starts_with("whsec_"));
    let now = hookdesk::db::now();
    let c = by_name(&app, "sig");
    assert_eq!(
        c.active_signing_secrets(&sb, now).unwrap(),
        vec![Secret(first.clone())]
    );
    // Shown once: the page afterwards says "Stored." without the value.
    let later = page(&app, &path).await;
    assert!(!later.contains(&first));
    assert!(later.contains("Stored."));
    assert!(later.contains("Rotate signing secret"));

    let (_, html) = post(
        &app,
        &format!("{path}/signing-secret"),
        &[("grace_hours", "2")],
    )
    .await;
    let doc = scraper::Html::parse_document(&html);
    let second: String = doc.select(&sel).next().unwrap().text().collect();
    assert_ne!(first, second);
    assert!(!html.contains(&first));
    let c = by_name(&app, "sig");
    assert_eq!(
        c.active_signing_secrets(&sb, now).unwrap(),
        vec![Secret(second.clone()), Secret(first.clone())]
    );
    let after_grace = now + chrono::Duration::hours(3);
    assert_eq!(
        c.active_signing_secrets(&sb, after_grace).unwrap(),
        vec![Secret(second.clone())]
    );

    // A pasted secret is checked for the whsec_ format.
    let mut f = base("sig", "https://sig.example.test/");
    f.extend([("auth_kind", "none"), ("signing_secret", "whsec_tooshort")]);
    let (status, body) = post(&app, &path, &f).await;
    assert_eq!(status, 422);
    assert!(field_error(&body, "signing_secret").contains("bytes"));
}

pub async fn admin_token(app: &TestApp) -> String {
    app.with_conn(|c| {
        let u = User::find_by_username(c, "admin").unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

async fn api_flows(app: TestApp) {
    let token = admin_token(&app).await;
    let sb = secret_box(&app);
    let api = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&token);
    let r = api(reqwest::Method::POST, "/api/v1/connections")
        .json(&json!({
            "name": "api-conn",
            "app_type": "teams",
            "environment": "development",
            "base_url": "https://teams.example.test/webhook",
            "auth_kind": "api_key",
            "auth_header": "X-Key",
            "auth_secret": "api-secret-888",
            "headers": [{"name": "X-Vault", "value": "hdr-api-999", "secret": true}],
            "signing_secret": format!("whsec_{}", base64_of(&[9u8; 24]))
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(!text.contains("api-secret-888") && !text.contains("hdr-api-999"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["auth_secret_set"], true);
    assert_eq!(v["signing_secret_set"], true);
    assert_eq!(v["headers"][0]["value"], Value::Null);
    assert_eq!(v["headers"][0]["value_set"], true);
    let id = v["id"].as_i64().unwrap();

    // PATCH one field; the secrets stay.
    let r = api(reqwest::Method::PATCH, &format!("/api/v1/connections/{id}"))
        .json(&json!({"timeout_ms": 3000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = by_name(&app, "api-conn");
    assert_eq!(c.timeout_ms, 3000);
    assert_eq!(
        c.resolved_auth(&sb).unwrap(),
        Auth::ApiKey {
            header: "X-Key".into(),
            value: Secret("api-secret-888".into())
        }
    );
    // Changing the host alone is refused, naming the fields.
    let r = api(reqwest::Method::PATCH, &format!("/api/v1/connections/{id}"))
        .json(&json!({"base_url": "https://elsewhere.example.test/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"auth_secret") && fields.contains(&"headers"),
        "{v}"
    );

    let r = api(reqwest::Method::GET, "/api/v1/connections")
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = api(reqwest::Method::GET, &format!("/api/v1/connections/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = api(
        reqwest::Method::POST,
        &format!("/api/v1/connections/{id}/signing-secret"),
    )
    .json(&json!({"grace_hours": 1}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let s = v["signing_secret"].as_str().unwrap();
    assert!(s.starts_with("whsec_"));
    assert!(v["connection"]["previous_signing_secret_expires_at"].is_string());

    let r = api(reqwest::Method::POST, "/api/v1/connections")
        .json(&json!({"name": "x", "surprise": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["fields"][0]["field"], "surprise", "{v}");

    let r = api(
        reqwest::Method::DELETE,
        &format!("/api/v1/connections/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = api(reqwest::Method::GET, &format!("/api/v1/connections/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

pub fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn validation_errors_name_each_field(app: TestApp) {
    app.login_admin().await;
    let f = vec![
        ("name", ""),
        ("app_type", "fax"),
        ("environment", "staging"),
        ("base_url", "ftp://x"),
        ("timeout_ms", "5"),
        ("auth_kind", "ntlm"),
        ("auth_secret", "typed-secret-000"),
        ("header_name", "Bad Header"),
        ("header_value", "v"),
    ];
    let (status, body) = post(&app, "/admin/connections", &f).await;
    assert_eq!(status, 422);
    for field in [
        "name",
        "app_type",
        "environment",
        "base_url",
        "timeout_ms",
        "auth_username",
        "headers",
    ] {
        field_error(&body, field);
    }
    assert!(
        !body.contains("typed-secret-000"),
        "a re-shown form drops secrets"
    );
    assert_eq!(app.with_conn(Connection::list).unwrap().len(), 0);

    let token = admin_token(&app).await;
    let r = app
        .client
        .post(app.url("/api/v1/connections"))
        .bearer_auth(&token)
        .json(&json!({"name": "", "base_url": "https://x/{{oops", "timeout_ms": 999999}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "validation_failed");
    let text = v.to_string();
    for field in ["name", "base_url", "timeout_ms"] {
        assert!(text.contains(&format!("\"field\":\"{field}\"")), "{text}");
    }
}
