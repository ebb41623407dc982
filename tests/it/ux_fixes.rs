//! Defects a newcomer met, each checked where a user sees it.

use crate::db_tests;
use crate::helpers::TestApp;
use crate::webhooks::{post, preview, slack_connection, text_of, ticket_with_forms, webhook_form};

db_tests!(
    the_preview_shows_the_body_bytes_in_template_key_order,
    the_preview_parameter_is_labelled_with_its_label,
    the_roles_page_shows_what_each_role_may_fire,
    the_history_shows_labels_and_rows_readably,
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
    let html = preview(&app, &form).await;
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

/// The text of each role's "May fire" cell, by role name.
fn may_fire(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let row = scraper::Selector::parse("table tbody tr").unwrap();
    let cell = scraper::Selector::parse("td").unwrap();
    doc.select(&row)
        .map(|r| {
            let cells: Vec<String> = r
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            let name = cells[0].trim_end_matches("built in").trim().to_string();
            (name, cells[3].clone())
        })
        .collect()
}

async fn the_roles_page_shows_what_each_role_may_fire(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn = slack_connection(&app, "https://hooks.slack.example/x").await;
    crate::buttons_support::create_webhook(&app, conn, &[]).await;
    crate::buttons_support::create_webhook(&app, conn, &[("name", "Another one")]).await;
    let html = app.get("/admin/roles").await.text().await.unwrap();
    let rows = may_fire(&html);
    assert!(
        rows.contains(&("Technician".into(), "Another one, Post to Slack".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("Administrator".into(), "no webhooks".into())),
        "{rows:?}"
    );
}

async fn the_history_shows_labels_and_rows_readably(app: TestApp) {
    app.login_admin().await;
    let t = ticket_with_forms(&app);
    let fid: i64 = app.with_conn(|c| {
        hookdesk::tickets::Form::with_fields(c, None)
            .unwrap()
            .into_iter()
            .find(|(f, _)| f.name == "Linked assets")
            .unwrap()
            .0
            .id
    });
    let resp = app
        .post_form(
            &format!("/tickets/{}/forms/{fid}/rows", t.id),
            &[("asset", "PRN-77"), ("requestdate", "")],
        )
        .await;
    assert!(resp.status().is_redirection() || resp.status() == 200);
    let html = app
        .get(&format!("/tickets/{}", t.id))
        .await
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#history ul.changes li").unwrap();
    let lines: Vec<String> = doc
        .select(&sel)
        .map(|l| l.text().collect::<String>())
        .collect();
    let rows = lines
        .iter()
        .find(|l| l.starts_with("Linked assets: "))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        rows.ends_with("→ Asset: P2425, Request date: 2025-04-23\nAsset: FH6354, Request date: 2025-04-30\nAsset: PRN-77, Request date: —"),
        "{rows}"
    );
    assert!(!html.contains("linkedassets:"), "no raw keys");
    assert!(
        !html.contains(r#"{&quot;asset"#) && !html.contains(r#"{"asset""#),
        "no raw JSON"
    );
}
