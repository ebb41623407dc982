//! Claiming due deliveries with leases, and finishing them.
//!
//! Invariants (read these before changing anything here):
//! 1. A delivery is sent only by the worker holding its claim: `status = 'in_flight'`,
//!    a `claim_token` unique to one claim, and `lease_expires_at` in the future.
//! 2. Claiming is one short write transaction that reads the due candidates and updates
//!    those it takes — SQLite: under `BEGIN IMMEDIATE`, so two claimers are serialised
//!    by the write lock; PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent
//!    claimers skip each other's rows instead of waiting or taking them twice. A claim
//!    takes no more of a connection's rows than the worker has slots for ([`Room`]).
//! 3. Nothing is sent inside a transaction. The outcome is written by [`finish`] in a
//!    second short transaction whose update only matches while the claim token is still
//!    the row's: a worker whose lease expired (and whose row another worker re-claimed)
//!    changes nothing.
//! 4. An expired lease makes the row claimable again (a crashed worker's deliveries are
//!    re-sent: at least once). The lease must exceed the longest request, or a slow but
//!    live request could be sent twice; startup refuses a lease that does not exceed the
//!    request timeout, and the worker clamps per-connection timeouts below the lease.
//!    On PostgreSQL, where many nodes claim, a lease is set and read on the database's
//!    clock (`now()`), never a node's: a node whose clock runs ahead would otherwise take
//!    another's live claim as expired. (SQLite is one machine, one clock.)
//! 5. An `ordered` delivery (its webhook keeps order per ticket) is claimable only when
//!    no earlier delivery of the same webhook and ticket is still open (pending or in
//!    flight): one at a time per ticket, in id order, which is commit order (SQLite's
//!    write lock; on PostgreSQL `enqueue` locks the ticket's row first). A retrying one
//!    holds back the later ones; one that ends (delivered, failed, cancelled) lets the
//!    next go. Other tickets and unordered deliveries are never held back.
//! 6. Held deliveries (their connection is paused by the breaker or an administrator)
//!    are skipped by the claim, not claimed and put back: they keep their attempts and
//!    leave when the connection resumes.
//! 7. A claim reads each connection's due rows by its own index seek (`deliveries_due`
//!    is `status, connection_id, next_attempt_at, id`) and merges them in due order, so
//!    the backlog of a paused, saturated or hung connection is never scanned by claims
//!    for the others: a claim's cost follows what it takes, not what waits elsewhere.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::queue::Status;
use super::records::NewAttempt;
use crate::db::DbConn;
use crate::db::schema::deliveries;
use crate::error::Result;

mod pg;

/// A claimed delivery: what the worker needs to send it.
#[derive(Debug, Clone, QueryableByName, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Claimed {
    pub id: i64,
    pub uid: String,
    pub webhook_id: Option<i64>,
    pub connection_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub trigger: String,
    pub method: String,
    pub url: String,
    pub headers: String,
    pub sealed_headers: Option<String>,
    pub body: String,
    pub content_type: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub max_attempts: i32,
    pub retry_schedule: Option<String>,
    pub claim_token: Option<String>,
    /// Set on a batch: many occurrences (tickets) in one body.
    pub batch_key: Option<String>,
    /// When it was due: the claim order is due time, then id.
    pub next_attempt_at: NaiveDateTime,
}

const RETURNING: &str = "id, uid, webhook_id, connection_id, ticket_id, trigger, method, url, \
     headers, sealed_headers, body, content_type, attempts, max_attempts, retry_schedule, \
     claim_token, batch_key, next_attempt_at";

/// The rows a claimer may take: due pending ones, and in-flight ones whose lease has
/// expired (their worker died or lost its way; invariant 4).
const DUE: &str = "((status = 'pending' AND next_attempt_at <= {now}) \
     OR (status = 'in_flight' AND lease_expires_at < {now}))";

/// Invariant 5: an ordered row waits while an earlier one of its webhook and ticket is
/// open. (An expired in-flight row is its own head, so it is never held back by itself.)
const IN_TURN: &str = " AND (ordered = {false} OR NOT EXISTS (SELECT 1 FROM deliveries e \
     WHERE e.webhook_id = deliveries.webhook_id AND e.ticket_id = deliveries.ticket_id \
     AND e.id < deliveries.id AND e.status IN ('pending', 'in_flight')))";

/// Claims up to `limit` due deliveries for `worker` until `lease_until`, skipping the
/// connections in `exclude` (saturated or paused). Returns the claim token and the rows.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    exclude: &[i64],
    now: NaiveDateTime,
) -> Result<(String, Vec<Claimed>)> {
    let room = Room {
        exclude: exclude.to_vec(),
        ..Room::default()
    };
    claim_within(conn, worker, limit, lease_until, &room, now)
}

