//! Tickets through the JSON API: create, get, patch, notes, history, delete; validation
//! errors for every field type; events written once per change; concurrent creates.

use hookdesk::auth::tokens::ApiToken;
use hookdesk::tickets::events;
use hookdesk::tickets::form_fields::FieldInput;
use hookdesk::tickets::forms::FormInput;
use hookdesk::tickets::{Form, FormField};
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(api_ticket_lifecycle, api_validation_names_each_field,);

/// The id of the form called `name`.
pub fn form_id(app: &TestApp, name: &str) -> i64 {
    app.with_conn(|c| {
        Form::list(c)
            .unwrap()
            .into_iter()
            .find(|f| f.name == name)
            .unwrap()
            .id
    })
}

/// "Inventory" (single: serial required, cost number, warranty checkbox, location select,
/// bought date) for Incidents and Service Requests; "Linked assets" (multi-line: asset,
/// request date) for Incidents.
pub fn make_forms(app: &TestApp) {
    app.with_conn(|c| {
        let inv = Form::create(
            c,
            &hookdesk::audit::Actor::system("test"),
            &FormInput {
                name: "Inventory".into(),
                multi_line: false,
                ticket_types: vec!["IN".into(), "SR".into()],
            },
        )
        .unwrap();
        for (name, kind, req, opts) in [
            ("Serial", "text", true, ""),
            ("Cost", "number", false, ""),
            ("Warranty", "checkbox", false, ""),
            (
                "Location",
                "select",
                false,
                "LON = London office\nPAR = Paris office",
            ),
            ("Bought", "date", false, ""),
        ] {
            FormField::add(
                c,
                &hookdesk::audit::Actor::system("test"),
                inv.id,
                &FieldInput {
                    name: name.into(),
                    field_type: kind.into(),
                    required: req,
                    options: opts.into(),
                    decimal_places: String::new(),
                },
            )
            .unwrap();
        }
        let la = Form::create(
            c,
            &hookdesk::audit::Actor::system("test"),
            &FormInput {
                name: "Linked assets".into(),
                multi_line: true,
                ticket_types: vec!["IN".into()],
            },
        )
        .unwrap();
        for (name, kind, req) in [("Asset", "text", true), ("Request date", "date", false)] {
            FormField::add(
                c,
                &hookdesk::audit::Actor::system("test"),
                la.id,
                &FieldInput {
                    name: name.into(),
                    field_type: kind.into(),
                    required: req,
                    options: String::new(),
                    decimal_places: String::new(),
                },
            )
            .unwrap();
        }
    });
}

