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

    // Every main page at 400 px: `accessibility_browser` (with axe-core).
    narrow(&b).await;
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
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}

/// The elements that stick out to the right of a `width` px page, for failure messages.
pub async fn wide_elements(b: &fantoccini::Client) -> serde_json::Value {
    b.execute(
        "var w = window.innerWidth, out = []; document.querySelectorAll('body *').forEach(function (e) { var r = e.getBoundingClientRect(); if (r.right > w + 0.5 && out.length < 8) { out.push(e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(r.right)); } }); return out;",
        vec![],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_and_the_webhook_editor_fit_400_px_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    app.login_admin().await;
    let t = crate::webhooks::ticket_with_forms(&app);
    let conn = crate::webhooks::slack_connection(&app, "https://hooks.slack.example/x").await;
    let w = crate::buttons_support::create_webhook(&app, conn, &[]).await;
    // Long words with nowhere to break: an e-mail address, a pasted link.
    let long = app.with_conn(|c| {
        hookdesk::tickets::Ticket::create_as(
            c,
            &hookdesk::tickets::ChangeActor::system("test"),
            &hookdesk::tickets::TicketInput {
                ticket_type: "Incident".into(),
                subject: "See https://intranet.example.com/very/long/path/to/a/knowledge-base-article".into(),
                description: "Logs: https://logs.example.com/search?query=printer-queue-stuck-on-floor-three&range=7d".into(),
                status: "Open".into(),
                priority: "P2".into(),
                requester_name: "Robin".into(),
                requester_email: "robin.requester-with-a-long-address@subsidiary.example-company.test".into(),
                ..Default::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
    });
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    narrow(&b).await;
    for path in [
        format!("/tickets/{}", t.id),
        format!("/tickets/{}", long.id),
        format!("/tickets/{}/edit", t.id),
        format!("/admin/webhooks/{w}"),
    ] {
        b.goto(&app.url(&path)).await.unwrap();
        let (scroll, inner) = overflows(&b).await;
        assert!(
            scroll <= inner,
            "{path} is {scroll} px wide at {inner} px: {}",
            wide_elements(&b).await
        );
    }
    // The ticket's Actions menu open stays inside the page.
    b.goto(&app.url(&format!("/tickets/{}", t.id)))
        .await
        .unwrap();
    if let Ok(menu) = b.find(Locator::Css("details.menu > summary")).await {
        menu.click().await.unwrap();
        let (scroll, inner) = overflows(&b).await;
        assert!(
            scroll <= inner,
            "the open Actions menu is {scroll} px wide: {}",
            wide_elements(&b).await
        );
    }
    b.goto(&app.url(&format!("/admin/webhooks/{w}")))
        .await
        .unwrap();
    // The webhook editor's tabs stay on one row (it scrolls sideways within itself).
    let rows = b
        .execute(
            "var t = document.querySelector('[data-tabs]'); var tab = t.querySelector('[data-tab]'); return Math.round(t.getBoundingClientRect().height / tab.getBoundingClientRect().height);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rows, serde_json::json!(1));
    screenshot(&b, "webhook-400px").await;
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