/// How many rows a claim may take per connection: none of `exclude`'s, at most `left`'s
/// count of a connection with requests in flight, at most `per_connection` of any other.
/// Rows without a connection are not limited.
#[derive(Debug, Clone)]
pub struct Room {
    pub exclude: Vec<i64>,
    pub left: HashMap<i64, usize>,
    pub per_connection: usize,
}

impl Default for Room {
    fn default() -> Self {
        Self {
            exclude: Vec::new(),
            left: HashMap::new(),
            per_connection: usize::MAX,
        }
    }
}

impl Room {
    /// The due candidates (in claim order) this room takes: a connection's rows beyond its
    /// room stay pending, untouched, for a later claim — rather than being claimed and
    /// released again, two writes of every row for nothing.
    fn choose(&self, candidates: &[Candidate]) -> Vec<i64> {
        let mut taken: HashMap<i64, usize> = HashMap::new();
        candidates
            .iter()
            .filter(|c| {
                let Some(conn) = c.connection_id else {
                    return true;
                };
                if self.exclude.contains(&conn) {
                    return false;
                }
                let cap = self.left.get(&conn).copied().unwrap_or(self.per_connection);
                let n = taken.entry(conn).or_default();
                if *n < cap {
                    *n += 1;
                    true
                } else {
                    false
                }
            })
            .map(|c| c.id)
            .collect()
    }
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    connection_id: Option<i64>,
    #[diesel(sql_type = Timestamp)]
    next_attempt_at: NaiveDateTime,
}

#[derive(QueryableByName)]
pub(super) struct IdRow {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
}

/// The connections with pending rows, by a loose index scan over `deliveries_due`: one
/// seek per connection rather than a read of every pending row.
const PENDING_CONNECTIONS: &str = "WITH RECURSIVE c(id) AS (\
     SELECT (SELECT connection_id FROM deliveries WHERE status = 'pending' \
     AND connection_id IS NOT NULL ORDER BY connection_id LIMIT 1) \
     UNION ALL \
     SELECT (SELECT connection_id FROM deliveries WHERE status = 'pending' \
     AND connection_id > c.id ORDER BY connection_id LIMIT 1) FROM c WHERE c.id IS NOT NULL) \
     SELECT id FROM c WHERE id IS NOT NULL";

/// Most sub-selects in one candidates statement (SQLite allows 500 in a compound).
const PARTS_PER_STATEMENT: usize = 100;

/// SQLite: the due candidates `room` allows, in claim order (due time, then id), at most
/// `limit`: expired leases, rows without a connection, and each connection's own due rows,
/// read with one index seek each (invariant 7).
fn candidates(c: &mut DbConn, room: &Room, limit: i64, now: NaiveDateTime) -> Result<Vec<i64>> {
    let turn = IN_TURN.replace("{false}", "0");
    // Ids and limits are integers we hold, never user text, so inlining them is safe.
    let seek = |filter: &str, n: i64| {
        // A compound's members take no ORDER BY or LIMIT of their own; a sub-select in
        // FROM does.
        format!(
            "SELECT * FROM (SELECT id, connection_id, next_attempt_at FROM deliveries \
             WHERE {filter}{turn} ORDER BY next_attempt_at, id LIMIT {n}) AS s"
        )
    };
    // Expired leases of excluded (paused, saturated) connections are left out here, not
    // after: `limit` of theirs would otherwise hide every other connection's.
    let expired = if room.exclude.is_empty() {
        "status = 'in_flight' AND lease_expires_at < ?1".to_string()
    } else {
        let ids: Vec<String> = room.exclude.iter().map(i64::to_string).collect();
        format!(
            "status = 'in_flight' AND lease_expires_at < ?1 \
             AND (connection_id IS NULL OR connection_id NOT IN ({}))",
            ids.join(",")
        )
    };
    let mut parts = vec![
        seek(&expired, limit),
        seek(
            "status = 'pending' AND connection_id IS NULL AND next_attempt_at <= ?1",
            limit,
        ),
    ];
    let pending: Vec<IdRow> = diesel::sql_query(PENDING_CONNECTIONS).load(c)?;
    for IdRow { id } in pending {
        if room.exclude.contains(&id) {
            continue;
        }
        let cap = room.left.get(&id).copied().unwrap_or(room.per_connection);
        let cap = i64::try_from(cap).unwrap_or(i64::MAX).min(limit);
        if cap > 0 {
            parts.push(seek(
                &format!("status = 'pending' AND connection_id = {id} AND next_attempt_at <= ?1"),
                cap,
            ));
        }
    }
    let mut found: Vec<Candidate> = Vec::new();
    for chunk in parts.chunks(PARTS_PER_STATEMENT) {
        found.extend(
            diesel::sql_query(chunk.join(" UNION ALL "))
                .bind::<Timestamp, _>(now)
                .load::<Candidate>(c)?,
        );
    }
    found.sort_by_key(|c| (c.next_attempt_at, c.id));
    let mut chosen = room.choose(&found);
    chosen.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(chosen)
}

