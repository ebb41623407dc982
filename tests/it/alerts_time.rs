//! Alert tickets with time passed in: the worker is driven by `run_once(now)` with the
//! alert hook wired as at start-up, so throttling, recovery, 410 and the failed-count
//! window are checked minute by minute without sleeping. And the loop that must not
//! happen: a rule that sends alert tickets to a chat connection which is failing itself.

use std::sync::Arc;

use chrono::Duration as Td;
use diesel::prelude::*;
use hookdesk::alerts::{ConnectionPolicy, Policy, policy};
use hookdesk::audit::Actor;
use hookdesk::db::schema::{deliveries, ticket_history, tickets};
use hookdesk::delivery::hooks::Hooks;
use hookdesk::delivery::queue::{self, NewDelivery, Trigger};
use hookdesk::delivery::worker;
use hookdesk::tickets::events::{NoRules, Sink};
use reqwest::Method;
use serde_json::json;

use crate::alerts::alert_tickets;
use crate::helpers::TestApp;
use crate::queue::t0;
use crate::receiver::{Receiver, Reply};
use crate::tickets_api::{api, token_for};
use crate::worker::{Opts, connection, ctx_with, enqueue};

crate::db_tests!(spawn = crate::queue::no_worker;
    notes_are_throttled_recovery_resolves_and_the_next_failure_opens_a_new_ticket,
    failed_deliveries_over_the_threshold_open_an_alert,
    an_alert_never_sends_to_its_own_failing_connection,
);

fn alert_hooks(sink: Arc<dyn Sink + Send + Sync>) -> Hooks {
    Hooks {
        health: hookdesk::alerts::hook(sink),
        ..Hooks::none()
    }
}

fn enqueue_with_attempts(
    app: &TestApp,
    c: i64,
    url: &str,
    body: &str,
    now: chrono::NaiveDateTime,
    attempts: i32,
) -> i64 {
    app.with_conn(|db| {
        let n = NewDelivery::new(Trigger::Rule, Some(c), crate::queue::request(url, body));
        queue::enqueue(db, &n, attempts, now).unwrap().0
    })
}

fn set_policy(app: &TestApp, c: i64, p: Policy) {
    app.with_conn(|db| {
        let choice = ConnectionPolicy {
            follows_default: false,
            policy: Some(p),
        };
        policy::put_for_connection(db, &Actor::system("test"), c, choice).unwrap();
    });
}

/// (status, subject, type, group) of a ticket.
fn ticket(app: &TestApp, id: i64) -> (String, String, String, String) {
    app.with_conn(|db| {
        tickets::table
            .find(id)
            .select((
                tickets::status,
                tickets::subject,
                tickets::ticket_type,
                tickets::assigned_group,
            ))
            .first(db)
            .unwrap()
    })
}

/// The notes Hookdesk wrote on a ticket, oldest first.
fn system_notes(app: &TestApp, id: i64) -> Vec<String> {
    app.with_conn(|db| {
        ticket_history::table
            .filter(ticket_history::ticket_id.eq(id))
            .filter(ticket_history::kind.eq("note"))
            .filter(ticket_history::actor_name.eq("Hookdesk (system)"))
            .order(ticket_history::id.asc())
            .select(ticket_history::body)
            .load(db)
            .unwrap()
    })
}

