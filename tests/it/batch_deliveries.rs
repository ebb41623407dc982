//! A batch delivery carries many tickets' occurrences, fired by one rule or several; the
//! execution log, its JSON API and a ticket's Deliveries panel find it from each of them,
//! and a replay of it stays a batch: found the same way, its answer read for no ticket,
//! as the original's was.

use diesel::prelude::*;
use hookdesk::db::schema::{deliveries, delivery_rules, delivery_tickets};
use serde_json::{Value, json};

use crate::db_tests;
use crate::execution_log::{ids, list, settled};
use crate::helpers::TestApp;
use crate::receiver::Reply;
use crate::rules_world::{World, send_rule, world};
use crate::tickets_api::api;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    a_batch_is_found_from_every_ticket_and_rule_it_carries,
    a_replayed_batch_is_a_batch_still,
);

db_tests!(
    spawn = crate::queue::no_worker;
    a_batch_records_each_other_ticket_and_rule_once,
);

/// Groups the world's webhook's occurrences of one event, two to a batch: the second
/// makes it due at once, and the wait is long enough that the first never leaves alone.
async fn batching(w: &World) {
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{}", w.webhook),
        json!({"batch_mode": "same_event", "batch_wait_seconds": 600, "batch_max_items": 2}),
    )
    .await;
}

