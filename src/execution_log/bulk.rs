//! Bulk replay: every delivery a log filter selects — failed ones unless the filter
//! chooses other settled states — replayed as new linked deliveries by a background
//! task, in batches, each batch one write transaction that also records the progress.
//! The deliveries it takes are fixed when it starts (ids up to `last_id`), so its own
//! replays, and anything that arrives meanwhile, are never taken too.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::filter::{LogFilter, LogQuery};
use super::query::{count_by_connection, page};
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{bulk_replays, connections, deliveries};
use crate::delivery::queue::{DeliveryId, Stage};
use crate::error::{Error, Result};

/// Deliveries replayed per transaction.
pub const BATCH: i64 = 200;

/// What a bulk replay of a filter would take, for the confirmation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    pub total: i64,
    /// (connection name, or "no connection"; count), largest first.
    pub by_connection: Vec<(String, i64)>,
    /// The newest delivery counted: the replay takes none newer.
    pub upto: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = bulk_replays)]
pub struct Job {
    pub id: i64,
    /// The log's URL query that chose the deliveries.
    pub filter: String,
    pub last_id: i64,
    pub cursor: Option<i64>,
    pub total: i64,
    pub done: i64,
    /// `running`, `finished` or `failed`.
    pub state: String,
    pub error: Option<String>,
    pub created_by: Option<i64>,
    pub created_by_name: String,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl Job {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
    pub fn percent(&self) -> i64 {
        if self.total == 0 {
            100
        } else {
            self.done * 100 / self.total
        }
    }
}

/// The filter a bulk replay runs: the log's, with the status narrowed to settled
/// states (failed when none is chosen). Replaying a delivery still under way would send
/// it twice, so asking for one is refused.
pub fn replay_filter(q: &LogQuery, now: NaiveDateTime) -> Result<LogFilter> {
    let mut f = q.check(now)?;
    if f.statuses.is_empty() {
        f.statuses = vec![Stage::Failed];
    }
    if f.statuses.iter().any(|s| s.is_open()) {
        return Err(Error::invalid(
            "status",
            "only failed, delivered or cancelled deliveries can be replayed in bulk",
        ));
    }
    f.before = None;
    Ok(f)
}

/// The filter as the confirmation counts it and the job keeps it, fixed at `now`: a
/// window relative to now (`last=1h`) made absolute, and only deliveries settled by now
/// (`settled`). The job re-reads its stored filter at each step, and the confirmation
/// is submitted a while after it was shown: a moving window would take other deliveries
/// than those counted, and so would one that was still retrying then and failed since.
/// The page counts with this same query, so both take the same rows.
pub fn anchored(q: &LogQuery, now: NaiveDateTime) -> Result<LogQuery> {
    let mut frozen = q.clone();
    if let Some(from) = q.check(now)?.from
        && frozen.from.trim().is_empty()
    {
        frozen.from = from.format("%Y-%m-%dT%H:%M:%S").to_string();
        frozen.last = String::new();
    }
    if frozen.settled.trim().is_empty() {
        frozen.settled = now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    }
    frozen.before = None;
    Ok(frozen)
}

/// What replaying `q` would take: the deliveries it selects up to `upto` (the newest one
/// when `None`), by connection.
pub fn preview(
    conn: &mut DbConn,
    q: &LogQuery,
    upto: Option<i64>,
    now: NaiveDateTime,
) -> Result<Preview> {
    let mut f = replay_filter(q, now)?;
    let newest: i64 = deliveries::table
        .select(diesel::dsl::max(deliveries::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let upto = upto.map_or(newest, |u| u.min(newest));
    f.before = Some(upto + 1);
    let counts = count_by_connection(conn, &f)?;
    let ids: Vec<i64> = counts.iter().filter_map(|(c, _)| *c).collect();
    let names: std::collections::HashMap<i64, String> = connections::table
        .filter(connections::id.eq_any(ids))
        .select((connections::id, connections::name))
        .load(conn)?
        .into_iter()
        .collect();
    let mut by_connection: Vec<(String, i64)> = counts
        .into_iter()
        .map(|(c, n)| {
            let name = match c {
                Some(id) => names
                    .get(&id)
                    .cloned()
                    .unwrap_or(format!("#{id} (deleted)")),
                None => "no connection".into(),
            };
            (name, n)
        })
        .collect();
    by_connection.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Preview {
        total: by_connection.iter().map(|(_, n)| n).sum(),
        by_connection,
        upto,
    })
}

/// Starts a bulk replay of what `q` selects now, among the deliveries up to `upto` (the
/// newest one its confirmation counted; all when `None`), audited; run it with [`step`].
pub fn start(
    conn: &mut DbConn,
    actor: &Actor,
    q: &LogQuery,
    upto: Option<i64>,
    now: NaiveDateTime,
) -> Result<Job> {
    crate::db::write(conn, |c| {
        // What the confirmation counted when it carried its anchored filter; fixed now
        // otherwise (the API).
        let q = &anchored(q, now)?;
        let p = preview(c, q, upto, now)?;
        if p.total == 0 {
            return Err(Error::invalid(
                "status",
                "no delivery matches: nothing to replay",
            ));
        }
        let last_id = p.upto;
        let filter = anchored(q, now)?.with_cursor(None);
        let id: i64 = diesel::insert_into(bulk_replays::table)
            .values((
                bulk_replays::filter.eq(&filter),
                bulk_replays::last_id.eq(last_id),
                bulk_replays::total.eq(p.total),
                bulk_replays::state.eq("running"),
                bulk_replays::created_by.eq(actor.id),
                bulk_replays::created_by_name.eq(&actor.name),
                bulk_replays::created_at.eq(now),
            ))
            .returning(bulk_replays::id)
            .get_result(c)?;
        let to = p
            .by_connection
            .iter()
            .map(|(n, k)| format!("{n}: {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        audit::record(
            c,
            actor,
            "delivery.bulk_replay",
            &format!("bulk replay {id}"),
            audit::SUCCESS,
            &format!("{} deliveries ({to}); filter: {filter}", p.total),
        )?;
        get(c, id)
    })
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Job> {
    bulk_replays::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("bulk replay {id}")))
}

/// Jobs left running (by a process that stopped), to resume at start-up.
pub fn running(conn: &mut DbConn) -> Result<Vec<i64>> {
    Ok(bulk_replays::table
        .filter(bulk_replays::state.eq("running"))
        .select(bulk_replays::id)
        .load(conn)?)
}

/// Replays the next batch of job `id` in one transaction; returns whether the job is
/// over. Safe to call from two processes at once: the job row is re-read under the
/// write lock and its cursor moves with the batch.
pub fn step(conn: &mut DbConn, id: i64, global: &[String], now: NaiveDateTime) -> Result<bool> {
    crate::db::write(conn, |c| {
        let job = get(c, id)?;
        if !job.running() {
            return Ok(true);
        }
        let q: LogQuery = serde_html_form::from_str(&job.filter)
            .map_err(|e| Error::Internal(format!("bulk replay {id}: stored filter: {e}")))?;
        let mut f = replay_filter(&q, now)?;
        f.before = Some(job.cursor.unwrap_or(job.last_id + 1));
        f.limit = BATCH;
        let p = page(c, &f)?;
        let by = (
            job.created_by,
            format!("{} (bulk replay {id})", job.created_by_name),
        );
        for row in &p.items {
            crate::firing::replay_unaudited(c, (by.0, &by.1), DeliveryId(row.id), global, now)?;
        }
        let finished = p.next_cursor.is_none();
        diesel::update(bulk_replays::table.find(id))
            .set((
                bulk_replays::done.eq(job.done + p.items.len() as i64),
                bulk_replays::cursor.eq(p.items.last().map(|r| r.id).or(job.cursor)),
                bulk_replays::state.eq(if finished { "finished" } else { "running" }),
                bulk_replays::finished_at.eq(finished.then_some(now)),
            ))
            .execute(c)?;
        Ok(finished)
    })
}

/// Marks a job failed with the reason (a batch that cannot be written).
pub fn fail(conn: &mut DbConn, id: i64, why: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(bulk_replays::table.find(id))
        .set((
            bulk_replays::state.eq("failed"),
            bulk_replays::error.eq(Some(why)),
            bulk_replays::finished_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Runs job `id` to its end in the background, waking the delivery worker after each
/// batch. A busy database is waited out; any other error ends the job as failed, with
/// the reason on its page.
pub fn spawn(pool: crate::db::DbPool, id: i64, global: Vec<String>, waker: crate::delivery::Waker) {
    tokio::spawn(async move {
        loop {
            let g = global.clone();
            match crate::db::run(&pool, move |c| step(c, id, &g, crate::db::now())).await {
                Ok(finished) => {
                    waker.wake();
                    if finished {
                        tracing::info!(job = id, "bulk replay finished");
                        return;
                    }
                }
                Err(Error::Busy(_) | Error::Pool(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::error!(job = id, error = %e, "bulk replay stopped");
                    let why = e.public_message();
                    let _ =
                        crate::db::run(&pool, move |c| fail(c, id, &why, crate::db::now())).await;
                    return;
                }
            }
        }
    });
}