/// [`claim`] within `room` (invariants 2, 6 and 7); connections paused by the breaker or
/// an administrator are skipped as if they were in `room.exclude`. Rows beyond the room
/// are left as they were.
///
/// SQLite: the candidates are read without the lock, and the update under it takes only
/// those still due and in turn, so the write lock is held for one statement.
/// PostgreSQL: one prepared statement (`pg::ClaimPg`) that seeks, locks with `SKIP LOCKED`
/// and updates: one round trip, planned once per connection.
pub fn claim_within(
    conn: &mut DbConn,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    room: &Room,
    now: NaiveDateTime,
) -> Result<(String, Vec<Claimed>)> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut rows = if let DbConn::Postgres(pg) = conn {
        pg::claim(pg, &token, worker, limit, lease_until, room, now)?
    } else {
        // The look runs outside the write lock: the worker is woken by every enqueue and
        // often finds that an earlier wake-up took the rows already, and such a claim need
        // not queue behind the API's writers. (A row that becomes due just after the look
        // is found by the next wake-up or poll, as if it had come a moment later.)
        let mut room = room.clone();
        room.exclude.extend(super::health::paused(conn, now)?);
        let chosen = candidates(conn, &room, limit, now)?;
        if chosen.is_empty() {
            return Ok((token, Vec::new()));
        }
        let ids: Vec<String> = chosen.iter().map(i64::to_string).collect();
        // Re-checked under the lock: another claimer may have taken a row since the look.
        let update = format!(
            "UPDATE deliveries SET status = 'in_flight', claim_token = ?1, claimed_by = ?2, \
             lease_expires_at = ?3, updated_at = ?4 WHERE id IN ({ids}) AND {due}{turn} \
             RETURNING {RETURNING}",
            ids = ids.join(","),
            due = DUE.replace("{now}", "?4"),
            turn = IN_TURN.replace("{false}", "0"),
        );
        crate::db::write_first(conn, |c| {
            diesel::sql_query(update)
                .bind::<Text, _>(&token)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .load::<Claimed>(c)
        })?
    };
    // RETURNING's order is not the claim order; sending keeps the claim order.
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok((token, rows))
}

