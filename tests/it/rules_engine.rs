//! Trigger rules end to end: rules made through `/api/v1/rules`, tickets changed through
//! the API by people and by integration tokens, the app's own worker sending to a real
//! receiver. Each test names the engine invariant (`rules::engine`) it holds to.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::Reply;
use crate::rules_world::{World, note_rule, send_rule, world};
use crate::tickets_api::{api, token_for};

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    a_rule_sends_p1_incidents_and_nothing_else,
    an_integration_writing_back_never_sets_off_a_loop,
    integration_and_ignored_users_follow_the_rule_settings,
    rules_run_in_order_and_stop_processing_stops,
    a_chain_of_rule_changes_stops_at_the_depth_limit,
    one_event_fires_a_webhook_once,
    a_response_does_not_set_rules_off_unless_the_webhook_says_so,
    an_action_that_cannot_be_done_leaves_the_change_and_says_why,
    the_rules_api_validates_and_the_dry_run_changes_nothing,
    a_rule_edited_in_one_process_applies_in_every_other,
    a_technicians_edit_on_the_ticket_page_sets_the_rule_off,
);

async fn a_rule_sends_p1_incidents_and_nothing_else(app: TestApp) {
    let w = world(app).await;
    let rule = w
        .rule(send_rule(
            "P1 to the vendor",
            w.webhook,
            json!([
                {"field": "ticket.type", "operator": "equals", "value": "Incident"},
                {"field": "ticket.priority.id", "operator": "changed_to", "value": "P1"}
            ]),
        ))
        .await;
    let inc = w.ticket(&w.tech, "Incident", "Mail is down").await;
    let sr = w.ticket(&w.tech, "Service Request", "New laptop").await;
    w.patch(
        &w.tech,
        inc,
        json!({"subject": "Mail is down for everyone"}),
    )
    .await;
    w.patch(&w.tech, sr, json!({"priority": "P1"})).await;
    w.patch(&w.tech, inc, json!({"priority": "P1"})).await;
    // Already P1: not a change to P1.
    w.patch(&w.tech, inc, json!({"category": "Email"})).await;

    let got = w.exactly(1).await;
    assert_eq!(got[0]["ticket"], "IN1");
    assert_eq!(got[0]["priority"], "P1 Critical");
    assert_eq!(got[0]["event"], "ticket.updated");
    assert_eq!(got[0]["by"], "tess name");
    let ds = w.deliveries();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].1, Some(inc));
    assert_eq!(ds[0].2, "rule");
    assert_eq!(ds[0].3, Some(rule));
    assert!(
        ds[0].4.is_some(),
        "the delivery names the event that matched"
    );
    let h = w.history(inc);
    assert!(
        h.iter().any(|(k, by, body)| k == "webhook_fired"
            && by == "Rule “P1 to the vendor”"
            && body == "Sent IN1 to the vendor"),
        "{h:?}"
    );
    let r = w
        .call(
            &w.admin,
            reqwest::Method::GET,
            &format!("/api/v1/rules/{rule}"),
            Value::Null,
        )
        .await;
    assert_eq!(r["firings"]["last_24h"], 1, "{r}");
    assert!(r["firings"]["last_fired_at"].is_string());
}

async fn an_integration_writing_back_never_sets_off_a_loop(app: TestApp) {
    let w = world(app).await;
    w.rule(send_rule(
        "Every change to the vendor",
        w.webhook,
        json!([]),
    ))
    .await;
    let id = w.ticket(&w.tech, "Incident", "Printer jam").await;
    // The vendor's system answers every request by updating the ticket through the
    // API with its integration token — as a real integration does.
    let mut seen = 0;
    for n in 1..=3 {
        w.patch(
            &w.tech,
            id,
            json!({"description": format!("Update {n} by a person")}),
        )
        .await;
        let got = w.rx.wait_for(n).await;
        for r in &got[seen..] {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            w.patch(
                &w.integration,
                id,
                json!({"category": format!("vendor saw {} ({})", body["ticket"].as_str().unwrap(), seen + 1)}),
            )
            .await;
            seen += 1;
        }
    }
    w.exactly(3).await;
    assert_eq!(
        w.deliveries().len(),
        3,
        "exactly one delivery per human change"
    );
    let integration_changes = w
        .history(id)
        .into_iter()
        .filter(|(k, by, _)| k == "field_change" && by == "servicenow name")
        .count();
    assert_eq!(integration_changes, 3);
}

