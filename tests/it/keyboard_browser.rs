//! Keyboard only, in headless Chromium: a technician reaches the Actions menu with Tab,
//! opens the fire dialog, edits a parameter and fires without a pointer; an
//! administrator moves through the webhook editor's tabs with the arrow keys.

use std::time::Duration;

use fantoccini::Client;
use serde_json::Value;

use crate::browser::{assert_console_clean, browser_login, start_browser};
use crate::buttons_support::{ROLE, buttons_app, setup};
use crate::helpers::{ADMIN_PASSWORD, Backend, PASSWORD};
use crate::receiver::Reply;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const RIGHT: &str = "\u{E014}";
const END: &str = "\u{E010}";
const HOME: &str = "\u{E011}";
/// Control, `a`, then release the modifier (WebDriver keeps modifiers down until NULL).
const SELECT_ALL: &str = "\u{E009}a\u{E000}";

async fn press(b: &Client, keys: &str) {
    b.active_element()
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

async fn js(b: &Client, script: &str) -> Value {
    b.execute(script, vec![]).await.unwrap()
}

/// Presses Tab until the focused element matches `css` (at most 80 times).
async fn tab_to(b: &Client, css: &str) {
    let probe = format!("return document.activeElement.matches({css:?});");
    for _ in 0..80 {
        if js(b, &probe).await == Value::Bool(true) {
            return;
        }
        press(b, TAB).await;
    }
    let at = js(b, "return document.activeElement.outerHTML.slice(0, 200);").await;
    panic!("Tab never reached {css}; focus is on {at}");
}

async fn until(b: &Client, script: &str) {
    for _ in 0..100 {
        if js(b, script).await == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never true: {script}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_a_webhook_and_use_the_editor_tabs_with_the_keyboard_only_in_chromium() {
    let app = buttons_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let s = setup(&app, Reply::Status(200)).await;
    app.create_user("kim", &["Technician", ROLE]);
    browser_login(&app, &b, "kim", PASSWORD).await;
    b.goto(&app.url(&format!("/tickets/{}", s.ticket.id)))
        .await
        .unwrap();

    // Tab to the Actions menu, open it, Tab to the webhook, Enter.
    tab_to(&b, "#actions-menu > summary").await;
    press(&b, ENTER).await;
    tab_to(
        &b,
        &format!("#actions-menu a[data-webhook='{}']", s.webhook),
    )
    .await;
    press(&b, ENTER).await;
    until(
        &b,
        "return !!document.querySelector('dialog[open] #fire-dialog-title');",
    )
    .await;
    assert_eq!(
        js(
            &b,
            "return !!document.activeElement.closest('dialog[open]');"
        )
        .await,
        Value::Bool(true),
        "the open dialog has the focus"
    );
    tab_to(&b, "#param-customer_ref").await;
    press(&b, SELECT_ALL).await;
    press(&b, "KEY-42").await;
    tab_to(&b, "#fire-submit").await;
    press(&b, ENTER).await;
    until(
        &b,
        "var s = document.querySelector('#fired-status .delivery-status'); return !!s && s.textContent.includes('delivered');",
    )
    .await;
    let got = s.rx.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["ref"], "KEY-42");
    assert_console_clean(&b).await;

    // The webhook editor's tabs: arrows, End and Home move the selection and the focus.
    b.delete_all_cookies().await.unwrap();
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&app.url(&format!("/admin/webhooks/{}", s.webhook)))
        .await
        .unwrap();
    tab_to(&b, "[data-tab][aria-selected=true]").await;
    let first = js(&b, "return document.activeElement.dataset.tab;").await;
    press(&b, RIGHT).await;
    let second = js(&b, "return document.activeElement.dataset.tab;").await;
    assert_ne!(first, second, "ArrowRight moves to the next tab");
    let shown = js(
        &b,
        "var t = document.activeElement.dataset.tab; return document.activeElement.getAttribute('aria-selected') === 'true' && !document.querySelector('[data-panel=\"' + t + '\"]').hidden;",
    )
    .await;
    assert_eq!(
        shown,
        Value::Bool(true),
        "the tab is selected and its panel shown"
    );
    press(&b, END).await;
    let last = js(
        &b,
        "var all = document.querySelectorAll('[data-tab]'); return document.activeElement === all[all.length - 1];",
    )
    .await;
    assert_eq!(last, Value::Bool(true), "End goes to the last tab");
    press(&b, HOME).await;
    assert_eq!(
        js(&b, "return document.activeElement.dataset.tab;").await,
        first,
        "Home goes back to the first"
    );
    // From the selected tab, Tab goes on into the form (not stuck in the tab list).
    press(&b, TAB).await;
    assert_eq!(
        js(&b, "return !document.activeElement.matches('[data-tab]');").await,
        Value::Bool(true)
    );
    assert_console_clean(&b).await;
    b.close().await.unwrap();
}