/// Claims one delivery by id, for a sender that wrote it itself in this same transaction
/// (test-send): no other claimer can have seen the row yet, so no `SKIP LOCKED` or
/// immediate lock is needed; invariants 1, 3 and 4 hold as for any claim.
pub fn claim_written(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Claimed> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::status.eq(Status::Pending.as_str())),
    )
    .set((
        deliveries::status.eq(Status::InFlight.as_str()),
        deliveries::claim_token.eq(&token),
        deliveries::claimed_by.eq(worker),
        deliveries::lease_expires_at.eq(lease_until),
        deliveries::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(deliveries::table
        .find(id)
        .filter(deliveries::claim_token.eq(&token))
        .select(Claimed::as_select())
        .get_result(conn)?)
}

/// What became of one claimed delivery after an attempt.
#[derive(Debug, Clone)]
pub struct Finish {
    pub id: i64,
    pub token: String,
    /// Whose health the outcome tells of (the alert hook hears of failed deliveries).
    pub connection_id: Option<i64>,
    /// `Pending` (retry at `next_attempt_at`), `Succeeded` or `Failed`.
    pub status: Status,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub attempt: NewAttempt,
    /// A 2xx answer the webhook's response fields and actions should read.
    pub response: Option<ResponseJob>,
}

/// What response processing needs from a delivered attempt.
#[derive(Debug, Clone)]
pub struct ResponseJob {
    pub webhook_id: crate::ids::WebhookId,
    pub ticket_id: crate::ids::TicketId,
    pub delivery_uid: String,
}

/// Runs inside the transaction that records a successful attempt of one ticket's
/// delivery, with the response body and whether it was truncated; returns a note for the
/// attempt row. The queue knows nothing of webhooks: start-up wires
/// `firing::response_hook` (response processing) here, so `delivery` never imports
/// `webhooks`.
pub type ResponseHook = std::sync::Arc<
    dyn Fn(&mut DbConn, &ResponseJob, &[u8], bool, chrono::DateTime<chrono::Utc>) -> Option<String>
        + Send
        + Sync,
>;

/// A hook that processes nothing (workers in tests of the queue alone).
pub fn no_response_hook() -> ResponseHook {
    std::sync::Arc::new(|_, _, _, _, _| None)
}

/// Records outcomes in one transaction (group commit: the worker hands over every result
/// that is ready). Each delivery update only matches while its claim token holds
/// (invariant 3); its attempt row is written only then. Returns, per item, whether it
/// was recorded.
pub fn finish(conn: &mut DbConn, items: &[Finish], now: NaiveDateTime) -> Result<Vec<bool>> {
    finish_with(conn, items, now, &mut |_, _| None)
}

/// [`finish`], with `after` run for each recorded item before its attempt row is
/// written; what it returns is added to the attempt's note (response processing).
pub fn finish_with(
    conn: &mut DbConn,
    items: &[Finish],
    now: NaiveDateTime,
    after: &mut dyn FnMut(&mut DbConn, &Finish) -> Option<String>,
) -> Result<Vec<bool>> {
    if matches!(conn, DbConn::Postgres(_)) {
        return crate::db::write_joined(conn, |conn| pg::finish(conn, items, now, after));
    }
    // Joined: the recorder's transaction holds this and its health updates, and an
    // error here fails all of it.
    crate::db::write_joined(conn, |conn| {
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            let done = matches!(f.status, Status::Succeeded | Status::Failed);
            let n = diesel::update(
                deliveries::table
                    .find(f.id)
                    .filter(deliveries::claim_token.eq(&f.token))
                    .filter(deliveries::status.eq(Status::InFlight.as_str())),
            )
            .set((
                deliveries::status.eq(f.status.as_str()),
                deliveries::attempts.eq(deliveries::attempts + 1),
                deliveries::next_attempt_at.eq(f.next_attempt_at.unwrap_or(now)),
                deliveries::lease_expires_at.eq(None::<NaiveDateTime>),
                deliveries::claim_token.eq(None::<String>),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::last_status.eq(f.last_status),
                deliveries::last_error.eq(&f.last_error),
                deliveries::updated_at.eq(now),
                deliveries::completed_at.eq(done.then_some(now)),
            ))
            .execute(conn)?;
            if n == 1 {
                match after(conn, f) {
                    Some(extra) => {
                        let mut a = f.attempt.clone();
                        // The note quotes the response (values it mapped): text the
                        // database must keep, or the whole group fails (`db::text`).
                        let extra = crate::db::text::storable(extra);
                        a.note = Some(match a.note.take() {
                            Some(n) => format!("{n}; {extra}"),
                            None => extra,
                        });
                        a.insert(conn, f.id)?;
                    }
                    None => f.attempt.insert(conn, f.id)?,
                }
            } else {
                tracing::warn!(
                    delivery = f.id,
                    "claim lost before the outcome was recorded (lease expired); not recorded"
                );
            }
            out.push(n == 1);
        }
        Ok(out)
    })
}

/// Returns claimed rows to the queue untouched (no attempt counted): on shutdown, or
/// when a claim brought more rows for a connection than it has free slots.
pub fn release(conn: &mut DbConn, token: &str, ids: &[i64], now: NaiveDateTime) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::id.eq_any(ids))
            .filter(deliveries::claim_token.eq(token))
            .filter(deliveries::status.eq(Status::InFlight.as_str())),
    )
    .set((
        deliveries::status.eq(Status::Pending.as_str()),
        deliveries::lease_expires_at.eq(None::<NaiveDateTime>),
        deliveries::claim_token.eq(None::<String>),
        deliveries::claimed_by.eq(None::<String>),
        deliveries::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// Moves a pending delivery's next attempt (used to hold deliveries of a paused
/// connection until its cool-down ends without counting an attempt).
pub fn postpone(
    conn: &mut DbConn,
    token: &str,
    ids: &[i64],
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::id.eq_any(ids))
            .filter(deliveries::claim_token.eq(token))
            .filter(deliveries::status.eq(Status::InFlight.as_str())),
    )
    .set((
        deliveries::status.eq(Status::Pending.as_str()),
        deliveries::next_attempt_at.eq(until),
        deliveries::lease_expires_at.eq(None::<NaiveDateTime>),
        deliveries::claim_token.eq(None::<String>),
        deliveries::claimed_by.eq(None::<String>),
        deliveries::updated_at.eq(now),
    ))
    .execute(conn)?)
}
