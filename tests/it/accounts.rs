//! Administration of users and roles through the pages, and the audit log they write.

use diesel::prelude::*;
use hookdesk::auth::User;
use hookdesk::db::schema;

use crate::db_tests;
use crate::helpers::{PASSWORD, TestApp, client};

db_tests!(
    admin_creates_edits_and_deactivates_a_user,
    user_form_shows_each_error_beside_its_field,
    roles_are_created_renamed_and_deleted_safely,
    audit_log_lists_changes_without_secrets,
    the_last_administrator_cannot_be_removed,
);

fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

async fn admin_creates_edits_and_deactivates_a_user(app: TestApp) {
    app.login_admin().await;
    let r = app
        .post_form(
            "/admin/users",
            &[
                ("username", "Nina"),
                ("display_name", "Nina Novak"),
                ("email", "nina@example.test"),
                ("password", "nina-password-1"),
                ("roles", "Technician"),
                ("roles", "Administrator"),
                ("integration", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let list = app.get("/admin/users").await.text().await.unwrap();
    assert!(list.contains("User nina created."));
    assert!(list.contains("Nina Novak"));
    let nina = app.with_conn(|c| {
        let u = User::find_by_username(c, "nina").unwrap().unwrap();
        User::principal(c, u.id).unwrap()
    });
    assert!(nina.user.integration);
    assert_eq!(nina.roles, vec!["Administrator", "Technician"]);

    // She signs in, then the admin drops her admin role: her admin pages close.
    let nc = client();
    app.login_with(&nc, "nina", "nina-password-1").await;
    assert_eq!(app.get_with(&nc, "/admin/users").await.status(), 200);
    let id = nina.user.id;
    let r = app
        .post_form(
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "Nina N."),
                ("email", ""),
                ("roles", "Technician"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get_with(&nc, "/admin/users").await.status(), 403);
    let p = app.with_conn(|c| User::principal(c, id).unwrap());
    assert_eq!(p.user.display_name, "Nina N.");
    assert!(!p.user.integration, "unticked checkbox clears the flag");

    // Reset her password: her sessions end, the new password works.
    let r = app
        .post_form(
            &format!("/admin/users/{id}/password"),
            &[("password", "reset-password-9")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get_with(&nc, "/account").await.status(), 303);
    app.login_with(&nc, "nina", "reset-password-9").await;

    // Deactivate: signed out at once and cannot sign in.
    let r = app
        .post_form(&format!("/admin/users/{id}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get_with(&nc, "/account").await.status(), 303);
    let r = app.try_login_with(&nc, "nina", "reset-password-9").await;
    assert_eq!(r.status(), 401);
    let r = app
        .post_form(&format!("/admin/users/{id}/active"), &[("active", "true")])
        .await;
    assert_eq!(r.status(), 303);
    app.login_with(&nc, "nina", "reset-password-9").await;
}

async fn user_form_shows_each_error_beside_its_field(app: TestApp) {
    app.login_admin().await;
    app.create_user("taken", &["Technician"]);
    let r = app
        .post_form(
            "/admin/users",
            &[
                ("username", "taken"),
                ("display_name", ""),
                ("email", "not an email"),
                ("password", "short"),
                ("roles", "No Such Role"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let errs = |f: &str| texts(&html, &format!("#{f}-error"));
    assert_eq!(errs("display_name"), vec!["is required"]);
    assert_eq!(errs("email"), vec!["is not an email address"]);
    assert_eq!(errs("password"), vec!["must be at least 10 characters"]);
    assert_eq!(errs("roles"), vec!["unknown role `No Such Role`"]);
    // What was typed is kept (except the password).
    assert!(html.contains("value=\"taken\""));
    assert!(html.contains("value=\"not an email\""));

    let r = app
        .post_form(
            "/admin/users",
            &[
                ("username", "taken"),
                ("display_name", "T"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        texts(&r.text().await.unwrap(), "#username-error"),
        vec!["is already taken"]
    );

    let long = "p".repeat(1025);
    let r = app
        .post_form(
            "/admin/users",
            &[
                ("username", "longpw"),
                ("display_name", "L"),
                ("password", &long),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        texts(&r.text().await.unwrap(), "#password-error"),
        vec!["must be at most 1024 bytes"]
    );
    let n = app.with_conn(|c| User::count(c).unwrap());
    assert_eq!(n, 2, "nothing half-saved");
}

async fn roles_are_created_renamed_and_deleted_safely(app: TestApp) {
    app.login_admin().await;
    let r = app
        .post_form(
            "/admin/roles",
            &[("name", "Network team"), ("description", "Routers")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .post_form("/admin/roles", &[("name", "Network team")])
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        texts(&r.text().await.unwrap(), "#name-error"),
        vec!["is already taken"]
    );

    let id: i64 = app.with_conn(|c| {
        schema::roles::table
            .filter(schema::roles::name.eq("Network team"))
            .select(schema::roles::id)
            .first(c)
            .unwrap()
    });
    let r = app
        .post_form(
            &format!("/admin/roles/{id}"),
            &[("name", "Network"), ("description", "")],
        )
        .await;
    assert_eq!(r.status(), 303);

    // In use: deletion refused, naming the holders.
    app.create_user("ned", &["Network"]);
    let r = app
        .post_form(&format!("/admin/roles/{id}/delete"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get("/admin/roles").await.text().await.unwrap();
    assert!(page.contains("held by 1 user(s): ned"), "{page}");
    assert!(page.contains("Network"));

    // Built-in roles cannot be renamed or deleted.
    let tech_id: i64 = app.with_conn(|c| {
        schema::roles::table
            .filter(schema::roles::name.eq("Technician"))
            .select(schema::roles::id)
            .first(c)
            .unwrap()
    });
    let r = app
        .post_form(&format!("/admin/roles/{tech_id}"), &[("name", "Techs")])
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post_form(&format!("/admin/roles/{tech_id}/delete"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        app.get("/admin/roles")
            .await
            .text()
            .await
            .unwrap()
            .contains("is built in")
    );

    // Unused: deleted.
    let ned = app.with_conn(|c| User::find_by_username(c, "ned").unwrap().unwrap().id);
    let r = app
        .post_form(
            &format!("/admin/users/{ned}"),
            &[("display_name", "Ned"), ("roles", "Technician")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .post_form(&format!("/admin/roles/{id}/delete"), &[])
        .await;
    assert_eq!(r.status(), 303);
    let n: i64 = app.with_conn(|c| schema::roles::table.count().get_result(c).unwrap());
    assert_eq!(n, 2);
}

async fn audit_log_lists_changes_without_secrets(app: TestApp) {
    app.login_admin().await;
    let secret = "Very-Secret-Passw0rd";
    app.post_form(
        "/admin/users",
        &[
            ("username", "audited"),
            ("display_name", "A"),
            ("password", secret),
            ("roles", "Technician"),
        ],
    )
    .await;
    let id = app.with_conn(|c| User::find_by_username(c, "audited").unwrap().unwrap().id);
    app.post_form(
        &format!("/admin/users/{id}/password"),
        &[("password", "Another-Secret-9")],
    )
    .await;
    app.post_form("/admin/roles", &[("name", "Auditors")]).await;

    let rows: Vec<(String, String, String, String, String)> = app.with_conn(|c| {
        schema::audit_log::table
            .select((
                schema::audit_log::actor_name,
                schema::audit_log::client_ip,
                schema::audit_log::action,
                schema::audit_log::target,
                schema::audit_log::detail,
            ))
            .load(c)
            .unwrap()
    });
    let has = |action: &str, target: &str| {
        rows.iter()
            .any(|r| r.0 == "admin" && r.1 == "127.0.0.1" && r.2 == action && r.3 == target)
    };
    assert!(has("user.create", "audited"));
    assert!(has("user.password_reset", "audited"));
    assert!(has("role.create", "Auditors"));
    for r in &rows {
        let all = format!("{r:?}");
        assert!(
            !all.contains(secret) && !all.contains("Another-Secret-9"),
            "{all}"
        );
    }

    // The page filters; htmx gets only the table and the URL to push.
    let page = app
        .get("/admin/audit?action=role.")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("role.create") && !page.contains("user.password_reset"));
    let r = app
        .client
        .get(app.url("/admin/audit?action=user.create&outcome=success"))
        // What the filter form's htmx sends (it targets the results table).
        .header("hx-request", "true")
        .header("hx-target", "audit-results")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["hx-push-url"],
        "/admin/audit?action=user.create&outcome=success"
    );
    let frag = r.text().await.unwrap();
    assert!(!frag.contains("<html") && frag.contains("audited"));
}

async fn the_last_administrator_cannot_be_removed(app: TestApp) {
    app.login_admin().await;
    let admin = app.with_conn(|c| User::find_by_username(c, "admin").unwrap().unwrap().id);
    let r = app
        .post_form(
            &format!("/admin/users/{admin}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .post_form(
            &format!("/admin/users/{admin}"),
            &[("display_name", "A"), ("roles", "Technician")],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("at least one active administrator")
    );
    let p = app.with_conn(|c| User::principal(c, admin).unwrap());
    assert!(p.is_admin() && p.user.active);
}
