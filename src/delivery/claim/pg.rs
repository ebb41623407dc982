//! The PostgreSQL claim and record: each one prepared statement ([`crate::db::prepared`]),
//! one round trip however many rows. The invariants are those at the top of `claim.rs`.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamp};

use super::{Claimed, Finish, IdRow, Room};
use crate::db::DbConn;
use crate::db::prepared::{Sql, Stmt};
use crate::delivery::queue::Status;
use crate::delivery::records::NewAttempt;
use crate::error::Result;

/// Invariant 5 for a row of `deliveries` (an ordered row waits while an earlier one of
/// its webhook and ticket is open): the same test as `claim::IN_TURN`, as a literal for
/// the statements' constant text.
macro_rules! in_turn {
    () => {
        " AND (ordered = FALSE OR NOT EXISTS (SELECT 1 FROM deliveries e \
        WHERE e.webhook_id = deliveries.webhook_id AND e.ticket_id = deliveries.ticket_id \
        AND e.id < deliveries.id AND e.status IN ('pending', 'in_flight')))"
    };
}

/// The PostgreSQL claim as one statement (invariants 2, 5, 6 and 7), in steps:
/// `pc`, the connections with pending rows by a loose index scan; `open`, those neither
/// excluded (`?6`), paused nor held, each with its room (`?7`/`?8` the connections with
/// requests in flight and their free slots, `?9` the room of any other); `cand`, each
/// open connection's due rows by its own index seek (`LATERAL`), rows without a
/// connection and expired leases (on the database's clock), all locked `SKIP LOCKED` so concurrent claimers pass
/// each other; `chosen`, the first `?5` in due order within each connection's room. Rows
/// locked but not chosen are released when the statement ends.
struct ClaimPg;

impl Sql for ClaimPg {
    const TEXT: &'static str = concat!(
        "WITH RECURSIVE pc(id) AS (\
      SELECT (SELECT connection_id FROM deliveries WHERE status = 'pending' \
        AND connection_id IS NOT NULL ORDER BY connection_id LIMIT 1) \
      UNION ALL \
      SELECT (SELECT connection_id FROM deliveries WHERE status = 'pending' \
        AND connection_id > pc.id ORDER BY connection_id LIMIT 1) FROM pc WHERE pc.id IS NOT NULL), \
    room AS (SELECT l.id, l.cap FROM unnest(?::bigint[], ?::bigint[]) AS l(id, cap)), \
    open AS (\
      SELECT pc.id, LEAST(COALESCE(room.cap, ?), ?) AS cap \
      FROM pc LEFT JOIN room ON room.id = pc.id \
      WHERE pc.id IS NOT NULL AND pc.id <> ALL(?::bigint[]) \
        AND NOT EXISTS (SELECT 1 FROM connections k WHERE k.id = pc.id \
          AND (k.paused_until > ? OR k.hold_since IS NOT NULL))), \
    cand AS (\
      SELECT d.* FROM open CROSS JOIN LATERAL (\
        SELECT id, connection_id, next_attempt_at FROM deliveries \
        WHERE status = 'pending' AND connection_id = open.id AND next_attempt_at <= ?",
        in_turn!(),
        " ORDER BY next_attempt_at, id LIMIT open.cap FOR UPDATE SKIP LOCKED) d \
      UNION ALL \
      SELECT * FROM (SELECT id, connection_id, next_attempt_at FROM deliveries \
        WHERE status = 'pending' AND connection_id IS NULL AND next_attempt_at <= ?",
        in_turn!(),
        " ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) n \
      UNION ALL \
      SELECT * FROM (SELECT id, connection_id, next_attempt_at FROM deliveries \
        WHERE status = 'in_flight' AND lease_expires_at < (now() AT TIME ZONE 'UTC') \
          AND (connection_id IS NULL OR (connection_id <> ALL(?::bigint[]) \
            AND NOT EXISTS (SELECT 1 FROM connections k WHERE k.id = deliveries.connection_id \
              AND (k.paused_until > ? OR k.hold_since IS NOT NULL))))",
        in_turn!(),
        " ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) x), \
    chosen AS (\
      SELECT r.id FROM (SELECT cand.*, row_number() OVER (PARTITION BY cand.connection_id \
          ORDER BY cand.next_attempt_at, cand.id) AS n FROM cand) r \
        LEFT JOIN room ON room.id = r.connection_id \
      WHERE r.connection_id IS NULL OR r.n <= COALESCE(room.cap, ?) \
      ORDER BY r.next_attempt_at, r.id LIMIT ?) \
    UPDATE deliveries SET status = 'in_flight', claim_token = ?, claimed_by = ?, \
      lease_expires_at = (now() AT TIME ZONE 'UTC') + make_interval(secs => ?), \
      updated_at = ? \
    WHERE id IN (SELECT id FROM chosen) \
    RETURNING id, uid, webhook_id, connection_id, ticket_id, trigger, method, url, \
      headers, sealed_headers, body, content_type, attempts, max_attempts, retry_schedule, \
      claim_token, batch_key, next_attempt_at"
    );
}

