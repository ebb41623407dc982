//! The worker's unit of work, as plain async functions tests call directly:
//! [`run_once`] claims what is due at `now`, sends it, records every outcome and returns
//! how many it handled. The actor in [`super::actor`] only decides *when* to call
//! [`dispatch`] (on enqueue, on a timer, when a slot frees up).
//!
//! Concurrency is bounded overall and per connection. A claim never takes rows for a
//! connection whose slots are full, nor more of a connection's rows than it has free slots
//! ([`claim::Room`]), and reads each connection's rows by its own index seek, so a slow or
//! dead endpoint holds at most its own slots and never the rows, slots or claim time of
//! other endpoints.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;

use super::attempt::{Attempt, AttemptError, ErrorClass};
use super::claim::{self, Claimed, Finish, ResponseJob};
use super::health::HealthEvent;
use super::queue::{Status, decode_headers};
use super::recorder::Recorder;
use super::records::NewAttempt;
use super::retry::{Decision, Outcome, RetryPolicy, next_delay};
use super::sender::{OutgoingRequest, Sender};
use super::target::{self, Target};
use crate::config::Config;
use crate::db::text::storable;
use crate::db::{self, DbPool};
use crate::error::Result;
use crate::secrets::SecretBox;

/// How one worker behaves; built from [`Config`] and checked at startup.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Stored on claims and attempts: which process sent what.
    pub id: String,
    /// Requests in flight at once, all connections together.
    pub concurrency: usize,
    /// Requests in flight at once to one connection.
    pub per_connection: usize,
    /// Most rows taken by one claim.
    pub claim_batch: usize,
    pub lease: Duration,
    /// Timeout of a request whose connection sets none.
    pub request_timeout: Duration,
    /// Poll interval: how soon work enqueued by another process is noticed.
    pub poll: Duration,
    /// Failures in a row that pause a connection (the circuit breaker).
    pub breaker_failures: i32,
    pub breaker_cooldown: Duration,
    /// On shutdown, how long in-flight requests may finish before their claims are
    /// released.
    pub shutdown_grace: Duration,
}

/// Safety margin between the longest request and the lease (invariant 4 in `claim`).
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(5);

impl WorkerConfig {
    pub fn from_config(c: &Config) -> std::result::Result<Self, String> {
        let cfg = Self {
            id: format!("w{}-{:04x}", std::process::id(), rand::random::<u16>()),
            concurrency: c.worker_concurrency.max(1),
            per_connection: c.worker_per_connection.max(1),
            claim_batch: c.worker_claim_batch.max(1),
            lease: Duration::from_secs(c.worker_lease_seconds),
            request_timeout: Duration::from_secs(c.delivery_timeout_seconds),
            poll: Duration::from_millis(c.worker_poll_ms.max(1)),
            breaker_failures: c.breaker_failures.max(1),
            breaker_cooldown: Duration::from_secs(c.breaker_cooldown_seconds),
            shutdown_grace: Duration::from_secs(c.worker_shutdown_seconds),
        };
        if cfg.lease < cfg.request_timeout + LEASE_MARGIN {
            return Err(format!(
                "worker_lease_seconds ({}) must exceed delivery_timeout_seconds ({}) by at \
                 least {} s, or a slow request could be claimed and sent twice",
                c.worker_lease_seconds,
                c.delivery_timeout_seconds,
                LEASE_MARGIN.as_secs()
            ));
        }
        Ok(cfg)
    }

    /// The longest a request may take: its connection's timeout, kept under the lease.
    fn clamp_timeout(&self, t: Duration) -> Duration {
        t.min(self.lease.saturating_sub(LEASE_MARGIN))
    }
}

/// Everything a worker shares between its sends. Build it inside the runtime that will
/// run it (the recorder task is spawned there).
pub struct WorkerCtx {
    pub pool: DbPool,
    pub sender: Sender,
    pub secrets: Arc<SecretBox>,
    pub policy: RetryPolicy,
    pub cfg: WorkerConfig,
    slots: Mutex<Slots>,
    /// Signalled whenever a slot frees up.
    pub(super) freed: tokio::sync::Notify,
    /// The number of requests in flight (shutdown waits for 0).
    pub(super) in_flight: tokio::sync::watch::Sender<usize>,
    recorder: Recorder,
}