/// A bearer token for a new user with `roles`.
pub fn token_for(app: &TestApp, username: &str, roles: &[&str], integration: bool) -> String {
    let u = app.create_user(username, roles);
    app.with_conn(|c| {
        if integration {
            use diesel::prelude::*;
            use hookdesk::db::schema::users;
            diesel::update(users::table.find(u.id))
                .set(users::integration.eq(true))
                .execute(c)
                .unwrap();
        }
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

pub fn events_of(app: &TestApp, ticket_id: i64) -> Vec<events::Event> {
    app.with_conn(|c| events::for_ticket(c, ticket_id).unwrap())
}

pub async fn api(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn field_names(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

async fn api_ticket_lifecycle(app: TestApp) {
    make_forms(&app);
    let sys = token_for(&app, "servicenow", &["Technician"], true);
    let admin = token_for(&app, "boss", &["Administrator"], false);
    let tech = token_for(&app, "tess", &["Technician"], false);

    let (s, t) = api(
        &app,
        reqwest::Method::POST,
        &sys,
        "/api/v1/tickets",
        Some(json!({
            "type": "Incident",
            "subject": "Printer jams",
            "priority": "P2",
            "assignee": "tess",
            "requester_email": "robin@example.com",
            "forms": {
                "Inventory": { "serial": "SN-1", "cost": "12.5", "warranty": true, "location": "Paris office", "bought": "2026/01/02" },
                "linkedassets": [ { "asset": "P2425", "requestdate": "2025-04-23" }, { "asset": "FH6354" } ]
            }
        })),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["displayid"], "IN1");
    assert_eq!(t["priority"], "P2 High");
    assert_eq!(t["status"], "Open");
    assert_eq!(t["assignee"], "tess name");
    assert_eq!(
        t["forms"]["inventory"],
        json!({ "serial": "SN-1", "cost": 12.5, "warranty": true, "location": "Paris office", "bought": "2026-01-02" })
    );
    assert_eq!(
        t["forms"]["linkedassets"],
        json!([{ "asset": "P2425", "requestdate": "2025-04-23" }, { "asset": "FH6354", "requestdate": null }])
    );
    let id = t["id"].as_i64().unwrap();

    // By id and by display id.
    let (s, by_id) = api(
        &app,
        reqwest::Method::GET,
        &tech,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, by_display) = api(
        &app,
        reqwest::Method::GET,
        &tech,
        "/api/v1/tickets/in1",
        None,
    )
    .await;
    assert_eq!(by_id, by_display);

    // Patch: only what is sent changes.
    let (s, p) = api(
        &app,
        reqwest::Method::PATCH,
        &sys,
        "/api/v1/tickets/IN1",
        Some(json!({ "status": "In Progress", "forms": { "inventory": { "cost": 20 } } })),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        p["changes"],
        json!({
            "status": { "old": "Open", "new": "In Progress" },
            "inventory.cost": { "old": 12.5, "new": 20 }
        })
    );
    assert_eq!(p["ticket"]["subject"], "Printer jams");
    assert_eq!(p["ticket"]["forms"]["inventory"]["serial"], "SN-1");
    assert_eq!(
        p["ticket"]["forms"]["inventory"]["location"],
        "Paris office"
    );

    // A patch that changes nothing writes nothing.
    let (s, p) = api(
        &app,
        reqwest::Method::PATCH,
        &sys,
        "/api/v1/tickets/IN1",
        Some(json!({ "status": "in progress" })),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(p["changes"], json!({}));

    // Reassign (unassign) and a note.
    let (s, _) = api(
        &app,
        reqwest::Method::PATCH,
        &tech,
        "/api/v1/tickets/IN1",
        Some(json!({ "assignee": null })),
    )
    .await;
    assert_eq!(s, 200);
    let (s, n) = api(
        &app,
        reqwest::Method::POST,
        &tech,
        "/api/v1/tickets/IN1/notes",
        Some(json!({ "note": "Called the user", "internal": true })),
    )
    .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["kind"], "note");

    let (s, h) = api(
        &app,
        reqwest::Method::GET,
        &tech,
        "/api/v1/tickets/IN1/history",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let kinds: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["field_change", "field_change", "field_change", "note"]
    );
    assert_eq!(h[1]["actor"], "servicenow name");
    assert_eq!(h[1]["changes"]["status"]["new"], "In Progress");
    assert_eq!(
        h[2]["changes"]["assignee"],
        json!({ "old": "tess name", "new": null })
    );
    assert_eq!(h[3]["body"], "Called the user");

    // Events: exactly one per change, in order, with actor and integration flag.
    let ev = events_of(&app, id);
    let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "ticket.created",
            "ticket.updated",
            "ticket.status_changed",
            "ticket.updated",
            "ticket.reassigned",
            "ticket.note_added"
        ]
    );
    assert!(ev[0].actor_integration && ev[1].actor_integration);
    assert!(!ev[3].actor_integration);
    assert_eq!(ev[0].payload_json()["ticket"]["displayid"], "IN1");
    assert_eq!(
        ev[1].payload_json()["changes"]["inventory.cost"],
        json!({ "old": 12.5, "new": 20 })
    );
    // The trigger rules evaluated each one inside its change's transaction.
    assert!(ev.iter().all(|e| e.processed_at.is_some()));

    // Delete needs an administrator token.
    let (s, b) = api(
        &app,
        reqwest::Method::DELETE,
        &tech,
        "/api/v1/tickets/IN1",
        None,
    )
    .await;
    assert_eq!(s, 403, "{b}");
    let (s, _) = api(
        &app,
        reqwest::Method::DELETE,
        &admin,
        "/api/v1/tickets/IN1",
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = api(
        &app,
        reqwest::Method::GET,
        &tech,
        "/api/v1/tickets/IN1",
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "not_found");
    let ev = events_of(&app, id);
    let last = ev.last().unwrap();
    assert_eq!(last.event_type, "ticket.deleted");
    let snap = last.payload_json();
    assert_eq!(snap["ticket"]["status"], "In Progress");
    assert_eq!(snap["ticket"]["forms"]["inventory"]["cost"], 20);
    assert_eq!(snap["ticket"]["history"].as_array().unwrap().len(), 4);

    // No token: 401 in the API's error shape.
    let resp = app
        .client
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn api_validation_names_each_field(app: TestApp) {
    make_forms(&app);
    let tok = token_for(&app, "sys", &["Technician"], true);
    let post = |body: Value| {
        let tok = tok.clone();
        let app = &app;
        async move {
            api(
                app,
                reqwest::Method::POST,
                &tok,
                "/api/v1/tickets",
                Some(body),
            )
            .await
        }
    };

    let (s, b) = post(json!({
        "type": "Incident",
        "subject": "",
        "status": "Sleeping",
        "priority": "P9",
        "requester_email": "not-an-email",
        "assignee": "nobody",
        "color": "red",
        "forms": {
            "inventory": { "cost": "twelve", "location": "Mars", "warranty": "maybe", "bought": "yesterday" },
            "linkedassets": [ { "requestdate": "2025-04-23" } ],
            "nosuchform": { "x": 1 }
        }
    }))
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["code"], "validation_failed");
    // Unknown keys are refused before anything else.
    assert_eq!(field_names(&b), ["color"]);

    let (s, b) = post(json!({
        "type": "Incident",
        "subject": "",
        "status": "Sleeping",
        "priority": "P9",
        "requester_email": "not-an-email",
        "assignee": "nobody",
        "forms": {
            "inventory": { "cost": "twelve", "location": "Mars", "warranty": "maybe", "bought": "yesterday", "colour": "x" },
            "linkedassets": [ { "requestdate": "2025-04-23" } ],
            "nosuchform": { "x": 1 }
        }
    }))
    .await;
    assert_eq!(s, 422, "{b}");
    let mut names = field_names(&b);
    names.sort();
    assert_eq!(
        names,
        [
            "assignee",
            "forms.inventory.bought",
            "forms.inventory.colour",
            "forms.inventory.cost",
            "forms.inventory.location",
            "forms.inventory.serial",
            "forms.inventory.warranty",
            "forms.linkedassets[0].asset",
            "forms.nosuchform",
            "priority",
            "requester_email",
            "status",
            "subject",
        ]
    );
    let msg = |field: &str| {
        b["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(msg("forms.inventory.cost"), "“twelve” is not a number");
    assert!(
        msg("forms.inventory.location")
            .contains("not one of the options: London office, Paris office")
    );
    assert_eq!(msg("forms.inventory.serial"), "is required");
    assert_eq!(msg("forms.nosuchform"), "is not a form");

    // A form that exists but not for this type; a multi-line form given an object.
    let (s, b) = post(
        json!({ "type": "Problem", "subject": "x", "forms": { "inventory": { "serial": "1" } } }),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(field_names(&b), ["forms.inventory"]);
    assert!(
        b["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Problem")
    );
    let (s, b) = post(json!({ "type": "Nonsense", "subject": "x" })).await;
    assert_eq!(s, 422);
    assert_eq!(field_names(&b), ["type"]);
    let (s, b) = post(
        json!({ "type": "IN", "subject": "x", "forms": { "linkedassets": { "asset": "a" } } }),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(field_names(&b), ["forms.linkedassets"]);

    // Not JSON at all.
    let resp = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{'type': 'Incident',}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Nothing was half-saved: no ticket, no event, counters untouched.
    let (s, ok) = post(json!({ "type": "Incident", "subject": "Valid", "forms": { "inventory": { "serial": "S" } } })).await;
    assert_eq!(s, 201, "{ok}");
    assert_eq!(ok["displayid"], "IN1");
    let total: i64 = app.with_conn(|c| {
        use diesel::prelude::*;
        hookdesk::db::schema::events::table
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(total, 1);

    // Patch validation: bad values name their field and change nothing.
    let (s, b) = api(
        &app,
        reqwest::Method::PATCH,
        &tok,
        "/api/v1/tickets/IN1",
        Some(json!({ "status": "Done", "forms": { "inventory": { "serial": "" } } })),
    )
    .await;
    assert_eq!(s, 422);
    let mut names = field_names(&b);
    names.sort();
    assert_eq!(names, ["forms.inventory.serial", "status"]);
    let (s, b) = api(
        &app,
        reqwest::Method::PATCH,
        &tok,
        "/api/v1/tickets/IN1",
        Some(json!({ "type": "Change" })),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(field_names(&b), ["type"]);
    let (_, t) = api(
        &app,
        reqwest::Method::GET,
        &tok,
        "/api/v1/tickets/IN1",
        None,
    )
    .await;
    assert_eq!(t["status"], "Open");
    assert_eq!(t["forms"]["inventory"]["serial"], "S");
    assert_eq!(events_of(&app, t["id"].as_i64().unwrap()).len(), 1);
}
