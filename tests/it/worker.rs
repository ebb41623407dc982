//! The worker against real receivers: retries follow the schedule (time passed in),
//! `Retry-After`, 410, the circuit breaker, a hung endpoint that holds up nobody else,
//! graceful shutdown, and two workers on one database that never send a delivery twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Td, NaiveDateTime};
use diesel::prelude::*;
use hookdesk::db::schema::connections;
use hookdesk::delivery::queue::{self, Delivery, NewDelivery, Trigger, Waker};
use hookdesk::delivery::records::AttemptRecord;
use hookdesk::delivery::worker::{self, WorkerConfig, WorkerCtx};
use hookdesk::delivery::{RetryPolicy, Sender, SenderConfig, actor::WorkerHandle, health};

use crate::helpers::TestApp;
use crate::queue::{no_worker, request, t0};
use crate::receiver::{Receiver, Reply};

macro_rules! worker_tests {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = super::no_worker(crate::helpers::Backend::Sqlite).await.unwrap();
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::no_worker(crate::helpers::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set"),
                }
            }
        }
    )* };
}

pub(crate) struct Opts {
    pub schedule: Vec<&'static str>,
    pub per_connection: usize,
    pub claim_batch: usize,
    pub breaker_failures: i32,
    pub timeout_secs: u64,
    pub grace: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            schedule: vec!["0s", "10s", "60s"],
            per_connection: 16,
            claim_batch: 256,
            breaker_failures: 100,
            timeout_secs: 5,
            grace: Duration::from_secs(5),
        }
    }
}

fn ctx(app: &TestApp, o: &Opts) -> Arc<WorkerCtx> {
    ctx_with(app, o, hookdesk::delivery::hooks::Hooks::none())
}

/// A worker with `o`'s settings and the given hooks (alerts, responses).
pub(crate) fn ctx_with(
    app: &TestApp,
    o: &Opts,
    hooks: hookdesk::delivery::hooks::Hooks,
) -> Arc<WorkerCtx> {
    let mut config = app.config.clone();
    config.allowed_networks = vec!["127.0.0.1/32".into()];
    config.delivery_timeout_seconds = o.timeout_secs;
    config.worker_lease_seconds = o.timeout_secs + 10;
    config.worker_per_connection = o.per_connection;
    config.worker_claim_batch = o.claim_batch;
    config.breaker_failures = o.breaker_failures;
    config.breaker_cooldown_seconds = 60;
    config.worker_poll_ms = 50;
    let mut cfg = WorkerConfig::from_config(&config).unwrap();
    cfg.shutdown_grace = o.grace;
    let sender = Sender::new(&SenderConfig::from_config(&config).unwrap()).unwrap();
    let schedule: Vec<String> = o.schedule.iter().map(|s| (*s).to_string()).collect();
    WorkerCtx::new(
        app.pool.clone(),
        sender,
        // The app's own key: what the app sealed (connection secrets, header values)
        // must open.
        Arc::new(
            app.with_conn(|c| hookdesk::secrets::key::open_secret_box(&app.config, c).unwrap()),
        ),
        RetryPolicy::parse(&schedule).unwrap(),
        cfg,
        hooks,
    )
}

/// A connection row with no secrets (the worker only reads its timeout and health).
pub(crate) fn connection(app: &TestApp, name: &str) -> i64 {
    app.with_conn(|c| {
        diesel::insert_into(connections::table)
            .values((
                connections::name.eq(name),
                connections::app_type.eq("generic"),
                connections::environment.eq("production"),
                connections::base_url.eq("http://127.0.0.1"),
                connections::headers.eq("[]"),
                connections::timeout_ms.eq(30_000),
                connections::verify_tls.eq(true),
                connections::auth_kind.eq("none"),
                connections::auth_username.eq(""),
                connections::auth_domain.eq(""),
                connections::auth_header.eq(""),
                connections::consecutive_failures.eq(0),
                connections::created_at.eq(t0()),
                connections::updated_at.eq(t0()),
            ))
            .execute(c)
            .unwrap();
        connections::table
            .filter(connections::name.eq(name))
            .select(connections::id)
            .first(c)
            .unwrap()
    })
}

pub(crate) fn enqueue(
    app: &TestApp,
    conn: Option<i64>,
    url: &str,
    body: &str,
    now: NaiveDateTime,
) -> i64 {
    app.with_conn(|c| {
        let mut n = NewDelivery::new(Trigger::Rule, conn, request(url, body));
        n.connection_id = conn;
        queue::enqueue(c, &n, 3, now).unwrap().0
    })
}

pub(crate) fn get(app: &TestApp, id: i64) -> Delivery {
    app.with_conn(|c| Delivery::get(c, id).unwrap())
}

