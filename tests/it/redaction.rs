//! One redaction rule (issue 9): a credential typed into a webhook's header lines, or
//! into a connection's default headers without ticking "secret", is sealed at rest and
//! shown as `••••` (`Bearer ••••`) on every page, API answer, preview, stored request,
//! attempt and replay — while the receiver still gets the real value, also from a replay
//! sent later by a worker that only has the database.

use hookdesk::delivery::queue::Delivery;
use hookdesk::delivery::records::AttemptRecord;
use hookdesk::delivery::worker;
use hookdesk::secrets::SecretBox;
use hookdesk::secrets::rekey;
use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::connections_secrets::dump_all_rows;
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::responses::worker_ctx;
use crate::webhooks::{post, text_of, ticket_with_forms, webhook_form};

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    a_header_secret_is_never_shown_and_still_sent,
    secret_header_values_are_kept_or_replaced_on_edit,
    rekey_reseals_webhook_and_delivery_headers,
);

/// Typed as a webhook header line through the API.
const API_BEARER: &str = "apiBearer-Zq81x-never-shown";
const API_KEY: &str = "apiKey-Wm27c-never-shown";
/// Typed as a webhook header line on the page.
const PAGE_BEARER: &str = "pageBearer-Hk55t-never-shown";
/// A connection default header secret by name, "secret" not ticked.
const CONN_TOKEN: &str = "connToken-Rr09p-never-shown";

const ALL: [&str; 4] = [API_BEARER, API_KEY, PAGE_BEARER, CONN_TOKEN];

fn assert_hidden(what: &str, text: &str) {
    for s in ALL {
        assert!(!text.contains(s), "{what} shows {s}:\n{text}");
    }
}

pub async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut rb = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A connection to the receiver whose default header `X-Auth-Token` is secret by its
/// name only (made through the API, `secret` not set).
pub async fn plain_connection(app: &TestApp, token: &str, rx: &Receiver) -> i64 {
    let (s, body) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/connections",
        Some(json!({
            "name": "plain",
            "base_url": rx.url("/in"),
            "headers": [{"name": "X-Auth-Token", "value": CONN_TOKEN}],
        })),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["headers"][0]["value"], Value::Null, "{v}");
    assert_eq!(v["headers"][0]["secret"], true, "{v}");
    v["id"].as_i64().unwrap()
}

fn api_webhook(conn: i64) -> Value {
    json!({
        "name": "Secret headers",
        "connection_id": conn,
        "method": "POST",
        "request_content_type": "json",
        "headers": format!("X-Ticket: {{{{ticket.displayid}}}}\nAuthorization: Bearer {API_BEARER}\nX-Api-Key: {API_KEY}"),
        "body_template": "{\"t\": \"{{ticket.displayid}}\"}",
    })
}

fn header<'a>(r: &'a crate::receiver::Received, name: &str) -> &'a str {
    r.header(name).unwrap_or_default()
}

