//! Batching: occurrences that share a batch key go out as one delivery whose body is a
//! JSON array of the per-occurrence bodies.
//!
//! An open batch is an ordinary pending delivery with a `batch_key`, never attempted,
//! holding fewer than `batch_max` items; its `next_attempt_at` is the end of the batch
//! wait, so the worker sends it when the wait has passed like any other due delivery.
//! Adding the item that reaches the maximum makes it due at once. Once the worker claims
//! it (status `in_flight`) it is closed: the conditional update below cannot touch it, and
//! the next occurrence opens a new batch.
//!
//! The delivery row names the first occurrence's ticket and rule. Every other ticket and
//! rule a batch carries is a row of `delivery_tickets` / `delivery_rules`, written with
//! the update that appends the occurrence, so the execution log finds the batch from each
//! of them. A replay of a batch is a closed batch of the same tickets ([`copy_tickets`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};

use super::queue::{DeliveryId, NewDelivery, Queued, RequestSnapshot, Status};
use crate::db::DbConn;
use crate::db::schema::{deliveries, delivery_rules, delivery_tickets};
use crate::error::{FieldErrors, Result};

/// A webhook's batching setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// One delivery per occurrence (the default).
    #[default]
    None,
    /// Occurrences of the same event (`ticket.updated`) share a delivery.
    SameEvent,
    /// Occurrences of the same event type — the kind of object the event is about, the
    /// part before the dot (`ticket` for `ticket.created` and `ticket.updated`).
    SameEventType,
    /// Occurrences of any event share a delivery.
    AnyEvent,
}

