//! A rule on `ticket.note_added` sees the note: its conditions can test `event.note` and
//! `event.note.internal`, and the webhook it fires can send them. Without them a rule
//! could tell another system that a note was added, but not what it says.

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;
use crate::rules_world::world;
use crate::tickets_api::api;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    a_public_note_is_sent_and_an_internal_one_is_not,
    a_changed_condition_on_the_note_is_refused,
    the_dry_run_reads_the_latest_note,
    the_rule_editor_offers_the_note_to_conditions_only,
    a_response_action_reads_the_event_and_actor_but_not_parameters,
);

/// A webhook sending the note, and a rule firing it for public notes only.
async fn note_forwarding(w: &crate::rules_world::World) -> i64 {
    let v = w
        .call(
            &w.admin,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            json!({
                "name": "Comment to vendor",
                "connection_id": w.connection,
                "url": "/comments",
                "method": "POST",
                "request_content_type": "json",
                "body_template": r#"{"ticket": "{{ticket.displayid}}", "comment": "{{event.note}}", "internal": "{{event.note.internal}}", "line": "Note: {{event.note}}"}"#,
            }),
        )
        .await;
    let webhook = v["id"].as_i64().unwrap();
    w.rule(json!({
        "name": "Public notes to the vendor",
        "events": ["ticket.note_added"],
        "conditions": [{"field": "event.note.internal", "operator": "equals", "value": "false"}],
        "actions": [{"kind": "execute_webhook", "webhook_id": webhook}]
    }))
    .await
}

async fn add_note(w: &crate::rules_world::World, id: i64, note: &str, internal: bool) {
    w.call(
        &w.tech,
        reqwest::Method::POST,
        &format!("/api/v1/tickets/{id}/notes"),
        json!({"note": note, "internal": internal}),
    )
    .await;
}

async fn a_public_note_is_sent_and_an_internal_one_is_not(app: TestApp) {
    let w = world(app).await;
    note_forwarding(&w).await;
    let id = w.ticket(&w.tech, "Incident", "Printer jam").await;
    add_note(&w, id, "Replaced the \"fuser\"\nwill check tomorrow", false).await;
    add_note(&w, id, "Customer was rude", true).await;
    let got = w.exactly(1).await;
    assert_eq!(
        got[0]["comment"],
        "Replaced the \"fuser\"\nwill check tomorrow"
    );
    // A whole-string placeholder keeps the value's type.
    assert_eq!(got[0]["internal"], json!(false));
    assert_eq!(
        got[0]["line"],
        "Note: Replaced the \"fuser\"\nwill check tomorrow"
    );
}

async fn a_changed_condition_on_the_note_is_refused(app: TestApp) {
    let w = world(app).await;
    let (status, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        "/api/v1/rules",
        Some(json!({
            "name": "Never fires",
            "events": ["ticket.note_added"],
            "conditions": [{"field": "event.note", "operator": "changed"}],
            "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}]
        })),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    let e = &v["error"]["fields"][0];
    assert_eq!(e["field"], "conditions.0.field", "{v}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("changes never record `event.note`"),
        "{v}"
    );
    // A name nothing knows is still refused as unknown.
    let (status, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        "/api/v1/rules",
        Some(json!({
            "name": "Typo",
            "events": ["ticket.note_added"],
            "conditions": [{"field": "event.notes", "operator": "contains", "value": "x"}],
            "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}]
        })),
    )
    .await;
    assert_eq!(status, 422, "{v}");
}

async fn the_dry_run_reads_the_latest_note(app: TestApp) {
    let w = world(app).await;
    let rule = note_forwarding(&w).await;
    let id = w.ticket(&w.tech, "Incident", "Dry run").await;
    add_note(&w, id, "Only for us", true).await;
    let path = format!("/api/v1/rules/{rule}/test");
    let ask = json!({"ticket": id.to_string(), "event": "ticket.note_added"});
    let r = w
        .call(&w.admin, reqwest::Method::POST, &path, ask.clone())
        .await;
    assert_eq!(r["matched"], json!(false), "{r}");
    assert_eq!(r["conditions"][0]["actual"], "true", "{r}");
    // The internal note was not sent: no rule run.
    w.exactly(0).await;

    add_note(&w, id, "Fixed, please confirm", false).await;
    w.exactly(1).await;
    let r = w
        .call(&w.admin, reqwest::Method::POST, &path, ask.clone())
        .await;
    assert_eq!(r["matched"], json!(true), "{r}");
    let body = r["actions"][0]["request"]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(body.contains("Fixed, please confirm"), "{r}");
}

async fn the_rule_editor_offers_the_note_to_conditions_only(app: TestApp) {
    let w = world(app).await;
    let page = |path: &'static str| {
        let app = &w.app;
        async move {
            let r = app.get(path).await;
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let condition = page("/admin/rules/rows/condition").await;
    assert!(condition.contains(r#"value="event.note""#), "{condition}");
    assert!(
        condition.contains(r#"value="event.note.internal""#),
        "{condition}"
    );
    // "Set field" offers what a rule can set: not the event's own values.
    let set_field = page("/admin/rules/rows/action?act_uid=x1&act_kind=set_field").await;
    assert!(
        set_field.contains(r#"value="ticket.category""#),
        "{set_field}"
    );
    assert!(!set_field.contains("event.note"), "{set_field}");
}

async fn a_response_action_reads_the_event_and_actor_but_not_parameters(app: TestApp) {
    let w = world(app).await;
    let webhook = |actions: serde_json::Value| {
        json!({
            "name": "Comment with receipt",
            "connection_id": w.connection,
            "url": "/comments",
            "method": "POST",
            "request_content_type": "json",
            "body_template": r#"{"comment": "{{event.note}}"}"#,
            "parameters": [{"name": "ref", "default_template": "R-1"}],
            "response_actions": actions,
        })
    };
    // A parameter's value is not kept with the delivery: an action cannot read it.
    let (status, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        "/api/v1/webhooks",
        Some(webhook(
            json!([{"kind": "add_note", "value_template": "ref {{param.ref}}"}]),
        )),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("param.ref"), "{v}");

    let v = w
        .call(
            &w.admin,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            webhook(json!([{"kind": "add_note",
                "value_template": "Vendor got “{{event.note}}” ({{event.type}}) from {{actor.name}}"}])),
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    w.rule(json!({
        "name": "Notes to the vendor",
        "events": ["ticket.note_added"],
        "conditions": [{"field": "event.note", "operator": "starts_with", "value": "Vendor:"}],
        "actions": [{"kind": "execute_webhook", "webhook_id": id}]
    }))
    .await;
    let ticket = w.ticket(&w.tech, "Incident", "Receipt").await;
    add_note(&w, ticket, "Vendor: please ship a fuser", false).await;
    w.exactly(1).await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = w.history(ticket);
        if seen.iter().any(|(_, _, b)| b.starts_with("Vendor got")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tess = w.app.with_conn(|c| {
        use diesel::prelude::*;
        use hookdesk::db::schema::users;
        users::table
            .filter(users::username.eq("tess"))
            .select(users::display_name)
            .first::<String>(c)
            .unwrap()
    });
    let want = format!("Vendor got “Vendor: please ship a fuser” (ticket.note_added) from {tess}");
    assert!(
        seen.iter().any(|(_, _, b)| *b == want),
        "{want} in {seen:?}"
    );
}
