//! The delivery queue: the database is the queue (STYLE habit 5).
//!
//! A delivery row is written by [`enqueue`] on the caller's connection, inside the
//! caller's transaction, so the cause (an event, a click, a replay) and its deliveries
//! commit together or not at all — the transactional outbox. After the commit the caller
//! wakes the worker with [`Waker::wake`]; workers in other processes are woken by a
//! PostgreSQL `NOTIFY` sent on commit (see [`super::notify`]), or find the row on their
//! next poll.
//!
//! The stored request is what will be sent, with one exception: secrets. Header values
//! that are secret are stored redacted in `headers` (what the log shows) and, when the
//! caller has them, sealed in `sealed_headers`; authentication and signatures are derived
//! from the connection at send time, so no secret is ever stored in clear.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::batching::{self, BatchSpec};
use crate::db::DbConn;
use crate::db::schema::deliveries;
use crate::error::{Error, Result};

pub use super::stage::Stage;
pub use crate::ids::DeliveryId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for `next_attempt_at` (or, for a batch, for its wait or its maximum).
    Pending,
    /// Claimed by a worker whose lease has not expired.
    InFlight,
    Succeeded,
    /// Gave up (last attempt, a status that is not retried, 410, refused by policy).
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::InFlight,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InFlight => "in_flight",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What caused a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A technician fired the webhook from a ticket.
    Manual,
    /// A trigger rule fired it.
    Rule,
    /// Test-send from the webhook or connection page.
    Test,
    /// An administrator replayed an earlier delivery.
    Replay,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [
        Trigger::Manual,
        Trigger::Rule,
        Trigger::Test,
        Trigger::Replay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Rule => "rule",
            Trigger::Test => "test",
            Trigger::Replay => "replay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The request as rendered when the delivery was caused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSnapshot {
    pub method: String,
    pub url: String,
    /// Headers with secret values already redacted: this is what is stored and shown.
    pub headers: Vec<(String, String)>,
    /// The redacted headers' real values, sealed by the caller (`SecretBox`), if any.
    pub sealed_headers: Option<String>,
    pub body: String,
    pub content_type: String,
}

/// Everything [`enqueue`] needs.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub webhook_id: Option<i64>,
    /// Where authentication, signing secrets, timeout and health come from; `None` sends
    /// without authentication or signature.
    pub connection_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub trigger: Trigger,
    pub request: RequestSnapshot,
    /// The webhook's own retry schedule (`["0s","5s","5m"]`); `None` uses the configured one.
    pub retry_schedule: Option<Vec<String>>,
    /// Group with other occurrences into one delivery (see [`batching`]).
    pub batch: Option<BatchSpec>,
    /// Set by [`replay`] only.
    pub replay_of: Option<i64>,
    /// The rule that fired it.
    pub rule_id: Option<i64>,
    /// The user who fired it (button, test-send, replay), by id and name.
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// "Keep order per ticket": leaves only after this webhook's earlier deliveries for
    /// the same ticket have settled (claim invariant 5).
    pub ordered: bool,
}

impl NewDelivery {
    /// A delivery with no webhook, ticket or event: the minimum a test-send needs.
    pub fn new(trigger: Trigger, connection_id: Option<i64>, request: RequestSnapshot) -> Self {
        Self {
            webhook_id: None,
            connection_id,
            ticket_id: None,
            event_id: None,
            trigger,
            request,
            retry_schedule: None,
            batch: None,
            replay_of: None,
            rule_id: None,
            actor_id: None,
            actor_name: String::new(),
            ordered: false,
        }
    }
}

/// One row of `deliveries`.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    /// The stable `msg_…` id sent as `webhook-id` on every attempt.
    pub uid: String,
    pub webhook_id: Option<i64>,
    pub connection_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub trigger: String,
    pub replay_of: Option<i64>,
    pub status: String,
    pub method: String,
    pub url: String,
    /// JSON `[[name, value]]`; views show [`Delivery::header_list`] under this name.
    #[serde(skip)]
    pub headers: String,
    #[serde(skip)]
    pub sealed_headers: Option<String>,
    pub body: String,
    pub content_type: String,
    /// How many attempts were made (`attempts` in views is the list of them).
    #[serde(rename = "attempt_count")]
    pub attempts: i32,
    pub max_attempts: i32,
    pub retry_schedule: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub lease_expires_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub claim_token: Option<String>,
    pub claimed_by: Option<String>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub batch_key: Option<String>,
    pub batch_count: i32,
    pub batch_max: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    /// The rule that fired it (trigger `rule`).
    pub rule_id: Option<i64>,
    /// Who fired it by hand, replayed or test-sent it; the name stays when the user goes.
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// Leaves only after this webhook's earlier deliveries for the ticket settled.
    pub ordered: bool,
}

impl Delivery {
    pub fn status(&self) -> Option<Status> {
        Status::parse(&self.status)
    }

    pub fn header_list(&self) -> Vec<(String, String)> {
        decode_headers(&self.headers)
    }