impl BatchMode {
    pub const ALL: [BatchMode; 4] = [
        BatchMode::None,
        BatchMode::SameEvent,
        BatchMode::SameEventType,
        BatchMode::AnyEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchMode::None => "none",
            BatchMode::SameEvent => "same_event",
            BatchMode::SameEventType => "same_event_type",
            BatchMode::AnyEvent => "any_event",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BatchMode::None => "One delivery for each occurrence",
            BatchMode::SameEvent => "Group occurrences of the same event",
            BatchMode::SameEventType => "Group occurrences of the same event type",
            BatchMode::AnyEvent => "Group occurrences of any event",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// How an occurrence joins a batch: set `NewDelivery::batch` to this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec {
    /// Occurrences with equal keys share a delivery (see [`spec`]).
    pub key: String,
    /// How long an open batch waits for more occurrences.
    pub wait_seconds: i64,
    /// A batch is sent as soon as it holds this many.
    pub max_items: i32,
}

/// The batch spec for one occurrence of `event` (e.g. `ticket.updated`) of a webhook, or
/// `None` when the mode is [`BatchMode::None`]. One delivery has one method and URL, so
/// occurrences whose rendered request differs there never share a batch.
pub fn spec(
    mode: BatchMode,
    webhook_id: i64,
    event: &str,
    request: &RequestSnapshot,
    wait_seconds: i64,
    max_items: i32,
) -> Option<BatchSpec> {
    let group = match mode {
        BatchMode::None => return None,
        BatchMode::SameEvent => event.to_owned(),
        BatchMode::SameEventType => event.split('.').next().unwrap_or(event).to_owned(),
        BatchMode::AnyEvent => "*".to_owned(),
    };
    let target = Sha256::digest(format!("{} {}", request.method, request.url).as_bytes());
    Some(BatchSpec {
        key: format!("wh{webhook_id}:{group}:{}", hex::encode(&target[..8])),
        wait_seconds,
        max_items,
    })
}

pub(super) fn validate(spec: &BatchSpec, body: &str, errs: &mut FieldErrors) {
    if spec.wait_seconds < 0 {
        errs.add("batch_wait_seconds", "must be 0 or more");
    }
    if spec.max_items < 1 {
        errs.add("batch_max_items", "must be at least 1");
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(body).is_err() {
        errs.add("body", "a batched body must be JSON");
    }
}

/// The body, due time and maximum of a new batch holding its first occurrence.
pub(super) fn open(
    spec: &BatchSpec,
    body: &str,
    now: NaiveDateTime,
) -> (String, NaiveDateTime, i32) {
    let due = if spec.max_items <= 1 {
        now
    } else {
        now + chrono::Duration::seconds(spec.wait_seconds)
    };
    (format!("[{body}]"), due, spec.max_items.max(1))
}

/// Adds `new`'s occurrence to the open batch for `spec.key`, if there is one. Returns its
/// id, or `None` when a new batch must be opened.
///
/// The update is conditional on the batch still being pending, unattempted and at the
/// item count we read: if a worker claimed it or another writer appended in between, it
/// changes nothing and we read again (a few times, then open a new batch). The
/// occurrence's ticket and rule are recorded after the update, which holds the batch's
/// row (PostgreSQL's row lock, SQLite's write lock) until the commit, so no other append
/// to this batch checks for the same ticket at the same time.
pub(super) fn try_append(
    conn: &mut DbConn,
    spec: &BatchSpec,
    new: &NewDelivery,
    now: NaiveDateTime,
) -> Result<Option<Queued>> {
    // Joined to the caller's transaction (`enqueue` runs in the one that wrote the
    // cause); called alone, the read and its writes are still one write.
    crate::db::write_joined(conn, |conn| {
        for _ in 0..3 {
            if let Some(q) = append_once(conn, spec, new, now)? {
                return Ok(Some(q));
            }
        }
        Ok(None)
    })
}

/// The open batch [`append_once`] reads.
#[derive(Queryable)]
struct OpenBatch {
    id: i64,
    uid: String,
    body: String,
    count: i32,
    max: i32,
    due: NaiveDateTime,
    ticket_id: Option<i64>,
    rule_id: Option<i64>,
}

/// One try of [`try_append`]: `None` when there is no open batch or another writer
/// changed it since we read it.
fn append_once(
    conn: &mut DbConn,
    spec: &BatchSpec,
    new: &NewDelivery,
    now: NaiveDateTime,
) -> Result<Option<Queued>> {
    let open: Option<OpenBatch> = deliveries::table
        .filter(deliveries::batch_key.eq(&spec.key))
        .filter(deliveries::status.eq(Status::Pending.as_str()))
        .filter(deliveries::attempts.eq(0))
        .filter(deliveries::batch_count.lt(deliveries::batch_max))
        .order(deliveries::id.desc())
        .select((
            deliveries::id,
            deliveries::uid,
            deliveries::body,
            deliveries::batch_count,
            deliveries::batch_max,
            deliveries::next_attempt_at,
            deliveries::ticket_id,
            deliveries::rule_id,
        ))
        .first(conn)
        .optional()?;
    let Some(b) = open else {
        return Ok(None);
    };
    let Some(head) = b.body.strip_suffix(']') else {
        return Ok(None);
    };
    let joined = format!("{head},{}]", new.request.body);
    let full = b.count + 1 >= b.max;
    let due = if full { b.due.min(now) } else { b.due };
    let n = diesel::update(
        deliveries::table
            .find(b.id)
            .filter(deliveries::status.eq(Status::Pending.as_str()))
            .filter(deliveries::batch_count.eq(b.count)),
    )
    .set((
        deliveries::body.eq(joined),
        deliveries::batch_count.eq(b.count + 1),
        deliveries::next_attempt_at.eq(due),
        deliveries::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n != 1 {
        return Ok(None);
    }
    // The row's own ticket and rule need no other row; a repeated one is already there
    // (an INSERT … SELECT … WHERE NOT EXISTS: MultiConnection has no ON CONFLICT).
    if let Some(t) = new.ticket_id.filter(|t| b.ticket_id != Some(*t)) {
        diesel::insert_into(delivery_tickets::table)
            .values(
                deliveries::table
                    .find(b.id)
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        delivery_tickets::table
                            .filter(delivery_tickets::delivery_id.eq(b.id))
                            .filter(delivery_tickets::ticket_id.eq(t)),
                    )))
                    .select((deliveries::id, t.into_sql::<BigInt>())),
            )
            .into_columns((delivery_tickets::delivery_id, delivery_tickets::ticket_id))
            .execute(conn)?;
    }
    if let Some(r) = new.rule_id.filter(|r| b.rule_id != Some(*r)) {
        diesel::insert_into(delivery_rules::table)
            .values(
                deliveries::table
                    .find(b.id)
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        delivery_rules::table
                            .filter(delivery_rules::delivery_id.eq(b.id))
                            .filter(delivery_rules::rule_id.eq(r)),
                    )))
                    .select((deliveries::id, r.into_sql::<BigInt>())),
            )
            .into_columns((delivery_rules::delivery_id, delivery_rules::rule_id))
            .execute(conn)?;
    }
    Ok(Some(Queued {
        id: DeliveryId(b.id),
        uid: b.uid,
    }))
}

/// Makes `to`, a replay of batch `from`, carry `from`'s tickets: the same key, a count
/// that is also its maximum (so no occurrence ever joins it) and a copy of its
/// `delivery_tickets`. The log then finds the replay from every ticket, and the worker
/// treats its answer as a batch's: read for no ticket. Not its rules: a replay is a
/// person's doing, and the rule filter finds no replay (its row names no rule either).
pub(super) fn copy_tickets(
    conn: &mut DbConn,
    from: i64,
    to: i64,
    key: &str,
    count: i32,
) -> Result<()> {
    diesel::update(deliveries::table.find(to))
        .set((
            deliveries::batch_key.eq(key),
            deliveries::batch_count.eq(count),
            deliveries::batch_max.eq(count),
        ))
        .execute(conn)?;
    diesel::insert_into(delivery_tickets::table)
        .values(
            delivery_tickets::table
                .filter(delivery_tickets::delivery_id.eq(from))
                .select((to.into_sql::<BigInt>(), delivery_tickets::ticket_id)),
        )
        .into_columns((delivery_tickets::delivery_id, delivery_tickets::ticket_id))
        .execute(conn)?;
    Ok(())
}