#[derive(Default)]
struct Slots {
    total: usize,
    /// In flight per connection, and that connection's limit when last claimed.
    per: HashMap<i64, (usize, usize)>,
    /// Connection of each delivery in flight, and its claim token (released on shutdown).
    active: HashMap<i64, (Option<i64>, String)>,
}

/// A claimed delivery with a reserved slot; dropping it frees the slot.
pub struct Job {
    ctx: Arc<WorkerCtx>,
    row: Claimed,
    target: Target,
}

impl Drop for Job {
    fn drop(&mut self) {
        let total = {
            let mut s = self
                .ctx
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if s.active.remove(&self.row.id).is_some() {
                s.total = s.total.saturating_sub(1);
                if let Some(c) = self.row.connection_id
                    && let Some((n, _)) = s.per.get_mut(&c)
                {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        s.per.remove(&c);
                    }
                }
            }
            s.total
        };
        self.ctx.in_flight.send_replace(total);
        self.ctx.freed.notify_one();
    }
}

impl WorkerCtx {
    pub fn new(
        pool: DbPool,
        sender: Sender,
        secrets: Arc<SecretBox>,
        policy: RetryPolicy,
        cfg: WorkerConfig,
        hooks: super::hooks::Hooks,
    ) -> Arc<Self> {
        let recorder = Recorder::start(pool.clone(), hooks);
        Arc::new(Self {
            pool,
            sender,
            secrets,
            policy,
            cfg,
            slots: Mutex::new(Slots::default()),
            freed: tokio::sync::Notify::new(),
            in_flight: tokio::sync::watch::Sender::new(0),
            recorder,
        })
    }

    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    fn limit_for(&self, t: &Target) -> usize {
        // Half-open breaker: one probe at a time until it succeeds.
        if t.half_open(self.cfg.breaker_failures) {
            1
        } else {
            self.cfg.per_connection
        }
    }

    /// Free slots overall, and the room per connection: none for those with no slot
    /// left, the free slots of those with requests in flight, `per_connection` for others.
    fn capacity(&self) -> (usize, claim::Room) {
        let s = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut room = claim::Room {
            per_connection: self.cfg.per_connection,
            ..claim::Room::default()
        };
        for (c, (n, limit)) in &s.per {
            if n >= limit {
                room.exclude.push(*c);
            } else {
                room.left.insert(*c, limit - n);
            }
        }
        (self.cfg.concurrency.saturating_sub(s.total), room)
    }

    /// The claims of every delivery still in flight (released on shutdown).
    pub(super) fn active_claims(&self) -> Vec<(i64, String)> {
        let s = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        s.active
            .iter()
            .map(|(id, (_, t))| (*id, t.clone()))
            .collect()
    }
}

/// Claims what is due at `now` (as much as free slots allow) and reserves a slot for each
/// row; rows that do not fit are released in the same call. Sends nothing.
pub async fn dispatch(ctx: &Arc<WorkerCtx>, now: NaiveDateTime) -> Result<Vec<Job>> {
    let (free, room) = ctx.capacity();
    if free == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(free.min(ctx.cfg.claim_batch)).unwrap_or(i64::MAX);
    let worker = ctx.cfg.id.clone();
    let lease = chrono::Duration::from_std(ctx.cfg.lease).unwrap_or(chrono::Duration::MAX);
    let sb = ctx.secrets.clone();
    let (token, rows, targets) = db::run(&ctx.pool, move |c| {
        let (token, rows) = claim::claim_within(c, &worker, limit, now + lease, &room, now)?;
        let ids: HashSet<i64> = rows.iter().filter_map(|r| r.connection_id).collect();
        let targets = target::load(c, &sb, &ids, now)?;
        Ok((token, rows, targets))
    })
    .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut overflow = Vec::new();
    {
        let mut s = ctx.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for row in rows {
            let target = match row.connection_id {
                Some(c) => targets
                    .get(&c)
                    .cloned()
                    .unwrap_or_else(|| Target::missing(c)),
                None => Target::default(),
            };
            let limit = ctx.limit_for(&target);
            let per = row
                .connection_id
                .map_or(0, |c| s.per.get(&c).map_or(0, |(n, _)| *n));
            if s.total >= ctx.cfg.concurrency || per >= limit {
                overflow.push(row.id);
                continue;
            }
            s.total += 1;
            if let Some(c) = row.connection_id {
                let e = s.per.entry(c).or_insert((0, limit));
                e.0 += 1;
                e.1 = limit;
            }
            s.active.insert(row.id, (row.connection_id, token.clone()));
            jobs.push(Job {
                ctx: ctx.clone(),
                row,
                target,
            });
        }
        ctx.in_flight.send_replace(s.total);
    }
    if !overflow.is_empty() {
        db::run(&ctx.pool, move |c| {
            claim::release(c, &token, &overflow, now)
        })
        .await?;
    }
    Ok(jobs)
}

