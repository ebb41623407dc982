//! U+0000 in text: PostgreSQL cannot store it, SQLite can. Typed input holding one is
//! refused alike on both backends (a 4xx naming the field, nothing written), and a
//! receiver whose answer holds one is recorded like any other answer, with U+FFFD in
//! its place: one odd byte must not fail the worker's whole group of outcomes.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::{deliveries, delivery_attempts, tickets};
use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;
use crate::receiver::{Received, Receiver, Reply, Respond};
use crate::rules_world::{send_rule, world};
use crate::tickets_api::api;
use crate::webhooks_support::create_connection;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    a_nul_in_typed_text_is_refused_and_one_in_an_answer_is_recorded,
);

async fn a_nul_in_typed_text_is_refused_and_one_in_an_answer_is_recorded(app: TestApp) {
    let w = world(app).await;
    let (status, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.tech,
        "/api/v1/tickets",
        Some(json!({"type": "Incident", "subject": "a\u{0}b", "priority": "P3"})),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "subject", "{v}");
    let n: i64 = w
        .app
        .with_conn(|c| tickets::table.count().get_result(c).unwrap());
    assert_eq!(n, 0, "nothing was written");
    // A filter is typed text too: a clear 4xx, not a server error.
    let (status, _) = api(
        &w.app,
        reqwest::Method::GET,
        &w.tech,
        "/api/v1/tickets?q=a%00b",
        None,
    )
    .await;
    assert!(status < 500, "{status}");

    // A raw NUL byte in the body; and on `/json`, a JSON answer whose mapped value
    // holds an escaped one, which the webhook's response field reads back as U+0000.
    let odd = Receiver::start(Reply::Custom(Respond::new(|r: &Received| {
        if r.path.ends_with("/json") {
            (200, Vec::new(), br#"{"ref": "a\u0000b"}"#.to_vec())
        } else {
            (200, Vec::new(), b"ok\0done".to_vec())
        }
    })))
    .await;
    let conn = create_connection(&w.app, "Odd vendor", "generic", &odd.url(""), "tok-2").await;
    let hook = w
        .call(
            &w.admin,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            json!({"name": "Send to the odd vendor", "connection_id": conn, "url": "/in",
                   "method": "POST", "request_content_type": "json",
                   "body_template": r#"{"ticket": "{{ticket.displayid}}"}"#}),
        )
        .await;
    let mapped = w
        .call(
            &w.admin,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            json!({"name": "Sync with the odd vendor", "connection_id": conn, "url": "/json",
                   "method": "POST", "request_content_type": "json",
                   "body_template": r#"{"ticket": "{{ticket.displayid}}"}"#,
                   "response_content_type": "json",
                   "response_fields": [{"path": "ref", "target": "ticket.category"}]}),
        )
        .await;
    let mut rule = send_rule(
        "P1 to the odd vendor",
        hook["id"].as_i64().unwrap(),
        json!([{"field": "ticket.priority.id", "operator": "changed_to", "value": "P1"}]),
    );
    rule["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "execute_webhook", "webhook_id": mapped["id"]}));
    w.rule(rule).await;
    let id = w.ticket(&w.tech, "Incident", "Printer on fire").await;
    w.patch(&w.tech, id, json!({"priority": "P1"})).await;
    odd.wait_for(2).await;

    // (url, status, response body, note) of each delivery once both are recorded.
    let mut recorded = Vec::new();
    for _ in 0..100 {
        recorded = w.app.with_conn(|c| {
            deliveries::table
                .inner_join(delivery_attempts::table)
                .filter(deliveries::ticket_id.eq(id))
                .order(deliveries::id.asc())
                .select((
                    deliveries::url,
                    deliveries::status,
                    delivery_attempts::response_body,
                    delivery_attempts::note,
                ))
                .load::<(String, String, String, Option<String>)>(c)
                .unwrap()
        });
        if recorded.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        recorded.len(),
        2,
        "both answers were recorded: {recorded:?}"
    );
    let raw = recorded.iter().find(|r| r.0.ends_with("/in")).unwrap();
    assert_eq!(
        (raw.1.as_str(), raw.2.as_str()),
        ("succeeded", "ok\u{FFFD}done")
    );
    let json = recorded.iter().find(|r| r.0.ends_with("/json")).unwrap();
    assert_eq!(json.1, "succeeded");
    let note = json.3.clone().unwrap_or_default();
    assert!(!note.contains('\0') && note.contains("response"), "{note}");
    assert_eq!(odd.received().len(), 2, "nothing was sent twice");
}
