//! Integration health under load: twelve API clients at once update tickets (each update
//! fires a webhook to a receiver that keeps failing), pause, resume and discard the
//! connection and rewrite its alert policy, while the app's worker records failures and
//! opens alerts. Nothing answers 5xx, there is never more than one open alert ticket for
//! the connection, and once the receiver works and the connection is resumed every
//! delivery that was not discarded arrives.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::{deliveries, tickets};
use reqwest::Method;
use serde_json::json;

use crate::alerts::until;
use crate::helpers::TestApp;
use crate::receiver::Reply;
use crate::rules_world::{send_rule, world};

crate::db_tests!(spawn = crate::alerts::alert_app;
    pausing_resuming_and_alerting_under_load_never_fails,
);

async fn pausing_resuming_and_alerting_under_load_never_fails(app: TestApp) {
    let w = world(app).await;
    let c = w.connection;
    w.call(
        &w.admin,
        Method::PUT,
        "/api/v1/alerts/default",
        json!({"enabled": true, "group": "Ops", "note_every_minutes": 0}),
    )
    .await;
    w.rule(send_rule("Every update", w.webhook, json!([])))
        .await;
    let mut ticket_ids = Vec::new();
    for i in 0..4 {
        ticket_ids.push(w.ticket(&w.tech, "Incident", &format!("T{i}")).await);
    }
    w.rx.set_reply(Reply::Status(503));

    let steps = 15;
    let mut tasks = Vec::new();
    for k in 0..12usize {
        let (http, base) = (w.app.client.clone(), w.app.url(""));
        let (admin, tech) = (w.admin.clone(), w.tech.clone());
        let ticket = ticket_ids[k % ticket_ids.len()];
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for s in 0..steps {
                let (m, token, path, body) = match (k % 4, s % 3) {
                    (0 | 1, _) => (
                        Method::PATCH,
                        &tech,
                        format!("/api/v1/tickets/{ticket}"),
                        json!({"description": format!("client {k} step {s}")}),
                    ),
                    (2, 0) => (Method::POST, &admin, format!("/api/v1/connections/{c}/pause"), json!({})),
                    (2, 1) => (Method::POST, &admin, format!("/api/v1/connections/{c}/resume"), json!({})),
                    (2, _) => (Method::POST, &admin, format!("/api/v1/connections/{c}/discard-held"), json!({})),
                    (_, _) => (
                        Method::PUT,
                        &admin,
                        format!("/api/v1/connections/{c}/alerts"),
                        json!({"follows_default": s % 2 == 0, "policy": {"enabled": true, "group": format!("G{s}")}}),
                    ),
                };
                let r = http
                    .request(m, format!("{base}{path}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                statuses.push((status, path, v));
            }
            statuses
        }));
    }
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for t in tasks {
        for (status, path, v) in t.await.unwrap() {
            assert!(status < 500, "{path}: {status} {v}");
            if status == 409 {
                assert!(
                    path.contains("/pause") || path.contains("/discard-held"),
                    "{path}: {v}"
                );
            } else {
                assert!((200..300).contains(&status), "{path}: {status} {v}");
            }
            *by_status.entry(status).or_default() += 1;
        }
    }
    eprintln!("alerts under load: answers by status {by_status:?}");
    // Let the worker record the failures still in flight.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let open_alerts = |app: &TestApp| -> i64 {
        app.with_conn(|db| {
            tickets::table
                .filter(tickets::alert_connection_id.eq(c))
                .filter(tickets::status.ne_all(["Resolved", "Closed"]))
                .count()
                .get_result(db)
                .unwrap()
        })
    };
    assert!(open_alerts(&w.app) <= 1, "one open alert at a time");
    let raised = crate::alerts::alert_tickets(&w.app, c).len();
    assert!(raised >= 1, "the failures did raise an alert");

    // The receiver works again; resume: everything not discarded arrives.
    w.rx.set_reply(Reply::Status(200));
    // Requests already answered 503 are recorded before the resume, so they cannot
    // open the breaker again after it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.call(
        &w.admin,
        Method::POST,
        &format!("/api/v1/connections/{c}/resume"),
        json!({}),
    )
    .await;
    // (Everything queued may have been discarded or failed by now: one more update
    // makes sure something is left to arrive.)
    w.patch(
        &w.tech,
        ticket_ids[0],
        json!({"description": "after the storm"}),
    )
    .await;
    until("the queue drained", Duration::from_secs(90), || {
        let open: i64 = w.app.with_conn(|db| {
            deliveries::table
                .filter(deliveries::status.eq_any(["pending", "in_flight"]))
                .count()
                .get_result(db)
                .unwrap()
        });
        (open == 0).then_some(())
    })
    .await;
    let succeeded: Vec<String> = w.app.with_conn(|db| {
        deliveries::table
            .filter(deliveries::status.eq("succeeded"))
            .select(deliveries::uid)
            .load(db)
            .unwrap()
    });
    let got = w.rx.received();
    for uid in &succeeded {
        assert!(
            got.iter()
                .any(|r| r.header("webhook-id") == Some(uid.as_str())),
            "{uid} recorded as delivered but never arrived"
        );
    }
    let states: Vec<(i64, String, i32, Option<String>)> = w.app.with_conn(|db| {
        deliveries::table
            .order(deliveries::id.asc())
            .select((
                deliveries::id,
                deliveries::status,
                deliveries::attempts,
                deliveries::last_error,
            ))
            .load(db)
            .unwrap()
    });
    assert!(!succeeded.is_empty(), "{states:#?}");
    assert!(open_alerts(&w.app) <= 1);
}