    pub fn get(conn: &mut DbConn, id: i64) -> Result<Delivery> {
        deliveries::table
            .find(id)
            .select(Delivery::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("delivery {id}")))
    }

    pub fn find_by_uid(conn: &mut DbConn, uid: &str) -> Result<Option<Delivery>> {
        Ok(deliveries::table
            .filter(deliveries::uid.eq(uid))
            .select(Delivery::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// A ticket's latest deliveries of one trigger, newest first.
    pub fn recent_for_ticket(
        conn: &mut DbConn,
        ticket_id: i64,
        trigger: Trigger,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        Ok(deliveries::table
            .filter(deliveries::ticket_id.eq(ticket_id))
            .filter(deliveries::trigger.eq(trigger.as_str()))
            .order(deliveries::id.desc())
            .limit(limit)
            .select(Delivery::as_select())
            .load(conn)?)
    }

    /// How many deliveries are in each status (for tests, the bench and health pages).
    pub fn count_by_status(conn: &mut DbConn) -> Result<Vec<(String, i64)>> {
        Ok(deliveries::table
            .group_by(deliveries::status)
            .select((deliveries::status, diesel::dsl::count_star()))
            .load(conn)?)
    }
}

/// A new stable id: `msg_` + a time-ordered UUID (v7), the form Standard Webhooks uses.
pub fn new_uid() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

pub fn encode_headers(h: &[(String, String)]) -> String {
    serde_json::to_string(h).unwrap_or_else(|_| "[]".into())
}

pub fn decode_headers(s: &str) -> Vec<(String, String)> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Writes a delivery (or adds the occurrence to an open batch) on `conn`. Call it inside
/// the transaction that writes the cause; wake the worker after that transaction commits.
/// The number of attempts is the length of the retry schedule (`default_max_attempts`
/// when the delivery has no schedule of its own).
pub fn enqueue(
    conn: &mut DbConn,
    new: &NewDelivery,
    default_max_attempts: i32,
    now: NaiveDateTime,
) -> Result<DeliveryId> {
    Ok(enqueue_queued(conn, new, default_max_attempts, now)?.id)
}

/// A delivery just queued (or the open batch it joined): its id and the `webhook-id`
/// it is sent with, so an API answer needs no read of the row it has just written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: DeliveryId,
    pub uid: String,
}

/// [`enqueue`], returning the uid as well.
pub fn enqueue_queued(
    conn: &mut DbConn,
    new: &NewDelivery,
    default_max_attempts: i32,
    now: NaiveDateTime,
) -> Result<Queued> {
    validate(new)?;
    // Workers in other processes hear of it when the caller's transaction commits: from
    // the database's insert trigger for a new row (see `notify`), from us for an append,
    // which can make a batch due at once.
    if let Some(spec) = &new.batch
        && let Some(q) = batching::try_append(conn, spec, new, now)?
    {
        super::notify::notify(conn)?;
        return Ok(q);
    }
    let max_attempts = match &new.retry_schedule {
        Some(s) => super::attempts_of(s),
        None => default_max_attempts,
    }
    .max(1);
    let (body, next_at, batch_max) = match &new.batch {
        Some(spec) => batching::open(spec, &new.request.body, now),
        None => (new.request.body.clone(), now, 1),
    };
    let ordered = new.ordered && new.ticket_id.is_some() && new.webhook_id.is_some();
    if ordered && let (DbConn::Postgres(c), Some(t)) = (&mut *conn, new.ticket_id) {
        // PostgreSQL hands out ids before commit, so two transactions could commit in
        // the opposite order of their ids. Locking the ticket's row first makes one
        // ticket's ordered deliveries take their ids in commit order (SQLite's write
        // lock already does).
        diesel::sql_query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::BigInt, _>(t)
            .execute(c)?;
    }
    let uid = new_uid();
    let schedule = new
        .retry_schedule
        .as_ref()
        .map(|s| serde_json::to_string(s).unwrap_or_default());
    let r = &new.request;
    let id = diesel::insert_into(deliveries::table)
        .values((
            deliveries::uid.eq(&uid),
            deliveries::webhook_id.eq(new.webhook_id),
            deliveries::connection_id.eq(new.connection_id),
            deliveries::ticket_id.eq(new.ticket_id),
            deliveries::event_id.eq(new.event_id),
            deliveries::trigger.eq(new.trigger.as_str()),
            deliveries::replay_of.eq(new.replay_of),
            deliveries::rule_id.eq(new.rule_id),
            deliveries::actor_id.eq(new.actor_id),
            deliveries::actor_name.eq(&new.actor_name),
            deliveries::status.eq(Status::Pending.as_str()),
            deliveries::method.eq(&r.method),
            deliveries::url.eq(&r.url),
            deliveries::headers.eq(encode_headers(&r.headers)),
            deliveries::sealed_headers.eq(&r.sealed_headers),
            deliveries::body.eq(&body),
            deliveries::content_type.eq(&r.content_type),
            deliveries::max_attempts.eq(max_attempts),
            deliveries::retry_schedule.eq(schedule),
            deliveries::next_attempt_at.eq(next_at),
            deliveries::batch_key.eq(new.batch.as_ref().map(|b| b.key.as_str())),
            deliveries::batch_max.eq(batch_max),
            deliveries::ordered.eq(ordered),
            deliveries::created_at.eq(now),
            deliveries::updated_at.eq(now),
        ))
        .returning(deliveries::id)
        .get_result(conn)?;
    Ok(Queued {
        id: DeliveryId(id),
        uid,
    })
}

fn validate(new: &NewDelivery) -> Result<()> {
    let mut errs = crate::error::FieldErrors::new();
    let r = &new.request;
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&r.method.as_str()) {
        errs.add("method", "must be GET, POST, PUT, PATCH or DELETE");
    }
    if url::Url::parse(&r.url).is_err() {
        errs.add("url", "is not an absolute URL");
    }
    if new.retry_schedule.as_ref().is_some_and(Vec::is_empty) {
        errs.add("retry_schedule", "needs at least one entry");
    }
    if let Some(b) = &new.batch {
        batching::validate(b, &r.body, &mut errs);
    }
    errs.into_result()
}

