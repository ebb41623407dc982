//! The execution log over real deliveries made by the engine: a trigger rule fires a
//! webhook at a real receiver through the app's own worker; the log's filters, keyset
//! pages, CSV export, detail page, replay and cancel are then read the way an
//! administrator and an API client read them.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::deliveries;
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::receiver::Reply;
use crate::rules_world::{World, world};
use crate::tickets_api::api;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    every_filter_selects_what_it_says,
    pages_return_each_row_once_while_new_rows_arrive,
    csv_detail_replay_and_cancel_from_the_pages,
    bulk_replay_sends_the_failed_again_and_shows_its_progress,
    retention_deletes_only_what_is_old,
    an_administrator_erases_a_tickets_stored_bodies,
);

/// Waits until no delivery is queued or being sent (retrying ones wait minutes).
pub async fn settled(w: &World) {
    for _ in 0..200 {
        let open: i64 = w.app.with_conn(|c| {
            deliveries::table
                .filter(
                    deliveries::status.eq("in_flight").or(deliveries::status
                        .eq("pending")
                        .and(deliveries::attempts.eq(0))),
                )
                .count()
                .get_result(c)
                .unwrap()
        });
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries did not settle");
}

pub(crate) async fn list(w: &World, query: &str) -> Value {
    let (s, v) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries?{query}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{query}: {v}");
    v
}

pub(crate) fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// Two tickets, a rule on every update; IN1's two changes are delivered, IN2's is
/// refused (400, failed), IN3's gets 503 (retrying), and one of IN1's is replayed.
/// Returns the delivery ids in that order and the rule's id.
pub async fn traffic(w: &World) -> (Vec<i64>, i64) {
    let rule = w
        .rule(json!({"name": "Every update", "events": ["ticket.updated"],
                     "actions": [{"kind": "execute_webhook", "webhook_id": w.webhook}]}))
        .await;
    let a = w.ticket(&w.tech, "Incident", "A").await;
    let b = w.ticket(&w.tech, "Incident", "B").await;
    let c = w.ticket(&w.tech, "Service Request", "C").await;
    w.patch(&w.tech, a, json!({"category": "one"})).await;
    w.patch(&w.tech, a, json!({"category": "two"})).await;
    settled(w).await;
    w.rx.set_reply(Reply::Status(400));
    w.patch(&w.tech, b, json!({"category": "one"})).await;
    settled(w).await;
    w.rx.set_reply(Reply::Status(503));
    w.patch(&w.tech, c, json!({"category": "one"})).await;
    settled(w).await;
    w.rx.set_reply(Reply::Status(200));
    // Newest first: the last of the two is IN1's first delivery.
    let first = ids(&list(w, "ticket=IN1").await)[1];
    let (s, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        &format!("/api/v1/deliveries/{first}/replay"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    settled(w).await;
    let mut all = ids(&list(w, "").await);
    all.reverse();
    assert_eq!(all.len(), 5);
    (all, rule)
}

async fn every_filter_selects_what_it_says(app: TestApp) {
    let w = world(app).await;
    let (d, rule) = traffic(&w).await;
    let (a1, a2, b, c, replay) = (d[0], d[1], d[2], d[3], d[4]);
    let expect = |q: &'static str, want: Vec<i64>| {
        let w = &w;
        async move {
            let got = ids(&list(w, q).await);
            assert_eq!(got, want, "?{q}");
        }
    };
    expect("", vec![replay, c, b, a2, a1]).await;
    expect("ticket=IN1", vec![replay, a2, a1]).await;
    expect("ticket=in2", vec![b]).await;
    expect("ticket=SR1", vec![c]).await;
    expect("status=delivered", vec![replay, a2, a1]).await;
    expect("status=failed", vec![b]).await;
    expect("status=retrying", vec![c]).await;
    expect("status=queued", vec![]).await;
    expect("status=failed&status=retrying", vec![c, b]).await;
    expect("http=4xx", vec![b]).await;
    expect("http=503", vec![c]).await;
    expect("http=2xx&ticket=IN1", vec![replay, a2, a1]).await;
    expect("cause=replay", vec![replay]).await;
    expect("cause=rule", vec![c, b, a2, a1]).await;
    expect("cause=manual", vec![]).await;
    let q = format!("rule={rule}&status=failed");
    let got = ids(&list(&w, &q).await);
    assert_eq!(got, vec![b]);
    let q = format!("webhook={}&connection={}", w.webhook, w.connection);
    assert_eq!(ids(&list(&w, &q).await).len(), 5);
    assert_eq!(ids(&list(&w, "webhook=999").await), Vec::<i64>::new());
    expect("error=503", vec![c]).await;
    expect("last=1h", vec![replay, c, b, a2, a1]).await;
    expect("from=2000-01-01&to=2000-01-02", vec![]).await;
    expect("ticket=IN9", vec![]).await;

    // By number and by webhook-id, the id the pages show.
    let row = &list(&w, &format!("id={b}")).await["items"][0];
    assert_eq!(row["status"], "failed");
    assert_eq!(row["last_status"], 400);
    assert_eq!(row["ticket"], "IN2");
    assert_eq!(row["webhook"], "Send to vendor");
    assert_eq!(row["connection"], "Vendor");
    assert_eq!(row["cause"], "rule “Every update” on ticket.updated");
    let uid = row["uid"].as_str().unwrap().to_string();
    assert_eq!(ids(&list(&w, &format!("id={uid}")).await), vec![b]);
    let r = list(&w, &format!("id={replay}")).await;
    assert_eq!(r["items"][0]["cause"], format!("replay of #{a1} by boss"));
    let (s, one) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries/{uid}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(one["id"], b);
    assert_eq!(one["attempts"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["attempt_count"], 1);
    let (s, attempts) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries/{b}/attempts"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(attempts[0]["response_status"], 400);

    // Bad filters are named; technicians do not read the log.
    let (s, v) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        "/api/v1/deliveries?status=lost&http=9xx&from=Tuesday",
        None,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = api(
        &w.app,
        reqwest::Method::GET,
        &w.tech,
        "/api/v1/deliveries",
        None,
    )
    .await;
    assert_eq!(s, 403);
}

async fn pages_return_each_row_once_while_new_rows_arrive(app: TestApp) {
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut round = 0;
    loop {
        let q = match cursor {
            Some(c) => format!("limit=2&before={c}"),
            None => "limit=2".to_string(),
        };
        let p = list(&w, &q).await;
        seen.extend(ids(&p));
        // Newer deliveries arrive between pages: they belong before the first page.
        if round < 2 {
            api(
                &w.app,
                reqwest::Method::POST,
                &w.admin,
                &format!("/api/v1/deliveries/{}/replay", d[0]),
                None,
            )
            .await;
        }
        round += 1;
        match p["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut want = d.clone();
    want.reverse();
    assert_eq!(
        seen, want,
        "each row once, newest first, none of the new ones"
    );

    // JSON Lines export: the same rows as the list, one per line.
    let resp = w
        .app
        .client
        .get(w.app.url("/api/v1/deliveries/export.jsonl?ticket=IN1"))
        .bearer_auth(&w.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed = list(&w, "ticket=IN1&limit=500").await;
    assert_eq!(lines.len(), listed["items"].as_array().unwrap().len());
    assert_eq!(lines[0]["id"], listed["items"][0]["id"]);
}

async fn csv_detail_replay_and_cancel_from_the_pages(app: TestApp) {
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    let (b, c) = (d[2], d[3]);
    // The administrator signed in by `world`.
    let page = w.app.get("/admin/log?status=failed").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("id=\"delivery-{b}\"")), "{html}");
    assert!(!html.contains(&format!("id=\"delivery-{c}\"")));
    assert!(html.contains("Execution log"));
    // A retrying row refreshes itself; a settled one does not.
    let all = w.app.get("/admin/log").await.text().await.unwrap();
    assert!(all.contains(&format!("hx-get=\"/admin/log/{c}/row\"")));
    assert!(!all.contains(&format!("hx-get=\"/admin/log/{b}/row\"")));
    let bad = w.app.get("/admin/log?http=9xx").await.text().await.unwrap();
    assert!(bad.contains("is a status (503) or a class (5xx)"), "{bad}");
    // A date from a link fills the form's datetime inputs (a browser blanks a bare
    // date there, and the next filter change would drop the range).
    let dated = w
        .app
        .get("/admin/log?from=2026-11-24&to=2026-11-24")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        dated.contains(r#"name="from" value="2026-11-24T00:00""#),
        "{dated}"
    );
    assert!(
        dated.contains(r#"name="to" value="2026-11-25T00:00""#),
        "{dated}"
    );

    let csv = w.app.get("/admin/log/export.csv?ticket=IN1").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,webhook_id,created_at,status")
    );
    let rows: Vec<&str> = lines.collect();
    let listed = ids(&list(&w, "ticket=IN1").await);
    assert_eq!(rows.len(), listed.len());
    for (line, id) in rows.iter().zip(&listed) {
        assert!(line.starts_with(&format!("{id},msg_")), "{line}");
    }
    assert!(!text.contains("tok-1") && !text.contains("desk-key-secret-value"));

    // The detail page, by number and by webhook-id; secrets stay redacted.
    let detail = w
        .app
        .get(&format!("/admin/log/{b}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(detail.contains("Attempt 1"), "{detail}");
    assert!(detail.contains("HTTP 400"));
    assert!(detail.contains("rule “Every update” on ticket.updated"));
    assert!(!detail.contains("tok-1") && !detail.contains("desk-key-secret-value"));
    let uid = list(&w, &format!("id={b}")).await["items"][0]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let by_uid = w.app.get(&format!("/admin/log/{uid}")).await;
    assert_eq!(by_uid.status(), 200);

    // Replay from the page: a new linked delivery the receiver gets.
    let before = w.rx.received().len();
    let resp = w
        .app
        .post_form(&format!("/admin/log/{b}/replay"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    let new: i64 = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    w.rx.wait_for(before + 1).await;
    settled(&w).await;
    let row = &list(&w, &format!("id={new}")).await["items"][0];
    assert_eq!(row["replay_of"], b);
    assert_eq!(row["status"], "delivered");

    // Cancel the retrying one; a second cancel is refused.
    let resp = w
        .app
        .post_form(&format!("/admin/log/{c}/cancel"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        list(&w, &format!("id={c}")).await["items"][0]["status"],
        "cancelled"
    );
    let again = w
        .app
        .post_form(&format!("/admin/log/{c}/cancel"), &[])
        .await;
    assert_eq!(again.status(), 409);
    let tech = w.app.client_as("tina", &["Technician"]).await;
    assert_eq!(w.app.get_with(&tech, "/admin/log").await.status(), 403);
}

async fn bulk_replay_sends_the_failed_again_and_shows_its_progress(app: TestApp) {
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    // Three more refused sends, on IN1.
    w.rx.set_reply(Reply::Status(400));
    for n in 0..3 {
        w.patch(&w.tech, 1, json!({"subject": format!("again {n}")}))
            .await;
    }
    settled(&w).await;
    w.rx.set_reply(Reply::Status(200));
    let failed = ids(&list(&w, "status=failed").await);
    assert_eq!(failed.len(), 4);

    // The confirmation says how many and to which connections; nothing is sent yet.
    let before = w.rx.received().len();
    let page = w
        .app
        .get("/admin/log/bulk?status=failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<strong>4</strong> deliveries"), "{page}");
    assert!(page.contains("<li>Vendor: 4</li>"), "{page}");
    let refused = w
        .app
        .get("/admin/log/bulk?status=retrying")
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("can be replayed in bulk"), "{refused}");
    assert_eq!(w.rx.received().len(), before);

    let resp = w
        .app
        .post_form("/admin/log/bulk", &[("filter", "status=failed")])
        .await;
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let mut state = String::new();
    for _ in 0..100 {
        let html = w.app.get(&loc).await.text().await.unwrap();
        if html.contains("data-state=\"finished\"") {
            assert!(html.contains("4 of 4"), "{html}");
            state = "finished".into();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "finished");
    w.rx.wait_for(before + 4).await;
    settled(&w).await;
    let replays = list(&w, "cause=replay").await;
    let of: Vec<i64> = replays["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["replay_of"].as_i64())
        .filter(|o| failed.contains(o))
        .collect();
    let mut of_sorted = of.clone();
    of_sorted.sort_unstable();
    let mut failed_sorted = failed.clone();
    failed_sorted.sort_unstable();
    assert_eq!(
        of_sorted, failed_sorted,
        "each failed delivery replayed once"
    );
    assert!(
        replays["items"][0]["cause"]
            .as_str()
            .unwrap()
            .contains("(bulk replay"),
        "{replays}"
    );
    // Audited once, naming the count.
    let audit = w
        .app
        .get("/admin/audit?action=delivery.bulk_replay")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("4 deliveries (Vendor: 4)"), "{audit}");
    let _ = d;
}

async fn retention_deletes_only_what_is_old(app: TestApp) {
    use hookdesk::db::schema::delivery_attempts;
    use hookdesk::delivery::retention;
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    let (a1, a2, b, c) = (d[0], d[1], d[2], d[3]);
    let now = hookdesk::db::now();
    // a1 and b finished 40 days ago; a2's attempt is 10 days old; c is still retrying.
    w.app.with_conn(|conn| {
        for (id, days) in [(a1, 40), (b, 40), (c, 40)] {
            diesel::update(deliveries::table.find(id))
                .set((
                    // Even on c, which is still pending: its status must protect it.
                    deliveries::completed_at.eq(Some(now - chrono::Duration::days(days))),
                    deliveries::created_at.eq(now - chrono::Duration::days(days)),
                ))
                .execute(conn)
                .unwrap();
        }
        diesel::update(delivery_attempts::table.filter(delivery_attempts::delivery_id.eq(a2)))
            .set(delivery_attempts::started_at.eq(now - chrono::Duration::days(10)))
            .execute(conn)
            .unwrap();
    });
    let p = w
        .app
        .with_conn(|conn| retention::run_once(conn, 30, 7, now).unwrap());
    assert_eq!(p.deliveries, 2, "a1 and b; c is not finished");
    assert!(p.bodies >= 1);
    let left = ids(&list(&w, "limit=500").await);
    assert!(!left.contains(&a1) && !left.contains(&b));
    assert!(left.contains(&a2) && left.contains(&c));
    let bodies: Vec<(String, String)> = w.app.with_conn(|conn| {
        delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq(a2))
            .select((
                delivery_attempts::request_body,
                delivery_attempts::response_body,
            ))
            .load(conn)
            .unwrap()
    });
    assert!(
        bodies.iter().all(|(q, r)| q.is_empty() && r.is_empty()),
        "{bodies:?}"
    );
    // The delivery's own request is kept: it can still be replayed.
    let (s, v) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        &format!("/api/v1/deliveries/{a2}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(!v["body"].as_str().unwrap().is_empty());
    // A second pass finds nothing more.
    let again = w
        .app
        .with_conn(|conn| retention::run_once(conn, 30, 7, now).unwrap());
    assert_eq!(again, retention::Purged::default());
}

async fn an_administrator_erases_a_tickets_stored_bodies(app: TestApp) {
    use hookdesk::db::schema::delivery_attempts;
    let w = world(app).await;
    let (d, _) = traffic(&w).await;
    let (a1, b, c) = (d[0], d[2], d[3]);
    // IN1 is ticket 1: its deliveries a1, a2 and the replay.
    let resp = w
        .app
        .post_form("/tickets/1/erase-delivery-bodies", &[])
        .await;
    assert_eq!(resp.status(), 303);
    let body_of = |id: i64| -> (String, Vec<(String, String)>) {
        w.app.with_conn(|conn| {
            let body = deliveries::table
                .find(id)
                .select(deliveries::body)
                .first(conn)
                .unwrap();
            let attempts = delivery_attempts::table
                .filter(delivery_attempts::delivery_id.eq(id))
                .select((
                    delivery_attempts::request_body,
                    delivery_attempts::response_body,
                ))
                .load(conn)
                .unwrap();
            (body, attempts)
        })
    };
    let (body, attempts) = body_of(a1);
    assert!(body.is_empty() && attempts.iter().all(|(q, r)| q.is_empty() && r.is_empty()));
    // Other tickets keep theirs; so does a delivery still to be sent.
    assert!(!body_of(b).0.is_empty());
    assert!(!body_of(b).1[0].0.is_empty());
    assert!(!body_of(c).0.is_empty());
    let audit = w
        .app
        .get("/admin/audit?action=delivery.erase_bodies")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("3 deliveries"), "{audit}");
    let tech = w.app.client_as("tom", &["Technician"]).await;
    let r = w
        .app
        .post_form_with(&tech, "/tickets/2/erase-delivery-bodies", &[])
        .await;
    assert_eq!(r.status(), 403, "administrators only");
    assert!(!body_of(b).0.is_empty());
}
