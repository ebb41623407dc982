//! The execution log where people look (issue 11, items 6 and 9): the Deliveries panels on
//! a webhook's, a connection's and a ticket's page, and the administrator's dashboard,
//! over real deliveries the engine made (`execution_log::traffic`: 3 delivered, 1 failed
//! with 400, 1 retrying after 503).

use diesel::prelude::*;
use hookdesk::db::schema::{connections, delivery_attempts};
use scraper::{Html, Selector};
use serde_json::json;

use crate::db_tests;
use crate::execution_log::{settled, traffic};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::{Receiver, Reply};
use crate::rules_world::{World, world};
use crate::webhooks_support::create_connection;

db_tests!(
    spawn = crate::dashboard::breaker_at_two;
    deliveries_panels_show_their_rows_and_only_to_administrators,
    the_dashboard_counts_what_was_sent,
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
    let x: i64 = crate::rules_world::World::deliveries(&w)
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
    let ticket_b = crate::rules_world::World::deliveries(&w)
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

/// The number in a dashboard tile.
fn stat(html: &str, id: &str) -> String {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(&format!("#{id} dd")).unwrap();
    let dd = doc.select(&sel).next().unwrap_or_else(|| panic!("{id}"));
    dd.text().collect::<String>().trim().to_string()
}

/// The chart's table fallback summed: (delivered, failed).
fn table_totals(html: &str) -> (i64, i64) {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("#chart-table tbody tr").unwrap();
    let td = Selector::parse("td").unwrap();
    doc.select(&sel).fold((0, 0), |(d, f), tr| {
        let v: Vec<i64> = tr
            .select(&td)
            .map(|c| c.text().collect::<String>().parse().unwrap())
            .collect();
        (d + v[0], f + v[1])
    })
}

fn durations(w: &World) -> Vec<i64> {
    let mut v: Vec<i64> = w.app.with_conn(|c| {
        delivery_attempts::table
            .select(delivery_attempts::duration_ms)
            .load(c)
            .unwrap()
    });
    v.sort_unstable();
    v
}

async fn the_dashboard_counts_what_was_sent(app: TestApp) {
    let w = world(app).await;
    let before = text(&w.app, "/").await;
    assert_eq!(stat(&before, "stat-delivered"), "0");
    assert_eq!(stat(&before, "stat-success-rate"), "—");
    assert!(before.contains("Every connection is healthy."));

    let (d, _) = traffic(&w).await;
    let c = d[3];
    let html = text(&w.app, "/").await;
    assert_eq!(stat(&html, "stat-delivered"), "3");
    assert_eq!(stat(&html, "stat-failed"), "1");
    assert_eq!(stat(&html, "stat-pending"), "1 (1 retrying)");
    assert_eq!(stat(&html, "stat-success-rate"), "75.0 %");
    assert_eq!(stat(&html, "stat-queue"), "1");
    assert_ne!(stat(&html, "stat-oldest"), "—");
    // p50 and p95 of the attempts made (nearest rank), as the database has them.
    let ms = durations(&w);
    assert_eq!(ms.len(), 5, "one attempt per delivery so far");
    assert_eq!(stat(&html, "stat-p50"), format!("{} ms", ms[2]));
    assert_eq!(stat(&html, "stat-p95"), format!("{} ms", ms[4]));
    // The chart: inline SVG with a title, axis labels, and the same numbers as a table.
    assert!(html.contains("<svg id=\"deliveries-chart\""), "{html}");
    assert!(html.contains(
        "<title id=\"deliveries-chart-title\">Deliveries per hour over the last 24 hours"
    ));
    assert!(html.contains("Hour (UTC)"));
    assert_eq!(table_totals(&html), (3, 1));
    assert!(html.contains("class=\"bar-failed\""));
    assert!(!html.contains("style=") && !html.contains("<script>"));
    let week = text(&w.app, "/?window=7d").await;
    assert!(week.contains("over the last 7 days"));
    assert_eq!(table_totals(&week), (3, 1));
    // The Vendor's failure was followed by a success (the replay): nothing to show.
    assert!(html.contains("Every connection is healthy."), "{html}");

    // Another connection fails twice: the breaker pauses it, and the dashboard says so
    // with its filtered log and the resume action. The numbers move with the traffic.
    let (rx2, conn2, hook2) = other(&w).await;
    rx2.set_reply(Reply::Status(503));
    fire(&w, "IN1", hook2).await;
    rx2.wait_for(1).await;
    settled(&w).await;
    fire(&w, "IN2", hook2).await;
    rx2.wait_for(2).await;
    settled(&w).await;
    let paused: Option<chrono::NaiveDateTime> = w.app.with_conn(|c| {
        connections::table
            .find(conn2)
            .select(connections::paused_until)
            .first(c)
            .unwrap()
    });
    assert!(paused.is_some(), "two failures in a row pause it");
    let html = text(&w.app, "/").await;
    assert_eq!(stat(&html, "stat-pending"), "3 (3 retrying)");
    assert_eq!(stat(&html, "stat-queue"), "3");
    assert_eq!(stat(&html, "stat-success-rate"), "75.0 %");
    let ms = durations(&w);
    assert_eq!(ms.len(), 7);
    assert_eq!(stat(&html, "stat-p50"), format!("{} ms", ms[3]));
    let doc = Html::parse_document(&html);
    let row = doc
        .select(&Selector::parse(&format!("#troubled-{conn2}")).unwrap())
        .next()
        .unwrap_or_else(|| panic!("{html}"))
        .html();
    assert!(
        row.contains("Other") && row.contains("Paused until"),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            "href=\"/admin/log?connection={conn2}&amp;status=failed&amp;status=retrying&amp;status=held\""
        )),
        "{row}"
    );
    assert!(row.contains(&format!("action=\"/admin/connections/{conn2}/resume\"")));
    assert!(!html.contains(&format!("id=\"troubled-{}\"", w.connection)));
    // The link leads to exactly its failing deliveries.
    let log = text(
        &w.app,
        &format!("/admin/log?connection={conn2}&status=failed&status=retrying&status=held"),
    )
    .await;
    assert_eq!(row_ids(&log).len(), 2);
    assert!(!row_ids(&log).contains(&c));

    // The receiver is fixed and the connection resumed: its held deliveries leave at
    // once, arrive, and it leaves the list.
    rx2.set_reply(Reply::Status(200));
    let r = w
        .app
        .post_form(&format!("/admin/connections/{conn2}/resume"), &[])
        .await;
    assert_eq!(r.status(), 303);
    rx2.wait_for(4).await;
    settled(&w).await;
    let html = text(&w.app, "/").await;
    assert!(!html.contains(&format!("id=\"troubled-{conn2}\"")));

    // Technicians land on their page as before: no dashboard, no numbers.
    let tech = w.app.client_as("tina", &["Technician"]).await;
    let home = w.app.get_with(&tech, "/").await.text().await.unwrap();
    assert!(home.contains("/tickets"));
    assert!(!home.contains("id=\"dashboard\"") && !home.contains("deliveries-chart"));
}
