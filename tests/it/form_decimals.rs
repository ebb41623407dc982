//! A Number field's decimal places (issue 13): set on the form editor for Number fields
//! only, checked when a value is typed, and shown with exactly that many decimals
//! wherever a value is text — the ticket page, its history, text templates — while JSON
//! keeps the number.

use hookdesk::tickets::{Form, FormField};
use serde_json::json;

use crate::browser::{assert_console_clean, browser_login, click, fill, start_browser, text_when};
use crate::db_tests;
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp, spawn_app};
use crate::tickets_api::{api, token_for};
use crate::webhooks::{preview, slack_connection, text_of, webhook_form};

db_tests!(
    a_number_field_with_decimal_places_shows_exactly_that_many,
    the_form_editor_sets_decimal_places_on_number_fields_only,
);

/// Creates a form on the forms page and adds `fields` (name, type, decimal places) to
/// it; returns the form page's address.
async fn form_with(
    app: &TestApp,
    name: &str,
    multi_line: bool,
    fields: &[(&str, &str, &str)],
) -> String {
    let mut form = vec![("name", name), ("ticket_types", "IN")];
    if multi_line {
        form.push(("multi_line", "on"));
    }
    let resp = app.post_form("/admin/forms", &form).await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    for (field, kind, places) in fields {
        let resp = app
            .post_form(
                &format!("{loc}/fields"),
                &[
                    ("field_name", field),
                    ("field_type", kind),
                    ("decimal_places", places),
                ],
            )
            .await;
        assert_eq!(resp.status(), 303, "{field}");
    }
    loc
}

fn form_named(app: &TestApp, name: &str) -> (Form, Vec<FormField>) {
    app.with_conn(|c| {
        Form::with_fields(c, None)
            .unwrap()
            .into_iter()
            .find(|(f, _)| f.name == name)
            .unwrap()
    })
}

fn page_text(html: &str, css: &str) -> String {
    text_of(html, css).unwrap_or_else(|| panic!("no {css} in {html}"))
}

/// The ticket edit page's post with the Billing values given.
fn ticket_post<'a>(amount: &'a str, quantity: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("type", "IN"),
        ("subject", "Invoice for the new printer"),
        ("status", "Open"),
        ("priority", "P2"),
        ("assignee", ""),
        ("forms.billing.amount", amount),
        ("forms.billing.quantity", quantity),
    ]
}

