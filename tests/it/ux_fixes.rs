//! Defects a newcomer met, each checked where a user sees it.

use crate::db_tests;
use crate::helpers::TestApp;
use crate::webhooks::{post, slack_connection, text_of, ticket_with_forms, webhook_form};

db_tests!(
    the_preview_shows_the_body_bytes_in_template_key_order,
    the_preview_parameter_is_labelled_with_its_label,
);

async fn the_preview_shows_the_body_bytes_in_template_key_order(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;
    let body = r#"{
  "zeta": "{{ticket.subject}}",
  "alpha": 1,
  "mid": {"b": true, "a": null}
}"#;
    let form = webhook_form(conn, &[("body_template", body)]);
    let html = post(&app, "/admin/webhooks/preview", &form)
        .await
        .text()
        .await
        .unwrap();
    let sent = r#"{"zeta":"Laptop will not start","alpha":1,"mid":{"b":true,"a":null}}"#;
    assert_eq!(
        text_of(&html, "#preview-body").as_deref(),
        Some(sent),
        "{html}"
    );
    assert!(html.contains(&format!("exactly as sent ({} bytes)", sent.len())));
}

async fn the_preview_parameter_is_labelled_with_its_label(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;
    let resp = post(&app, "/admin/webhooks", &webhook_form(conn, &[])).await;
    assert_eq!(resp.status(), 303);
    let page = app
        .get(resp.headers()["location"].to_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse("label[for^='pv-']").unwrap();
    let labels: Vec<String> = doc
        .select(&sel)
        .map(|l| {
            l.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        labels,
        [
            "Customer reference (param.customer_ref)",
            "Note (param.note) (read-only: its default is used)"
        ]
    );
}