async fn a_header_secret_is_never_shown_and_still_sent(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = plain_connection(&app, &token, &rx).await;
    let mut seen = String::new();

    // Created through the API: the answer and a GET show the lines redacted.
    let (s, created) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(api_webhook(conn)),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, got) = api(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let got_json: Value = serde_json::from_str(&got).unwrap();
    assert_eq!(
        got_json["headers"],
        "X-Ticket: {{ticket.displayid}}\nAuthorization: Bearer ••••\nX-Api-Key: ••••"
    );
    seen += &created;
    seen += &got;

    // The GET's body PUT back unchanged keeps the stored values (checked by the sends).
    let (s, put) = api(
        &app,
        &token,
        reqwest::Method::PUT,
        &format!("/api/v1/webhooks/{id}"),
        Some(got_json.clone()),
    )
    .await;
    assert_eq!(s, 200, "{put}");
    seen += &put;

    // Created through the page; a refused form comes back without the typed secret.
    let page_headers = format!("Authorization: Bearer {PAGE_BEARER}");
    let bad = webhook_form(conn, &[("name", ""), ("headers", &page_headers)]);
    let resp = post(&app, "/admin/webhooks", &bad).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Authorization: Bearer ••••"), "{html}");
    assert!(
        html.contains("type the value of Authorization again"),
        "{html}"
    );
    seen += &html;
    let form = webhook_form(conn, &[("name", "Page hook"), ("headers", &page_headers)]);
    let resp = post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());

    // The edit pages and the list.
    for path in [
        format!("/admin/webhooks/{id}"),
        "/admin/webhooks".to_string(),
    ] {
        let html = app.get(&path).await.text().await.unwrap();
        seen += &html;
    }
    let page_id = app.with_conn(|c| {
        hookdesk::webhooks::store::list(c)
            .unwrap()
            .into_iter()
            .find(|w| w.name == "Page hook")
            .unwrap()
            .id
    });
    let edit = app
        .get(&format!("/admin/webhooks/{page_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("Authorization: Bearer ••••"), "{edit}");
    seen += &edit;

    // The preview fragment, of the saved form (values left redacted) and of a new form
    // with the value typed.
    let saved_form = webhook_form(
        conn,
        &[
            ("name", "Secret headers"),
            ("headers", "Authorization: Bearer ••••\nX-Api-Key: ••••"),
        ],
    );
    for (path, f) in [
        (format!("/admin/webhooks/preview?webhook={id}"), &saved_form),
        ("/admin/webhooks/preview".to_string(), &form),
    ] {
        let resp = post(&app, &path, f).await;
        assert_eq!(resp.status(), 200);
        let html = resp.text().await.unwrap();
        let request = text_of(&html, "#preview-request").unwrap_or_else(|| panic!("{html}"));
        assert!(request.contains("Authorization: Bearer ••••"), "{request}");
        assert!(request.contains("X-Auth-Token: ••••"), "{request}");
        seen += &html;
    }

    // Test-send through the API and through the page: the receiver gets every real
    // value, the answers show none.
    let (s, report) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["succeeded"], true, "{report}");
    let shown: Vec<(String, String)> =
        serde_json::from_value(report["request_headers"].clone()).unwrap();
    assert!(
        shown
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer ••••"),
        "{shown:?}"
    );
    seen += &report.to_string();
    let delivery_id = report["delivery_id"].as_i64().unwrap();

    let resp = post(
        &app,
        &format!("/admin/webhooks/test?webhook={id}"),
        &saved_form,
    )
    .await;
    assert_eq!(resp.status(), 200);
    seen += &resp.text().await.unwrap();

    let got = rx.wait_for(2).await;
    for r in &got {
        assert_eq!(header(r, "authorization"), format!("Bearer {API_BEARER}"));
        assert_eq!(header(r, "x-api-key"), API_KEY);
        assert_eq!(header(r, "x-auth-token"), CONN_TOKEN);
    }

    // The delivery's stored request and its attempts.
    let d = app.with_conn(|c| Delivery::get(c, delivery_id).unwrap());
    assert!(d.headers.contains("Bearer ••••"), "{}", d.headers);
    assert!(d.sealed_headers.is_some());
    seen += &d.headers;
    let attempts = app.with_conn(|c| AttemptRecord::for_delivery(c, delivery_id).unwrap());
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0].request_headers.contains("Bearer ••••"),
        "{}",
        attempts[0].request_headers
    );
    seen += &attempts[0].request_headers;

    // The delivery in the API, and its replay.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/deliveries/{delivery_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(body.contains("Bearer ••••"), "{body}");
    seen += &body;
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/deliveries/{delivery_id}/replay"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{body}");
    seen += &body;

    // A worker that has only the database sends the replay with the real values.
    let w = worker_ctx(&app);
    assert_eq!(
        worker::run_until_idle(&w, hookdesk::db::now() + chrono::Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    let got = rx.wait_for(3).await;
    assert_eq!(
        header(&got[2], "authorization"),
        format!("Bearer {API_BEARER}")
    );
    assert_eq!(header(&got[2], "x-api-key"), API_KEY);
    assert_eq!(header(&got[2], "x-auth-token"), CONN_TOKEN);

    // Nothing shown anywhere, nothing stored in clear in any table.
    assert_hidden("a page or an API answer", &seen);
    let dump = app.with_conn(dump_all_rows);
    assert!(
        dump.contains("webhooks "),
        "the dump reads the webhooks table"
    );
    assert!(dump.contains("delivery_attempts "), "and the attempts");
    assert_hidden("the database", &dump);
}

async fn secret_header_values_are_kept_or_replaced_on_edit(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = plain_connection(&app, &token, &rx).await;
    let form = |headers: &str| webhook_form(conn, &[("name", "Edited"), ("headers", headers)]);
    let resp = post(
        &app,
        "/admin/webhooks",
        &form("Authorization: Bearer first-value"),
    )
    .await;
    assert_eq!(resp.status(), 303);
    let id = app.with_conn(|c| hookdesk::webhooks::store::list(c).unwrap()[0].id);
    let send = || async {
        let (s, body) = api(
            &app,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        rx.received().last().unwrap().clone()
    };

    // Saved with the value redacted, or blank: kept.
    for headers in ["Authorization: Bearer ••••", "Authorization:"] {
        let resp = post(&app, &format!("/admin/webhooks/{id}"), &form(headers)).await;
        assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
        assert_eq!(header(&send().await, "authorization"), "Bearer first-value");
    }
    // A new value replaces it, and the audit says the headers changed.
    let resp = post(
        &app,
        &format!("/admin/webhooks/{id}"),
        &form("Authorization: Bearer second-value"),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        header(&send().await, "authorization"),
        "Bearer second-value"
    );
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    assert!(audit.contains("changed: headers"), "{audit}");
    assert!(!audit.contains("second-value") && !audit.contains("first-value"));

    // A PATCH through the API that names other settings keeps it too.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"description": "patched"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        header(&send().await, "authorization"),
        "Bearer second-value"
    );

    // A redacted value with nothing stored is refused beside the field.
    let resp = post(
        &app,
        "/admin/webhooks",
        &webhook_form(conn, &[("name", "New"), ("headers", "X-Api-Key: ••••")]),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#headers-error").unwrap_or_default();
    assert!(err.contains("enter the value of X-Api-Key"), "{err}");

    // A copy keeps the secret values.
    let resp = app
        .post_form(&format!("/admin/webhooks/{id}/clone"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    let copy = app.with_conn(|c| {
        let sb = hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap();
        let w = hookdesk::webhooks::store::list(c)
            .unwrap()
            .into_iter()
            .find(|w| w.name.starts_with("Edited (copy"))
            .unwrap();
        hookdesk::webhooks::secret_headers::request_lines(&w, &sb).unwrap()
    });
    assert_eq!(copy[0].1.expose(), "Bearer second-value");
}

async fn rekey_reseals_webhook_and_delivery_headers(app: TestApp) {
    app.login_admin().await;
    let token = admin_token(&app).await;
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = plain_connection(&app, &token, &rx).await;
    let (s, created) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(api_webhook(conn)),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, report) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    let delivery_id = serde_json::from_str::<Value>(&report).unwrap()["delivery_id"]
        .as_i64()
        .unwrap();

    let new = SecretBox::new(&SecretBox::generate_key());
    app.with_conn(|c| {
        let old = hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap();
        rekey::rekey_database(c, &hookdesk::audit::Actor::system("test"), &old, &new).unwrap();
        let w = hookdesk::webhooks::store::get(c, id).unwrap();
        let lines = hookdesk::webhooks::secret_headers::request_lines(&w, &new).unwrap();
        assert_eq!(lines[1].1.expose(), format!("Bearer {API_BEARER}"));
        let d = Delivery::get(c, delivery_id).unwrap();
        let opened = new.open(d.sealed_headers.as_deref().unwrap()).unwrap();
        assert!(opened.expose().contains(API_KEY));
    });
}