async fn integration_and_ignored_users_follow_the_rule_settings(app: TestApp) {
    let w = world(app).await;
    let id = w.ticket(&w.tech, "Incident", "VPN").await;
    w.rule(json!({
        "name": "Integrations too, but not tess",
        "events": ["ticket.updated"],
        "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}],
        "ignore_integration": false,
        "ignored_users": ["tess"]
    }))
    .await;
    w.patch(&w.tech, id, json!({"category": "by tess"})).await;
    w.patch(
        &w.integration,
        id,
        json!({"category": "by the integration"}),
    )
    .await;
    let other = token_for(&w.app, "otto", &["Technician"], false);
    w.patch(&other, id, json!({"category": "by otto"})).await;
    let got = w.exactly(2).await;
    assert_eq!(got[0]["by"], "servicenow name");
    assert_eq!(got[1]["by"], "otto name");
}

async fn rules_run_in_order_and_stop_processing_stops(app: TestApp) {
    let w = world(app).await;
    let id = w.ticket(&w.tech, "Incident", "Order").await;
    let a = w
        .rule(note_rule(
            "A",
            json!(["ticket.updated"]),
            "note from A",
            true,
        ))
        .await;
    let b = w
        .rule(note_rule(
            "B",
            json!(["ticket.updated"]),
            "note from B",
            false,
        ))
        .await;
    let notes = |w: &World| -> Vec<String> {
        w.history(id)
            .into_iter()
            .filter(|(k, _, _)| k == "note")
            .map(|(_, _, b)| b)
            .collect()
    };
    w.patch(&w.tech, id, json!({"category": "one"})).await;
    assert_eq!(notes(&w), ["note from A"]);

    // B first now: B runs, then A, which stops nothing after it.
    w.call(
        &w.admin,
        reqwest::Method::PUT,
        "/api/v1/rules/order",
        json!({"order": [b, a]}),
    )
    .await;
    w.patch(&w.tech, id, json!({"category": "two"})).await;
    assert_eq!(notes(&w), ["note from A", "note from B", "note from A"]);

    // A disabled: only B.
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/rules/{a}"),
        json!({"enabled": false}),
    )
    .await;
    w.patch(&w.tech, id, json!({"category": "three"})).await;
    assert_eq!(
        notes(&w),
        ["note from A", "note from B", "note from A", "note from B"]
    );
}

async fn a_chain_of_rule_changes_stops_at_the_depth_limit(app: TestApp) {
    let w = world(app).await;
    let id = w.ticket(&w.tech, "Incident", "Echo").await;
    // Every note sets off another note: a loop only the depth limit ends.
    w.rule(note_rule(
        "Echo",
        json!(["ticket.note_added"]),
        "echo",
        false,
    ))
    .await;
    w.call(
        &w.tech,
        reqwest::Method::POST,
        &format!("/api/v1/tickets/{id}/notes"),
        json!({"note": "hello"}),
    )
    .await;
    let h = w.history(id);
    let echoes = h.iter().filter(|(_, _, b)| b == "echo").count();
    // The person's note (depth 0) and the three re-evaluations (1..=3) each ran it.
    assert_eq!(echoes, 1 + hookdesk::rules::MAX_DEPTH, "{h:?}");
    let stop = h.iter().find(|(k, _, _)| k == "rule").expect("a stop line");
    assert!(
        stop.2.contains("“Echo”") && stop.2.contains("3 deep"),
        "{stop:?}"
    );
    // And the request that started it committed.
    assert!(h.iter().any(|(_, _, b)| b == "hello"));
}

async fn one_event_fires_a_webhook_once(app: TestApp) {
    let w = world(app).await;
    let id = w.ticket(&w.tech, "Incident", "Twice?").await;
    w.rule(send_rule("First", w.webhook, json!([]))).await;
    w.rule(send_rule("Second", w.webhook, json!([]))).await;
    w.patch(&w.tech, id, json!({"category": "x"})).await;
    w.exactly(1).await;
}