async fn notes_are_throttled_recovery_resolves_and_the_next_failure_opens_a_new_ticket(
    app: TestApp,
) {
    let rx = Receiver::start(Reply::Status(500)).await;
    let c = connection(&app, "Vendor");
    set_policy(
        &app,
        c,
        Policy {
            enabled: true,
            ticket_type: "Problem".into(),
            priority: "P3".into(),
            group: "Ops".into(),
            note_every_minutes: 30,
            ..Policy::default()
        },
    );
    let o = Opts {
        breaker_failures: 2,
        schedule: vec!["0s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"],
        ..Opts::default()
    };
    let w = ctx_with(&app, &o, alert_hooks(Arc::new(NoRules)));
    for i in 0..2 {
        enqueue_with_attempts(&app, c, &rx.url("/v"), &i.to_string(), t0(), 10);
    }
    assert_eq!(worker::run_once(&w, t0()).await.unwrap(), 2);
    let first = alert_tickets(&app, c);
    assert_eq!(first.len(), 1, "the breaker opened: one alert");
    let (status, subject, kind, group) = ticket(&app, first[0]);
    assert_eq!(
        (status.as_str(), kind.as_str(), group.as_str()),
        ("Open", "PR", "Ops")
    );
    assert!(subject.contains("“Vendor”"), "{subject}");
    // Paused: nothing is sent, nothing is noted.
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(30)).await.unwrap(),
        0
    );
    // The cool-down (60 s) passed: the probe fails and opens the breaker again, but a
    // note was written less than 30 minutes ago: none now.
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(61)).await.unwrap(),
        1
    );
    assert!(system_notes(&app, first[0]).is_empty());
    // Half an hour later the probe fails again: one note, saying what waits.
    let later = t0() + Td::minutes(31);
    assert_eq!(worker::run_once(&w, later).await.unwrap(), 1);
    let notes = system_notes(&app, first[0]);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("Still failing at "), "{}", notes[0]);
    assert!(
        notes[0].contains("Waiting: 2 deliveries to send."),
        "{}",
        notes[0]
    );
    assert_eq!(alert_tickets(&app, c).len(), 1, "still one ticket");

    // The receiver works again: the next probe succeeds, the ticket is noted and resolved.
    rx.set_reply(Reply::Status(200));
    assert_eq!(
        worker::run_once(&w, later + Td::minutes(2)).await.unwrap(),
        1
    );
    let notes = system_notes(&app, first[0]);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].starts_with("Recovered at "), "{}", notes[1]);
    assert_eq!(ticket(&app, first[0]).0, "Resolved");
    assert_eq!(
        worker::run_once(&w, later + Td::minutes(2) + Td::seconds(1))
            .await
            .unwrap(),
        1,
        "the other one follows"
    );
    // A success with no alert raised writes nothing more.
    enqueue(&app, Some(c), &rx.url("/v"), "ok", later + Td::minutes(3));
    worker::run_once(&w, later + Td::minutes(3)).await.unwrap();
    assert_eq!(system_notes(&app, first[0]).len(), 2);

    // The alert is resolved, so a 410 now opens a new one.
    rx.set_reply(Reply::Status(410));
    enqueue(&app, Some(c), &rx.url("/v"), "gone", later + Td::minutes(4));
    worker::run_once(&w, later + Td::minutes(4)).await.unwrap();
    let all = alert_tickets(&app, c);
    assert_eq!(all.len(), 2, "a new alert after the first was resolved");
    let (status, subject, ..) = ticket(&app, all[1]);
    assert_eq!(status, "Open");
    assert!(subject.contains("410 Gone"), "{subject}");
}

async fn failed_deliveries_over_the_threshold_open_an_alert(app: TestApp) {
    // 400 is the request's fault: not retried, and no failure of the endpoint's health,
    // so only the failed-deliveries count can raise this alert.
    let rx = Receiver::start(Reply::Status(400)).await;
    let c = connection(&app, "Strict");
    set_policy(
        &app,
        c,
        Policy {
            enabled: true,
            on_breaker_open: false,
            on_gone: false,
            failed_threshold: 2,
            failed_window_minutes: 15,
            ..Policy::default()
        },
    );
    let w = ctx_with(&app, &Opts::default(), alert_hooks(Arc::new(NoRules)));
    for i in 0..2 {
        enqueue(&app, Some(c), &rx.url("/s"), &i.to_string(), t0());
    }
    worker::run_once(&w, t0()).await.unwrap();
    assert!(
        alert_tickets(&app, c).is_empty(),
        "2 failed is not more than 2"
    );
    // The next one is the third within 15 minutes.
    enqueue(&app, Some(c), &rx.url("/s"), "3", t0() + Td::minutes(5));
    worker::run_once(&w, t0() + Td::minutes(5)).await.unwrap();
    let a = alert_tickets(&app, c);
    assert_eq!(a.len(), 1);
    assert!(
        ticket(&app, a[0]).1.contains("3 deliveries failed"),
        "{:?}",
        ticket(&app, a[0])
    );
    // Failures outside the window do not count: twenty minutes on, one more failure
    // makes 1 in the window (the alert stays the one ticket either way).
    enqueue(&app, Some(c), &rx.url("/s"), "4", t0() + Td::minutes(40));
    worker::run_once(&w, t0() + Td::minutes(40)).await.unwrap();
    assert_eq!(alert_tickets(&app, c).len(), 1);
    assert!(
        system_notes(&app, a[0]).is_empty(),
        "outside the window: no note"
    );
}