/// Ticket `id`'s number (`IN2`).
async fn number(w: &World, id: i64) -> String {
    let (s, v) = api(
        &w.app,
        reqwest::Method::GET,
        &w.admin,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["displayid"].as_str().unwrap().to_owned()
}

/// The ids of the deliveries the log lists under `query`.
async fn listed(w: &World, query: &str) -> Vec<i64> {
    ids(&list(w, query).await)
}

/// The Deliveries panel of ticket `id`'s page, loaded as the page's htmx loads it.
async fn panel(w: &World, id: i64) -> String {
    let page = w
        .app
        .get(&format!("/tickets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let start = page
        .find("hx-get=\"/admin/log/fragment?")
        .expect("the ticket page has a Deliveries panel")
        + "hx-get=\"".len();
    let url = &page[start..start + page[start..].find('"').unwrap()];
    w.app
        .get(&url.replace("&amp;", "&"))
        .await
        .text()
        .await
        .unwrap()
}

/// The one delivery there is.
fn only_delivery(w: &World) -> i64 {
    let ds = w.deliveries();
    assert_eq!(ds.len(), 1, "{ds:?}");
    ds[0].0
}

async fn a_batch_is_found_from_every_ticket_and_rule_it_carries(app: TestApp) {
    let w = world(app).await;
    batching(&w).await;
    let p1 = w
        .rule(send_rule(
            "P1 to the vendor",
            w.webhook,
            json!([{"field": "ticket.priority.id", "operator": "changed_to", "value": "P1"}]),
        ))
        .await;
    let p2 = w
        .rule(send_rule(
            "P2 to the vendor",
            w.webhook,
            json!([{"field": "ticket.priority.id", "operator": "changed_to", "value": "P2"}]),
        ))
        .await;
    let a = w.ticket(&w.tech, "Incident", "Mail is down").await;
    let b = w.ticket(&w.tech, "Incident", "Printer is down").await;
    w.patch(&w.tech, a, json!({"priority": "P1"})).await;
    w.patch(&w.tech, b, json!({"priority": "P2"})).await;
    let (a_no, b_no) = (number(&w, a).await, number(&w, b).await);
    let (a_no, b_no) = (a_no.as_str(), b_no.as_str());

    // One request for both tickets, fired by two rules.
    let got = w.exactly(1).await;
    let tickets: Vec<&Value> = got[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["ticket"])
        .collect();
    assert_eq!(tickets, [a_no, b_no]);
    let batch = only_delivery(&w);
    settled(&w).await;

    // The log finds it from each ticket (by number and by id) and each rule.
    for q in [
        format!("ticket={a_no}"),
        format!("ticket={b_no}"),
        format!("ticket={b}"),
        format!("ticket={}", b_no.to_lowercase()),
        format!("rule={p1}"),
        format!("rule={p2}"),
        format!("ticket={b_no}&rule={p2}&status=delivered&cause=rule"),
    ] {
        assert_eq!(listed(&w, &q).await, [batch], "?{q}");
    }
    // The other filters still apply, the cursor too.
    for q in [
        format!("ticket={b_no}&status=failed"),
        format!("ticket={b_no}&before={batch}"),
        format!("rule={p2}&before={batch}"),
        format!("ticket={b_no}&webhook={}", w.webhook + 1),
    ] {
        assert!(listed(&w, &q).await.is_empty(), "?{q}");
    }

    // Each ticket's Deliveries panel lists it.
    for t in [a, b] {
        let html = panel(&w, t).await;
        assert!(html.contains(&format!("id=\"delivery-{batch}\"")), "{html}");
        assert!(html.contains("(batch of 2)"), "{html}");
    }

    // Erasing the second ticket's stored bodies erases the batch's, which holds its data.
    let resp = w
        .app
        .post_form(&format!("/tickets/{b}/erase-delivery-bodies"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    let body: String = w.app.with_conn(|c| {
        deliveries::table
            .find(batch)
            .select(deliveries::body)
            .get_result(c)
            .unwrap()
    });
    assert_eq!(body, "");
}

async fn a_replayed_batch_is_a_batch_still(app: TestApp) {
    let w = world(app).await;
    batching(&w).await;
    // The vendor's answer would write its reference into the ticket, were it read.
    w.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{}", w.webhook),
        json!({"response_content_type": "json",
               "response_fields": [{"path": "id", "target": "ticket.category"}]}),
    )
    .await;
    w.rx.set_reply(Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"id": "EXT-7"}"#.to_vec(),
    });
    let rule = w
        .rule(send_rule("Every update", w.webhook, json!([])))
        .await;
    let a = w.ticket(&w.tech, "Incident", "Mail is down").await;
    let b = w.ticket(&w.tech, "Incident", "Printer is down").await;
    w.patch(&w.tech, a, json!({"subject": "Mail is down for all"}))
        .await;
    w.patch(&w.tech, b, json!({"subject": "Printer is down for all"}))
        .await;
    let b_no = number(&w, b).await;
    w.exactly(1).await;
    let batch = only_delivery(&w);
    settled(&w).await;
    let category = |t: i64| {
        w.app
            .with_conn(|c| hookdesk::tickets::Ticket::get(c, t).unwrap().category)
    };
    let before = (category(a), category(b));
    assert_ne!(before.0, "EXT-7", "a batch's answer is read for no ticket");

    let (s, v) = api(
        &w.app,
        reqwest::Method::POST,
        &w.admin,
        &format!("/api/v1/deliveries/{batch}/replay"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let got = w.exactly(2).await;
    assert_eq!(got[1], got[0], "the same array again");
    settled(&w).await;
    let replay = listed(&w, "cause=replay").await;
    assert_eq!(replay.len(), 1);
    let replay = replay[0];

    // Like the original, its answer changed neither ticket.
    assert_eq!((category(a), category(b)), before);
    // Found from the second ticket, said to be a batch; a replay is no rule's doing.
    assert_eq!(listed(&w, &format!("ticket={b_no}")).await, [replay, batch]);
    assert_eq!(listed(&w, &format!("rule={rule}")).await, [batch]);
    let html = panel(&w, b).await;
    assert!(
        html.contains(&format!("replay of #{batch} by boss (batch of 2)")),
        "{html}"
    );

    // Retention takes what the batches carry with them.
    let now = hookdesk::db::now();
    w.app.with_conn(|c| {
        diesel::update(deliveries::table)
            .set(deliveries::completed_at.eq(Some(now - chrono::Duration::days(40))))
            .execute(c)
            .unwrap();
        let p = hookdesk::delivery::retention::run_once(c, 30, 7, now).unwrap();
        assert_eq!(p.deliveries, 2);
        let left: (i64, i64) = (
            delivery_tickets::table.count().get_result(c).unwrap(),
            delivery_rules::table.count().get_result(c).unwrap(),
        );
        assert_eq!(left, (0, 0));
    });
}

/// Occurrences of (ticket, rule) joining one batch: the row names the first's; every
/// other ticket and rule is written once, however often it comes back.
async fn a_batch_records_each_other_ticket_and_rule_once(app: TestApp) {
    use hookdesk::delivery::batching::{self, BatchMode};
    use hookdesk::delivery::queue::{self, NewDelivery, RequestSnapshot, Trigger};
    let now = hookdesk::db::now();
    app.with_conn(|c| {
        let mut ids = Vec::new();
        for (n, (ticket, rule)) in [(1, 10), (2, 10), (2, 11), (1, 11), (3, 10)]
            .into_iter()
            .enumerate()
        {
            let mut d = NewDelivery::new(
                Trigger::Rule,
                None,
                RequestSnapshot {
                    method: "POST".into(),
                    url: "http://127.0.0.1:9/hook".into(),
                    body: format!("{n}"),
                    content_type: "application/json".into(),
                    ..RequestSnapshot::default()
                },
            );
            (d.webhook_id, d.ticket_id, d.rule_id) = (Some(1), Some(ticket), Some(rule));
            d.batch = batching::spec(BatchMode::AnyEvent, 1, "ticket.updated", &d.request, 60, 10);
            ids.push(
                hookdesk::db::write(c, |c| queue::enqueue(c, &d, 3, now))
                    .unwrap()
                    .0,
            );
        }
        assert!(ids.iter().all(|i| *i == ids[0]), "one batch: {ids:?}");
        let tickets: Vec<i64> = delivery_tickets::table
            .filter(delivery_tickets::delivery_id.eq(ids[0]))
            .order(delivery_tickets::ticket_id)
            .select(delivery_tickets::ticket_id)
            .load(c)
            .unwrap();
        let rules: Vec<i64> = delivery_rules::table
            .filter(delivery_rules::delivery_id.eq(ids[0]))
            .select(delivery_rules::rule_id)
            .load(c)
            .unwrap();
        assert_eq!((tickets, rules), (vec![2, 3], vec![11]));
        let row: (Option<i64>, Option<i64>, String) = deliveries::table
            .find(ids[0])
            .select((deliveries::ticket_id, deliveries::rule_id, deliveries::body))
            .get_result(c)
            .unwrap();
        assert_eq!(row, (Some(1), Some(10), "[0,1,2,3,4]".to_owned()));
    });
}