async fn a_response_does_not_set_rules_off_unless_the_webhook_says_so(app: TestApp) {
    let w = world(app).await;
    w.rx.set_reply(Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"id": "EXT-7"}"#.to_vec(),
    });
    // The vendor's answer writes its reference into the ticket.
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{}", w.webhook),
        json!({"response_content_type": "json",
               "response_fields": [{"path": "id", "target": "ticket.category"}]}),
    )
    .await;
    let audit = w.webhook("Audit trail", "/audit").await;
    w.rule(json!({
        "name": "Every change to the vendor and the audit trail",
        "events": ["ticket.updated"],
        "actions": [
            {"kind": "execute_webhook", "webhook_id": w.webhook},
            {"kind": "execute_webhook", "webhook_id": audit}
        ]
    }))
    .await;
    let id = w.ticket(&w.tech, "Incident", "Sync").await;
    w.patch(&w.tech, id, json!({"subject": "Sync please"}))
        .await;
    w.exactly(2).await;
    let category = |w: &World| {
        w.app
            .with_conn(|c| hookdesk::tickets::Ticket::get(c, id).unwrap().category)
    };
    assert_eq!(category(&w), "EXT-7", "the response was processed");

    // With "run rules after response processed", what the response writes sets rules
    // off — but never that same webhook again: only the audit trail hears of it.
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{}", w.webhook),
        json!({"run_rules_after_response": true}),
    )
    .await;
    w.rx.set_reply(Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"id": "EXT-8"}"#.to_vec(),
    });
    w.patch(&w.tech, id, json!({"subject": "Sync again"})).await;
    let got = w.exactly(5).await;
    let paths: Vec<String> = w.rx.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths[2..].iter().filter(|p| *p == "/hook").count(),
        1,
        "{paths:?}"
    );
    assert_eq!(
        paths[2..].iter().filter(|p| *p == "/audit").count(),
        2,
        "{paths:?}"
    );
    assert_eq!(got.len(), 5);
    assert_eq!(category(&w), "EXT-8");
}

async fn an_action_that_cannot_be_done_leaves_the_change_and_says_why(app: TestApp) {
    let w = world(app).await;
    w.app.create_user("ada", &["Technician"]);
    w.rule(json!({
        "name": "Give it to Ada",
        "events": ["ticket.updated"],
        "actions": [
            {"kind": "assign", "assignee": "ada"},
            {"kind": "execute_webhook", "webhook_id": w.webhook}
        ]
    }))
    .await;
    // Ada leaves after the rule was written.
    w.app.with_conn(|c| {
        use hookdesk::db::schema::users;
        diesel::update(users::table.filter(users::username.eq("ada")))
            .set(users::active.eq(false))
            .execute(c)
            .unwrap();
    });
    let id = w.ticket(&w.tech, "Incident", "Keyboard").await;
    let v = w.patch(&w.tech, id, json!({"category": "Hardware"})).await;
    assert_eq!(
        v["ticket"]["category"], "Hardware",
        "the person's change stands"
    );
    let h = w.history(id);
    assert!(
        h.iter().any(|(k, by, b)| k == "rule"
            && by == "Rule “Give it to Ada”"
            && b.starts_with("Assign not done")
            && b.contains("ada")),
        "{h:?}"
    );
    // The next action still ran.
    w.exactly(1).await;
}

