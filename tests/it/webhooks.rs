//! Webhook definitions over HTTP: the admin pages (create, validation beside each field,
//! preview of the exact request, clone, delete) on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use hookdesk::tickets::form_fields::FieldInput;
use hookdesk::tickets::forms::FormInput;
use hookdesk::tickets::{ChangeActor, Form, FormField, Ticket, TicketInput};
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;

/// An Inventory form (text serial number, a single select location), a multi-line
/// Linked assets form, and an Incident that fills both.
pub fn ticket_with_forms(app: &TestApp) -> Ticket {
    app.with_conn(|c| {
        let inv = Form::create(
            c,
            &hookdesk::audit::Actor::system("test"),
            &FormInput {
                name: "Inventory".into(),
                multi_line: false,
                ticket_types: vec!["Incident".into()],
            },
        )
        .unwrap();
        for (name, kind, options) in [
            ("Serial number", "text", ""),
            (
                "Location",
                "select",
                "LON = London office\nPAR = Paris office",
            ),
        ] {
            FormField::add(
                c,
                &hookdesk::audit::Actor::system("test"),
                inv.id,
                &FieldInput {
                    name: name.into(),
                    field_type: kind.into(),
                    required: false,
                    options: options.into(),
                    decimal_places: String::new(),
                },
            )
            .unwrap();
        }
        let assets = Form::create(
            c,
            &hookdesk::audit::Actor::system("test"),
            &FormInput {
                name: "Linked assets".into(),
                multi_line: true,
                ticket_types: vec!["Incident".into()],
            },
        )
        .unwrap();
        for name in ["Asset", "Request date"] {
            FormField::add(
                c,
                &hookdesk::audit::Actor::system("test"),
                assets.id,
                &FieldInput {
                    name: name.into(),
                    field_type: if name == "Asset" { "text" } else { "date" }.into(),
                    required: false,
                    options: String::new(),
                    decimal_places: String::new(),
                },
            )
            .unwrap();
        }
        Ticket::create_as(
            c,
            &ChangeActor::system("test"),
            &TicketInput {
                ticket_type: "Incident".into(),
                subject: "Printer \"Big Bertha\" on fire".into(),
                description: "Smoke\nand flames".into(),
                status: "Open".into(),
                priority: "P2".into(),
                requester_name: "Robin".into(),
                requester_email: "robin@example.test".into(),
                forms: BTreeMap::from([
                    (
                        "Inventory".to_string(),
                        json!({"Serial number": "SN-4411", "Location": "LON"}),
                    ),
                    (
                        "Linked assets".to_string(),
                        json!([
                            {"Asset": "P2425", "Request date": "2025-04-23"},
                            {"Asset": "FH6354", "Request date": "2025-04-30"}
                        ]),
                    ),
                ]),
                ..TicketInput::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
    })
}

pub const BODY: &str = r#"{
  "text": "{{ticket.displayid}}: {{ticket.subject}}",
  "ticket": "{{ticket.id}}",
  "serial": "{{ticket.inventory.serialnumber}}",
  "location": "{{ticket.inventory.location}}",
  "assets": "{{ticket.linkedassets}}",
  "ref": "{{param.customer_ref}}",
  "note": "{{ param.note }}"
}"#;

/// The webhook form as a browser posts it, with `changes` applied (a key given as
/// `key=` with an empty value removes it).
pub fn webhook_form(connection_id: i64, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("name", "Post to Slack"),
        ("description", "Tell the desk channel"),
        ("status", "enabled"),
        ("ticket_types", "IN"),
        ("url", ""),
        ("method", "POST"),
        ("request_content_type", "json"),
        ("headers", "X-Ticket: {{ticket.displayid}}"),
        ("response_content_type", "json"),
        ("action_description", "Sent {{ticket.displayid}} to Slack"),
        ("preset", "generic"),
        ("payload_mode", "custom"),
        ("body_template", BODY),
        ("condition_match", "all"),
        ("batch_mode", "none"),
        ("batch_wait_seconds", "30"),
        ("batch_max_items", "100"),
        ("retry_max_attempts", ""),
        ("retry_schedule", ""),
        ("param_name", "customer_ref"),
        ("param_label", "Customer reference"),
        ("param_default", "REF-{{ticket.id}}"),
        ("param_read_only", "no"),
        ("param_multi_line", "no"),
        ("param_name", "note"),
        ("param_label", "Note"),
        ("param_default", "from {{actor.name}}"),
        ("param_read_only", "yes"),
        ("param_multi_line", "yes"),
        ("roles", "Technician"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    f.push(("connection_id".into(), connection_id.to_string()));
    for (k, v) in changes {
        if let Some(key) = k.strip_suffix('=') {
            f.retain(|(x, _)| x != key);
            continue;
        }
        match f.iter_mut().find(|(x, _)| x == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => f.push((k.to_string(), v.to_string())),
        }
    }
    f
}

pub async fn post(app: &TestApp, path: &str, form: &[(String, String)]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.post_form(path, &fields).await
}

/// The webhook editor's preview of `form`, as the page's htmx request gets it.
pub async fn preview(app: &TestApp, form: &[(String, String)]) -> String {
    post(app, "/admin/webhooks/preview", form)
        .await
        .text()
        .await
        .unwrap()
}

pub fn text_of(html: &str, css: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

pub fn webhook_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use hookdesk::db::schema::webhooks;
    app.with_conn(|c| webhooks::table.count().get_result(c).unwrap())
}

/// A Slack connection made through the connections page, with a bearer token so the
/// preview has a secret to hide.
pub async fn slack_connection(app: &TestApp, base_url: &str) -> i64 {
    crate::webhooks_support::create_connection(
        app,
        "Slack desk",
        "slack",
        base_url,
        "xoxb-very-secret-token",
    )
    .await
}

async fn done_when_admin_builds_a_slack_webhook_and_previews_a_real_ticket(app: TestApp) {
    app.login_admin().await;
    let ticket = ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/services/T000/B000").await;

    let page = app.get("/admin/webhooks/new").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for tab in [
        "Basic",
        "Preset",
        "Parameters",
        "Payload",
        "Response fields",
        "Response actions",
        "Select tickets",
        "Roles",
        "Batching",
        "Retry",
        "Preview &amp; test",
    ] {
        assert!(html.contains(&format!(">{tab}<")), "tab {tab} missing");
    }

    let form = webhook_form(conn_id, &[]);
    let resp = post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/admin/webhooks/"));
    let page = app.get(&location).await.text().await.unwrap();
    assert!(page.contains("Post to Slack"));
    assert!(page.contains("customer_ref"));

    // The preview, for the real ticket, with a typed parameter.
    let mut pv = webhook_form(conn_id, &[("preview_ticket", &ticket.display_id)]);
    pv.push(("preview_param_name".into(), "customer_ref".into()));
    pv.push(("preview_param".into(), "C-42".into()));
    pv.push(("preview_param_name".into(), "note".into()));
    pv.push(("preview_param".into(), "ignored: read-only".into()));
    let resp = post(&app, "/admin/webhooks/preview", &pv).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert_eq!(text_of(&html, "#preview-method").as_deref(), Some("POST"));
    assert_eq!(
        text_of(&html, "#preview-url").as_deref(),
        Some("https://hooks.slack.example/services/T000/B000")
    );
    let request = text_of(&html, "#preview-request").unwrap();
    assert!(
        request.contains(&format!("X-Ticket: {}", ticket.display_id)),
        "{request}"
    );
    assert!(
        request.contains("Content-Type: application/json"),
        "{request}"
    );
    assert!(request.contains("Authorization: Bearer ••••"), "{request}");
    assert!(request.contains("X-Desk-Key: ••••"), "{request}");
    assert!(request.contains("X-Source: hookdesk"), "{request}");
    assert!(!html.contains("xoxb-very-secret-token"));
    assert!(!html.contains("desk-key-secret-value"));
    let body: Value = serde_json::from_str(&text_of(&html, "#preview-body").unwrap()).unwrap();
    assert_eq!(
        body["text"],
        json!(format!(
            "{}: Printer \"Big Bertha\" on fire",
            ticket.display_id
        ))
    );
    assert_eq!(body["ticket"], json!(ticket.id));
    assert_eq!(body["serial"], json!("SN-4411"));
    assert_eq!(body["location"], json!("London office"));
    assert_eq!(
        body["assets"],
        json!([
            {"asset": "P2425", "requestdate": "2025-04-23"},
            {"asset": "FH6354", "requestdate": "2025-04-30"}
        ])
    );
    assert_eq!(body["ref"], json!("C-42"));
    assert_eq!(body["note"], json!("from Administrator"));
    assert_eq!(body.as_object().unwrap().len(), 7);

    // "Send IDs instead of display values" sends the option id.
    let pv = webhook_form(
        conn_id,
        &[("preview_ticket", &ticket.display_id), ("send_ids", "on")],
    );
    let html = post(&app, "/admin/webhooks/preview", &pv)
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text_of(&html, "#preview-body").unwrap()).unwrap();
    assert_eq!(body["location"], json!("LON"));
    assert_eq!(body["ref"], json!(format!("REF-{}", ticket.id)));

    // The built-in sample ticket needs no data.
    let pv = webhook_form(conn_id, &[("payload_mode", "ticket")]);
    let html = post(&app, "/admin/webhooks/preview", &pv)
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text_of(&html, "#preview-body").unwrap()).unwrap();
    assert_eq!(body["displayid"], json!("IN164"));

    // The whole ticket, for the real ticket.
    let pv = webhook_form(
        conn_id,
        &[
            ("payload_mode", "ticket_linked"),
            ("preview_ticket", &ticket.id.to_string()),
        ],
    );
    let html = post(&app, "/admin/webhooks/preview", &pv)
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text_of(&html, "#preview-body").unwrap()).unwrap();
    assert_eq!(body["displayid"], json!(ticket.display_id));
    assert_eq!(body["forms"]["linkedassets"][1]["asset"], json!("FH6354"));
    assert!(body["history"].is_array());

    // An unknown ticket is said so in the panel.
    let pv = webhook_form(conn_id, &[("preview_ticket", "IN999999")]);
    let html = post(&app, "/admin/webhooks/preview", &pv)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&html, "#preview-errors")
            .unwrap()
            .contains("IN999999")
    );
}

