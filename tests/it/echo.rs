//! The built-in echo receiver: off by default; when on, Hookdesk sends to itself through
//! the allow-list like to any loopback target, and the page shows each request with its
//! credentials hidden and its signature checked with the connection's secret.

use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

crate::db_tests!(spawn = crate::echo::echo_app; a_first_webhook_to_the_echo_receiver);

pub async fn echo_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.echo_receiver = true;
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.worker_poll_ms = 100;
    })
    .await
}

async fn a_first_webhook_to_the_echo_receiver(app: TestApp) {
    let token = admin_token(&app).await;
    let api = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&token);
    let c: Value = api(reqwest::Method::POST, "/api/v1/connections")
        .json(&json!({"name": "Echo", "base_url": app.url("/_echo/demo"),
                      "auth_kind": "bearer", "auth_secret": "echo-bearer-secret-1",
                      "headers": [{"name": "X-Tenant", "value": "tenant-secret-9", "secret": true}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = c["id"].as_i64().unwrap_or_else(|| panic!("{c}"));
    let r = api(
        reqwest::Method::POST,
        &format!("/api/v1/connections/{id}/signing-secret"),
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // Test connection: a signed GET arrives at the echo receiver.
    let report: Value = api(
        reqwest::Method::POST,
        &format!("/api/v1/connections/{id}/test"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(report["succeeded"], true, "{report}");
    assert_eq!(report["status"], 200);

    // A webhook test-send with a JSON body arrives too.
    let w: Value = api(reqwest::Method::POST, "/api/v1/webhooks")
        .json(
            &json!({"name": "Hello echo", "connection_id": id, "method": "POST", "url": "",
                      "request_content_type": "json",
                      "body_template": "{\"hello\": \"{{ticket.subject}}\"}"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wid = w["id"].as_i64().unwrap_or_else(|| panic!("{w}"));
    let report: Value = api(
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{wid}/test"),
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(report["succeeded"], true, "{report}");

    app.login_admin().await;
    let index = app.get("/admin/echo").await.text().await.unwrap();
    assert!(index.contains("/_echo/demo"), "{index}");
    assert!(index.contains("id=\"echo-allowed\""), "{index}");
    let page = app.get("/admin/echo/demo").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse(".echo-request").unwrap();
    let shown: Vec<String> = doc
        .select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect();
    assert_eq!(shown.len(), 2, "{page}");
    // Newest first: the webhook's POST, then Test connection's GET; both signed.
    assert!(
        shown[0].contains("POST") && shown[0].contains("\"hello\""),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("GET"), "{}", shown[1]);
    for s in &shown {
        assert!(
            s.contains("valid (signing secret of connection Echo)"),
            "{s}"
        );
        assert!(s.contains("Bearer ••••"), "{s}");
        assert!(
            !s.contains("echo-bearer-secret-1"),
            "the credential is hidden"
        );
        // A header ticked secret on the connection, whatever its name, is hidden too.
        assert!(s.contains("x-tenant: ••••"), "{s}");
        assert!(!s.contains("tenant-secret-9"), "{s}");
    }

    // A wrong signature is called invalid.
    let r = app
        .client
        .post(app.url("/_echo/demo"))
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", "1700000000")
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = app.get("/admin/echo/demo").await.text().await.unwrap();
    assert!(page.contains("invalid: no signature matches"), "{page}");

    // Clear empties it.
    let r = app.post_form("/admin/echo/demo/clear", &[]).await;
    assert_eq!(r.status(), 303);
    let page = app.get("/admin/echo/demo").await.text().await.unwrap();
    assert!(page.contains("Nothing received yet."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_and_says_how_to_turn_it_on() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let r = app
        .client
        .post(app.url("/_echo/demo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.login_admin().await;
    let page = app.get("/admin/echo").await.text().await.unwrap();
    assert!(page.contains("hookdesk serve --demo"), "{page}");

    // On, but the allow-list does not open loopback: the page says so.
    let app = spawn_app_with(Backend::Sqlite, |c| c.echo_receiver = true)
        .await
        .unwrap();
    app.login_admin().await;
    let page = app.get("/admin/echo").await.text().await.unwrap();
    assert!(page.contains("id=\"echo-blocked\""), "{page}");
}
