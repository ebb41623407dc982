//! Saving a ticket's edit page as it was rendered changes nothing. A browser sends line
//! breaks as CRLF, the page shows a stored 7 as `7.00`, and a deactivated assignee was
//! not among the page's choices: each made a change nobody made, and rules fired on it.
//! And a page open while the ticket changed elsewhere saves only what its user changed.

use diesel::prelude::*;
use hookdesk::audit::Actor;
use hookdesk::db::schema::tickets;
use hookdesk::tickets::events;
use hookdesk::tickets::form_fields::FieldInput;
use hookdesk::tickets::forms::FormInput;
use hookdesk::tickets::{Form, FormField, Ticket};
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::rules_world::{send_rule, world};
use crate::tickets_api::{api, events_of, token_for};

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    crlf_from_the_browser_is_no_change_and_sets_no_rule_off,
);

db_tests!(
    a_description_stored_with_crlf_is_no_change,
    a_whole_number_shown_with_decimals_is_no_change,
    an_assignee_the_page_cannot_offer_is_kept,
    a_page_opened_before_a_change_elsewhere_keeps_that_change,
);

/// An Incident form `name` with one field (name, type, decimal places).
fn form_with_field(app: &TestApp, name: &str, field: (&str, &str, &str)) {
    app.with_conn(|c| {
        let form = Form::create(
            c,
            &Actor::system("test"),
            &FormInput {
                name: name.into(),
                multi_line: false,
                ticket_types: vec!["IN".into()],
            },
        )
        .unwrap();
        FormField::add(
            c,
            &Actor::system("test"),
            form.id,
            &FieldInput {
                name: field.0.into(),
                field_type: field.1.into(),
                required: false,
                options: String::new(),
                decimal_places: field.2.into(),
            },
        )
        .unwrap();
    });
}

/// The edit page's form as a browser posts it untouched: each input's value, a checkbox
/// only when ticked, a select's selected option (else its first), line breaks as CRLF.
async fn as_rendered(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
) -> (String, Vec<(String, String)>) {
    let resp = app.get_with(client, &format!("/tickets/{id}/edit")).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = |css: &str| scraper::Selector::parse(css).unwrap();
    let mut pairs = Vec::new();
    for e in doc.select(&sel("#ticket-form [name]")) {
        let el = e.value();
        let name = el.attr("name").unwrap_or_default();
        let value = match el.name() {
            "textarea" => e.text().collect::<String>(),
            "select" => {
                let picked = e.select(&sel("option[selected]")).next();
                let first = e.select(&sel("option")).next();
                match picked.or(first) {
                    Some(o) => o.value().attr("value").unwrap_or_default().to_string(),
                    None => continue,
                }
            }
            _ if el.attr("type") == Some("checkbox") && el.attr("checked").is_none() => continue,
            _ => el.attr("value").unwrap_or_default().to_string(),
        };
        if name != "csrf_token" {
            pairs.push((name.to_string(), value.replace('\n', "\r\n")));
        }
    }
    (html, pairs)
}

fn value_of<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

fn set(pairs: &mut [(String, String)], name: &str, value: &str) {
    for (_, v) in pairs.iter_mut().filter(|(k, _)| k == name) {
        *v = value.to_string();
    }
}

async fn save(app: &TestApp, client: &reqwest::Client, id: i64, pairs: &[(String, String)]) {
    let fields: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = app
        .post_form_with(client, &format!("/tickets/{id}"), &fields)
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
}

/// The changes of each `kind` event of the ticket, oldest first.
fn changes_of(app: &TestApp, id: i64, kind: &str) -> Vec<Value> {
    events_of(app, id)
        .into_iter()
        .filter(|e| e.event_type == kind)
        .map(|e| e.payload_json()["changes"].clone())
        .collect()
}

async fn create_ticket(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, t) = api(app, Method::POST, token, "/api/v1/tickets", Some(body)).await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_i64().unwrap()
}

