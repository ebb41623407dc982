//! Integration health, end to end through the running server, its own worker and a real
//! receiver (issue 14's "done when"): a receiver that stops answering opens one alert
//! ticket in the chosen group, saying what is wrong and what waits; the deliveries wait
//! as *held*; the receiver comes back, an administrator resumes, everything held arrives
//! in order and the ticket resolves itself.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use hookdesk::db::schema::tickets;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::Reply;
use crate::rules_world::{World, send_rule, world};
use crate::tickets_api::api;

/// An app whose worker sends to loopback, opens the breaker after 3 failures in a row
/// and, left alone, would keep it open for ten minutes (so only Resume closes it here).
pub async fn alert_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.breaker_failures = 3;
        c.breaker_cooldown_seconds = 600;
        c.retry_schedule = ["0s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]
            .map(String::from)
            .to_vec();
    })
    .await
}

crate::db_tests!(spawn = crate::alerts::alert_app;
    a_dead_receiver_opens_one_alert_and_everything_held_arrives_in_order_after_resume,
);

pub async fn until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Alert tickets about connection `c`, oldest first.
pub fn alert_tickets(app: &TestApp, c: i64) -> Vec<i64> {
    app.with_conn(|db| {
        tickets::table
            .filter(tickets::alert_connection_id.eq(c))
            .order(tickets::id.asc())
            .select(tickets::id)
            .load(db)
            .unwrap()
    })
}

pub async fn ordered_webhook(w: &World, name: &str) -> i64 {
    let v = w
        .call(
            &w.admin,
            Method::POST,
            "/api/v1/webhooks",
            json!({
                "name": name,
                "connection_id": w.connection,
                "url": "/ordered",
                "method": "POST",
                "request_content_type": "json",
                "body_template": r#"{"ticket": "{{ticket.displayid}}", "n": "{{ticket.description}}"}"#,
                "keep_order": true
            }),
        )
        .await;
    assert_eq!(v["keep_order"], true, "{v}");
    v["id"].as_i64().unwrap()
}

async fn a_dead_receiver_opens_one_alert_and_everything_held_arrives_in_order_after_resume(
    app: TestApp,
) {
    let w = world(app).await;
    let c = w.connection;
    let policy = w
        .call(
            &w.admin,
            Method::PUT,
            &format!("/api/v1/connections/{c}/alerts"),
            json!({"follows_default": false, "policy": {
                "enabled": true, "on_breaker_open": true, "on_gone": true,
                "ticket_type": "incident", "priority": "P1", "group": "Integrations",
                "assignee": "boss", "auto_resolve": true, "note_every_minutes": 30
            }}),
        )
        .await;
    assert_eq!(
        policy["policy"]["ticket_type"], "Incident",
        "normalised: {policy}"
    );
    let hook = ordered_webhook(&w, "Ordered updates").await;
    w.rule(send_rule("Send every update", hook, json!([])))
        .await;

    // The receiver stops working.
    w.rx.set_reply(Reply::Status(503));
    let t = w.ticket(&w.tech, "Incident", "Printer on fire").await;
    for i in 0..6 {
        w.patch(&w.tech, t, json!({"description": format!("update {i}")}))
            .await;
    }
    // The first delivery fails three times in a row: the breaker opens, and one alert
    // ticket appears.
    let alert = until("an alert ticket exists", Duration::from_secs(30), || {
        alert_tickets(&w.app, c).first().copied()
    })
    .await;
    let (status, a) = api(
        &w.app,
        Method::GET,
        &w.admin,
        &format!("/api/v1/tickets/{alert}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["type"], "Incident");
    assert_eq!(a["priority"], "P1 Critical", "{a}");
    assert_eq!(a["assignedgroup"], "Integrations");
    assert_eq!(a["assigneeusername"], "boss");
    assert_eq!(a["status"], "Open");
    assert_eq!(a["createdby"], "Hookdesk (system)", "{a}");
    let subject = a["subject"].as_str().unwrap();
    assert!(
        subject.contains("“Vendor”") && subject.contains("paused"),
        "{subject}"
    );
    let text = a["description"].as_str().unwrap();
    for want in [
        "circuit breaker opened after 3 failures in a row",
        "Failing since: ",
        "Waiting: 6 deliveries to send.",
        "Last errors:",
        "HTTP 503",
        &format!("/admin/log?connection={c}&status=held"),
        &format!("/admin/connections/{c}"),
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // The deliveries wait as held, with the reason; nothing else reaches the receiver.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        w.rx.received().len(),
        3,
        "only the first delivery's three attempts"
    );
    let (_, held) = api(
        &w.app,
        Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries?connection={c}&status=held"),
        None,
    )
    .await;
    let items = held["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{held}");
    for d in items {
        assert_eq!(d["status"], "held");
        assert!(
            d["held_reason"]
                .as_str()
                .unwrap()
                .contains("circuit breaker"),
            "{d}"
        );
    }
    let (_, queued) = api(
        &w.app,
        Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries?connection={c}&status=queued&status=retrying"),
        None,
    )
    .await;
    assert_eq!(
        queued["items"].as_array().unwrap().len(),
        0,
        "held is not queued"
    );
    assert_eq!(alert_tickets(&w.app, c), vec![alert], "one alert ticket");
    // The connection's page says what waits and links the ticket.
    let page = w
        .app
        .get(&format!("/admin/connections/{c}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("6 deliveries are held"), "{page}");
    assert!(
        page.contains(&format!("href=\"/tickets/{alert}\"")),
        "{page}"
    );
    // And the alert ticket's page points back at the connection.
    let tpage = w
        .app
        .get(&format!("/tickets/{alert}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(tpage.contains("id=\"integration-alert\""), "{tpage}");
    assert!(tpage.contains(&format!("href=\"/admin/connections/{c}\"")));

    // The receiver works again; an administrator resumes.
    w.rx.set_reply(Reply::Status(200));
    let r = w
        .call(
            &w.admin,
            Method::POST,
            &format!("/api/v1/connections/{c}/resume"),
            json!({}),
        )
        .await;
    assert_eq!(r["released"], 6, "{r}");
    let got = w.rx.wait_for(9).await;
    let delivered: Vec<Value> = got[3..]
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let order: Vec<&str> = delivered.iter().map(|v| v["n"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        (0..6).map(|i| format!("update {i}")).collect::<Vec<_>>(),
        "held deliveries arrive in the order their updates happened"
    );
    // The recovery is noted on the alert ticket, which resolves itself.
    let resolved = until("the alert ticket resolves", Duration::from_secs(20), || {
        let s: String = w.app.with_conn(|db| {
            tickets::table
                .find(alert)
                .select(tickets::status)
                .first(db)
                .unwrap()
        });
        (s == "Resolved").then_some(s)
    })
    .await;
    assert_eq!(resolved, "Resolved");
    let notes: Vec<String> = w
        .history(alert)
        .into_iter()
        .filter(|(kind, actor, _)| kind == "note" && actor == "Hookdesk (system)")
        .map(|(_, _, body)| body)
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("Recovered at ")),
        "{notes:?}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(w.rx.received().len(), 9, "each delivered once");
    assert_eq!(alert_tickets(&w.app, c), vec![alert]);
}
