//! The delivery queue at the database level: the outbox commits with its cause, claims
//! hold leases, expired leases return rows, two claimers never share a row, cancel and
//! replay (batching is in `queue_batching`). No worker runs in these apps; the tests claim
//! by hand.

use chrono::{Duration, NaiveDateTime};
use hookdesk::db::DbConn;
use hookdesk::delivery::batching;
use hookdesk::delivery::claim::{self, Finish};
use hookdesk::delivery::queue::{self, Delivery, NewDelivery, RequestSnapshot, Status, Trigger};
use hookdesk::delivery::records::{AttemptRecord, NewAttempt};

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// Like `db_tests!`, with the app's own worker switched off.
macro_rules! queue_tests {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = super::no_worker(super::Backend::Sqlite).await.unwrap();
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::no_worker(super::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set"),
                }
            }
        }
    )* };
}

pub(crate) use queue_tests;

pub(crate) async fn no_worker(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| c.run_worker = false).await
}

pub(crate) fn t0() -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_900_000_000, 0)
        .unwrap()
        .naive_utc()
}

pub(crate) fn request(url: &str, body: &str) -> RequestSnapshot {
    RequestSnapshot {
        method: "POST".into(),
        url: url.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        sealed_headers: None,
        body: body.into(),
        content_type: "application/json".into(),
    }
}

pub(crate) fn new(body: &str) -> NewDelivery {
    NewDelivery::new(
        Trigger::Rule,
        None,
        request("http://127.0.0.1:9/hook", body),
    )
}

pub(crate) fn enqueue(c: &mut DbConn, n: &NewDelivery, now: NaiveDateTime) -> i64 {
    queue::enqueue(c, n, 8, now).unwrap().0
}

pub(crate) fn finish_ok(id: i64, token: &str) -> Finish {
    Finish {
        id,
        token: token.into(),
        connection_id: None,
        status: Status::Succeeded,
        next_attempt_at: None,
        last_status: Some(200),
        last_error: None,
        attempt: NewAttempt {
            number: 1,
            trigger: "rule".into(),
            started_at: t0(),
            worker: "test".into(),
            ..NewAttempt::default()
        },
        response: None,
    }
}

