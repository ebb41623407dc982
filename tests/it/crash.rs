//! Crash safety with real processes, on SQLite and PostgreSQL: `hookdesk worker` is
//! killed with SIGKILL while it sends 2,000 deliveries, started again, and every delivery
//! still arrives; a delivery arrives twice only if it was in flight at the kill, and then
//! with the same `webhook-id` and body.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use hookdesk::db::schema::deliveries;
use hookdesk::delivery::queue::{self, NewDelivery, Trigger};

use crate::helpers::test_config;
use crate::queue::request;
use crate::receiver::{Receiver, Reply};

const N: usize = 2000;

fn start_worker(db_url: &str, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .arg("worker")
        .current_dir(dir)
        .env("DATABASE_URL", db_url)
        .env("HOOKDESK_ALLOWED_NETWORKS", "127.0.0.1/32")
        .env("HOOKDESK_WORKER_POLL_MS", "50")
        .env("HOOKDESK_DELIVERY_TIMEOUT_SECONDS", "2")
        .env("HOOKDESK_WORKER_LEASE_SECONDS", "7")
        .env("HOOKDESK_WORKER_CONCURRENCY", "32")
        .env("HOOKDESK_LOG_FORMAT", "text")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hookdesk worker")
}

async fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("crash.db").display());
    survive_kill_9(&db_url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_kill_9_on_postgres() {
    let Some((db_url, _guard)) = crate::helpers::fresh_database(crate::helpers::Backend::Postgres)
    else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    survive_kill_9(&db_url, dir.path()).await;
}

/// 2,000 deliveries queued; the worker process is killed with SIGKILL mid-burst and
/// started again; every delivery arrives, twice only if it was in flight at the kill.
async fn survive_kill_9(db_url: &str, dir: &std::path::Path) {
    let db_url = db_url.to_owned();
    let config = test_config(&db_url);
    let (pool, _) = hookdesk::startup::prepare_database(&config).unwrap();
    let rx = Receiver::start(Reply::Delay(Duration::from_millis(5), 200)).await;
    {
        let mut c = pool.get().unwrap();
        hookdesk::db::write(&mut c, |c| {
            for i in 0..N {
                let r = request(&rx.url("/crash"), &format!("{{\"n\":{i}}}"));
                queue::enqueue(
                    c,
                    &NewDelivery::new(Trigger::Rule, None, r),
                    8,
                    hookdesk::db::now(),
                )?;
            }
            Ok::<_, hookdesk::error::Error>(())
        })
        .unwrap();
    }

    let mut child = start_worker(&db_url, dir);
    wait_until("some deliveries arrived", Duration::from_secs(60), || {
        rx.received().len() >= 300
    })
    .await;
    child.kill().unwrap(); // SIGKILL: no shutdown code runs
    child.wait().unwrap();
    let at_kill = rx.received().len();
    assert!(
        at_kill < N,
        "the kill came after everything arrived ({at_kill})"
    );
    let in_flight: HashSet<String> = {
        let mut c = pool.get().unwrap();
        deliveries::table
            .filter(deliveries::status.eq("in_flight"))
            .select(deliveries::uid)
            .load(&mut c)
            .unwrap()
            .into_iter()
            .collect()
    };

    let mut child = start_worker(&db_url, dir);
    let all: HashSet<String> = {
        let mut c = pool.get().unwrap();
        deliveries::table
            .select(deliveries::uid)
            .load(&mut c)
            .unwrap()
            .into_iter()
            .collect()
    };
    assert_eq!(all.len(), N);
    wait_until("every delivery arrived", Duration::from_secs(120), || {
        let got: HashSet<String> = rx
            .received()
            .iter()
            .filter_map(|r| r.header("webhook-id").map(str::to_owned))
            .collect();
        got.len() == N
    })
    .await;
    wait_until(
        "every delivery is recorded",
        Duration::from_secs(30),
        || {
            let mut c = pool.get().unwrap();
            deliveries::table
                .filter(deliveries::status.eq("succeeded"))
                .count()
                .get_result::<i64>(&mut c)
                .unwrap()
                == i64::try_from(N).unwrap()
        },
    )
    .await;
    // A graceful stop this time (SIGTERM).
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    let mut seen: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for r in rx.received() {
        let id = r.header("webhook-id").unwrap().to_owned();
        assert!(all.contains(&id), "an unknown webhook-id arrived: {id}");
        seen.entry(id).or_default().push(r.body.clone());
    }
    for (id, bodies) in &seen {
        if bodies.len() > 1 {
            assert!(
                in_flight.contains(id),
                "{id} arrived {} times but was not in flight at the kill",
                bodies.len()
            );
            assert!(
                bodies.iter().all(|b| *b == bodies[0]),
                "{id}: same request each time"
            );
        }
    }
    assert_eq!(seen.len(), N);
    let dups = seen.values().filter(|b| b.len() > 1).count();
    eprintln!(
        "crash test: {at_kill} arrived before the kill, {} in flight at the kill, {dups} sent twice",
        in_flight.len()
    );
}

/// A lease that does not outlast the request timeout could let a slow request be sent
/// twice: the worker refuses to start with one.
#[test]
fn worker_refuses_a_lease_shorter_than_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .arg("worker")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("h.db").display()),
        )
        .env("HOOKDESK_DELIVERY_TIMEOUT_SECONDS", "30")
        .env("HOOKDESK_WORKER_LEASE_SECONDS", "30")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("worker_lease_seconds (30) must exceed"),
        "{err}"
    );
}