async fn broken_templates_are_refused_beside_the_body_field(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/x").await;

    let cases = [
        ("{\n  'text': 'hi'\n}", "line 2, column 3"),
        ("{\n  \"text\": \"hi\",\n}", "line 3, column 1"),
    ];
    for (body, position) in cases {
        let resp = post(
            &app,
            "/admin/webhooks",
            &webhook_form(conn_id, &[("body_template", body)]),
        )
        .await;
        assert_eq!(resp.status(), 422);
        let html = resp.text().await.unwrap();
        let err = text_of(&html, "#body_template-error").unwrap();
        assert!(err.contains(position), "{body:?}: {err}");
        // The form comes back as typed.
        assert!(html.contains(&askama_escape(body)));
    }

    let resp = post(
        &app,
        "/admin/webhooks",
        &webhook_form(
            conn_id,
            &[(
                "body_template",
                r#"{"a": "{{ticket.nosuchfield}}", "b": "{{param.nope}}"}"#,
            )],
        ),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let err = text_of(&resp.text().await.unwrap(), "#body_template-error").unwrap();
    assert!(err.contains("{{ticket.nosuchfield}}"), "{err}");
    assert!(err.contains("{{param.nope}}"), "{err}");
    for known in [
        "ticket.subject",
        "ticket.inventory.serialnumber",
        "ticket.linkedassets",
        "param.customer_ref",
    ] {
        assert!(err.contains(known), "known name {known} not listed: {err}");
    }

    // The live preview shows the same error in place.
    let pv = webhook_form(conn_id, &[("body_template", "{\"a\": 1,}")]);
    let html = post(&app, "/admin/webhooks/preview", &pv)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&html, "#body_template-error")
            .unwrap()
            .contains("line 1, column")
    );
    assert!(
        text_of(&html, "#preview-errors")
            .unwrap()
            .contains("body_template")
    );

    assert_eq!(webhook_count(&app), 0, "nothing half-saved");
}

