//! What every page shares: security headers, vendored assets, error pages and toasts.

use diesel::connection::SimpleConnection;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    errors_are_rendered_for_their_client,
    internals_never_reach_the_user
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_and_vendored_htmx() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let r = app.get("/login").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && !csp.contains("unsafe-eval")
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" onclick="),
        "no inline script"
    );
    assert!(html.contains(hookdesk::web::assets::HTMX_PATH));

    let r = app.get(hookdesk::web::assets::HTMX_PATH).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(r.text().await.unwrap().contains("2.0.11"));
    assert_eq!(app.get("/static/app.css").await.status(), 200);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
}

async fn errors_are_rendered_for_their_client(app: TestApp) {
    // Page: an HTML error page with the status.
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("404 · Not Found"));
    // API: JSON.
    let r = app.get("/api/v1/nothing-here").await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    // htmx: a toast through HX-Trigger, nothing swapped.
    let tech = app.client_as("toaster", &["Technician"]).await;
    let r = tech
        .get(app.url("/admin/users"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["hx-reswap"], "none");
    let trigger: serde_json::Value =
        serde_json::from_str(r.headers()["hx-trigger"].to_str().unwrap()).unwrap();
    assert_eq!(trigger["hookdesk:toast"]["level"], "error");
    assert_eq!(
        trigger["hookdesk:toast"]["message"],
        "This page is for administrators."
    );
    // htmx while signed out: told to go to the login page.
    let r = crate::helpers::client()
        .get(app.url("/admin/users"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["hx-redirect"], "/login?next=%2Fadmin%2Fusers");
}

async fn internals_never_reach_the_user(app: TestApp) {
    app.login_admin().await;
    // Break the database under the running server.
    app.with_conn(|c| c.batch_execute("DROP TABLE audit_log").unwrap());
    let r = app.get("/admin/audit").await;
    assert_eq!(r.status(), 500);
    let page = r.text().await.unwrap();
    assert!(page.contains("Something went wrong on our side"));
    assert!(
        !page.to_lowercase().contains("audit_log") && !page.contains("relation"),
        "{page}"
    );
    let token = {
        let r = app.post_form("/account/tokens", &[("name", "t")]).await;
        assert_eq!(
            r.status(),
            500,
            "creating a token writes an audit row, which now fails"
        );
        r.text().await.unwrap()
    };
    assert!(
        !token.contains("hdk_"),
        "a failed transaction shows no token"
    );
}
