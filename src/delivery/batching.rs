//! Batching: occurrences that share a batch key go out as one delivery whose body is a
//! JSON array of the per-occurrence bodies.
//!
//! An open batch is an ordinary pending delivery with a `batch_key`, never attempted,
//! holding fewer than `batch_max` items; its `next_attempt_at` is the end of the batch
//! wait, so the worker sends it when the wait has passed like any other due delivery.
//! Adding the item that reaches the maximum makes it due at once. Once the worker claims
//! it (status `in_flight`) it is closed: the conditional update below cannot touch it, and
//! the next occurrence opens a new batch.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::queue::{DeliveryId, Queued, RequestSnapshot, Status};
use crate::db::DbConn;
use crate::db::schema::deliveries;
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

/// Adds `body` to the open batch for `spec.key`, if there is one. Returns its id, or
/// `None` when a new batch must be opened.
///
/// The update is conditional on the batch still being pending, unattempted and at the
/// item count we read: if a worker claimed it or another writer appended in between, it
/// changes nothing and we read again (a few times, then open a new batch).
pub(super) fn try_append(
    conn: &mut DbConn,
    spec: &BatchSpec,
    body: &str,
    now: NaiveDateTime,
) -> Result<Option<Queued>> {
    for _ in 0..3 {
        let open: Option<(i64, String, String, i32, i32, NaiveDateTime)> = deliveries::table
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
            ))
            .first(conn)
            .optional()?;
        let Some((id, uid, old, count, max, due)) = open else {
            return Ok(None);
        };
        let Some(head) = old.strip_suffix(']') else {
            return Ok(None);
        };
        let joined = format!("{head},{body}]");
        let full = count + 1 >= max;
        let due = if full { due.min(now) } else { due };
        let n = diesel::update(
            deliveries::table
                .find(id)
                .filter(deliveries::status.eq(Status::Pending.as_str()))
                .filter(deliveries::batch_count.eq(count)),
        )
        .set((
            deliveries::body.eq(joined),
            deliveries::batch_count.eq(count + 1),
            deliveries::next_attempt_at.eq(due),
            deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n == 1 {
            return Ok(Some(Queued {
                id: DeliveryId(id),
                uid,
            }));
        }
    }
    Ok(None)
}
