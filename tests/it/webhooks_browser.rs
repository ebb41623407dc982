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
    let mut out = String::new();
    for panel in ["#preview-output", "#test-output"] {
        if let Ok(e) = b.find(Locator::Css(panel)).await {
            out.push_str(&e.html(false).await.unwrap_or_default());
        }
    }
    panic!("{css} never showed {wanted:?}; last: {last:?}; panels: {out}");
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
        .send_keys("{\"who\": \"{{actor.name}}\", \"subject\": \"{{ticket.subject}}\"}")
        .await
        .unwrap();

    b.find(Locator::Css("[data-tab=preview]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = text_when(&b, "#preview-body", "Laptop will not start").await;
    assert!(shown.contains("\"who\":\"Administrator\""), "{shown}");
    // In the template's key order (which the wire keeps), not sorted.
    assert!(
        shown.find("\"who\"").unwrap() < shown.find("\"subject\"").unwrap(),
        "{shown}"
    );
    crate::browser::screenshot(&b, "webhook-editor-preview").await;
    // Read through `text_when`: the live preview may be swapped in again by a late
    // refresh between finding the element and reading it (a stale element).
    assert_eq!(
        text_when(&b, "#preview-url", "https://receiver.example/hook").await,
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
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}

/// The "Done when" of the delivery engine: test-send shows the real response on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_send_shows_the_real_response_in_chromium() {
    let app = crate::responses::loopback_app(Backend::Sqlite)
        .await
        .unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    app.login_admin().await;
    let rx = crate::receiver::Receiver::start(crate::receiver::Reply::Full {
        status: 201,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"result":{"number":"INC0042"}}"#.to_vec(),
    })
    .await;
    let conn = slack_connection(&app, &rx.url("/services")).await;
    let t = crate::webhooks::ticket_with_forms(&app);
    let mut form = crate::webhooks::webhook_form(conn, &[]);
    form.push(("rf_path".into(), "result.number".into()));
    form.push(("rf_target".into(), "ticket.category".into()));
    let resp = crate::webhooks::post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_string();

    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&app.url(&location)).await.unwrap();
    b.find(Locator::Css("[data-tab=preview]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Css("#preview_ticket"))
        .await
        .unwrap()
        .send_keys(&t.display_id)
        .await
        .unwrap();
    text_when(&b, "#preview-body", "Big Bertha").await;
    b.find(Locator::Css("#send-test"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_when(&b, "#test-status", "201").await, "201");
    let body = text_when(&b, "#test-response-body", "INC0042").await;
    assert!(body.contains("\"number\": \"INC0042\""), "{body}");
    let plan = text_when(&b, "#test-response-processing", "ticket.category").await;
    assert!(plan.contains("= INC0042"), "{plan}");
    b.execute(
        "document.getElementById('test-result').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    crate::browser::screenshot(&b, "webhook-test-send").await;

    // What the page shows is what the receiver got.
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(sent["ticket"], serde_json::json!(t.id));
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
