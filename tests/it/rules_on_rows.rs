//! A row of a multi-line form added, edited or removed on the ticket page is a ticket
//! update like any other: its `ticket.updated` event sets rules off, and is marked
//! processed, before the change commits. And a *changed* condition names what a change
//! records (a select's label, the assignee's name), or it is refused: saved, it would
//! never fire.

use diesel::prelude::*;
use hookdesk::db::schema::{events, ticket_form_rows};
use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;
use crate::rules_world::{send_rule, world};
use crate::tickets_api::{api, form_id, make_forms};

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    a_row_edit_on_the_ticket_page_sets_the_rule_off,
    a_changed_condition_on_a_name_changes_never_record_is_refused,
);

async fn a_row_edit_on_the_ticket_page_sets_the_rule_off(app: TestApp) {
    make_forms(&app);
    let w = world(app).await;
    w.rule(send_rule(
        "Linked assets changed: tell the vendor",
        w.webhook,
        json!([{"field": "ticket.linkedassets", "operator": "changed"}]),
    ))
    .await;
    let t = w
        .call(
            &w.tech,
            reqwest::Method::POST,
            "/api/v1/tickets",
            json!({"type": "Incident", "subject": "Laptop swap", "priority": "P3",
                   "forms": {"inventory": {"serial": "S-1"}}}),
        )
        .await;
    let id = t["id"].as_i64().unwrap();
    let form = form_id(&w.app, "Linked assets");
    let base = format!("/tickets/{id}/forms/{form}/rows");
    let ana = w.app.client_as("ana", &["Technician"]).await;

    let added = w
        .app
        .post_form_with(&ana, &base, &[("asset", "P2425"), ("requestdate", "")])
        .await;
    assert_eq!(added.status(), 303);
    let got = w.exactly(1).await;
    assert_eq!(got[0]["ticket"], "IN1");
    assert_eq!(got[0]["event"], "ticket.updated");
    assert_eq!(got[0]["by"], "ana name");

    let row: i64 = w.app.with_conn(|c| {
        ticket_form_rows::table
            .filter(ticket_form_rows::ticket_id.eq(id))
            .filter(ticket_form_rows::form_id.eq(form))
            .select(ticket_form_rows::id)
            .first(c)
            .unwrap()
    });
    let edited = w
        .app
        .post_form_with(
            &ana,
            &format!("{base}/{row}"),
            &[("asset", "P2426"), ("requestdate", "")],
        )
        .await;
    assert_eq!(edited.status(), 303);
    w.exactly(2).await;
    // Saving the row unchanged is no change: nothing is sent.
    w.app
        .post_form_with(
            &ana,
            &format!("{base}/{row}"),
            &[("asset", "P2426"), ("requestdate", "")],
        )
        .await;
    w.exactly(2).await;
    let removed = w
        .app
        .post_form_with(&ana, &format!("{base}/{row}/delete"), &[])
        .await;
    assert_eq!(removed.status(), 303);
    w.exactly(3).await;

    let unprocessed: i64 = w.app.with_conn(|c| {
        events::table
            .filter(events::ticket_id.eq(id))
            .filter(events::processed_at.is_null())
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(unprocessed, 0, "every event of the ticket was evaluated");
}

async fn a_changed_condition_on_a_name_changes_never_record_is_refused(app: TestApp) {
    make_forms(&app);
    let w = world(app).await;
    for (field, value, use_instead) in [
        (
            "ticket.inventory.location.id",
            "LON",
            "ticket.inventory.location",
        ),
        ("ticket.assigneeusername", "tess", "ticket.assignee"),
    ] {
        let (status, v) = api(
            &w.app,
            reqwest::Method::POST,
            &w.admin,
            "/api/v1/rules",
            Some(send_rule(
                "Never fires",
                w.webhook,
                json!([{"field": field, "operator": "changed_to", "value": value}]),
            )),
        )
        .await;
        assert_eq!(status, 422, "{v}");
        let e = &v["error"]["fields"][0];
        assert_eq!(e["field"], "conditions.0.field", "{v}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains(&format!("use `{use_instead}`")),
            "{v}"
        );
    }
    let (status, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        "/api/v1/rules",
        Some(send_rule(
            "Changed updatedat",
            w.webhook,
            json!([{"field": "ticket.updatedat", "operator": "changed"}]),
        )),
    )
    .await;
    assert_eq!(status, 422, "{v}");

    // The name it records works: moving the asset to London sends it.
    w.rule(send_rule(
        "Moved to London",
        w.webhook,
        json!([{"field": "ticket.inventory.location", "operator": "changed_to", "value": "London office"}]),
    ))
    .await;
    let t = w
        .call(
            &w.tech,
            reqwest::Method::POST,
            "/api/v1/tickets",
            json!({"type": "Incident", "subject": "Laptop move", "priority": "P3",
                   "forms": {"inventory": {"serial": "S-1", "location": "PAR"}}}),
        )
        .await;
    let id = t["id"].as_i64().unwrap();
    w.patch(
        &w.tech,
        id,
        json!({"forms": {"inventory": {"location": "LON"}}}),
    )
    .await;
    w.exactly(1).await;
}
