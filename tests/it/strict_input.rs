//! Requests are read strictly (issue 9): the API refuses what it does not read —
//! malformed JSON, unknown fields, oversized bodies, bodies that are not JSON — in the
//! API's error shape, instead of quietly using a default; every typed text has a length
//! limit, refused beside its field on the page and in the API; and a replay keeps the
//! retry policy of the webhook it came from.

use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::redaction::api;
use crate::webhooks::text_of;

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    the_api_test_send_reads_its_body_strictly,
    a_ticket_patch_must_be_json,
    typed_text_has_length_limits,
    a_replay_keeps_the_webhook_retry_policy,
);

/// A webhook sending to `rx` through a connection with no secrets; returns its id.
async fn webhook(app: &TestApp, token: &str, rx: &Receiver, extra: Value) -> i64 {
    let (s, created) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/connections",
        Some(json!({"name": "plain", "base_url": rx.url("/in")})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let conn = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_i64()
        .unwrap();
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

/// The first 500 characters, for failure messages about 100,000-character inputs.
fn head_of(text: &str) -> String {
    text.chars().take(500).collect()
}

fn field_errors(v: &Value) -> Vec<(String, String)> {
    v["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", head_of(&v.to_string())))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_too_long(v: &Value, field: &str) {
    let errs = field_errors(v);
    assert!(
        errs.iter()
            .any(|(f, m)| f == field && m.starts_with("must be at most")),
        "{field} not refused as too long: {errs:?}"
    );
}

async fn typed_text_has_length_limits(app: TestApp) {
    app.login_admin().await;
    let token = admin_token(&app).await;
    let long_url = format!("https://a.example.test/{}", "a".repeat(100_000));

    // Connections, through the API and the page.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/connections",
        Some(json!({"name": "long", "base_url": long_url, "auth_kind": "basic", "auth_username": "u".repeat(5000)})),
    )
    .await;
    assert_eq!(s, 422, "{}", head_of(&body));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_too_long(&v, "base_url");
    assert_too_long(&v, "auth_username");
    let resp = app
        .post_form(
            "/admin/connections",
            &[
                ("name", "long"),
                ("app_type", "generic"),
                ("environment", "production"),
                ("base_url", &long_url),
                ("timeout_ms", "1000"),
                ("auth_kind", "none"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#base_url-error").unwrap_or_else(|| panic!("{}", head_of(&html)));
    assert!(err.starts_with("must be at most 2048 characters"), "{err}");

    // Webhooks, through the API.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({
            "name": "long",
            "url": long_url,
            "method": "POST",
            "headers": format!("X-Long: {}", "h".repeat(10_000)),
            "body_template": format!("{{\"a\": \"{}\"}}", "b".repeat(200_000)),
        })),
    )
    .await;
    assert_eq!(s, 422, "{}", head_of(&body));
    let v: Value = serde_json::from_str(&body).unwrap();
    for f in ["url", "headers", "body_template"] {
        assert_too_long(&v, f);
    }

    // A user's email and a custom form's field name, through the pages.
    let resp = app
        .post_form(
            "/admin/users",
            &[
                ("username", "longmail"),
                ("display_name", "Long Mail"),
                ("email", &format!("{}@example.test", "m".repeat(400))),
                ("password", "a-good-password-1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#email-error").unwrap_or_else(|| panic!("{html}"));
    assert!(err.starts_with("must be at most 254 characters"), "{err}");

    let resp = app
        .post_form(
            "/admin/forms",
            &[("name", "Assets"), ("ticket_types", "IN")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = app
        .post_form(
            &format!("{loc}/fields"),
            &[("field_name", &"f".repeat(500)), ("field_type", "text")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#field_name-error").unwrap_or_else(|| panic!("{html}"));
    assert!(err.starts_with("must be at most 80 characters"), "{err}");
}

async fn a_replay_keeps_the_webhook_retry_policy(app: TestApp) {
    app.login_admin().await;
    let token = admin_token(&app).await;
    let rx = Receiver::start(Reply::Status(500)).await;
    let id = webhook(
        &app,
        &token,
        &rx,
        json!({"retry_max_attempts": 2, "retry_schedule": "7"}),
    )
    .await;
    let (s, report) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    let delivery = serde_json::from_str::<Value>(&report).unwrap()["delivery_id"]
        .as_i64()
        .unwrap();
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/deliveries/{delivery}/replay"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let replay: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(replay["max_attempts"], 2, "{replay}");
    assert_eq!(replay["retry_schedule"], r#"["0s","7s"]"#, "{replay}");

    // Without a policy of its own, the webhook's replays take the global one.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"retry_max_attempts": null, "retry_schedule": ""})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/deliveries/{delivery}/replay"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let replay: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        replay["max_attempts"],
        app.config.retry_schedule.len(),
        "{replay}"
    );
    assert_eq!(replay["retry_schedule"], Value::Null);
}