/// What askama writes for text in an attribute or element.
pub fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn every_validation_error_is_shown_beside_its_field(app: TestApp) {
    app.login_admin().await;
    let conn_id = slack_connection(&app, "https://hooks.slack.example/x").await;
    let form = webhook_form(
        conn_id,
        &[
            ("name", ""),
            ("status", "test"),
            ("url", "ftp://example.test/x"),
            ("method", "PUT"),
            ("headers", "X-Ok: fine\nno colon here\nBad Name: x"),
            ("action_description", "{{ticket.nope}}"),
            ("batch_mode", "same_event"),
            ("batch_wait_seconds", "soon"),
            ("batch_max_items", "0"),
            ("retry_max_attempts", "0"),
            ("retry_schedule", "60, later"),
            ("cond_field", "ticket.status"),
            ("cond_operator", "equals"),
            ("cond_value", ""),
            ("rf_path", "items[x]"),
            ("rf_target", "ticket.id"),
            ("ra_kind", "add_note"),
            ("ra_target", ""),
            ("ra_value", ""),
            ("roles", "Nobody"),
        ],
    );
    let mut form = form;
    form.push(("param_name".into(), "customer_ref".into()));
    form.push(("param_label".into(), "".into()));
    form.push(("param_default".into(), "".into()));
    form.push(("param_read_only".into(), "no".into()));
    form.push(("param_multi_line".into(), "no".into()));
    let resp = post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let expect = [
        ("#name-error", "is required"),
        ("#test_connection_id-error", "test connection"),
        ("#url-error", "http:// and https://"),
        ("#headers-error", "line 2"),
        ("#action_description-error", "ticket.nope"),
        ("#batch_mode-error", "only for POST"),
        ("#batch_wait_seconds-error", "between 0 and 3600"),
        ("#batch_max_items-error", "between 1 and 1000"),
        ("#retry_max_attempts-error", "between 1 and 50"),
        ("#retry_schedule-error", "later"),
        ("#roles-error", "Nobody"),
    ];
    for (sel, text) in expect {
        let got = text_of(&html, sel).unwrap_or_else(|| panic!("{sel} missing"));
        assert!(got.contains(text), "{sel}: {got}");
    }
    for text in [
        "a value is required",
        "write a path such as",
        "choose a ticket field or custom form field that can be set",
        "is used by another parameter",
    ] {
        assert!(html.contains(text), "{text} not shown");
    }
    // The tabs with problems are marked.
    assert!(html.contains(
        "id=\"tab-retry\" aria-controls=\"panel-retry\" data-tab=\"retry\" class=\"tab tab-error\""
    ));
    assert_eq!(webhook_count(&app), 0);
}

db_tests!(
    done_when_admin_builds_a_slack_webhook_and_previews_a_real_ticket,
    broken_templates_are_refused_beside_the_body_field,
    every_validation_error_is_shown_beside_its_field,
);
