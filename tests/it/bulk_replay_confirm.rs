//! A bulk replay takes what its confirmation counted: the page is read, then submitted a
//! while later, and deliveries that failed meanwhile (new ones, and ones that were still
//! retrying) are not replayed with the ones the administrator agreed to; a window like
//! "the last hour" is kept as the page showed it.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::deliveries;
use serde_json::json;

use crate::db_tests;
use crate::execution_log::settled;
use crate::helpers::TestApp;
use crate::receiver::Reply;
use crate::rules_world::world;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    the_replay_takes_what_the_confirmation_counted,
);

/// The value of the input `name` in a page's form, as the browser would send it.
fn hidden(page: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(page);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("no input {name}: {page}"))
        .to_string()
}

async fn the_replay_takes_what_the_confirmation_counted(app: TestApp) {
    let w = world(app).await;
    w.rule(json!({"name": "Every update", "events": ["ticket.updated"],
                  "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}]}))
        .await;
    let id = w.ticket(&w.tech, "Incident", "Refused").await;
    w.rx.set_reply(Reply::Status(400));
    for n in 0..3 {
        w.patch(&w.tech, id, json!({"category": format!("c{n}")}))
            .await;
    }
    settled(&w).await;
    // One of them is still retrying when the page is made (as if its receiver had
    // answered 503 so far).
    let retrying: i64 = w.app.with_conn(|c| {
        let first: i64 = deliveries::table
            .order(deliveries::id.asc())
            .select(deliveries::id)
            .first(c)
            .unwrap();
        diesel::update(deliveries::table.find(first))
            .set((
                deliveries::status.eq("pending"),
                deliveries::next_attempt_at.eq(hookdesk::db::now() + chrono::Duration::hours(1)),
                deliveries::completed_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(c)
            .unwrap();
        first
    });

    let page = w
        .app
        .get("/admin/log/bulk?status=failed&last=1h")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<strong>2</strong> deliveries"), "{page}");
    let filter = hidden(&page, "filter");
    let upto = hidden(&page, "upto");
    // The window is the hour before the page was made, not before the submit.
    assert!(!filter.contains("last=1h"), "{filter}");
    assert!(filter.contains("from="), "{filter}");

    // While the page is open, the retrying one runs out of attempts and a new one fails.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    w.app.with_conn(|c| {
        diesel::update(deliveries::table.find(retrying))
            .set((
                deliveries::status.eq("failed"),
                deliveries::completed_at.eq(Some(hookdesk::db::now())),
            ))
            .execute(c)
            .unwrap()
    });
    w.patch(&w.tech, id, json!({"category": "late"})).await;
    settled(&w).await;
    w.rx.set_reply(Reply::Status(200));
    let before = w.rx.received().len();

    let resp = w
        .app
        .post_form(
            "/admin/log/bulk",
            &[("filter", filter.as_str()), ("upto", upto.as_str())],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let mut done = false;
    for _ in 0..100 {
        let html = w.app.get(&loc).await.text().await.unwrap();
        if html.contains("data-state=\"finished\"") {
            assert!(html.contains("2 of 2"), "{html}");
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the replay finished");
    w.rx.wait_for(before + 2).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(w.rx.received().len(), before + 2, "only the two counted");
}
