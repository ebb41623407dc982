//! The webhook editor's defects a newcomer met, in Chromium: red errors on a new form,
//! marks that outlived the fix, a stale test result, a preset switch losing text.

use std::time::Duration;

use fantoccini::Locator;

use crate::browser::{browser_login, start_browser};
use crate::helpers::{ADMIN_PASSWORD, Backend, spawn_app};

async fn js(b: &fantoccini::Client, script: &str) -> serde_json::Value {
    b.execute(script, vec![]).await.unwrap()
}

/// Waits until `script` returns true.
async fn until(b: &fantoccini::Client, script: &str) {
    for _ in 0..100 {
        if js(b, script).await == serde_json::json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let panel = js(
        b,
        "return document.getElementById('preview-output').innerHTML",
    )
    .await;
    panic!("never true: {script}; preview: {panel}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_editor_marks_only_what_is_wrong_and_keeps_what_was_typed_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;

    // A new form: the preview loads, and nothing is red before anything is typed.
    b.goto(&app.url("/admin/webhooks/new")).await.unwrap();
    until(
        &b,
        "return !document.getElementById('preview-output').textContent.includes('Loading')",
    )
    .await;
    let red = js(
        &b,
        "return Array.from(document.querySelectorAll('.flash-error, .field-error, .tab-error')).filter(function (e) { return e.offsetParent !== null && e.textContent.trim() !== ''; }).map(function (e) { return e.id + ': ' + e.textContent.trim(); })",
    )
    .await;
    assert_eq!(red, serde_json::json!([]), "red before typing");
    // The preview panel (on another tab) waits for a target instead of erring.
    assert_eq!(
        js(
            &b,
            "return [document.getElementById('preview-waiting') !== null, document.getElementById('preview-errors') === null]",
        )
        .await,
        serde_json::json!([true, true])
    );

    // Switching preset keeps the text typed for the first one.
    js(&b, "document.getElementById('tab-preset').click()").await;
    b.execute(
        "var s = document.getElementById('preset'); s.value = 'slack'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![],
    )
    .await
    .unwrap();
    let slack_text = b.find(Locator::Css("#pf-slack-text")).await.unwrap();
    slack_text.clear().await.unwrap();
    slack_text.send_keys("Printer on fire").await.unwrap();
    b.execute(
        "var s = document.getElementById('preset'); s.value = 'microsoft_teams'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![],
    )
    .await
    .unwrap();
    let teams = js(
        &b,
        "var e = document.getElementById('pf-microsoft_teams-text'); return e ? e.value : null",
    )
    .await;
    assert_eq!(teams, serde_json::json!("Printer on fire"));

    // Save without a name: the banner and the Basic tab's mark; typing a name clears
    // both at once.
    js(
        &b,
        "document.getElementById('url').value = 'https://receiver.example.test/hook'",
    )
    .await;
    b.find(Locator::Css("#webhook-form button[type=submit].primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css("#save-errors"))
        .await
        .unwrap();
    assert_eq!(
        js(
            &b,
            "return document.getElementById('tab-basic').classList.contains('tab-error')"
        )
        .await,
        serde_json::json!(true)
    );
    let name = b.find(Locator::Css("#name")).await.unwrap();
    js(&b, "document.getElementById('tab-basic').click()").await;
    name.send_keys("Tell the vendor").await.unwrap();
    until(&b, "return document.getElementById('save-errors') === null").await;
    assert_eq!(
        js(
            &b,
            "return document.getElementById('tab-basic').classList.contains('tab-error')"
        )
        .await,
        serde_json::json!(false)
    );

    // A test result belongs to the form it was sent for: an edit clears it.
    js(
        &b,
        "document.getElementById('test-output').innerHTML = '<p id=\"old-result\">200 OK</p>'",
    )
    .await;
    name.send_keys(" now").await.unwrap();
    until(&b, "return document.getElementById('old-result') === null").await;
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