pub(super) fn claim(
    pg: &mut diesel::PgConnection,
    token: &str,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    room: &Room,
    now: NaiveDateTime,
) -> Result<Vec<Claimed>> {
    let big = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let (left_ids, left_caps): (Vec<i64>, Vec<i64>) =
        room.left.iter().map(|(id, n)| (*id, big(*n))).unzip();
    let per_connection = big(room.per_connection);
    // Invariant 4 across nodes: the lease is set and read on the database's clock, so a
    // node whose clock runs ahead never takes another's live claim as expired.
    let lease_seconds = (lease_until - now).as_seconds_f64();
    Ok(Stmt::<ClaimPg>::new()
        .bind::<Array<BigInt>, _>(&left_ids)
        .bind::<Array<BigInt>, _>(&left_caps)
        .bind::<BigInt, _>(per_connection)
        .bind::<BigInt, _>(limit)
        .bind::<Array<BigInt>, _>(&room.exclude)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<Array<BigInt>, _>(&room.exclude)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(per_connection)
        .bind::<BigInt, _>(limit)
        .bind::<Text, _>(token)
        .bind::<Text, _>(worker)
        .bind::<Double, _>(lease_seconds)
        .bind::<Timestamp, _>(now)
        .load(pg)?)
}

/// PostgreSQL's [`finish_with`](super::finish_with): the whole group's outcomes in one prepared `UPDATE`
/// over arrays and its attempts in one `INSERT`, two round trips however many outcomes
/// (each statement is a round trip to the server; SQLite's are calls in this process).
pub(super) fn finish(
    conn: &mut DbConn,
    items: &[Finish],
    now: NaiveDateTime,
    after: &mut dyn FnMut(&mut DbConn, &Finish) -> Option<String>,
) -> Result<Vec<bool>> {
    let DbConn::Postgres(pg) = conn else {
        return Err(crate::error::Error::Internal(
            "finish_pg needs PostgreSQL".into(),
        ));
    };
    let ids: Vec<i64> = items.iter().map(|f| f.id).collect();
    let tokens: Vec<&str> = items.iter().map(|f| f.token.as_str()).collect();
    let statuses: Vec<&str> = items.iter().map(|f| f.status.as_str()).collect();
    let next: Vec<NaiveDateTime> = items
        .iter()
        .map(|f| f.next_attempt_at.unwrap_or(now))
        .collect();
    let completed: Vec<Option<NaiveDateTime>> = items
        .iter()
        .map(|f| matches!(f.status, Status::Succeeded | Status::Failed).then_some(now))
        .collect();
    let last_status: Vec<Option<i32>> = items.iter().map(|f| f.last_status).collect();
    let last_error: Vec<Option<&str>> = items.iter().map(|f| f.last_error.as_deref()).collect();
    let recorded: HashSet<i64> = Stmt::<FinishPg>::new()
        .bind::<Timestamp, _>(now)
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<Text>, _>(&tokens)
        .bind::<Array<Text>, _>(&statuses)
        .bind::<Array<Timestamp>, _>(&next)
        .bind::<Array<Nullable<Timestamp>>, _>(&completed)
        .bind::<Array<Nullable<Integer>>, _>(&last_status)
        .bind::<Array<Nullable<Text>>, _>(&last_error)
        .load::<IdRow>(pg)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut out = Vec::with_capacity(items.len());
    let mut attempts = Vec::new();
    for f in items {
        let ok = recorded.contains(&f.id);
        if ok {
            let mut a = f.attempt.clone();
            // The note quotes the response (values it mapped): text the database must
            // keep, or the whole group fails (`db::text`).
            if let Some(extra) = after(conn, f).map(crate::db::text::storable) {
                a.note = Some(match a.note.take() {
                    Some(n) => format!("{n}; {extra}"),
                    None => extra,
                });
            }
            attempts.push((f.id, a));
        } else {
            tracing::warn!(
                delivery = f.id,
                "claim lost before the outcome was recorded (lease expired); not recorded"
            );
        }
        out.push(ok);
    }
    if let DbConn::Postgres(pg) = conn {
        NewAttempt::insert_many(pg, &attempts)?;
    }
    Ok(out)
}

/// Invariant 3 for a group: each row is updated only while its claim token holds.
struct FinishPg;

impl Sql for FinishPg {
    const TEXT: &'static str = "UPDATE deliveries AS d SET status = u.status, \
      attempts = d.attempts + 1, next_attempt_at = u.next_at, lease_expires_at = NULL, \
      claim_token = NULL, claimed_by = NULL, last_status = u.last_status, \
      last_error = u.last_error, updated_at = ?, completed_at = u.completed_at \
    FROM unnest(?::bigint[], ?::text[], ?::text[], ?::timestamp[], ?::timestamp[], \
      ?::integer[], ?::text[]) AS u(id, token, status, next_at, completed_at, last_status, \
      last_error) \
    WHERE d.id = u.id AND d.claim_token = u.token AND d.status = 'in_flight' \
    RETURNING d.id AS id";
}
