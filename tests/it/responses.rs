//! Response processing through the real worker: a 2xx answer's response fields and
//! actions change the ticket in one transaction with a "response processed" history
//! entry and event; a mapping that finds nothing says why on the attempt; a value the
//! ticket refuses changes nothing; batches and failures are never read.

use std::collections::BTreeMap;
use std::sync::Arc;

use hookdesk::delivery::queue::{self, Delivery, NewDelivery, Trigger};
use hookdesk::delivery::records::AttemptRecord;
use hookdesk::delivery::worker::{self, WorkerConfig, WorkerCtx};
use hookdesk::delivery::{RetryPolicy, Sender, SenderConfig};
use hookdesk::tickets::{Ticket, events, history, template_values};
use hookdesk::webhooks::request::{self, TicketRef, TriggerCtx};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{post, ticket_with_forms, webhook_form};

/// An app that may send to loopback receivers and runs no worker of its own (the test
/// drives one, so nothing races it). Use with `db_tests!(spawn = loopback_app; …)`.
pub async fn loopback_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.run_worker = false;
    })
    .await
}

/// A worker with the app's own secret key (the stored requests' sealed headers and the
/// connections' secrets must open).
pub fn worker_ctx(app: &TestApp) -> Arc<WorkerCtx> {
    let sender = Sender::new(&SenderConfig::from_config(&app.config).unwrap()).unwrap();
    let secrets =
        app.with_conn(|c| hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap());
    WorkerCtx::new(
        app.pool.clone(),
        sender,
        Arc::new(secrets),
        RetryPolicy::parse(&["0s".to_string(), "10s".to_string()]).unwrap(),
        WorkerConfig::from_config(&app.config).unwrap(),
        hookdesk::delivery::hooks::Hooks {
            response: hookdesk::firing::response_hook(std::sync::Arc::new(
                hookdesk::tickets::events::NoRules,
            )),
            ..hookdesk::delivery::hooks::Hooks::none()
        },
    )
}

