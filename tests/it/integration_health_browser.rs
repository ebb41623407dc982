//! Integration health in headless Chromium, as an administrator does it: set a
//! connection's alert policy, pause the connection, see the update that follows wait as
//! *Held* in the execution log, resume it from the connection's page, and see it arrive.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::{browser_login, click, start_browser, text_when};
use crate::helpers::{ADMIN_PASSWORD, Backend};
use crate::rules_world::{loopback_worker_app, send_rule, world};

async fn text_of(b: &Client, css: &str) -> String {
    text_when(b, css, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_see_held_and_resume_in_chromium() {
    let app = loopback_worker_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let w = world(app).await;
    let c = w.connection;
    w.rule(send_rule("Every update", w.webhook, serde_json::json!([])))
        .await;
    let t = w.ticket(&w.tech, "Incident", "Printer").await;
    browser_login(&w.app, &b, "admin", ADMIN_PASSWORD).await;

    // The alert policy: its own, for the Vendors group.
    b.goto(&w.app.url(&format!("/admin/connections/{c}/alerts")))
        .await
        .unwrap();
    click(&b, "input[name=follows][value=own]").await;
    click(&b, "input[name=enabled]").await;
    let group = b.find(Locator::Css("#group")).await.unwrap();
    group.clear().await.unwrap();
    group.send_keys("Vendors").await.unwrap();
    click(&b, "form.card button[type=submit]").await;
    let policy = text_when(&b, "#alert-policy", "for Vendors").await;
    assert!(
        policy.starts_with("Incident P2 for Vendors when breaker opens"),
        "{policy}"
    );

    // Pause: the next update waits, held.
    click(&b, "form[action$='/pause'] button").await;
    let state = text_when(&b, "#health-state", "Paused by admin").await;
    assert!(state.starts_with("Paused by admin"), "{state}");
    w.patch(&w.tech, t, serde_json::json!({"category": "held one"}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(w.rx.received().is_empty());
    b.goto(&w.app.url("/admin/log?status=held")).await.unwrap();
    let row = text_of(&b, "#log-results tbody tr").await;
    assert!(row.contains("Held"), "{row}");
    assert!(row.contains("connection paused by admin"), "{row}");

    // Resume from the connection's page: it leaves at once.
    b.goto(&w.app.url(&format!("/admin/connections/{c}")))
        .await
        .unwrap();
    let held = text_of(&b, "#held-count").await;
    assert!(held.starts_with("1 delivery is held"), "{held}");
    click(&b, "form[action$='/resume'] button").await;
    let flash = text_when(&b, ".flash", "resumed").await;
    assert!(
        flash.contains("resumed") && flash.contains("1 waiting leaves now"),
        "{flash}"
    );
    w.rx.wait_for(1).await;
    let state = text_when(&b, "#health-state", "Healthy").await;
    assert_eq!(state, "Healthy");
    crate::browser::assert_console_clean(&b).await;
}