async fn retries_follow_the_schedule(app: TestApp) {
    let rx = Receiver::start(Reply::Status(500)).await;
    let w = ctx(&app, &Opts::default());
    let id = enqueue(&app, None, &rx.url("/a"), "{\"x\":1}", t0());
    assert_eq!(worker::run_once(&w, t0()).await.unwrap(), 1);
    let d = get(&app, id);
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 1));
    // 10 s ± 20 % jitter.
    let wait = d.next_attempt_at - t0();
    assert!(wait >= Td::seconds(8) && wait <= Td::seconds(12), "{wait}");
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(7)).await.unwrap(),
        0
    );
    let t1 = t0() + Td::seconds(13);
    assert_eq!(worker::run_once(&w, t1).await.unwrap(), 1);
    let d = get(&app, id);
    let wait = d.next_attempt_at - t1;
    assert!(wait >= Td::seconds(48) && wait <= Td::seconds(72), "{wait}");
    let t2 = t1 + Td::seconds(73);
    assert_eq!(worker::run_once(&w, t2).await.unwrap(), 1);
    let d = get(&app, id);
    assert_eq!(
        (d.status.as_str(), d.attempts),
        ("failed", 3),
        "after the last attempt"
    );
    assert_eq!(d.last_status, Some(500));
    let attempts = app.with_conn(|c| AttemptRecord::for_delivery(c, id).unwrap());
    assert_eq!(
        attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let last = &attempts[2];
    assert_eq!(last.response_status, Some(500));
    assert_eq!(last.error_class.as_deref(), Some("http"));
    assert_eq!(last.worker, w.cfg.id);
    assert!(
        last.note
            .as_deref()
            .unwrap_or("")
            .contains("no attempts left"),
        "{last:?}"
    );
    assert!(
        last.request_header_list()
            .iter()
            .any(|(k, v)| k == "webhook-id" && *v == d.uid)
    );
    // Every attempt carried the same webhook-id, the receiver's idempotency key.
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == Some(d.uid.as_str()))
    );
    // Failed deliveries stay replayable.
    let global: Vec<String> = ["0s", "1s", "1s"].iter().map(|s| s.to_string()).collect();
    let again = app.with_conn(|c| {
        let actor = hookdesk::audit::Actor::system("test");
        let id = hookdesk::ids::DeliveryId(id);
        hookdesk::firing::replay(c, &actor, id, &global, t2)
            .unwrap()
            .0
    });
    rx.set_reply(Reply::Status(200));
    assert_eq!(worker::run_once(&w, t2).await.unwrap(), 1);
    assert_eq!(get(&app, again).status, "succeeded");
}

async fn retry_after_is_honoured(app: TestApp) {
    let rx = Receiver::start(Reply::Full {
        status: 503,
        headers: vec![("Retry-After".into(), "15".into())],
        body: Vec::new(),
    })
    .await;
    let w = ctx(&app, &Opts::default());
    let id = enqueue(&app, None, &rx.url("/a"), "{}", t0());
    worker::run_once(&w, t0()).await.unwrap();
    // 15 s lies within [delay, 2 × delay] for a 10 s ± 20 % step, so it is taken as is.
    assert_eq!(get(&app, id).next_attempt_at, t0() + Td::seconds(15));
    // 429 waits at least a minute whatever the schedule says.
    rx.set_reply(Reply::Status(429));
    worker::run_once(&w, t0() + Td::seconds(15)).await.unwrap();
    let d = get(&app, id);
    assert!(d.next_attempt_at - (t0() + Td::seconds(15)) >= Td::seconds(60));
}

async fn gone_stops_and_flags_the_connection(app: TestApp) {
    let rx = Receiver::start(Reply::Status(410)).await;
    let conn = connection(&app, "gone");
    let w = ctx(&app, &Opts::default());
    let id = enqueue(&app, Some(conn), &rx.url("/a"), "{}", t0());
    worker::run_once(&w, t0()).await.unwrap();
    let d = get(&app, id);
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 1));
    let gone: Option<NaiveDateTime> = app.with_conn(|c| {
        connections::table
            .find(conn)
            .select(connections::gone_at)
            .first(c)
            .unwrap()
    });
    assert!(gone.is_some(), "410 flags the connection");
    assert_eq!(worker::run_once(&w, t0() + Td::hours(1)).await.unwrap(), 0);
    assert_eq!(rx.received().len(), 1);
}