async fn an_alert_never_sends_to_its_own_failing_connection(app: TestApp) {
    let vendor_rx = Receiver::start(Reply::Status(500)).await;
    let chat_rx = Receiver::start(Reply::Status(500)).await;
    let admin = token_for(&app, "boss", &["Administrator"], false);
    let call = |m: Method, path: String, body: serde_json::Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let (s, v) = api(app, m, admin, &path, Some(body)).await;
            assert!((200..300).contains(&s), "{path}: {s} {v}");
            v
        }
    };
    let conn = |name: &str, url: String| {
        call(
            Method::POST,
            "/api/v1/connections".into(),
            json!({"name": name, "app_type": "generic", "base_url": url, "auth_kind": "none"}),
        )
    };
    let vendor = conn("Vendor", vendor_rx.url("")).await["id"]
        .as_i64()
        .unwrap();
    let chat = conn("Chat", chat_rx.url("")).await["id"].as_i64().unwrap();
    // Every connection alerts (the default), and notes every failure (no throttle).
    call(
        Method::PUT,
        "/api/v1/alerts/default".into(),
        json!({"enabled": true, "group": "Ops", "note_every_minutes": 0}),
    )
    .await;
    let hook = |name: &str, c: i64| {
        call(
            Method::POST,
            "/api/v1/webhooks".into(),
            json!({"name": name, "connection_id": c, "url": "/in", "method": "POST",
                   "request_content_type": "json",
                   "body_template": r#"{"text": "{{ticket.subject}}"}"#}),
        )
    };
    let to_vendor = hook("To vendor", vendor).await["id"].as_i64().unwrap();
    let to_chat = hook("To chat", chat).await["id"].as_i64().unwrap();
    call(
        Method::POST,
        "/api/v1/rules".into(),
        json!({"name": "Updates to the vendor", "events": ["ticket.updated"],
               "actions": [{"kind": "execute_webhook", "webhook_id": to_vendor}]}),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/rules".into(),
        json!({"name": "Integration alerts to chat",
               "events": ["ticket.created", "ticket.note_added"],
               "conditions": [{"field": "ticket.category", "operator": "equals", "value": "Integration"}],
               "actions": [{"kind": "execute_webhook", "webhook_id": to_chat}]}),
    )
    .await;
    let t = call(
        Method::POST,
        "/api/v1/tickets".into(),
        json!({"type": "Incident", "subject": "Server down"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    for i in 0..2 {
        call(
            Method::PATCH,
            format!("/api/v1/tickets/{t}"),
            json!({"description": format!("update {i}")}),
        )
        .await;
    }
    let secrets =
        app.with_conn(|c| hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap());
    let rules = hookdesk::rules::Engine::new(Arc::new(secrets), app.config.retry_schedule.clone());
    let o = Opts {
        breaker_failures: 2,
        schedule: vec!["0s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"],
        ..Opts::default()
    };
    let w = ctx_with(&app, &o, alert_hooks(Arc::new(rules)));
    // Ten minutes of a failing vendor and a failing chat, a probe every cool-down.
    let mut now = t0();
    for _ in 0..40 {
        worker::run_once(&w, now).await.unwrap();
        now += Td::seconds(20);
    }
    let vendor_alerts = alert_tickets(&app, vendor);
    let chat_alerts = alert_tickets(&app, chat);
    assert_eq!(vendor_alerts.len(), 1, "one alert about the vendor");
    assert_eq!(chat_alerts.len(), 1, "one alert about the chat");
    // The vendor's alert went to the chat (which failed); the chat's own alert never did.
    let to_chat_for = |ticket: i64| -> i64 {
        app.with_conn(|db| {
            deliveries::table
                .filter(deliveries::connection_id.eq(chat))
                .filter(deliveries::ticket_id.eq(ticket))
                .count()
                .get_result(db)
                .unwrap()
        })
    };
    assert!(to_chat_for(vendor_alerts[0]) >= 1);
    assert_eq!(to_chat_for(chat_alerts[0]), 0, "no loop");
    let refusals: Vec<String> = app.with_conn(|db| {
        ticket_history::table
            .filter(ticket_history::ticket_id.eq(chat_alerts[0]))
            .filter(ticket_history::kind.eq("rule"))
            .select(ticket_history::body)
            .load(db)
            .unwrap()
    });
    assert!(
        refusals.iter().any(|r| r.contains("never sends there")),
        "{refusals:?}"
    );
    // Bounded: every chat request belongs to a vendor alert's creation or notes.
    let chat_requests = chat_rx.received().len();
    assert!(chat_requests > 0 && chat_requests < 200, "{chat_requests}");
}
