//! `/api/v1/webhooks` with administrators' tokens: the same validation as the pages,
//! errors as JSON beside their field names, PATCH and PUT, delete, OpenAPI listing; and
//! `may_fire` (no `refusal`, a granted role), the rule the ticket page's buttons follow.

use std::collections::BTreeMap;

use hookdesk::auth::User;
use hookdesk::auth::tokens::ApiToken;
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::webhooks::{BODY, slack_connection, ticket_with_forms};

fn token_for(app: &TestApp, username: &str) -> String {
    app.with_conn(|c| {
        let u = User::find_by_username(c, username).unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

fn new_webhook(conn_id: i64) -> Value {
    json!({
        "name": "API hook",
        "connection_id": conn_id,
        "ticket_types": ["Incident"],
        "method": "POST",
        "request_content_type": "json",
        "body_template": BODY,
        "parameters": [
            {"name": "customer_ref", "label": "Customer", "default_template": "{{ticket.id}}"},
            {"name": "note", "read_only": true, "multi_line": true}
        ],
        "conditions": [{"field": "ticket.status", "operator": "not_equals", "value": "Closed"}],
        "response_fields": [{"path": "items[0].id", "target": "ticket.inventory.serialnumber"}],
        "response_actions": [{"kind": "change_status", "value_template": "In Progress"}],
        "roles": ["Technician"]
    })
}

async fn api_creates_reads_updates_and_deletes_webhooks(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/api").await;
    let token = token_for(&app, "admin");
    use reqwest::Method as M;

    let (status, created) = call(
        &app,
        &token,
        M::POST,
        "/api/v1/webhooks",
        Some(new_webhook(conn_id)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "API hook");
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["ticket_types"], json!(["IN"]));
    assert_eq!(created["parameters"][1]["read_only"], true);
    assert_eq!(created["conditions"][0]["operator"], "not_equals");
    assert_eq!(created["roles"], json!(["Technician"]));

    let (status, list) = call(&app, &token, M::GET, "/api/v1/webhooks", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, got) = call(
        &app,
        &token,
        M::GET,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, created);

    // Same validation as the page, as JSON with the fields named.
    let mut bad = new_webhook(conn_id);
    bad["name"] = json!("Other");
    bad["body_template"] = json!("{'a': 1}");
    bad["parameters"][0]["name"] = json!("bad name");
    bad["batch_mode"] = json!("any_event");
    bad["method"] = json!("PATCH");
    let (status, err) = call(&app, &token, M::POST, "/api/v1/webhooks", Some(bad)).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "validation_failed");
    let fields: BTreeMap<String, String> = err["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        fields["body_template"].contains("line 1, column 2"),
        "{fields:?}"
    );
    assert!(fields.contains_key("parameters.0.name"), "{fields:?}");
    assert!(fields["batch_mode"].contains("POST"), "{fields:?}");
    let (status, _) = call(
        &app,
        &token,
        M::POST,
        "/api/v1/webhooks",
        Some(new_webhook(conn_id)),
    )
    .await;
    assert_eq!(status, 422, "duplicate name");
    let (status, err) = call(
        &app,
        &token,
        M::POST,
        "/api/v1/webhooks",
        Some(json!({"name": 5})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "bad_request");

    // PATCH changes only what it names.
    let (status, patched) = call(
        &app,
        &token,
        M::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"status": "disabled", "description": "patched"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["status"], "disabled");
    assert_eq!(patched["description"], "patched");
    assert_eq!(patched["body_template"], BODY);
    assert_eq!(patched["parameters"], created["parameters"]);
    let (status, err) = call(
        &app,
        &token,
        M::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"body_template": "{\"a\": \"{{ticket.nope}}\"}"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        err["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ticket.nope")
    );
    let (status, err) = call(
        &app,
        &token,
        M::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"colour": "red"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["fields"][0]["field"], "colour");
    let (_, unchanged) = call(
        &app,
        &token,
        M::GET,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(
        unchanged["description"], "patched",
        "a refused PATCH changes nothing"
    );

    // PUT replaces the whole definition; a GET body round-trips.
    let mut full = unchanged.clone();
    full["conditions"] = json!([]);
    full["payload_mode"] = json!("ticket");
    let (status, put) = call(
        &app,
        &token,
        M::PUT,
        &format!("/api/v1/webhooks/{id}"),
        Some(full),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["conditions"], json!([]));
    assert_eq!(put["payload_mode"], "ticket");

    // Not for technicians' tokens.
    app.create_user("tess", &["Technician"]);
    let tech = token_for(&app, "tess");
    let (status, _) = call(&app, &tech, M::GET, "/api/v1/webhooks", None).await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &tech,
        M::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 403);

    let (status, _) = call(
        &app,
        &token,
        M::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, err) = call(
        &app,
        &token,
        M::GET,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "not_found");

    // Listed in the OpenAPI document.
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths["/api/v1/webhooks"].get("post").is_some());
    for m in ["get", "put", "patch", "delete"] {
        assert!(paths["/api/v1/webhooks/{id}"].get(m).is_some(), "{m}");
    }
}

async fn a_used_connection_cannot_be_deleted(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/api").await;
    let token = token_for(&app, "admin");
    let (status, _) = call(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(new_webhook(conn_id)),
    )
    .await;
    assert_eq!(status, 201);
    let users = app.with_conn(|c| hookdesk::connections::users_of(c, conn_id).unwrap());
    assert_eq!(users, vec!["API hook".to_string()]);
    let err = app.with_conn(|c| {
        hookdesk::connections::Connection::delete(
            c,
            &hookdesk::audit::Actor::system("test"),
            conn_id,
        )
        .unwrap_err()
    });
    assert!(err.to_string().contains("API hook"), "{err}");
}

async fn may_fire_follows_roles_status_types_and_conditions(app: TestApp) {
    app.login_admin().await;
    let ticket = ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/api").await;
    let token = token_for(&app, "admin");
    let (status, created) = call(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(new_webhook(conn_id)),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_i64().unwrap();
    let tess = app.create_user("tess", &["Technician"]);
    let rita = app.create_user("rita", &[]);
    let (mut w, values, tess, rita) = app.with_conn(|c| {
        (
            hookdesk::webhooks::store::get(c, id).unwrap(),
            hookdesk::tickets::template_values(c, ticket.id)
                .unwrap()
                .into_values(),
            User::principal(c, tess.id).unwrap(),
            User::principal(c, rita.id).unwrap(),
        )
    });
    use hookdesk::webhooks::{Status, may_fire};
    assert!(may_fire(&tess, &w, &values));
    assert!(!may_fire(&rita, &w, &values), "no granted role");

    let mut closed = values.clone();
    closed.insert("ticket.status".into(), json!("Closed"));
    assert!(!may_fire(&tess, &w, &closed), "condition not met");

    let mut change = values.clone();
    change.insert("ticket.type".into(), json!("Change"));
    assert!(!may_fire(&tess, &w, &change), "another ticket type");

    w.status = Status::Test;
    assert!(
        may_fire(&tess, &w, &values),
        "test status still fires (through the test connection)"
    );
    w.status = Status::Disabled;
    assert!(!may_fire(&tess, &w, &values));
}

db_tests!(
    api_creates_reads_updates_and_deletes_webhooks,
    a_used_connection_cannot_be_deleted,
    may_fire_follows_roles_status_types_and_conditions,
);