/// Queues a new delivery of `d`'s stored request (secret headers still sealed), linked
/// to it, with `retry_schedule` (None: the configured one). The caller decides the
/// schedule — the webhook's current policy — because the queue knows no webhooks.
///
/// A batch's replay is a batch again, closed, carrying the same tickets
/// ([`batching::copy_tickets`]): found from each of them in the log, and its answer read
/// for no ticket, as the original's was.
pub fn replay(
    conn: &mut DbConn,
    d: Delivery,
    by: (Option<i64>, &str),
    retry_schedule: Option<Vec<String>>,
    default_max_attempts: i32,
    now: NaiveDateTime,
) -> Result<DeliveryId> {
    let new = NewDelivery {
        webhook_id: d.webhook_id,
        connection_id: d.connection_id,
        ticket_id: d.ticket_id,
        event_id: d.event_id,
        // A test-send's answer never changes its ticket (the worker reads responses of
        // other triggers only): resent, it is a test still, linked by `replay_of`.
        trigger: if d.trigger == Trigger::Test.as_str() {
            Trigger::Test
        } else {
            Trigger::Replay
        },
        request: RequestSnapshot {
            method: d.method,
            url: d.url,
            headers: decode_headers(&d.headers),
            sealed_headers: d.sealed_headers,
            body: d.body,
            content_type: d.content_type,
        },
        retry_schedule,
        // The body is already the batch's array: it is sent as it was, alone.
        batch: None,
        replay_of: Some(d.id),
        rule_id: None,
        // A replay is a person's resend of one request: it does not wait in line.
        ordered: false,
        actor_id: by.0,
        actor_name: by.1.to_owned(),
    };
    let (from, batch) = (d.id, d.batch_key.map(|k| (k, d.batch_count)));
    crate::db::write_joined(conn, |conn| {
        let id = enqueue(conn, &new, default_max_attempts, now)?;
        if let Some((key, count)) = &batch {
            batching::copy_tickets(conn, from, id.0, key, *count)?;
        }
        Ok(id)
    })
}

impl Delivery {
    /// The retry schedule this delivery was queued with (None: the configured one).
    pub fn own_retry_schedule(&self) -> Option<Vec<String>> {
        self.retry_schedule
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
    }
}

/// Stops a pending delivery. One in flight cannot be recalled (its request may already
/// have arrived); one that ended is left as it is.
pub fn cancel(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<Delivery> {
    let n = diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::status.eq(Status::Pending.as_str())),
    )
    .set((
        deliveries::status.eq(Status::Cancelled.as_str()),
        deliveries::updated_at.eq(now),
        deliveries::completed_at.eq(Some(now)),
    ))
    .execute(conn)?;
    let d = Delivery::get(conn, id)?;
    if n == 0 {
        return Err(Error::Conflict(format!(
            "delivery {id} is {} and can no longer be cancelled",
            d.status.replace('_', " ")
        )));
    }
    Ok(d)
}

/// Re-encrypts the sealed header values of every delivery with `reseal` (used by rekey,
/// inside its transaction), so deliveries still to be sent, or replayed, open under the
/// new key. Returns how many values were resealed.
pub fn reseal_all(conn: &mut DbConn, reseal: &dyn Fn(&str) -> Result<String>) -> Result<usize> {
    let rows: Vec<(i64, Option<String>)> = deliveries::table
        .filter(deliveries::sealed_headers.is_not_null())
        .select((deliveries::id, deliveries::sealed_headers))
        .load(conn)?;
    let mut count = 0;
    for (id, sealed) in rows {
        let Some(sealed) = sealed else { continue };
        diesel::update(deliveries::table.find(id))
            .set(deliveries::sealed_headers.eq(reseal(&sealed)?))
            .execute(conn)?;
        count += 1;
    }
    Ok(count)
}

/// Wakes the worker in this process after a transaction that enqueued has committed.
/// Cheap to clone; a wake with nobody waiting is kept until the worker next looks.
#[derive(Debug, Clone, Default)]
pub struct Waker(pub Arc<tokio::sync::Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}
