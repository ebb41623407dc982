//! PostgreSQL: a delivery enqueued by another process wakes the worker at once through
//! `LISTEN`/`NOTIFY`, long before its claim poll would have found it.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use hookdesk::delivery::queue::{self, NewDelivery, Trigger};

use crate::helpers::{Backend, spawn_app_with};
use crate::queue::request;
use crate::receiver::{Receiver, Reply};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_enqueue_wakes_the_worker_through_notify() {
    let Some(app) = spawn_app_with(Backend::Postgres, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        // Ten minutes: only the notification can explain a prompt delivery.
        c.worker_poll_ms = 600_000;
    })
    .await
    else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    // Wait until the worker's listener has subscribed (its connection's last statement).
    let listening = || {
        app.with_conn(|c| {
            diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND query = 'LISTEN hookdesk_deliveries'",
            )
            .get_result::<Count>(c)
            .unwrap()
            .n
        })
    };
    let mut tries = 0;
    while listening() == 0 {
        tries += 1;
        assert!(tries < 500, "the delivery listener never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let rx = Receiver::start(Reply::Status(204)).await;
    // The test's own pool is "another process": it shares no in-process waker with the
    // server's worker.
    let id = app.with_conn(|c| {
        hookdesk::db::write(c, |c| {
            let n = NewDelivery::new(Trigger::Rule, None, request(&rx.url("/n"), "{}"));
            queue::enqueue(c, &n, 3, hookdesk::db::now())
        })
        .unwrap()
        .0
    });
    let got = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(1))
        .await
        .expect("the worker was not woken by the notification");
    assert_eq!(got[0].path, "/n");
    let uid = app.with_conn(|c| queue::Delivery::get(c, id).unwrap().uid);
    assert_eq!(got[0].header("webhook-id"), Some(uid.as_str()));
}