async fn outbox_commits_with_its_cause(app: TestApp) {
    app.with_conn(|c| {
        // The cause fails after enqueueing: nothing may remain.
        let r: Result<(), diesel::result::Error> = hookdesk::db::write(c, |c| {
            enqueue(c, &new("{}"), t0());
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(r.is_err());
        assert!(Delivery::count_by_status(c).unwrap().is_empty());
        hookdesk::db::write(c, |c| {
            enqueue(c, &new("{}"), t0());
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        assert_eq!(
            Delivery::count_by_status(c).unwrap(),
            vec![("pending".to_string(), 1)]
        );
    });
}

async fn claims_hold_leases_and_expired_leases_return(app: TestApp) {
    app.with_conn(|c| {
        let id = enqueue(c, &new("{}"), t0());
        // Not due before its time.
        let (_, rows) = claim::claim(c, "a", 10, t0(), &[], t0() - Duration::seconds(1)).unwrap();
        assert!(rows.is_empty());
        let lease = t0() + Duration::seconds(60);
        let (tok_a, rows) = claim::claim(c, "a", 10, lease, &[], t0()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, id);
        let d = Delivery::get(c, id).unwrap();
        assert_eq!(d.status, "in_flight");
        assert_eq!(d.claimed_by.as_deref(), Some("a"));
        // While the lease holds nobody else gets it.
        let (_, rows) = claim::claim(c, "b", 10, lease, &[], t0() + Duration::seconds(59)).unwrap();
        assert!(rows.is_empty());
        // After it expires, another worker does.
        expire_leases(c);
        let later = t0() + Duration::seconds(61);
        let (tok_b, rows) =
            claim::claim(c, "b", 10, later + Duration::seconds(60), &[], later).unwrap();
        assert_eq!(rows.len(), 1);
        assert_ne!(tok_a, tok_b);
        // The first worker's outcome no longer counts; the holder's does.
        assert_eq!(
            claim::finish(c, &[finish_ok(id, &tok_a)], later).unwrap(),
            vec![false]
        );
        assert!(AttemptRecord::for_delivery(c, id).unwrap().is_empty());
        assert_eq!(
            claim::finish(c, &[finish_ok(id, &tok_b)], later).unwrap(),
            vec![true]
        );
        let d = Delivery::get(c, id).unwrap();
        assert_eq!(d.status, "succeeded");
        assert_eq!(d.attempts, 1);
        assert!(d.claim_token.is_none() && d.lease_expires_at.is_none());
        assert_eq!(AttemptRecord::for_delivery(c, id).unwrap().len(), 1);
    });
}

/// Every lease taken 61 s earlier than it was: expired on the test's fake clock (SQLite)
/// and on the database's own (PostgreSQL, where leases are read on it: invariant 4).
fn expire_leases(c: &mut DbConn) {
    let sql = match c {
        DbConn::Sqlite(_) => {
            "UPDATE deliveries SET lease_expires_at = datetime(lease_expires_at, '-61 seconds') \
             WHERE lease_expires_at IS NOT NULL"
        }
        DbConn::Postgres(_) => {
            "UPDATE deliveries SET lease_expires_at = lease_expires_at - interval '61 seconds' \
             WHERE lease_expires_at IS NOT NULL"
        }
    };
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), c).unwrap();
}

/// A node whose clock runs ten minutes ahead does not take a live claim as expired on
/// PostgreSQL, where nodes share the queue: the lease is on the database's clock.
async fn a_node_whose_clock_runs_ahead_takes_no_live_claim(app: TestApp) {
    app.with_conn(|c| {
        if matches!(c, DbConn::Sqlite(_)) {
            // One machine, one clock: nothing to disagree.
            return;
        }
        let now = hookdesk::db::now();
        let id = enqueue(c, &new("{}"), now);
        let (_, rows) = claim::claim(c, "a", 10, now + Duration::seconds(60), &[], now).unwrap();
        assert_eq!(rows.len(), 1);
        let ahead = now + Duration::minutes(10);
        let (_, rows) =
            claim::claim(c, "b", 10, ahead + Duration::seconds(60), &[], ahead).unwrap();
        assert!(rows.is_empty(), "a live claim was taken");
        assert_eq!(
            Delivery::get(c, id).unwrap().claimed_by.as_deref(),
            Some("a")
        );
        // Expired on the database's clock, it is taken.
        expire_leases(c);
        let (_, rows) =
            claim::claim(c, "b", 10, ahead + Duration::seconds(60), &[], ahead).unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    });
}

async fn release_returns_rows_untouched(app: TestApp) {
    app.with_conn(|c| {
        let id = enqueue(c, &new("{}"), t0());
        let (tok, _) = claim::claim(c, "a", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        assert_eq!(claim::release(c, &tok, &[id], t0()).unwrap(), 1);
        let d = Delivery::get(c, id).unwrap();
        assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));
        let (_, rows) = claim::claim(c, "b", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        assert_eq!(rows.len(), 1);
    });
}

/// Expired leases of a connection that is excluded (paused, saturated) do not hide
/// another connection's from a small claim.
async fn expired_leases_of_an_excluded_connection_hide_no_others(app: TestApp) {
    app.with_conn(|c| {
        for _ in 0..3 {
            let mut a = new("{}");
            a.connection_id = Some(1);
            enqueue(c, &a, t0());
        }
        let mut b = new("{}");
        b.connection_id = Some(2);
        let id_b = enqueue(c, &b, t0());
        let (_, rows) = claim::claim(c, "a", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        assert_eq!(rows.len(), 4);
        // Worker "a" died; connection 1 is paused when the leases have expired.
        expire_leases(c);
        let later = t0() + Duration::seconds(61);
        let (_, rows) =
            claim::claim(c, "b", 2, later + Duration::seconds(60), &[1], later).unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id_b]);
    });
}

async fn excluded_connections_are_not_claimed(app: TestApp) {
    app.with_conn(|c| {
        let mut a = new("{}");
        a.connection_id = Some(1);
        let mut b = new("{}");
        b.connection_id = Some(2);
        enqueue(c, &a, t0());
        let id_b = enqueue(c, &b, t0());
        let (_, rows) = claim::claim(c, "w", 10, t0() + Duration::seconds(60), &[1], t0()).unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id_b]);
    });
}

/// A claim takes no more of a connection's rows than the worker has slots for; the rest
/// stay pending and untouched (never claimed and released), and come with the next claim.
/// Rows without a connection and other connections' rows are not held back.
async fn a_claim_takes_only_what_each_connection_has_room_for(app: TestApp) {
    app.with_conn(|c| {
        let mut ids = std::collections::HashMap::<Option<i64>, Vec<i64>>::new();
        for i in 0..10 {
            for conn in [Some(1), Some(2), None] {
                let mut d = new(&format!("{{\"n\":{i}}}"));
                d.connection_id = conn;
                ids.entry(conn).or_default().push(enqueue(c, &d, t0()));
            }
        }
        let room = claim::Room {
            exclude: vec![],
            left: [(1, 3)].into_iter().collect(),
            per_connection: 4,
        };
        let lease = t0() + Duration::seconds(60);
        let (_, rows) = claim::claim_within(c, "w", 100, lease, &room, t0()).unwrap();
        let of = |conn: Option<i64>| -> Vec<i64> {
            rows.iter()
                .filter(|r| r.connection_id == conn)
                .map(|r| r.id)
                .collect()
        };
        // Connection 1 had 3 slots left, connection 2 the default 4, no connection: all.
        assert_eq!(of(Some(1)), ids[&Some(1)][..3]);
        assert_eq!(of(Some(2)), ids[&Some(2)][..4]);
        assert_eq!(of(None), ids[&None]);
        // Claim order is kept: oldest first.
        let mut sorted: Vec<i64> = rows.iter().map(|r| r.id).collect();
        sorted.sort_unstable();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), sorted);
        // The rows left out were not touched: pending, no claim, no worker.
        for id in &ids[&Some(1)][3..] {
            let d = Delivery::get(c, *id).unwrap();
            assert_eq!(d.status, Status::Pending.as_str());
            assert_eq!(d.claimed_by, None);
        }
        // The next claim takes them, again within the room.
        let (_, next) = claim::claim_within(c, "w", 100, lease, &room, t0()).unwrap();
        let next_1: Vec<i64> = next
            .iter()
            .filter(|r| r.connection_id == Some(1))
            .map(|r| r.id)
            .collect();
        assert_eq!(next_1, ids[&Some(1)][3..6]);
    });
}

