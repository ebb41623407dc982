//! Waking workers in other processes (PostgreSQL only).
//!
//! Every insert into `deliveries` sends `NOTIFY hookdesk_deliveries` from a statement
//! trigger (migration `deliveries_notify_trigger`), and [`enqueue`](super::enqueue) sends
//! it with [`notify`] when it appends to an open batch; both inside the writer's
//! transaction. PostgreSQL delivers it only if that transaction commits, so a worker is
//! never woken for a delivery that does not exist (the outbox again). Each worker process
//! keeps one extra connection that `LISTEN`s and turns notifications into a wake of its
//! [`Waker`]. libpq offers no blocking wait through diesel, so the listener checks its
//! socket every [`TICK`] — a non-blocking read, no query and no round trip — which bounds
//! the cross-process wake-up delay by that tick instead of by the claim poll
//! (`worker_poll_ms`, still the fallback should the listener lose its connection).
//! SQLite has one process per database file, where the in-process [`Waker`] suffices.

use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use tokio::sync::Notify;

use super::queue::Waker;
use crate::db::DbConn;
use crate::error::Result;

pub const CHANNEL: &str = "hookdesk_deliveries";

/// How often the listener reads its socket.
pub const TICK: Duration = Duration::from_millis(20);

/// Queues the notification in the caller's transaction (sent on commit).
pub fn notify(conn: &mut DbConn) -> Result<()> {
    if let DbConn::Postgres(c) = conn {
        diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(c)?;
    }
    Ok(())
}

/// Starts the listener thread for a PostgreSQL `url`. It ends once every clone of
/// `waker` is gone (the worker stopped); it reconnects, with back-off, when the
/// connection drops.
pub fn spawn_listener(url: String, waker: &Waker) -> std::io::Result<()> {
    let weak = Arc::downgrade(&waker.0);
    std::thread::Builder::new()
        .name("hookdesk-listen".into())
        .spawn(move || listen(&url, &weak))?;
    Ok(())
}

fn listen(url: &str, waker: &Weak<Notify>) {
    let mut backoff = Duration::from_secs(1);
    while waker.strong_count() > 0 {
        let conn = PgConnection::establish(url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut c)
                    .map(|_| c)
                    .map_err(|e| e.to_string())
            });
        match conn {
            Ok(mut c) => {
                backoff = Duration::from_secs(1);
                if let Err(e) = relay(&mut c, waker) {
                    tracing::warn!(error = %e, "delivery listener lost its connection; reconnecting");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "delivery listener cannot connect");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Wakes the worker for every batch of notifications until the connection fails (an
/// error) or the worker is gone (`Ok`).
fn relay(c: &mut PgConnection, waker: &Weak<Notify>) -> std::result::Result<(), String> {
    loop {
        let mut woke = false;
        for n in c.notifications_iter() {
            n.map_err(|e| e.to_string())?;
            woke = true;
        }
        let Some(w) = waker.upgrade() else {
            return Ok(());
        };
        if woke {
            w.notify_one();
        }
        drop(w);
        std::thread::sleep(TICK);
    }
}
