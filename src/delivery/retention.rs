//! Retention: finished deliveries (delivered, failed, cancelled) and their attempts are
//! deleted `retention_days` after they finished; attempts' stored request and response
//! bodies, which may hold personal data, are emptied after `body_retention_days`. The
//! delivery's own stored request stays while the delivery does, so it can still be
//! replayed. Work goes in small batches, each its own short write, so the purge never
//! holds the write lock long enough to delay a delivery.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::queue::Status;
use crate::db::schema::{deliveries, delivery_attempts, delivery_rules, delivery_tickets};
use crate::db::{DbConn, DbPool};
use crate::error::Result;

/// Rows per batch.
pub const BATCH: i64 = 500;

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: usize,
    pub bodies: usize,
}

/// Deletes one batch of deliveries that finished before `cutoff`, their attempts and the
/// tickets and rules they carry first (the foreign keys cascade as well, but these
/// deletes do not rest on SQLite's `foreign_keys` pragma); returns how many deliveries
/// went.
pub fn purge_batch(conn: &mut DbConn, cutoff: NaiveDateTime) -> Result<usize> {
    crate::db::write(conn, |c| {
        let ids: Vec<i64> = deliveries::table
            .filter(deliveries::completed_at.lt(cutoff))
            .filter(deliveries::status.eq_any([
                Status::Succeeded.as_str(),
                Status::Failed.as_str(),
                Status::Cancelled.as_str(),
            ]))
            .order(deliveries::id.asc())
            .limit(BATCH)
            .select(deliveries::id)
            .load(c)?;
        if ids.is_empty() {
            return Ok(0);
        }
        diesel::delete(
            delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(&ids)),
        )
        .execute(c)?;
        diesel::delete(delivery_tickets::table.filter(delivery_tickets::delivery_id.eq_any(&ids)))
            .execute(c)?;
        diesel::delete(delivery_rules::table.filter(delivery_rules::delivery_id.eq_any(&ids)))
            .execute(c)?;
        Ok(diesel::delete(deliveries::table.filter(deliveries::id.eq_any(&ids))).execute(c)?)
    })
}

/// Empties one batch of attempts' bodies older than `cutoff`; returns how many.
pub fn empty_bodies_batch(conn: &mut DbConn, cutoff: NaiveDateTime) -> Result<usize> {
    crate::db::write(conn, |c| {
        let ids: Vec<i64> = delivery_attempts::table
            .filter(delivery_attempts::started_at.lt(cutoff))
            .filter(
                delivery_attempts::response_body
                    .ne("")
                    .or(delivery_attempts::request_body.ne("")),
            )
            .order(delivery_attempts::id.asc())
            .limit(BATCH)
            .select(delivery_attempts::id)
            .load(c)?;
        if ids.is_empty() {
            return Ok(0);
        }
        Ok(
            diesel::update(delivery_attempts::table.filter(delivery_attempts::id.eq_any(&ids)))
                .set((
                    delivery_attempts::response_body.eq(""),
                    delivery_attempts::request_body.eq(""),
                ))
                .execute(c)?,
        )
    })
}

/// One whole pass: batches until nothing old is left.
pub fn run_once(
    conn: &mut DbConn,
    retention_days: i64,
    body_retention_days: i64,
    now: NaiveDateTime,
) -> Result<Purged> {
    let mut p = Purged::default();
    let cutoff = now - Duration::days(retention_days);
    loop {
        let n = purge_batch(conn, cutoff)?;
        p.deliveries += n;
        if n < BATCH as usize {
            break;
        }
    }
    let body_cutoff = now - Duration::days(body_retention_days.min(retention_days));
    loop {
        let n = empty_bodies_batch(conn, body_cutoff)?;
        p.bodies += n;
        if n < BATCH as usize {
            break;
        }
    }
    Ok(p)
}

/// Runs a pass at start and then hourly, logging the counts. A busy database only
/// postpones the pass.
pub fn spawn(pool: DbPool, retention_days: i64, body_retention_days: i64) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let res = crate::db::run(&pool, move |c| {
                run_once(c, retention_days, body_retention_days, crate::db::now())
            })
            .await;
            match res {
                Ok(p) => tracing::info!(
                    deliveries = p.deliveries,
                    bodies = p.bodies,
                    retention_days,
                    body_retention_days,
                    "retention pass"
                ),
                Err(e) => tracing::warn!(error = %e, "retention pass postponed"),
            }
        }
    });
}