/// Saves a webhook through the page with `extra` fields appended (response rows repeat
/// their field names, so they cannot go through `webhook_form`'s replacements).
async fn save_webhook(
    app: &TestApp,
    connection_id: i64,
    kind: &str,
    extra: &[(&str, &str)],
) -> i64 {
    let mut form = webhook_form(
        connection_id,
        &[("name", "ServiceNow sync"), ("response_content_type", kind)],
    );
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let resp = post(app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    app.with_conn(|c| {
        hookdesk::webhooks::store::list(c)
            .unwrap()
            .into_iter()
            .find(|w| w.name == "ServiceNow sync")
            .unwrap()
            .id
    })
}

/// What a technician's click will write: the webhook's request for the ticket, as a
/// delivery of the ticket (trigger `manual`).
fn enqueue_for(app: &TestApp, webhook_id: i64, ticket_id: i64) -> i64 {
    app.with_conn(|c| {
        let sb = hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap();
        let w = hookdesk::webhooks::store::get(c, webhook_id).unwrap();
        let built = request::build(
            c,
            &sb,
            &w,
            TicketRef::Id(ticket_id),
            &BTreeMap::new(),
            &TriggerCtx::default(),
            chrono::Utc::now(),
            false,
        )
        .unwrap();
        let mut n = NewDelivery::new(
            Trigger::Manual,
            built.connection_id,
            built.snapshot(&sb).unwrap(),
        );
        n.webhook_id = Some(webhook_id);
        n.ticket_id = Some(ticket_id);
        queue::enqueue(c, &n, 2, hookdesk::db::now()).unwrap().0
    })
}

/// One delivery of a webhook (response type `kind`, settings `extra`) for a fresh
/// ticket, to a receiver answering `reply`, sent by the worker.
struct Run {
    ticket: Ticket,
    webhook_id: i64,
    delivery: Delivery,
    attempt: AttemptRecord,
}

async fn run(app: &TestApp, reply: Reply, kind: &str, extra: &[(&str, &str)]) -> Run {
    app.login_admin().await;
    let rx = Receiver::start(reply).await;
    let conn = crate::webhooks::slack_connection(app, &rx.url("")).await;
    let ticket = ticket_with_forms(app);
    let webhook_id = save_webhook(app, conn, kind, extra).await;
    let id = enqueue_for(app, webhook_id, ticket.id);
    let (delivery, attempt) = deliver(app, id).await;
    Run {
        ticket,
        webhook_id,
        delivery,
        attempt,
    }
}

async fn deliver(app: &TestApp, id: i64) -> (Delivery, AttemptRecord) {
    let ctx = worker_ctx(app);
    worker::run_until_idle(&ctx, hookdesk::db::now())
        .await
        .unwrap();
    app.with_conn(|c| {
        let d = Delivery::get(c, id).unwrap();
        let a = AttemptRecord::for_delivery(c, id).unwrap().pop().unwrap();
        (d, a)
    })
}

fn json_reply(status: u16, body: serde_json::Value) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

async fn json_fields_and_actions_update_the_ticket(app: TestApp) {
    let reply = json_reply(
        201,
        json!({"result": {"number": "INC0099", "state": "new"}, "items": [{"id": "A1"}]}),
    );
    let r = run(
        &app,
        reply,
        "json",
        &[
            ("rf_path", "result.number"),
            ("rf_target", "ticket.inventory.serialnumber"),
            ("rf_path", "result.missing"),
            ("rf_target", "ticket.requestername"),
            ("ra_kind", "change_status"),
            ("ra_target", ""),
            ("ra_value", "In Progress"),
            ("ra_kind", "add_note"),
            ("ra_target", ""),
            (
                "ra_value",
                "Created {{response.result.number}} for {{ticket.displayid}}",
            ),
            ("ra_kind", "set_field"),
            ("ra_target", "ticket.category"),
            ("ra_value", "{{response.items.0.id}}"),
        ],
    )
    .await;
    let (t, d, a, wid) = (&r.ticket, &r.delivery, &r.attempt, r.webhook_id);
    assert_eq!(d.status, "succeeded");
    let note = a.note.clone().unwrap_or_default();
    assert!(note.starts_with("response processed: "), "{note}");
    assert!(
        note.contains("result.missing → ticket.requestername: found nothing: `result` has no `missing` (it has: number, state)"),
        "{note}"
    );
    // The plan quotes the note it adds.
    assert!(
        note.contains(&format!("add note: “Created INC0099 for {}”", t.display_id)),
        "{note}"
    );

    app.with_conn(|c| {
        let v = template_values(c, t.id).unwrap();
        assert_eq!(v["ticket.inventory.serialnumber"], json!("INC0099"));
        assert_eq!(v["ticket.category"], json!("A1"));
        assert_eq!(v["ticket.status"], json!("In Progress"));
        // The mapping that found nothing left its field alone.
        assert_eq!(v["ticket.requestername"], json!("Robin"));

        let h = history::list(c, t.id).unwrap();
        let processed: Vec<_> = h.iter().filter(|e| e.kind == "webhook_response").collect();
        assert_eq!(processed.len(), 1);
        assert!(
            processed[0]
                .body
                .starts_with("Response of webhook “ServiceNow sync” processed")
        );
        assert_eq!(processed[0].actor_name, "Webhook “ServiceNow sync”");
        let changes: serde_json::Value = serde_json::from_str(&processed[0].changes).unwrap();
        assert_eq!(
            changes["status"],
            json!({"old": "Open", "new": "In Progress"})
        );
        let notes: Vec<_> = h.iter().filter(|e| e.kind == "note").collect();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].body,
            format!("Created INC0099 for {}", t.display_id)
        );

        let ev = events::for_ticket(c, t.id).unwrap();
        let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
        // "Run rules after response processed" is off: no ticket.updated or
        // ticket.status_changed a rule could react to.
        assert_eq!(
            types,
            [
                "ticket.created",
                "webhook.response_processed",
                "ticket.note_added"
            ]
        );
        let p = ev[1].payload_json();
        assert_eq!(p["webhook_id"], json!(wid));
        assert_eq!(p["delivery"], json!(d.uid));
        assert_eq!(p["run_rules"], json!(false));
    });
}