async fn breaker_pauses_probes_and_resumes(app: TestApp) {
    let rx = Receiver::start(Reply::Status(500)).await;
    let conn = connection(&app, "flaky");
    let o = Opts {
        breaker_failures: 2,
        schedule: vec!["0s", "1s", "1s", "1s"],
        ..Opts::default()
    };
    let w = ctx(&app, &o);
    for i in 0..3 {
        enqueue(&app, Some(conn), &rx.url("/a"), &i.to_string(), t0());
    }
    assert_eq!(worker::run_once(&w, t0()).await.unwrap(), 3);
    // Three failures in a row ≥ 2: paused for the 60 s cool-down, retries due or not.
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(30)).await.unwrap(),
        0
    );
    let st = app.with_conn(|c| {
        let (f, p): (i32, Option<NaiveDateTime>) = connections::table
            .find(conn)
            .select((connections::consecutive_failures, connections::paused_until))
            .first(c)
            .unwrap();
        health::state(f, p, 2, t0() + Td::seconds(30))
    });
    assert!(matches!(st, health::State::Paused(_)), "{st:?}");
    // After the cool-down: one probe only.
    rx.set_reply(Reply::Status(200));
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(61)).await.unwrap(),
        1
    );
    // The probe succeeded: the rest flow.
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(62)).await.unwrap(),
        2
    );
    assert_eq!(rx.received().len(), 6);
    // An administrator can resume a paused connection at once.
    rx.set_reply(Reply::Status(500));
    enqueue(&app, Some(conn), &rx.url("/a"), "1", t0() + Td::seconds(70));
    enqueue(&app, Some(conn), &rx.url("/a"), "2", t0() + Td::seconds(70));
    worker::run_once(&w, t0() + Td::seconds(70)).await.unwrap();
    enqueue(&app, Some(conn), &rx.url("/a"), "3", t0() + Td::seconds(71));
    assert_eq!(
        worker::run_once(&w, t0() + Td::seconds(72)).await.unwrap(),
        0,
        "paused"
    );
    app.with_conn(|c| health::resume(c, conn, hookdesk::db::now()).unwrap());
    assert!(worker::run_once(&w, t0() + Td::seconds(72)).await.unwrap() >= 1);
}

/// One endpoint hangs; deliveries to another still arrive at once, and the hung one holds
/// only its own slots. Shutdown then releases the hung claims.
async fn hung_endpoint_does_not_delay_others(app: TestApp) {
    let hung = Receiver::start(Reply::Hang).await;
    let ok = Receiver::start(Reply::Status(200)).await;
    let (a, b) = (connection(&app, "hung"), connection(&app, "ok"));
    let o = Opts {
        per_connection: 2,
        timeout_secs: 60,
        grace: Duration::from_millis(300),
        ..Opts::default()
    };
    let now = hookdesk::db::now();
    let hung_ids: Vec<i64> = (0..6)
        .map(|i| enqueue(&app, Some(a), &hung.url("/h"), &i.to_string(), now))
        .collect();
    let waker = Waker::default();
    let w = ctx(&app, &o);
    let handle = WorkerHandle::start(move || Ok(w), waker.clone()).unwrap();
    // The hung endpoint has taken its two slots.
    hung.wait_for(2).await;
    for i in 0..5 {
        enqueue(
            &app,
            Some(b),
            &ok.url("/o"),
            &i.to_string(),
            hookdesk::db::now(),
        );
    }
    waker.wake();
    let t = std::time::Instant::now();
    ok.wait_for(5).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(hung.received().len(), 2, "per-connection bound");
    handle.shutdown().await;
    // Graceful stop: the hung claims were released, nothing counted as an attempt.
    for id in hung_ids {
        let d = get(&app, id);
        assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
        assert!(d.claim_token.is_none() && d.lease_expires_at.is_none());
    }
}

/// Two workers (each its own actor and HTTP client) on one database: every delivery
/// arrives exactly once while leases hold.
async fn two_workers_never_send_twice(app: TestApp) {
    let rx = Receiver::start(Reply::Delay(Duration::from_millis(5), 200)).await;
    let now = hookdesk::db::now();
    let n = 300;
    app.with_conn(|c| {
        hookdesk::db::write(c, |c| {
            for i in 0..n {
                let r = request(&rx.url("/t"), &i.to_string());
                queue::enqueue(c, &NewDelivery::new(Trigger::Rule, None, r), 3, now)?;
            }
            Ok::<_, hookdesk::error::Error>(())
        })
        .unwrap()
    });
    let o = Opts {
        claim_batch: 10,
        ..Opts::default()
    };
    let handles: Vec<WorkerHandle> = (0..2)
        .map(|_| {
            let w = ctx(&app, &o);
            WorkerHandle::start(move || Ok(w), Waker::default()).unwrap()
        })
        .collect();
    let got = rx.wait_for(n).await;
    // Let both workers record and look again before counting duplicates.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let done = app.with_conn(|c| Delivery::count_by_status(c).unwrap());
        if done == vec![("succeeded".to_string(), i64::try_from(n).unwrap())] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{done:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for h in handles {
        h.shutdown().await;
    }
    let got_after = rx.received();
    assert_eq!(got_after.len(), got.len().max(n), "no delivery sent twice");
    let ids: HashSet<&str> = got_after
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(ids.len(), n);
    let workers: HashSet<String> = app.with_conn(|c| {
        hookdesk::db::schema::delivery_attempts::table
            .select(hookdesk::db::schema::delivery_attempts::worker)
            .load::<String>(c)
            .unwrap()
            .into_iter()
            .collect()
    });
    assert_eq!(workers.len(), 2, "both workers took part: {workers:?}");
}

worker_tests!(
    retries_follow_the_schedule,
    retry_after_is_honoured,
    gone_stops_and_flags_the_connection,
    breaker_pauses_probes_and_resumes,
    hung_endpoint_does_not_delay_others,
    two_workers_never_send_twice,
);
