//! An OAuth 2.0 connection through the real server: created and tested from the page and
//! the API, deliveries fired by a technician going out through the worker with one
//! token, and neither the client secret nor any token in the database, the pages, the
//! API or the stored requests.

use hookdesk::auth::tokens::ApiToken;
use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::connections_secrets::dump_all_rows;
use crate::helpers::TestApp;
use crate::oauth::json_answer;
use crate::receiver::{Received, Receiver, Reply, Respond};

crate::db_tests!(spawn = crate::buttons_support::buttons_app; oauth_connection_end_to_end);

const SECRET: &str = "oauth-client-secret-e2e-7731";

async fn oauth_connection_end_to_end(app: TestApp) {
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = issued.clone();
    let idp = Receiver::start(Reply::Custom(Respond::new(move |_r: &Received| {
        let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        json_answer(
            200,
            &json!({"access_token": format!("e2e-token-{k}"), "token_type": "Bearer",
                    "expires_in": 3600, "scope": "tickets.write"}),
        )
    })))
    .await;
    let api_rx = Receiver::start(Reply::Custom(Respond::new(|r: &Received| {
        match r.header("authorization") {
            Some(a) if a.starts_with("Bearer e2e-token-") => (200, Vec::new(), b"{}".to_vec()),
            _ => (401, Vec::new(), Vec::new()),
        }
    })))
    .await;

    let admin = admin_token(&app).await;
    let api = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&admin);

    // A bad token URL is a field error and creates nothing.
    let r = api(reqwest::Method::POST, "/api/v1/connections")
        .json(
            &json!({"name": "idp", "base_url": api_rx.url("/"), "auth_kind": "oauth2",
                      "auth_username": "hd", "auth_secret": SECRET, "oauth_token_url": "ftp://x"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("oauth_token_url"));

    let r = api(reqwest::Method::POST, "/api/v1/connections")
        .json(&json!({
            "name": "itsm",
            "base_url": api_rx.url("/"),
            "auth_kind": "oauth2",
            "auth_username": "hookdesk-client",
            "auth_secret": SECRET,
            "oauth_token_url": idp.url("/token"),
            "oauth_scope": "tickets.write",
            "oauth_client_auth": "client_secret_post",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["auth_kind"], "oauth2");
    assert_eq!(c["auth_secret_set"], true);
    assert_eq!(c["oauth_client_auth"], "client_secret_post");
    assert!(!c.to_string().contains(SECRET));
    let conn_id = c["id"].as_i64().unwrap();

    // "Test connection" from the page shows each step, and the token nowhere.
    app.login_admin().await;
    let html = app
        .post_form(&format!("/admin/connections/{conn_id}/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Token request: POST"), "{html}");
    assert!(html.contains("client_secret_post"), "{html}");
    assert!(html.contains("Token obtained: expires in 3600 s"), "{html}");
    assert!(html.contains("scopes granted: tickets.write"), "{html}");
    assert!(html.contains("The request with the token: GET"), "{html}");
    assert!(html.contains("Delivered"), "{html}");
    assert!(!html.contains("e2e-token-") && !html.contains(SECRET));
    let page = app
        .get(&format!("/admin/connections/{conn_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Token URL") && !page.contains(SECRET));

    // A technician fires a webhook through it twenty times: one more token at most
    // (the test connection's is cached in the same process), all delivered.
    let w: Value = api(reqwest::Method::POST, "/api/v1/webhooks")
        .json(&json!({
            "name": "to itsm",
            "connection_id": conn_id,
            "method": "POST",
            "url": "incidents",
            "request_content_type": "json",
            "body_template": "{\"ticket\": \"{{ticket.displayid}}\"}",
            "show_as_button": true,
            "roles": [hookdesk::auth::TECHNICIAN],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook = w["id"].as_i64().unwrap_or_else(|| panic!("{w}"));
    let tech = app.create_user("tech", &[hookdesk::auth::TECHNICIAN]);
    let tech_token = app.with_conn(|c| {
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), tech.id, "t")
            .unwrap()
            .1
    });
    let t: Value = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&tech_token)
        .json(&json!({"type": "Incident", "subject": "Printer on fire", "description": "smoke",
                      "priority": "P2", "requester_name": "Ana", "requester_email": "ana@example.test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = t["displayid"].as_str().unwrap_or_else(|| panic!("{t}"));
    for _ in 0..20 {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/tickets/{key}/webhooks/{webhook}/fire")))
            .bearer_auth(&tech_token)
            .json(&json!({"params": {}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let got = api_rx.wait_for(21).await;
    let fired: Vec<_> = got.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(fired.len(), 20);
    assert!(
        fired
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer e2e-token-1")),
        "the test connection's token was reused by the worker"
    );
    assert_eq!(idp.received().len(), 1, "one token request in all");
    // The client secret went in the body (client_secret_post).
    assert!(String::from_utf8_lossy(&idp.received()[0].body).contains(SECRET));

    // Wait for the worker to record every attempt, then look everywhere.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let delivered = loop {
        let v: Value = api(reqwest::Method::GET, "/api/v1/deliveries?status=delivered")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= 21 || std::time::Instant::now() > deadline {
            assert!(items.len() >= 21, "{v}");
            break items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let dump = app.with_conn(dump_all_rows);
    assert!(
        !dump.contains(SECRET),
        "client secret in clear in the database"
    );
    assert!(!dump.contains("e2e-token-"), "a token in the database");
    assert!(
        dump.contains("Bearer ••••"),
        "the stored request says a token was sent"
    );
    let detail_id = delivered[0]["id"].as_i64().unwrap();
    let detail = app
        .get(&format!("/admin/log/{detail_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(detail.contains("Request"), "{detail}");
    assert!(!detail.contains("e2e-token-") && !detail.contains(SECRET));
}
