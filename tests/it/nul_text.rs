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

    let odd = Receiver::start(Reply::Custom(Respond::new(|_r: &Received| {
        (200, Vec::new(), b"ok\0done".to_vec())
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
    w.rule(send_rule(
        "P1 to the odd vendor",
        hook["id"].as_i64().unwrap(),
        json!([{"field": "ticket.priority.id", "operator": "changed_to", "value": "P1"}]),
    ))
    .await;
    let id = w.ticket(&w.tech, "Incident", "Printer on fire").await;
    w.patch(&w.tech, id, json!({"priority": "P1"})).await;
    odd.wait_for(1).await;

    let mut recorded = None;
    for _ in 0..100 {
        recorded = w.app.with_conn(|c| {
            deliveries::table
                .inner_join(delivery_attempts::table)
                .filter(deliveries::ticket_id.eq(id))
                .select((deliveries::status, delivery_attempts::response_body))
                .first::<(String, String)>(c)
                .optional()
                .unwrap()
        });
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = recorded.expect("the answer was recorded");
    assert_eq!(status, "succeeded");
    assert_eq!(body, "ok\u{FFFD}done");
    assert_eq!(odd.received().len(), 1);
}
