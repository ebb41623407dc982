//! The first minutes in Chromium: the grouped menu by keyboard with a visible focus
//! ring, and the main pages at 400 px without horizontal overflow.

use fantoccini::Locator;

use crate::browser::{browser_login, screenshot, start_browser};
use crate::helpers::{ADMIN_PASSWORD, Backend, spawn_app};

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

/// Whether the page is wider than the window (a horizontal scroll bar).
pub async fn overflows(b: &fantoccini::Client) -> (i64, i64) {
    let v = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
}

/// Sets a 400 px wide viewport (the window is a little wider than its viewport).
pub async fn narrow(b: &fantoccini::Client) {
    b.set_window_size(400, 900).await.unwrap();
    let (_, inner) = overflows(b).await;
    if inner != 400 {
        let w = u32::try_from(800 - inner).unwrap();
        b.set_window_size(w, 900).await.unwrap();
    }
    assert_eq!(overflows(b).await.1, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_works_by_keyboard_and_the_main_pages_fit_400_px_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    assert!(
        b.find(Locator::Css("#getting-started")).await.is_ok(),
        "the checklist greets a new installation"
    );

    // Keyboard: a group opens with Enter, shows its links, closes with Escape; the
    // focus ring on the dark bar is a solid outline.
    let summary = b
        .find(Locator::XPath("//summary[text()='Configuration']"))
        .await
        .unwrap();
    b.execute(
        "arguments[0].focus()",
        vec![serde_json::to_value(&summary).unwrap()],
    )
    .await
    .unwrap();
    let ring = b
        .execute(
            "var s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ring, serde_json::json!(["solid", "3px"]));
    summary.send_keys(ENTER).await.unwrap();
    let link = b
        .find(Locator::Css("a[href='/admin/webhooks']"))
        .await
        .unwrap();
    assert!(link.is_displayed().await.unwrap());
    summary.send_keys(ESCAPE).await.unwrap();
    assert!(!link.is_displayed().await.unwrap());
    let focused = b
        .execute("return document.activeElement.textContent", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "Configuration");

    narrow(&b).await;
    for path in [
        "/",
        "/tickets",
        "/tickets/new",
        "/admin/log",
        "/admin/connections",
        "/admin/webhooks",
        "/admin/webhooks/new",
        "/admin/rules/new",
        "/admin/forms",
        "/admin/users",
        "/admin/roles",
        "/admin/audit",
        "/account",
        "/no/such/page",
    ] {
        b.goto(&app.url(path)).await.unwrap();
        let (scroll, inner) = overflows(&b).await;
        assert!(scroll <= inner, "{path} is {scroll} px wide at {inner} px");
    }
    // An open group on a narrow screen opens in place, inside the page.
    b.goto(&app.url("/")).await.unwrap();
    b.find(Locator::XPath("//summary[text()='Administration']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let (scroll, inner) = overflows(&b).await;
    assert!(scroll <= inner, "the open menu is {scroll} px wide");
    screenshot(&b, "menu-400px").await;
    b.close().await.unwrap();
}
