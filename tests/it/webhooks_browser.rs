//! The webhook page in headless Chromium: tabs switch without reloading, rows are added
//! and removed, and the preview follows the body template as it is typed.

use std::time::Duration;

use fantoccini::Locator;

use crate::browser::{browser_login, start_browser};
use crate::helpers::{ADMIN_PASSWORD, Backend, spawn_app};
use crate::webhooks::slack_connection;

async fn text_when(b: &fantoccini::Client, css: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = b.find(Locator::Css(css)).await {
            last = e.text().await.unwrap_or_default();
            if last.contains(wanted) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = match b.find(Locator::Css("#preview-output")).await {
        Ok(e) => e.html(false).await.unwrap_or_default(),
        Err(_) => String::from("(no #preview-output)"),
    };
    panic!("{css} never showed {wanted:?}; last: {last:?}; preview: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_body_template_updates_the_live_preview_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    app.login_admin().await;
    slack_connection(&app, "https://hooks.slack.example/services/T1").await;
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&app.url("/admin/webhooks/new")).await.unwrap();

    // Only the Basic panel shows at first.
    let body_field = b.find(Locator::Css("#body_template")).await.unwrap();
    assert!(!body_field.is_displayed().await.unwrap());
    b.find(Locator::Css("[data-tab=basic]")).await.unwrap();
    b.find(Locator::Css("#url"))
        .await
        .unwrap()
        .send_keys("https://receiver.example/hook")
        .await
        .unwrap();

    b.find(Locator::Css("[data-tab=payload]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(body_field.is_displayed().await.unwrap());
    body_field.clear().await.unwrap();
    body_field
        .send_keys("{\"subject\": \"{{ticket.subject}}\", \"who\": \"{{actor.name}}\"}")
        .await
        .unwrap();

    b.find(Locator::Css("[data-tab=preview]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = text_when(&b, "#preview-body", "Laptop will not start").await;
    assert!(shown.contains("\"who\": \"Administrator\""), "{shown}");
    assert_eq!(
        b.find(Locator::Css("#preview-url"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "https://receiver.example/hook"
    );

    // A broken template: the error appears beside the body field, in place.
    b.find(Locator::Css("[data-tab=payload]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    body_field.clear().await.unwrap();
    body_field.send_keys("{\"subject\": 'x'}").await.unwrap();
    let err = text_when(&b, "#body_template-error", "line 1, column").await;
    assert!(err.contains("column 13"), "{err}");

    // Rows come from the server and go away in place.
    b.find(Locator::Css("[data-tab=select-tickets]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::XPath("//button[text()='Add condition']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css("#condition-rows [data-row]"))
        .await
        .unwrap();
    b.find(Locator::Css("#condition-rows [data-remove-row]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        b.find_all(Locator::Css("#condition-rows [data-row]"))
            .await
            .unwrap()
            .is_empty()
    );
    b.close().await.unwrap();
}