/// Sends one claimed delivery and records the outcome. `now` decides the retry time:
/// `None` means the clock at completion; tests pass the time they pretend it is.
pub async fn process(job: Job, now: Option<NaiveDateTime>) -> bool {
    let ctx = job.ctx.clone();
    let row = &job.row;
    let req = outgoing(&ctx, row, &job.target);
    let attempt = match req {
        Ok(req) => ctx.sender.send(&req).await,
        Err(msg) => not_sent(row, msg),
    };
    let now = now.unwrap_or_else(db::now);
    let number = row.attempts + 1;
    let policy = row
        .retry_schedule
        .as_deref()
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .and_then(|s| RetryPolicy::parse(&s).ok())
        .unwrap_or_else(|| ctx.policy.clone());
    let outcome = Outcome::of(&attempt);
    let decision = next_delay(
        &policy,
        u32::try_from(number).unwrap_or(u32::MAX),
        &outcome,
        now.and_utc(),
        &mut rand::rng(),
    );
    let (status, next_at, note) = match decision {
        Decision::Delivered => (Status::Succeeded, None, None),
        Decision::Retry { .. } if number >= row.max_attempts => (
            Status::Failed,
            None,
            Some(format!("no attempts left after {number}")),
        ),
        Decision::Retry { at } => (Status::Pending, Some(at.naive_utc()), None),
        Decision::GiveUp { reason } => (Status::Failed, None, Some(reason)),
        Decision::Gone => (
            Status::Failed,
            None,
            Some("410 Gone: not retried; the connection is flagged".to_owned()),
        ),
    };
    let health = row
        .connection_id
        .and_then(|c| HealthEvent::of(&outcome).map(|e| (c, e)));
    let mut finish = finish_of(row, &attempt, number, status, next_at, note, &ctx.cfg.id);
    // Responses are read for one ticket's delivery; a batch (or a replay of one, which
    // keeps its `batch_key`) answers for many tickets, and a test-send never changes a
    // ticket.
    if attempt.succeeded()
        && row.batch_key.is_none()
        && row.trigger != super::Trigger::Test.as_str()
        && let (Some(webhook_id), Some(ticket_id)) = (row.webhook_id, row.ticket_id)
    {
        finish.response = Some(ResponseJob {
            webhook_id: crate::ids::WebhookId(webhook_id),
            ticket_id: crate::ids::TicketId(ticket_id),
            delivery_uid: row.uid.clone(),
        });
    }
    let breaker = (ctx.cfg.breaker_failures, ctx.cfg.breaker_cooldown);
    let recorded = ctx.recorder.record(finish, health, breaker, now).await;
    drop(job);
    recorded
}

