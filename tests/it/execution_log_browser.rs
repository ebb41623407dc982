//! The execution log in headless Chromium: filters given in the URL are applied and
//! shown, changing one updates the rows without a reload and puts it in the URL, the
//! back button returns to the earlier filters, and a row opens the delivery's page.

use std::time::Duration;

use fantoccini::Locator;

use crate::browser::{browser_login, start_browser};
use crate::helpers::{ADMIN_PASSWORD, Backend};
use crate::rules_world::{loopback_worker_app, world};

/// The delivery rows shown, by their `id` attribute (a row swapped out by htmx while
/// it is read shows as `stale`, and the caller looks again).
async fn rows(b: &fantoccini::Client) -> Vec<String> {
    let mut out = Vec::new();
    for e in b
        .find_all(Locator::Css("#log-results tbody tr"))
        .await
        .unwrap_or_default()
    {
        out.push(match e.attr("id").await {
            Ok(id) => id.unwrap_or_default(),
            Err(_) => "stale".into(),
        });
    }
    out
}

async fn rows_become(b: &fantoccini::Client, want: &[String]) {
    let mut last = Vec::new();
    for _ in 0..100 {
        last = rows(b).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rows {last:?}, wanted {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_keeps_its_filters_in_the_url_in_chromium() {
    let app = loopback_worker_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let w = world(app).await;
    w.rule(
        serde_json::json!({"name": "Every update", "events": ["ticket.updated"],
        "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}]}),
    )
    .await;
    let t = w.ticket(&w.tech, "Incident", "A").await;
    w.rx.set_reply(crate::receiver::Reply::Status(400));
    w.patch(&w.tech, t, serde_json::json!({"category": "one"}))
        .await;
    w.rx.wait_for(1).await;
    w.rx.set_reply(crate::receiver::Reply::Status(200));
    w.patch(&w.tech, t, serde_json::json!({"category": "two"}))
        .await;
    w.rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    browser_login(&w.app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&w.app.url("/admin/log?status=failed"))
        .await
        .unwrap();
    rows_become(&b, &["delivery-1".to_string()]).await;
    let failed = b
        .find(Locator::Css("input[name=status][value=failed]"))
        .await
        .unwrap();
    assert_eq!(
        failed.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );

    // Tick "Delivered": the rows follow without a reload, and the URL says so.
    b.find(Locator::Css("input[name=status][value=delivered]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    rows_become(&b, &["delivery-2".to_string(), "delivery-1".to_string()]).await;
    let url = b.current_url().await.unwrap();
    assert!(
        url.query().unwrap_or("").contains("status=delivered"),
        "{url}"
    );
    // A reload keeps the filters: they live in the URL.
    b.refresh().await.unwrap();
    rows_become(&b, &["delivery-2".to_string(), "delivery-1".to_string()]).await;
    let delivered = b
        .find(Locator::Css("input[name=status][value=delivered]"))
        .await
        .unwrap();
    assert_eq!(
        delivered.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );

    // Back: the earlier filters and rows.
    b.back().await.unwrap();
    rows_become(&b, &["delivery-1".to_string()]).await;
    assert!(
        !b.current_url()
            .await
            .unwrap()
            .as_str()
            .contains("delivered")
    );

    // A row opens the delivery with its attempt.
    b.find(Locator::Css("#delivery-1 a[href='/admin/log/1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(e) = b.find(Locator::Css("#attempts")).await {
            text = e.text().await.unwrap_or_default();
            if text.contains("HTTP 400") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("Attempt 1") && text.contains("HTTP 400"),
        "{text}"
    );
    crate::browser::screenshot(&b, "log-delivery").await;

    // The receiver is fixed: Replay (confirmed) sends it again as a new delivery, whose
    // page says Delivered once the worker is done.
    b.find(Locator::Css("form[action='/admin/log/1/replay'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.accept_alert().await.unwrap();
    let mut status = String::new();
    for _ in 0..50 {
        let here = b.current_url().await.unwrap();
        if here.path() != "/admin/log/1"
            && let Ok(e) = b.find(Locator::Css("#delivery-status")).await
        {
            status = e.text().await.unwrap_or_default();
            if status == "Delivered" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if b.current_url().await.unwrap().path() != "/admin/log/1" {
            b.refresh().await.unwrap();
        }
    }
    assert_eq!(status, "Delivered");
    let cause = b
        .find(Locator::Css("#delivery-cause"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cause.contains("original #1"), "{cause}");
    assert_eq!(w.rx.received().len(), 3);
    crate::browser::assert_console_clean(&b).await;
}