async fn crlf_from_the_browser_is_no_change_and_sets_no_rule_off(app: TestApp) {
    let w = world(app).await;
    form_with_field(&w.app, "Details", ("Steps", "textarea", ""));
    w.rule(send_rule(
        "Description edits to the vendor",
        w.webhook,
        json!([{"field": "ticket.description", "operator": "changed"}]),
    ))
    .await;
    let id = create_ticket(
        &w.app,
        &w.tech,
        json!({
            "type": "Incident",
            "subject": "Printer jams",
            "description": "L1\nL2",
            "forms": {"Details": {"Steps": "Open tray\nPull paper"}}
        }),
    )
    .await;
    let ana = w.app.client_as("ana", &["Technician"]).await;

    let (_, mut form) = as_rendered(&w.app, &ana, id).await;
    assert_eq!(value_of(&form, "description"), "L1\r\nL2");
    assert_eq!(
        value_of(&form, "forms.details.steps"),
        "Open tray\r\nPull paper"
    );
    save(&w.app, &ana, id, &form).await;
    assert_eq!(
        changes_of(&w.app, id, events::TICKET_UPDATED),
        Vec::<Value>::new()
    );
    assert_eq!(w.history(id).len(), 1, "only the creation");

    // A real change stores the texts with LF and names only itself.
    set(&mut form, "category", "Hardware");
    save(&w.app, &ana, id, &form).await;
    let updates = changes_of(&w.app, id, events::TICKET_UPDATED);
    assert_eq!(
        updates,
        [json!({"category": {"old": "", "new": "Hardware"}})]
    );
    let (_, t) = api(
        &w.app,
        Method::GET,
        &w.tech,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(t["description"], "L1\nL2");
    assert_eq!(t["forms"]["details"]["steps"], "Open tray\nPull paper");
    w.exactly(0).await;
}

/// Tickets created on the page before line breaks were normalised hold CRLF.
async fn a_description_stored_with_crlf_is_no_change(app: TestApp) {
    let tech = token_for(&app, "tess", &["Technician"], false);
    let id = create_ticket(
        &app,
        &tech,
        json!({"type": "Incident", "subject": "Printer jams", "description": "L1"}),
    )
    .await;
    app.with_conn(|c| {
        diesel::update(tickets::table.find(id))
            .set(tickets::description.eq("L1\r\nL2"))
            .execute(c)
            .unwrap()
    });
    let ana = app.client_as("ana", &["Technician"]).await;
    let (_, form) = as_rendered(&app, &ana, id).await;
    save(&app, &ana, id, &form).await;
    assert_eq!(
        changes_of(&app, id, events::TICKET_UPDATED),
        Vec::<Value>::new()
    );
}

async fn a_whole_number_shown_with_decimals_is_no_change(app: TestApp) {
    form_with_field(&app, "Billing", ("Amount", "number", "2"));
    let tech = token_for(&app, "tess", &["Technician"], false);
    let id = create_ticket(
        &app,
        &tech,
        json!({"type": "Incident", "subject": "Invoice", "forms": {"Billing": {"Amount": 7}}}),
    )
    .await;
    let ana = app.client_as("ana", &["Technician"]).await;
    let (_, form) = as_rendered(&app, &ana, id).await;
    assert_eq!(value_of(&form, "forms.billing.amount"), "7.00");
    save(&app, &ana, id, &form).await;
    assert_eq!(
        changes_of(&app, id, events::TICKET_UPDATED),
        Vec::<Value>::new()
    );
    let history = app.with_conn(|c| hookdesk::tickets::history::list(c, id).unwrap());
    assert_eq!(history.len(), 1, "only the creation");
}

/// A deactivated technician and an integration user are not offered to be assigned, but
/// the ticket they hold shows them and keeps them.
async fn an_assignee_the_page_cannot_offer_is_kept(app: TestApp) {
    let tech = token_for(&app, "tess", &["Technician"], false);
    let tom = app.create_user("tom", &["Technician"]);
    token_for(&app, "servicenow", &["Technician"], true);
    let mut held = Vec::new();
    for who in ["tom", "servicenow"] {
        let body = json!({"type": "Incident", "subject": "Printer jams", "assignee": who});
        held.push(create_ticket(&app, &tech, body).await);
    }
    app.login_admin().await;
    let resp = app
        .post_form(
            &format!("/admin/users/{}/active", tom.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let ana = app.client_as("ana", &["Technician"]).await;

    let labels = ["tom name (inactive)", "servicenow name (integration)"];
    for (id, label) in held.into_iter().zip(labels) {
        let assignee = app.with_conn(|c| Ticket::get(c, id).unwrap().assignee_id);
        let (html, mut form) = as_rendered(&app, &ana, id).await;
        assert!(html.contains(label), "{html}");
        assert_eq!(value_of(&form, "assignee"), assignee.unwrap().to_string());
        set(&mut form, "category", "Hardware");
        save(&app, &ana, id, &form).await;
        assert_eq!(
            app.with_conn(|c| Ticket::get(c, id).unwrap().assignee_id),
            assignee,
            "{label}"
        );
        assert_eq!(
            changes_of(&app, id, events::TICKET_REASSIGNED),
            Vec::<Value>::new()
        );
        assert_eq!(
            changes_of(&app, id, events::TICKET_UPDATED),
            [json!({"category": {"old": "", "new": "Hardware"}})]
        );
    }
}

/// A technician opens the edit page; meanwhile an integration moves the ticket on and
/// writes the remote ticket number. Saving the page with only the category changed
/// keeps both: the save is the user's edits, not the page's old copy of the rest.
async fn a_page_opened_before_a_change_elsewhere_keeps_that_change(app: TestApp) {
    form_with_field(&app, "Remote", ("Remote id", "text", ""));
    let tech = token_for(&app, "tess", &["Technician"], false);
    let sync = token_for(&app, "servicenow", &["Technician"], true);
    let id = create_ticket(
        &app,
        &tech,
        json!({"type": "Incident", "subject": "VPN drops", "description": "Since Monday"}),
    )
    .await;
    let ana = app.client_as("ana", &["Technician"]).await;
    let (_, mut form) = as_rendered(&app, &ana, id).await;
    assert_eq!(value_of(&form, "status"), "Open");

    let (s, v) = api(
        &app,
        Method::PATCH,
        &sync,
        &format!("/api/v1/tickets/{id}"),
        Some(json!({"status": "In Progress", "forms": {"Remote": {"Remote id": "INC0042"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    set(&mut form, "category", "Network");
    save(&app, &ana, id, &form).await;
    let (s, t) = api(
        &app,
        Method::GET,
        &tech,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(t["status"], "In Progress", "{t}");
    assert_eq!(t["forms"]["remote"]["remoteid"], "INC0042", "{t}");
    assert_eq!(t["category"], "Network");
    assert_eq!(t["description"], "Since Monday");
    assert_eq!(
        changes_of(&app, id, events::TICKET_UPDATED).last(),
        Some(&json!({"category": {"old": "", "new": "Network"}}))
    );
    assert_eq!(
        changes_of(&app, id, events::TICKET_STATUS_CHANGED).len(),
        1,
        "only the integration's change of status"
    );
}