async fn the_rules_api_validates_and_the_dry_run_changes_nothing(app: TestApp) {
    let w = world(app).await;
    use reqwest::Method as M;
    let (s, v) = api(
        &w.app,
        M::POST,
        &w.admin,
        "/api/v1/rules",
        Some(json!({"name": "Bad", "events": [], "actions": [{"kind": "execute_webhook", "webhook_id": 999}],
                    "conditions": [{"field": "ticket.nope", "operator": "equals", "value": "x"}]})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["events", "actions.0.webhook_id", "conditions.0.field"] {
        assert!(fields.contains(&f), "{f} missing from {v}");
    }
    let (s, v) = api(
        &w.app,
        M::POST,
        &w.admin,
        "/api/v1/rules",
        Some(
            json!({"name": "Typo", "events": ["ticket.updated"], "stop_procesing": true,
                    "actions": [{"kind": "add_note", "text": "x"}]}),
        ),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "stop_procesing");
    let resp = w
        .app
        .client
        .post(w.app.url("/api/v1/rules"))
        .bearer_auth(&w.admin)
        .header("Content-Type", "text/plain")
        .body(r#"{"name": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (s, _) = api(&w.app, M::GET, &w.tech, "/api/v1/rules", None).await;
    assert_eq!(s, 403, "technicians do not manage rules");

    let rule = w
        .rule(json!({
            "name": "P1 incidents",
            "events": ["ticket.updated"],
            "conditions": [{"field": "ticket.priority.id", "operator": "equals", "value": "P1"}],
            "actions": [
                {"kind": "execute_webhook", "webhook_id": w.webhook},
                {"kind": "add_note", "text": "Sent {{ticket.displayid}}"}
            ]
        }))
        .await;
    let id = w.ticket(&w.tech, "Incident", "Dry").await;
    let before = w.history(id).len();
    let no = dry_run(&w, id, rule, "P3").await;
    assert_eq!(no["matched"], false, "{no}");
    assert_eq!(no["conditions"][0]["matched"], false);
    assert_eq!(no["conditions"][0]["actual"], "P3");
    let yes = dry_run(&w, id, rule, "P1").await;
    assert_eq!(yes["matched"], true, "{yes}");
    assert_eq!(yes["actions"][0]["request"]["method"], "POST");
    let body: Value =
        serde_json::from_str(yes["actions"][0]["request"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["ticket"], "IN1");
    let shown = yes.to_string();
    assert!(
        !shown.contains("tok-1") && !shown.contains("desk-key-secret-value"),
        "secrets stay hidden: {shown}"
    );
    assert_eq!(
        yes["actions"][1]["outcome"],
        "would add a public note: Sent IN1"
    );
    assert!(w.deliveries().is_empty(), "a dry run queues nothing");
    assert_eq!(w.history(id).len(), before, "and changes nothing");
}

/// The rule's dry run on ticket `id` with its priority set to `prio` behind the app's
/// back (no event, no rule).
async fn dry_run(w: &World, id: i64, rule: i64, prio: &str) -> Value {
    use hookdesk::db::schema::tickets;
    w.app.with_conn(|c| {
        diesel::update(tickets::table.find(id))
            .set(tickets::priority.eq(prio))
            .execute(c)
            .unwrap();
    });
    w.call(
        &w.admin,
        reqwest::Method::POST,
        &format!("/api/v1/rules/{rule}/test"),
        json!({"ticket": "IN1", "event": "ticket.updated"}),
    )
    .await
}

async fn a_rule_edited_in_one_process_applies_in_every_other(app: TestApp) {
    let w = world(app).await;
    let url = &w.app.config.database_url;
    // A second `hookdesk serve` on the same database, as behind a load balancer.
    let backend = if url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let same = w.app.config.clone();
    let other = spawn_app_with(backend, move |c| {
        // The same database and master key; its own port.
        *c = same;
        c.run_worker = false;
    })
    .await
    .unwrap();
    let id = w.ticket(&w.tech, "Incident", "Two nodes").await;
    let rule = w
        .rule(note_rule("Stamp", json!(["ticket.updated"]), "v1", false))
        .await;
    let change_on_other = |n: usize| {
        let (other, tech) = (&other, w.tech.clone());
        async move {
            let (s, v) = api(
                other,
                reqwest::Method::PATCH,
                &tech,
                &format!("/api/v1/tickets/{id}"),
                Some(json!({"category": format!("change {n}")})),
            )
            .await;
            assert_eq!(s, 200, "{v}");
        }
    };
    change_on_other(1).await;
    // Edited through the first node; the second one's cache must not keep the old rule.
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/rules/{rule}"),
        json!({"actions": [{"kind": "add_note", "text": "v2", "internal": true}]}),
    )
    .await;
    change_on_other(2).await;
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/rules/{rule}"),
        json!({"enabled": false}),
    )
    .await;
    change_on_other(3).await;
    let notes: Vec<String> = w
        .history(id)
        .into_iter()
        .filter(|(k, _, _)| k == "note")
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(notes, ["v1", "v2"]);
}

async fn a_technicians_edit_on_the_ticket_page_sets_the_rule_off(app: TestApp) {
    let w = world(app).await;
    w.rule(send_rule(
        "When an Incident becomes P1, send it to on-call",
        w.webhook,
        json!([
            {"field": "ticket.type", "operator": "equals", "value": "Incident"},
            {"field": "ticket.priority.id", "operator": "changed_to", "value": "P1"}
        ]),
    ))
    .await;
    let id = w.ticket(&w.tech, "Incident", "Core switch down").await;
    let ana = w.app.client_as("ana", &["Technician"]).await;
    let resp = w
        .app
        .post_form_with(
            &ana,
            &format!("/tickets/{id}"),
            &[
                ("subject", "Core switch down"),
                ("status", "In Progress"),
                ("priority", "P1"),
                ("assignee", ""),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let got = w.exactly(1).await;
    assert_eq!(got[0]["ticket"], "IN1");
    assert_eq!(got[0]["by"], "ana name");
    let page = w
        .app
        .get_with(&ana, &format!("/tickets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Sent IN1 to the vendor"),
        "the history shows the firing"
    );
}