/// Two claimers racing on separate connections over 600 rows never take one row twice.
async fn concurrent_claimers_never_share_a_row(app: TestApp) {
    app.with_conn(|c| {
        for i in 0..600 {
            enqueue(c, &new(&format!("{{\"n\":{i}}}")), t0());
        }
    });
    let mut handles = Vec::new();
    for w in ["a", "b"] {
        let pool = app.pool.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = pool.get().unwrap();
            let mut got = Vec::new();
            loop {
                let (_, rows) =
                    claim::claim(&mut c, w, 7, t0() + Duration::seconds(60), &[], t0()).unwrap();
                if rows.is_empty() {
                    return got;
                }
                got.extend(rows.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(n, 600, "every row claimed exactly once");
    assert_eq!(all.len(), 600);
}

async fn cancel_stops_only_pending(app: TestApp) {
    app.with_conn(|c| {
        let id = enqueue(c, &new("{}"), t0());
        let d = queue::cancel(c, id, t0()).unwrap();
        assert_eq!(d.status, "cancelled");
        let (_, rows) = claim::claim(c, "a", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        assert!(rows.is_empty(), "a cancelled delivery is never claimed");
        let err = queue::cancel(c, id, t0()).unwrap_err().to_string();
        assert!(err.contains("cancelled"), "{err}");
    });
}

async fn replay_links_a_new_delivery_with_the_same_request(app: TestApp) {
    app.with_conn(|c| {
        let mut n = new("{\"a\":1}");
        n.retry_schedule = Some(vec!["0s".into(), "1m".into()]);
        let id = enqueue(c, &n, t0());
        let (tok, _) = claim::claim(c, "a", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        let mut f = finish_ok(id, &tok);
        f.status = Status::Failed;
        claim::finish(c, &[f], t0()).unwrap();
        let new_id = hookdesk::firing::replay(
            c,
            &hookdesk::audit::Actor::system("test"),
            hookdesk::ids::DeliveryId(id),
            &app.config.retry_schedule,
            t0(),
        )
        .unwrap()
        .0;
        let (o, r) = (
            Delivery::get(c, id).unwrap(),
            Delivery::get(c, new_id).unwrap(),
        );
        assert_ne!(o.uid, r.uid, "a replay is a new message");
        assert_eq!(r.replay_of, Some(id));
        assert_eq!(r.trigger, "replay");
        assert_eq!(r.status, "pending");
        assert_eq!(
            (r.method, r.url, r.body, r.headers),
            (o.method, o.url, o.body, o.headers)
        );
        assert_eq!(r.max_attempts, 2);
    });
}

async fn bad_deliveries_are_refused_whole(app: TestApp) {
    app.with_conn(|c| {
        let mut n = new("not json");
        n.request.method = "TRACE".into();
        n.request.url = "nope".into();
        n.batch = Some(batching::BatchSpec {
            key: "k".into(),
            wait_seconds: -1,
            max_items: 0,
        });
        let err = queue::enqueue(c, &n, 8, t0()).unwrap_err();
        let hookdesk::error::Error::Validation(f) = err else {
            panic!("expected field errors, got {err}")
        };
        for field in [
            "method",
            "url",
            "batch_wait_seconds",
            "batch_max_items",
            "body",
        ] {
            assert!(f.get(field).is_some(), "{field}: {f}");
        }
        assert!(Delivery::count_by_status(c).unwrap().is_empty());
    });
}

queue_tests!(
    outbox_commits_with_its_cause,
    claims_hold_leases_and_expired_leases_return,
    release_returns_rows_untouched,
    excluded_connections_are_not_claimed,
    expired_leases_of_an_excluded_connection_hide_no_others,
    a_node_whose_clock_runs_ahead_takes_no_live_claim,
    a_claim_takes_only_what_each_connection_has_room_for,
    concurrent_claimers_never_share_a_row,
    cancel_stops_only_pending,
    replay_links_a_new_delivery_with_the_same_request,
    bad_deliveries_are_refused_whole,
);