async fn a_value_the_ticket_refuses_changes_nothing(app: TestApp) {
    let reply = Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: b"<response><result><number>CHG7</number><priority>P9</priority></result></response>"
            .to_vec(),
    };
    let r = run(
        &app,
        reply,
        "xml",
        &[
            ("rf_path", "result/number"),
            ("rf_target", "ticket.category"),
            ("rf_path", "response/result/priority"),
            ("rf_target", "ticket.priority"),
        ],
    )
    .await;
    let (t, d, a) = (&r.ticket, &r.delivery, r.attempt);
    // The request was delivered; only the ticket change was refused.
    assert_eq!(d.status, "succeeded");
    let note = a.note.unwrap_or_default();
    assert!(
        note.starts_with("response not applied, the ticket is unchanged: invalid input: priority: “P9” is not a priority"),
        "{note}"
    );
    assert!(
        note.contains("result/number → ticket.category = CHG7"),
        "{note}"
    );
    app.with_conn(|c| {
        let after = Ticket::get(c, t.id).unwrap();
        assert_eq!(after.category, t.category);
        assert_eq!(after.priority, t.priority);
        let h = history::list(c, t.id).unwrap();
        assert!(h.iter().all(|e| e.kind != "webhook_response"));
        let ev = events::for_ticket(c, t.id).unwrap();
        assert_eq!(ev.len(), 1, "only ticket.created");
    });
}

async fn rules_may_run_after_a_response_when_the_webhook_says_so(app: TestApp) {
    let reply = Reply::Full {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"state=Resolved&ref=REQ9".to_vec(),
    };
    let r = run(
        &app,
        reply,
        "form",
        &[
            ("run_rules_after_response", "on"),
            ("rf_path", "state"),
            ("rf_target", "ticket.status"),
        ],
    )
    .await;
    let (t, d) = (&r.ticket, &r.delivery);
    assert_eq!(d.status, "succeeded");
    app.with_conn(|c| {
        assert_eq!(Ticket::get(c, t.id).unwrap().status, "Resolved");
        let ev = events::for_ticket(c, t.id).unwrap();
        let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "ticket.created",
                "webhook.response_processed",
                "ticket.updated",
                "ticket.status_changed"
            ]
        );
        assert_eq!(ev[1].payload_json()["run_rules"], json!(true));
    });
}

async fn failed_answers_are_not_read(app: TestApp) {
    let reply = json_reply(422, json!({"result": {"number": "X"}}));
    let r = run(
        &app,
        reply,
        "json",
        &[
            ("rf_path", "result.number"),
            ("rf_target", "ticket.category"),
        ],
    )
    .await;
    let (t, d, a) = (&r.ticket, &r.delivery, r.attempt);
    assert_eq!(d.status, "failed");
    assert!(!a.note.unwrap_or_default().contains("response"));
    app.with_conn(|c| {
        assert_eq!(Ticket::get(c, t.id).unwrap().category, t.category);
        let h = history::list(c, t.id).unwrap();
        assert!(h.iter().all(|e| e.kind != "webhook_response"));
        assert_eq!(
            events::for_ticket(c, t.id).unwrap().len(),
            1,
            "only ticket.created"
        );
    });
}

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    json_fields_and_actions_update_the_ticket,
    a_value_the_ticket_refuses_changes_nothing,
    rules_may_run_after_a_response_when_the_webhook_says_so,
    failed_answers_are_not_read,
);