/// How one attempt is recorded, whoever sent it (the worker or a test-send).
pub(super) fn finish_of(
    row: &Claimed,
    attempt: &Attempt,
    number: i32,
    status: Status,
    next_attempt_at: Option<NaiveDateTime>,
    note: Option<String>,
    worker: &str,
) -> Finish {
    Finish {
        id: row.id,
        token: row.claim_token.clone().unwrap_or_default(),
        connection_id: row.connection_id,
        status,
        next_attempt_at,
        last_status: attempt.status.map(i32::from),
        last_error: attempt.error.as_ref().map(|e| storable(e.message.clone())),
        attempt: NewAttempt {
            number,
            trigger: row.trigger.clone(),
            started_at: attempt.started_at.naive_utc(),
            duration_ms: i64::try_from(attempt.duration.as_millis()).unwrap_or(i64::MAX),
            request_method: attempt.method.clone(),
            request_url: attempt.url.clone(),
            request_headers: attempt.request_headers_redacted.clone(),
            request_body: row.body.clone(),
            response_status: attempt.status.map(i32::from),
            response_headers: attempt.response_headers.clone(),
            response_body: storable(String::from_utf8_lossy(&attempt.response_body).into_owned()),
            response_truncated: attempt.truncated,
            error_class: attempt.error.as_ref().map(|e| e.class.as_str().to_owned()),
            error_message: attempt.error.as_ref().map(|e| storable(e.message.clone())),
            worker: worker.to_owned(),
            note,
        },
        response: None,
    }
}

fn outgoing(
    ctx: &WorkerCtx,
    row: &Claimed,
    t: &Target,
) -> std::result::Result<OutgoingRequest, String> {
    let timeout = ctx
        .cfg
        .clamp_timeout(t.timeout.unwrap_or(ctx.cfg.request_timeout));
    outgoing_request(&ctx.secrets, row, t, timeout)
}

/// The request to send: the stored snapshot with redacted header values filled in again
/// (from the delivery's sealed headers, else the connection's secret headers), plus the
/// connection's authentication, signing secrets and TLS setting.
pub(super) fn outgoing_request(
    secrets: &SecretBox,
    row: &Claimed,
    t: &Target,
    timeout: Duration,
) -> std::result::Result<OutgoingRequest, String> {
    if let Some(err) = &t.error {
        return Err(err.clone());
    }
    let sealed: HashMap<String, String> = match &row.sealed_headers {
        Some(s) => {
            let open = secrets
                .open(s)
                .map_err(|_| "a stored header secret cannot be decrypted".to_owned())?;
            serde_json::from_str::<Vec<(String, String)>>(&open.0)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect()
        }
        None => HashMap::new(),
    };
    let mut secret_headers = Vec::new();
    let headers = decode_headers(&row.headers)
        .into_iter()
        .map(|(k, v)| {
            let lk = k.to_ascii_lowercase();
            let real = sealed
                .get(&lk)
                .or_else(|| t.secret_headers.get(&lk))
                .cloned();
            match real {
                Some(real) => {
                    secret_headers.push(k.clone());
                    (k, real)
                }
                None => (k, v),
            }
        })
        .collect();
    Ok(OutgoingRequest {
        method: row.method.clone(),
        url: row.url.clone(),
        headers,
        body: row.body.clone().into_bytes(),
        timeout,
        accept_invalid_certs: t.accept_invalid_certs,
        auth: t.auth.clone(),
        signing: t.signing.clone(),
        message_id: row.uid.clone(),
        secret_headers,
        client_tls: t.client_tls.clone(),
    })
}

/// The attempt recorded when the request cannot even be built (its connection was
/// deleted, a stored secret no longer decrypts): refused, and not retried.
pub(super) fn not_sent(row: &Claimed, message: String) -> Attempt {
    Attempt {
        started_at: chrono::Utc::now(),
        duration: Duration::ZERO,
        method: row.method.clone(),
        url: row.url.clone(),
        request_headers_redacted: decode_headers(&row.headers),
        status: None,
        response_headers: Vec::new(),
        response_body: Vec::new(),
        truncated: false,
        error: Some(AttemptError {
            class: ErrorClass::RefusedByPolicy,
            message,
        }),
        steps: Vec::new(),
    }
}

/// The unit of work: claim what is due at `now`, send it all (within the concurrency
/// bounds), record every outcome, and return how many deliveries were handled.
pub async fn run_once(ctx: &Arc<WorkerCtx>, now: NaiveDateTime) -> Result<usize> {
    let jobs = dispatch(ctx, now).await?;
    let n = jobs.len();
    futures_util::future::join_all(jobs.into_iter().map(|j| process(j, Some(now)))).await;
    Ok(n)
}

/// Runs [`run_once`] until nothing is due at `now` (tests: drain the queue).
pub async fn run_until_idle(ctx: &Arc<WorkerCtx>, now: NaiveDateTime) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = run_once(ctx, now).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}
