//! `PATCH /api/v1/tickets/{key}` as clients meet it: many at once on one ticket keep
//! every change, and the answer is the ticket as stored — after the rules the change set
//! off, whether they changed the ticket again or only fired a webhook.

use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::rules_world::{World, send_rule, world};
use crate::tickets_api::{api, make_forms};

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    concurrent_patches_of_one_ticket_keep_every_change,
    the_answer_is_the_ticket_as_stored,
    the_answer_shows_what_a_rule_changed_after_the_patch,
);

/// Each client changes its own field of the same ticket, again and again, all at once.
/// A change computed from a ticket read before another client's commit would write that
/// client's field back to its old value (a lost update).
async fn concurrent_patches_of_one_ticket_keep_every_change(app: TestApp) {
    let w = std::sync::Arc::new(world(app).await);
    let id = w.ticket(&w.tech, "Incident", "Shared ticket").await;
    const ROUNDS: usize = 12;
    let fields = [
        "subject",
        "description",
        "category",
        "assigned_group",
        "requester_name",
        "requester_email",
    ];
    let value = |f: &str, r: usize| {
        if f == "requester_email" {
            format!("r{r}@example.com")
        } else {
            format!("{f} {r}")
        }
    };
    let mut clients = Vec::new();
    for f in fields {
        let w = w.clone();
        clients.push(tokio::spawn(async move {
            for r in 1..=ROUNDS {
                let (s, v) = api(
                    &w.app,
                    reqwest::Method::PATCH,
                    &w.tech,
                    &format!("/api/v1/tickets/{id}"),
                    Some(json!({ f: value(f, r) })),
                )
                .await;
                assert_eq!(s, 200, "{f} round {r}: {v}");
                // The answer carries this client's own change.
                assert_eq!(v["ticket"][key(f)], value(f, r), "{f} round {r}: {v}");
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let t = stored(&w, id).await;
    for f in fields {
        assert_eq!(t[key(f)], value(f, ROUNDS), "{f} lost a change: {t}");
    }
}

/// The ticket JSON's name of a patch field (`assigned_group` → `assignedgroup`).
fn key(field: &str) -> String {
    field.replace('_', "")
}

/// The answer is what a `GET` right after returns, field for field, for a change of core
/// fields, of the assignee and of form values (single and multi-line), with a rule that
/// fires a webhook on every change.
async fn the_answer_is_the_ticket_as_stored(app: TestApp) {
    make_forms(&app);
    let w = world(app).await;
    w.rule(send_rule("Every change", w.webhook, json!([])))
        .await;
    let id = w.ticket(&w.tech, "Incident", "Printer jams").await;
    let patches = [
        json!({"subject": "Printer jams daily", "priority": "P2"}),
        json!({"assignee": "tess"}),
        json!({"forms": {"Inventory": {"serial": "SN-7", "cost": "12.5", "warranty": true}}}),
        json!({"forms": {"linkedassets": [{"asset": "P2425", "requestdate": "2025-04-23"}, {"asset": "FH6354"}]}}),
        json!({"status": "In Progress", "assignee": null}),
    ];
    for (i, p) in patches.iter().enumerate() {
        let answer = w.patch(&w.tech, id, p.clone()).await;
        assert_eq!(answer["ticket"], stored(&w, id).await, "patch {i}: {p}");
        assert!(
            answer["changes"].as_object().is_some_and(|c| !c.is_empty()),
            "patch {i} changed nothing: {answer}"
        );
    }
    assert_eq!(w.rx.wait_for(patches.len()).await.len(), patches.len());
}

/// A rule that changes the ticket after the patch: the answer shows the rule's change.
async fn the_answer_shows_what_a_rule_changed_after_the_patch(app: TestApp) {
    let w = world(app).await;
    w.rule(json!({
        "name": "Escalations go to the desk",
        "events": ["ticket.updated"],
        "conditions": [{"field": "ticket.subject", "operator": "changed_to", "value": "Escalated"}],
        "actions": [{"kind": "set_field", "field": "ticket.category", "value": "Desk"}]
    }))
    .await;
    let id = w.ticket(&w.tech, "Incident", "Printer jams").await;
    let answer = w.patch(&w.tech, id, json!({"subject": "Escalated"})).await;
    assert_eq!(answer["ticket"]["subject"], "Escalated");
    assert_eq!(answer["ticket"]["category"], "Desk", "{answer}");
    // The answer's changes are the patch's own; the rule's change is in the ticket.
    assert!(answer["changes"].get("category").is_none(), "{answer}");
    assert_eq!(answer["ticket"], stored(&w, id).await);
}

/// The ticket as `GET /api/v1/tickets/{id}` gives it, without its history (which a
/// PATCH answer does not carry).
async fn stored(w: &World, id: i64) -> Value {
    let (s, mut t) = api(
        &w.app,
        reqwest::Method::GET,
        &w.tech,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    if let Some(o) = t.as_object_mut() {
        o.remove("history");
    }
    t
}
