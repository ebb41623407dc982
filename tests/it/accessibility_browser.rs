//! Every main page in headless Chromium, checked the way users meet it: axe-core
//! (vendored for the tests only, `tests/vendor/axe-*.min.js`, MPL-2.0) finds no serious or
//! critical accessibility violation, and at 400 px wide nothing overflows the page
//! sideways.

use fantoccini::Client;
use serde_json::Value;

use crate::browser::{browser_login, start_browser};
use crate::buttons_support::{buttons_app, setup};
use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp};
use crate::receiver::Reply;

const AXE: &str = include_str!("../vendor/axe-4.14.1.min.js");

/// The pages a user works in, with something on each.
async fn pages(app: &TestApp) -> Vec<String> {
    let s = setup(app, Reply::Status(200)).await;
    let rule: Value = {
        let token = crate::connections::admin_token(app).await;
        app.client
            .get(app.url("/api/v1/connections"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let conn = rule[0]["id"].as_i64().unwrap();
    vec![
        "/".into(),
        "/tickets".into(),
        format!("/tickets/{}", s.ticket.id),
        "/tickets/new".into(),
        "/admin/connections".into(),
        "/admin/connections/new".into(),
        format!("/admin/connections/{conn}"),
        "/admin/webhooks".into(),
        "/admin/webhooks/new".into(),
        format!("/admin/webhooks/{}", s.webhook),
        "/admin/rules".into(),
        "/admin/rules/new".into(),
        "/admin/log".into(),
        "/admin/forms".into(),
        "/admin/roles".into(),
        "/admin/users".into(),
        "/admin/audit".into(),
        "/admin/alerts".into(),
        "/account".into(),
    ]
}

/// Serious and critical violations on the current page, one line each.
async fn axe_violations(b: &Client) -> Vec<String> {
    b.execute(AXE, vec![]).await.unwrap();
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ["violations"] }).then(
            (r) => done(r.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.impact} ${v.id}: ${v.help} — ` +
                    v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "))),
            (e) => done([`axe failed: ${e}`]));
    "#;
    let v = b.execute_async(script, vec![]).await.unwrap();
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pages_pass_axe_and_fit_400_px() {
    let app = buttons_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let pages = pages(&app).await;
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    let mut problems = Vec::new();
    for p in &pages {
        b.goto(&app.url(p)).await.unwrap();
        for v in axe_violations(&b).await {
            problems.push(format!("{p}: {v}"));
        }
    }
    crate::first_run_browser::narrow(&b).await;
    for p in pages.iter().map(String::as_str).chain(["/no/such/page"]) {
        b.goto(&app.url(p)).await.unwrap();
        if p == "/no/such/page" {
            // Its 404 is the point here, not a console error of a page.
            crate::browser::console_errors(&b).await;
        }
        let (scroll, inner) = crate::first_run_browser::overflows(&b).await;
        if scroll > inner {
            problems.push(format!(
                "{p}: at 400 px the page is {scroll} px wide (window {inner} px): {}",
                crate::first_run_browser::wide_elements(&b).await
            ));
        }
    }
    // The login page, signed out.
    b.set_window_size(1280, 900).await.unwrap();
    b.delete_all_cookies().await.unwrap();
    b.goto(&app.url("/login")).await.unwrap();
    for v in axe_violations(&b).await {
        problems.push(format!("/login: {v}"));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    crate::browser::assert_console_clean(&b).await;
}
