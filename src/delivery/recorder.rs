//! Group commit for attempt outcomes: every send hands its outcome to one task, which
//! writes all outcomes that are ready in one short transaction (SQLite has one writer;
//! one transaction per hundred deliveries instead of one per delivery is what lets the
//! engine reach thousands per second).

use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use super::claim::{self, Finish};
use super::health::{self, HealthEvent};
use super::hooks::{HealthNews, Hooks, NewsKind};
use super::queue::Status;
use crate::db::{self, DbPool};

/// Most outcomes written in one transaction.
const MAX_GROUP: usize = 512;

struct Item {
    finish: Finish,
    health: Option<(i64, HealthEvent)>,
    breaker: (i32, Duration),
    now: NaiveDateTime,
    done: oneshot::Sender<bool>,
}

pub(super) struct Recorder {
    tx: mpsc::UnboundedSender<Item>,
}

impl Recorder {
    /// Spawns the writing task on the current runtime; it ends when the recorder is dropped.
    pub(super) fn start(pool: DbPool, hooks: Hooks) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx, hooks));
        Self { tx }
    }

    /// Writes one outcome (with others that are ready) and tells whether it was recorded:
    /// `false` when the claim had been lost or the database refused the write — the
    /// delivery is then sent again once its lease expires.
    pub(super) async fn record(
        &self,
        finish: Finish,
        health: Option<(i64, HealthEvent)>,
        breaker: (i32, Duration),
        now: NaiveDateTime,
    ) -> bool {
        let (done, rx) = oneshot::channel();
        let item = Item {
            finish,
            health,
            breaker,
            now,
            done,
        };
        if self.tx.send(item).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }
}

async fn run(pool: DbPool, mut rx: mpsc::UnboundedReceiver<Item>, hooks: Hooks) {
    while let Some(first) = rx.recv().await {
        let mut items = vec![first];
        while items.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(i) => items.push(i),
                Err(_) => break,
            }
        }
        let finishes: Vec<Finish> = items.iter().map(|i| i.finish.clone()).collect();
        let events: Vec<_> = items.iter().map(|i| (i.health, i.breaker, i.now)).collect();
        let hooks = hooks.clone();
        let res = db::run(&pool, move |c| {
            crate::db::write_first(c, |c| {
                let now = events.last().map_or_else(db::now, |e| e.2);
                let ok = claim::finish_with(c, &finishes, now, &mut |c, f| {
                    let job = f.response.as_ref()?;
                    (hooks.response)(
                        c,
                        job,
                        f.attempt.response_body.as_bytes(),
                        f.attempt.response_truncated,
                        now.and_utc(),
                    )
                })?;
                let mut news = Vec::new();
                // A success after a success of the same connection in this group changes
                // nothing (the first closed the breaker); one `UPDATE` per connection
                // and group instead of one per delivery.
                let mut healthy = std::collections::HashSet::new();
                for ((recorded, (ev, breaker, now)), f) in ok.iter().zip(&events).zip(&finishes) {
                    if !recorded {
                        continue;
                    }
                    let Some(conn_id) = ev.map(|e| e.0).or(f.connection_id) else {
                        continue;
                    };
                    let tell = |kind| HealthNews {
                        connection_id: conn_id,
                        kind,
                        delivery_id: f.id,
                        error: f.last_error.clone(),
                        at: *now,
                    };
                    if let Some((_, ev)) = ev {
                        let repeat = *ev == HealthEvent::Success && !healthy.insert(conn_id);
                        if *ev != HealthEvent::Success {
                            healthy.remove(&conn_id);
                        }
                        if !repeat
                            && let Some(change) = health::apply(c, conn_id, *ev, *breaker, *now)?
                        {
                            news.push(tell(NewsKind::Health(change)));
                        }
                    }
                    if f.status == Status::Failed {
                        news.push(tell(NewsKind::DeliveryFailed));
                    }
                }
                for n in &news {
                    // A savepoint: an alert that cannot be written is logged and undone
                    // alone; the outcomes are recorded all the same.
                    if let Err(e) = crate::db::write(c, |c| (hooks.health)(c, n)) {
                        tracing::error!(error = %e, connection = n.connection_id, "health hook failed");
                    }
                }
                Ok(ok)
            })
        })
        .await;
        match res {
            Ok(ok) => {
                for (item, recorded) in items.into_iter().zip(ok) {
                    if recorded {
                        log_attempt(&item.finish);
                    }
                    let _ = item.done.send(recorded);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, n = items.len(), "recording delivery outcomes failed");
                for item in items {
                    let _ = item.done.send(false);
                }
            }
        }
    }
}

/// One line per recorded attempt (JSON with `log_format = "json"`): its ids, cause and
/// outcome. Never the URL, headers or bodies: they may carry credentials or personal data;
/// the execution log has them, redacted.
fn log_attempt(f: &Finish) {
    let a = &f.attempt;
    crate::metrics::attempt(
        match f.status {
            super::queue::Status::Succeeded => crate::metrics::Outcome::Succeeded,
            super::queue::Status::Pending => crate::metrics::Outcome::Retry,
            _ => crate::metrics::Outcome::Failed,
        },
        a.duration_ms,
    );
    tracing::info!(
        target: "hookdesk::delivery",
        delivery = f.id,
        attempt = a.number,
        trigger = %a.trigger,
        outcome = f.status.as_str(),
        http_status = a.response_status,
        error_class = a.error_class.as_deref(),
        duration_ms = a.duration_ms,
        worker = %a.worker,
        "delivery attempt recorded"
    );
}