/// Held deliveries survive a crash: a paused connection's deliveries wait while the
/// worker is killed with SIGKILL and started again, none is sent meanwhile, and after
/// the resume every one arrives exactly once, in the order it was queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deliveries_survive_kill_9_and_leave_in_order_after_resume() {
    const HELD: usize = 300;
    let app = crate::queue::no_worker(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let db_url = app.config.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Reply::Status(200)).await;
    let conn = crate::worker::connection(&app, "Paused vendor");
    app.with_conn(|c| {
        let admin = hookdesk::audit::Actor::system("test");
        hookdesk::connections::Connection::pause(c, &admin, conn).unwrap();
        hookdesk::db::write(c, |c| {
            for i in 0..HELD {
                let r = request(&rx.url("/held"), &format!("{{\"n\":{i}}}"));
                queue::enqueue(
                    c,
                    &NewDelivery::new(Trigger::Rule, Some(conn), r),
                    8,
                    hookdesk::db::now(),
                )?;
            }
            Ok::<_, hookdesk::error::Error>(())
        })
        .unwrap();
    });
    // One request at a time to this connection, so "in order" is the arrival order.
    let start = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookdesk"));
        cmd.arg("worker")
            .current_dir(dir.path())
            .env("DATABASE_URL", &db_url)
            .env("HOOKDESK_ALLOWED_NETWORKS", "127.0.0.1/32")
            .env("HOOKDESK_WORKER_POLL_MS", "50")
            .env("HOOKDESK_WORKER_PER_CONNECTION", "1")
            .env("HOOKDESK_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        cmd.spawn().expect("start hookdesk worker")
    };
    let mut child = start();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.received().len(), 0, "held: nothing is sent");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = start();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(rx.received().len(), 0, "still held after the restart");
    let pending: i64 = app.with_conn(|c| {
        deliveries::table
            .filter(deliveries::status.eq("pending"))
            .filter(deliveries::attempts.eq(0))
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(
        pending,
        i64::try_from(HELD).unwrap(),
        "no attempt was counted"
    );

    let released = app.with_conn(|c| {
        let admin = hookdesk::audit::Actor::system("test");
        hookdesk::connections::Connection::resume(c, &admin, conn)
            .unwrap()
            .1
    });
    assert_eq!(released, HELD);
    wait_until(
        "every held delivery arrived",
        Duration::from_secs(120),
        || rx.received().len() >= HELD,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received();
    assert_eq!(got.len(), HELD, "each exactly once");
    let order: Vec<u64> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        order,
        (0..HELD as u64).collect::<Vec<_>>(),
        "in the order queued"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}
