//! Requests are read strictly (issue 9): the API refuses what it does not read —
//! malformed JSON, unknown fields, oversized bodies, bodies that are not JSON — in the
//! API's error shape, instead of quietly using a default.

use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::redaction::{api, plain_connection};

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    the_api_test_send_reads_its_body_strictly,
    a_ticket_patch_must_be_json,
);

/// A webhook sending to `rx` through a plain connection; returns its id.
async fn webhook(app: &TestApp, token: &str, rx: &Receiver, extra: Value) -> i64 {
    let conn = plain_connection(app, token, rx).await;
    let mut body = json!({
        "name": "Strict",
        "connection_id": conn,
        "method": "POST",
        "request_content_type": "json",
        "body_template": "{\"t\": \"{{ticket.displayid}}\"}",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, created) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Sends `body` with `content_type` (none when `None`); the status and the JSON answer.
async fn raw(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut rb = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn the_api_test_send_reads_its_body_strictly(app: TestApp) {
    app.login_admin().await;
    let token = admin_token(&app).await;
    let rx = Receiver::start(Reply::Status(200)).await;
    let id = webhook(&app, &token, &rx, json!({})).await;
    let path = format!("/api/v1/webhooks/{id}/test");
    let json_ct = Some("application/json");
    let post = |ct: Option<&'static str>, body: String| {
        raw(&app, &token, reqwest::Method::POST, &path, ct, body)
    };

    // A misspelt key used to fall back on the sample ticket and send.
    let (s, v) = post(json_ct, r#"{"tiket": "IN2"}"#.into()).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "validation_failed");
    assert_eq!(v["error"]["fields"][0]["field"], "tiket", "{v}");

    let (s, v) = post(json_ct, r#"{"ticket": 5}"#.into()).await;
    assert_eq!(s, 422, "{v}");

    let (s, v) = post(json_ct, "{nope".into()).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "bad_request");
    assert!(v["error"]["message"].is_string());

    let (s, v) = post(Some("text/plain"), r#"{"ticket": ""}"#.into()).await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_media_type");

    let big = json!({"params": {"x": "a".repeat(300 * 1024)}}).to_string();
    let (s, v) = post(json_ct, big).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");

    assert!(rx.received().is_empty(), "nothing refused was sent");

    // An empty body, or a correct one, still test-sends.
    let (s, v) = post(None, String::new()).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(
        json_ct,
        r#"{"ticket": "", "use_test_connection": false}"#.into(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(rx.received().len(), 2);

    // The OpenAPI document says so.
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let responses = &doc["paths"]["/api/v1/webhooks/{id}/test"]["post"]["responses"];
    for code in ["400", "413", "415", "422"] {
        assert!(responses.get(code).is_some(), "{code} in {responses}");
    }
}

async fn a_ticket_patch_must_be_json(app: TestApp) {
    let token = admin_token(&app).await;
    let (s, created) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/tickets",
        Some(json!({"type": "Incident", "subject": "Strict"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let key = serde_json::from_str::<Value>(&created).unwrap()["displayid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/tickets/{key}");
    let body = r#"{"subject": "Changed"}"#.to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (s, v) = raw(
            &app,
            &token,
            reqwest::Method::PATCH,
            &path,
            ct,
            body.clone(),
        )
        .await;
        assert_eq!(s, 415, "{ct:?}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_media_type");
    }
    let (_, v) = raw(
        &app,
        &token,
        reqwest::Method::GET,
        &path,
        None,
        String::new(),
    )
    .await;
    assert_eq!(v["subject"], "Strict", "nothing was changed");
    let (s, v) = raw(
        &app,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["subject"], "Changed");
}
