//! "Keep order per ticket" under retries, with two workers on one database: a receiver
//! fails the first attempt of every third request, and still each ticket's deliveries
//! arrive strictly in the order they were queued (a failing one holds back the later
//! ones of its ticket only). Without the option the same run arrives out of order, which
//! shows the check can fail.

use std::collections::HashMap;

use chrono::Duration as Td;
use diesel::prelude::*;
use hookdesk::db::schema::deliveries;
use hookdesk::delivery::hooks::Hooks;
use hookdesk::delivery::queue::{self, NewDelivery, Trigger};
use hookdesk::delivery::worker;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::queue::{request, t0};
use crate::receiver::{Receiver, Reply};
use crate::worker::{Opts, ctx_with};

crate::db_tests!(spawn = crate::queue::no_worker;
    one_tickets_deliveries_arrive_in_order_under_retries_with_two_workers,
);

const TICKETS: i64 = 6;
const PER_TICKET: i64 = 10;

/// Queues every ticket's deliveries interleaved (ticket 1 #0, ticket 2 #0, …), each in
/// its own transaction as causes commit one by one.
fn queue_all(app: &TestApp, url: &str, ordered: bool) {
    for seq in 0..PER_TICKET {
        for ticket in 1..=TICKETS {
            app.with_conn(|c| {
                hookdesk::db::write(c, |c| {
                    let mut n = NewDelivery::new(
                        Trigger::Rule,
                        None,
                        request(url, &format!(r#"{{"ticket":{ticket},"seq":{seq}}}"#)),
                    );
                    n.webhook_id = Some(77);
                    n.ticket_id = Some(ticket);
                    n.ordered = ordered;
                    queue::enqueue(c, &n, 10, t0())
                })
                .unwrap();
            });
        }
    }
}

/// Runs two workers side by side, two seconds of pretend time per round, until every
/// delivery succeeded. Returns each ticket's arrivals (sequence numbers, retries
/// included) in arrival order, and how many attempts failed.
async fn run(app: &TestApp, rx: &Receiver) -> (HashMap<i64, Vec<i64>>, usize) {
    let o = Opts {
        schedule: vec!["0s", "1s", "1s", "1s", "1s"],
        per_connection: 16,
        // Each claim takes half of the tickets' heads, so both workers get work.
        claim_batch: 3,
        ..Opts::default()
    };
    let (w1, w2) = (
        ctx_with(app, &o, Hooks::none()),
        ctx_with(app, &o, Hooks::none()),
    );
    assert_ne!(w1.cfg.id, w2.cfg.id);
    let total = TICKETS * PER_TICKET;
    let mut now = t0();
    for _ in 0..200 {
        let (a, b) = tokio::join!(worker::run_once(&w1, now), worker::run_once(&w2, now));
        a.unwrap();
        b.unwrap();
        let done: i64 = app.with_conn(|c| {
            deliveries::table
                .filter(deliveries::status.eq("succeeded"))
                .count()
                .get_result(c)
                .unwrap()
        });
        if done == total {
            break;
        }
        now += Td::seconds(2);
    }
    let mut by_ticket: HashMap<i64, Vec<i64>> = HashMap::new();
    let got = rx.received();
    for r in &got {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        by_ticket
            .entry(v["ticket"].as_i64().unwrap())
            .or_default()
            .push(v["seq"].as_i64().unwrap());
    }
    let failed = got.len() - usize::try_from(total).unwrap();
    (by_ticket, failed)
}

/// Whether one ticket's arrivals never go back: `0 1 2 2 3` is in order (2 was
/// retried before 3 left), `0 2 1 2` is not.
fn in_order(seqs: &[i64]) -> bool {
    seqs.windows(2).all(|w| w[0] <= w[1])
}

async fn one_tickets_deliveries_arrive_in_order_under_retries_with_two_workers(app: TestApp) {
    let rx = Receiver::start(Reply::FailFirstOfEvery(3)).await;
    queue_all(&app, &rx.url("/ordered"), true);
    let (by_ticket, failed) = run(&app, &rx).await;
    let total = usize::try_from(TICKETS * PER_TICKET).unwrap();
    assert_eq!(
        failed,
        total / 3,
        "every third request failed once, and was retried"
    );
    for (ticket, seqs) in &by_ticket {
        assert!(
            in_order(seqs),
            "ticket {ticket} arrived out of order: {seqs:?}"
        );
        let mut distinct = seqs.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            (0..PER_TICKET).collect::<Vec<_>>(),
            "ticket {ticket}"
        );
    }
    // Both workers took part.
    let workers: Vec<String> = app.with_conn(|c| {
        use hookdesk::db::schema::delivery_attempts;
        delivery_attempts::table
            .select(delivery_attempts::worker)
            .distinct()
            .load(c)
            .unwrap()
    });
    assert_eq!(workers.len(), 2, "{workers:?}");

    // The control: the same run without the option does arrive out of order.
    let app2 = crate::queue::no_worker(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let rx2 = Receiver::start(Reply::FailFirstOfEvery(3)).await;
    queue_all(&app2, &rx2.url("/unordered"), false);
    let (by_ticket, _) = run(&app2, &rx2).await;
    assert!(
        by_ticket.values().any(|s| !in_order(s)),
        "without keep-order the retries arrive after later ones: {by_ticket:?}"
    );
}