async fn a_number_field_with_decimal_places_shows_exactly_that_many(app: TestApp) {
    app.login_admin().await;
    form_with(
        &app,
        "Billing",
        false,
        &[("Amount", "number", "2"), ("Quantity", "number", "")],
    )
    .await;
    form_with(&app, "Expenses", true, &[("Price", "number", "2")]).await;
    let tech = app.client_as("tess", &["Technician"]).await;

    // Typed as 45.50: shown as 45.50, on the page and in the edit input.
    let resp = app
        .post_form_with(&tech, "/tickets", &ticket_post("45.50", "2.5"))
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = loc.rsplit('/').next().unwrap().parse().unwrap();
    let html = app.get_with(&tech, &loc).await.text().await.unwrap();
    assert_eq!(page_text(&html, "[data-field='billing.amount']"), "45.50");
    // A field without decimal places shows the value as it always did.
    assert_eq!(page_text(&html, "[data-field='billing.quantity']"), "2.5");
    let edit = app
        .get_with(&tech, &format!("/tickets/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains(r#"value="45.50""#), "{edit}");

    // Changed to 7: the history reads 45.50 → 7.00.
    let mut change = ticket_post("7", "2.5");
    change.remove(0);
    let resp = app
        .post_form_with(&tech, &format!("/tickets/{id}"), &change)
        .await;
    assert_eq!(resp.status(), 303);
    let html = app.get_with(&tech, &loc).await.text().await.unwrap();
    assert_eq!(page_text(&html, "[data-field='billing.amount']"), "7.00");
    assert!(
        html.contains(
            r#"Billing › Amount</strong>: <span class="change-old">45.50</span> → <span class="change-new">7.00</span>"#
        ),
        "{html}"
    );

    // 1.234 has too many decimals: refused beside the field, and nothing changes.
    let history_before = app.with_conn(|c| hookdesk::tickets::history::list(c, id).unwrap().len());
    let mut refused = ticket_post("1.234", "3.125");
    refused.remove(0);
    let resp = app
        .post_form_with(&tech, &format!("/tickets/{id}"), &refused)
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert_eq!(
        page_text(&html, "#form-billing-amount-error"),
        "Amount allows at most 2 decimal places"
    );
    assert!(text_of(&html, "#form-billing-quantity-error").is_none());
    let v =
        app.with_conn(|c| hookdesk::tickets::payload::ticket_json(c, id, false, false).unwrap());
    assert_eq!(
        v["forms"]["billing"],
        json!({ "amount": 7, "quantity": 2.5 })
    );
    assert_eq!(
        app.with_conn(|c| hookdesk::tickets::history::list(c, id).unwrap().len()),
        history_before
    );

    // The API refuses it alike, naming the field; the ticket's JSON keeps numbers.
    let tok = token_for(&app, "sys", &["Technician"], false);
    let (s, body) = api(
        &app,
        reqwest::Method::PATCH,
        &tok,
        &format!("/api/v1/tickets/{id}"),
        Some(json!({ "forms": { "billing": { "amount": 1.234 } } })),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(
        body["error"]["fields"],
        json!([{ "field": "forms.billing.amount", "message": "Amount allows at most 2 decimal places" }])
    );
    let (s, body) = api(
        &app,
        reqwest::Method::PATCH,
        &tok,
        &format!("/api/v1/tickets/{id}"),
        Some(json!({ "forms": { "billing": { "amount": 12.3 } } })),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (_, t) = api(
        &app,
        reqwest::Method::GET,
        &tok,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(t["forms"]["billing"]["amount"], json!(12.3));

    // A multi-line form's row: in the table and the history with its two decimals.
    let (expenses, _) = form_named(&app, "Expenses");
    let resp = app
        .post_form_with(
            &tech,
            &format!("/tickets/{id}/forms/{}/rows", expenses.id),
            &[("price", "3.5")],
        )
        .await;
    assert!(resp.status().is_redirection() || resp.status() == 200);
    let html = app.get_with(&tech, &loc).await.text().await.unwrap();
    assert_eq!(
        page_text(
            &html,
            &format!("#form-{} tbody tr[data-row] td", expenses.id)
        ),
        "3.50"
    );
    assert!(
        html.contains(r#"<span class="change-new">Price: 3.50</span>"#),
        "{html}"
    );

    // Text templates write 12.30; a JSON body's lone placeholder stays a number.
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;
    let body = r#"{"amount": "{{ticket.billing.amount}}", "text": "Amount {{ticket.billing.amount}}, quantity {{ticket.billing.quantity}}"}"#;
    let mut form = webhook_form(
        conn,
        &[
            ("body_template", body),
            ("headers", "X-Amount: {{ticket.billing.amount}}"),
        ],
    );
    form.push(("preview_ticket".into(), "IN1".into()));
    let html = preview(&app, &form).await;
    assert_eq!(
        text_of(&html, "#preview-body").as_deref(),
        Some(r#"{"amount":12.3,"text":"Amount 12.30, quantity 2.5"}"#),
        "{html}"
    );
    assert!(
        page_text(&html, "#preview-request").contains("X-Amount: 12.30"),
        "{html}"
    );
    let mut form = webhook_form(
        conn,
        &[
            ("request_content_type", "text"),
            ("body_template", "Amount: {{ticket.billing.amount}}"),
        ],
    );
    form.push(("preview_ticket".into(), "IN1".into()));
    let html = preview(&app, &form).await;
    assert_eq!(
        text_of(&html, "#preview-body").as_deref(),
        Some("Amount: 12.30"),
        "{html}"
    );
}

async fn the_form_editor_sets_decimal_places_on_number_fields_only(app: TestApp) {
    app.login_admin().await;
    let loc = form_with(&app, "Billing", false, &[("Amount", "number", "2")]).await;
    let (_, fields) = form_named(&app, "Billing");
    let amount = fields[0].clone();
    assert_eq!(amount.decimal_places, Some(2));
    let html = app.get(&loc).await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let input = scraper::Selector::parse(&format!(
        "[data-for-type='number'] input#fd-{}[name='decimal_places']",
        amount.id
    ))
    .unwrap();
    assert_eq!(
        doc.select(&input).next().unwrap().value().attr("value"),
        Some("2")
    );

    // Refused on a Text field, and out of range, beside the input; nothing is added.
    for (kind, places, message) in [
        (
            "text",
            "2",
            "only Number fields have decimal places; leave it empty",
        ),
        (
            "number",
            "7",
            "must be a whole number from 0 to 6, or empty",
        ),
        (
            "number",
            "two",
            "must be a whole number from 0 to 6, or empty",
        ),
    ] {
        let resp = app
            .post_form(
                &format!("{loc}/fields"),
                &[
                    ("field_name", "Note"),
                    ("field_type", kind),
                    ("decimal_places", places),
                ],
            )
            .await;
        assert_eq!(resp.status(), 422, "{kind} {places}");
        let html = resp.text().await.unwrap();
        assert_eq!(page_text(&html, "#decimal_places-error"), message);
        let doc = scraper::Html::parse_document(&html);
        let typed = scraper::Selector::parse("#decimal_places").unwrap();
        assert_eq!(
            doc.select(&typed).next().unwrap().value().attr("value"),
            Some(places),
            "the typed value is kept"
        );
    }
    assert_eq!(form_named(&app, "Billing").1.len(), 1);

    // Switching the Number field to Text with its places still set is refused too.
    let field_url = format!("{loc}/fields/{}", amount.id);
    let resp = app
        .post_form(
            &field_url,
            &[
                ("field_name", "Amount"),
                ("field_type", "text"),
                ("decimal_places", "2"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert_eq!(
        page_text(&html, &format!("#fd-{}-error", amount.id)),
        "only Number fields have decimal places; leave it empty"
    );
    assert_eq!(form_named(&app, "Billing").1[0].field_type, "number");

    // Changed, then cleared: back to showing values as stored.
    for (places, stored) in [("0", Some(0)), ("", None)] {
        let resp = app
            .post_form(
                &field_url,
                &[
                    ("field_name", "Amount"),
                    ("field_type", "number"),
                    ("decimal_places", places),
                ],
            )
            .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(form_named(&app, "Billing").1[0].decimal_places, stored);
    }
    let audit = app
        .get("/admin/audit?action=form.field")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("number; decimal places: 2"), "{audit}");
}

/// The form editor shows "Decimal places" for a Number field only, and the ticket page
/// shows the value with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_places_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    app.login_admin().await;
    let loc = form_with(&app, "Billing", false, &[]).await;
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&app.url(&loc)).await.unwrap();

    let shown = |id: &'static str| {
        let b = b.clone();
        async move {
            b.execute(
                &format!("var e = document.getElementById('{id}'); return [e.offsetParent !== null, e.disabled]"),
                vec![],
            )
            .await
            .unwrap()
        }
    };
    let choose = |kind: &'static str| {
        let b = b.clone();
        async move {
            b.execute(
                &format!("var s = document.getElementById('field_type'); s.value = '{kind}'; s.dispatchEvent(new Event('change', {{bubbles: true}}));"),
                vec![],
            )
            .await
            .unwrap();
        }
    };
    // Text is chosen first: neither a number's places nor a select's options.
    assert_eq!(shown("decimal_places").await, json!([false, true]));
    assert_eq!(shown("options").await, json!([false, true]));
    choose("number").await;
    assert_eq!(shown("decimal_places").await, json!([true, false]));
    assert_eq!(shown("options").await, json!([false, true]));
    choose("select").await;
    assert_eq!(shown("decimal_places").await, json!([false, true]));
    assert_eq!(shown("options").await, json!([true, false]));
    choose("number").await;
    fill(&b, "#field_name", "Amount").await;
    fill(&b, "#decimal_places", "2").await;
    click(&b, "#add-field button[type=submit]").await;
    text_when(&b, ".flash-success", "Field Amount added.").await;
    assert_eq!(form_named(&app, "Billing").1[0].decimal_places, Some(2));

    b.goto(&app.url("/tickets/new?type=IN")).await.unwrap();
    fill(&b, "#subject", "Invoice for the new printer").await;
    fill(&b, "#form-billing-amount", "45.50").await;
    click(&b, "#ticket-form button[type=submit]").await;
    text_when(&b, "[data-field='billing.amount']", "45.50").await;
    assert_console_clean(&b).await;
    b.close().await.unwrap();
}
