//! The execution log where people look (issue 11, item 6): the Deliveries panels on a
//! webhook's, a connection's and a ticket's page, over real deliveries the engine made
//! (`execution_log::traffic`: 3 delivered, 1 failed with 400, 1 retrying after 503).

use scraper::{Html, Selector};
use serde_json::json;

use crate::db_tests;
use crate::execution_log::{settled, traffic};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::{Receiver, Reply};
use crate::rules_engine::{World, world};
use crate::webhooks_support::create_connection;

db_tests!(
    spawn = crate::dashboard::breaker_at_two;
    deliveries_panels_show_their_rows_and_only_to_administrators,
);

/// A worker that may send to loopback receivers; two failures in a row pause a
/// connection.
pub async fn breaker_at_two(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.breaker_failures = 2;
    })
    .await
}

/// The delivery ids of the log rows in `html`, in page order.
fn row_ids(html: &str) -> Vec<i64> {
    let doc = Html::parse_fragment(html);
    let sel = Selector::parse("tr[id^=\"delivery-\"]").unwrap();
    doc.select(&sel)
        .map(|e| {
            e.value().attr("id").unwrap()["delivery-".len()..]
                .parse()
                .unwrap()
        })
        .collect()
}

async fn text(app: &TestApp, path: &str) -> String {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.unwrap()
}

/// A second connection ("Other", at its own receiver) and a webhook on it that
/// technicians may fire; returns (receiver, connection, webhook).
async fn other(w: &World) -> (Receiver, i64, i64) {
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = create_connection(&w.app, "Other", "generic", &rx.url(""), "tok-2").await;
    let v = w
        .call(
            &w.admin,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            json!({
                "name": "Send to other",
                "connection_id": conn,
                "url": "/other",
                "method": "POST",
                "request_content_type": "json",
                "body_template": r#"{"ticket": "{{ticket.displayid}}"}"#,
                "roles": ["Technician"]
            }),
        )
        .await;
    (rx, conn, v["id"].as_i64().unwrap())
}

async fn fire(w: &World, ticket: &str, webhook: i64) {
    w.call(
        &w.tech,
        reqwest::Method::POST,
        &format!("/api/v1/tickets/{ticket}/webhooks/{webhook}/fire"),
        json!({}),
    )
    .await;
}

async fn deliveries_panels_show_their_rows_and_only_to_administrators(app: TestApp) {
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    let (a1, a2, b, c, replay) = (d[0], d[1], d[2], d[3], d[4]);
    let (rx2, conn2, hook2) = other(&w).await;
    fire(&w, "IN2", hook2).await;
    rx2.wait_for(1).await;
    settled(&w).await;
    let x: i64 = crate::rules_engine::World::deliveries(&w)
        .last()
        .map(|r| r.0)
        .unwrap();
    assert!(x > replay);

    // Each page carries its panel, loaded by htmx, with the link to the whole log.
    let page = text(&w.app, &format!("/admin/webhooks/{}", w.webhook)).await;
    assert!(
        page.contains(&format!(
            "hx-get=\"/admin/log/fragment?webhook={}&amp;limit=10\"",
            w.webhook
        )),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/admin/log?webhook={}\"", w.webhook)));
    assert!(
        row_ids(&page).is_empty(),
        "the page itself runs no log query"
    );
    let page = text(&w.app, &format!("/admin/connections/{conn2}")).await;
    assert!(page.contains(&format!(
        "hx-get=\"/admin/log/fragment?connection={conn2}&amp;limit=10\""
    )));
    let ticket_b = crate::rules_engine::World::deliveries(&w)
        .iter()
        .find(|r| r.0 == b)
        .and_then(|r| r.1)
        .unwrap();
    let page = text(&w.app, &format!("/tickets/{ticket_b}")).await;
    assert!(
        page.contains("hx-get=\"/admin/log/fragment?ticket=IN2&amp;limit=10\""),
        "{page}"
    );
    assert!(page.contains("href=\"/admin/log?ticket=IN2\""));

    // The fragments: exactly the rows of their filter, newest first, the log's row markup.
    let frag = text(
        &w.app,
        &format!("/admin/log/fragment?webhook={}&limit=10", w.webhook),
    )
    .await;
    assert_eq!(row_ids(&frag), vec![replay, c, b, a2, a1]);
    assert!(frag.contains(&format!("href=\"/admin/log?webhook={}\"", w.webhook)));
    assert!(frag.contains("See all in the execution log"));
    // The retrying row refreshes itself as on the log page.
    assert!(frag.contains(&format!("hx-get=\"/admin/log/{c}/row\"")));
    let frag = text(
        &w.app,
        &format!("/admin/log/fragment?webhook={hook2}&limit=10"),
    )
    .await;
    assert_eq!(row_ids(&frag), vec![x]);
    let frag = text(
        &w.app,
        &format!("/admin/log/fragment?connection={conn2}&limit=10"),
    )
    .await;
    assert_eq!(row_ids(&frag), vec![x]);
    let frag = text(
        &w.app,
        &format!("/admin/log/fragment?connection={}&limit=10", w.connection),
    )
    .await;
    assert_eq!(row_ids(&frag), vec![replay, c, b, a2, a1]);
    let frag = text(&w.app, "/admin/log/fragment?ticket=IN2&limit=10").await;
    assert_eq!(row_ids(&frag), vec![x, b]);
    assert!(frag.contains("href=\"/admin/log?ticket=IN2\""));
    // The limit holds, and says there is more.
    let frag = text(
        &w.app,
        &format!("/admin/log/fragment?webhook={}&limit=2", w.webhook),
    )
    .await;
    assert_eq!(row_ids(&frag), vec![replay, c]);
    assert!(frag.contains("showing the latest 2"));
    let frag = text(&w.app, "/admin/log/fragment?webhook=x").await;
    assert!(frag.contains("is not an id"), "{frag}");

    // Technicians see neither the panel nor the fragment.
    let tech = w.app.client_as("tina", &["Technician"]).await;
    let r = w
        .app
        .get_with(&tech, &format!("/admin/log/fragment?webhook={}", w.webhook))
        .await;
    assert_eq!(r.status(), 403);
    let page = w
        .app
        .get_with(&tech, &format!("/tickets/{ticket_b}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("IN2"), "{page}");
    assert!(!page.contains("/admin/log/fragment"));
}
