//! Test-send and "Test connection": one request sent at once by the process that serves
//! the page, through the same [`Sender`], authentication, signing and records as the
//! worker, without waiting behind the queue.
//!
//! The delivery (trigger `test`, one attempt, never retried) is written and claimed by
//! this process in one transaction, so no worker can take it; the outcome is recorded by
//! `claim::finish` like any other. A test-send never counts towards the connection's
//! health (a test against a broken receiver must not pause production deliveries) and
//! never changes a ticket.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::attempt::Attempt;
use super::claim;
use super::queue::{Delivery, NewDelivery, Status, Trigger, enqueue};
use super::records::AttemptRecord;
use super::sender::Sender;
use super::target::{self, Target};
use super::worker::{LEASE_MARGIN, finish_of, not_sent, outgoing_request};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::error::{Error, Result};
use crate::secrets::SecretBox;

/// What a direct send needs from the running process.
#[derive(Clone)]
pub struct DirectSender {
    pub pool: DbPool,
    pub sender: Sender,
    pub secrets: Arc<SecretBox>,
    /// Timeout of a request whose connection sets none.
    pub timeout: Duration,
    pub lease: Duration,
}

impl DirectSender {
    pub fn new(pool: DbPool, sender: Sender, secrets: Arc<SecretBox>, config: &Config) -> Self {
        Self {
            pool,
            sender,
            secrets,
            timeout: Duration::from_secs(config.delivery_timeout_seconds),
            lease: Duration::from_secs(config.worker_lease_seconds),
        }
    }
}

/// The outcome of a direct send: the recorded delivery and attempt, and the attempt as
/// sent (its raw response body, for a dry run of response processing).
#[derive(Debug, Clone)]
pub struct Sent {
    pub delivery: Delivery,
    pub record: AttemptRecord,
    pub attempt: Attempt,
}

/// Sends `new` now (its trigger must be `test`) and records it.
pub async fn send_now(d: &DirectSender, mut new: NewDelivery) -> Result<Sent> {
    if new.trigger != Trigger::Test {
        return Err(Error::Internal(
            "only test deliveries are sent directly".into(),
        ));
    }
    new.batch = None;
    new.retry_schedule = None;
    let worker = format!("web-{}", std::process::id());
    let now = db::now();
    let lease = chrono::Duration::from_std(d.lease).unwrap_or(chrono::Duration::MAX);
    let sb = d.secrets.clone();
    let w = worker.clone();
    let (row, target) = db::run(&d.pool, move |c| {
        crate::db::write(c, |c| {
            let id = enqueue(c, &new, 1, now)?;
            let row = claim::claim_written(c, id.0, &w, now + lease, now)?;
            let target = match row.connection_id {
                Some(cid) => target::load(c, &sb, &HashSet::from([cid]), now)?
                    .remove(&cid)
                    .unwrap_or_else(|| Target::missing(cid)),
                None => Target::default(),
            };
            Ok((row, target))
        })
    })
    .await?;
    // Kept under the lease, or a worker could take the row back and send it again.
    let timeout = target
        .timeout
        .unwrap_or(d.timeout)
        .min(d.lease.saturating_sub(LEASE_MARGIN));
    let attempt = match outgoing_request(&d.secrets, &row, &target, timeout) {
        Ok(req) => d.sender.send(&req).await,
        Err(msg) => not_sent(&row, msg),
    };
    let (status, note) = if attempt.succeeded() {
        (Status::Succeeded, None)
    } else {
        (
            Status::Failed,
            Some("test sends are not retried".to_owned()),
        )
    };
    let finish = finish_of(&row, &attempt, 1, status, None, note, &worker);
    let id = row.id;
    let (delivery, record) = db::run(&d.pool, move |c| {
        let done = db::now();
        claim::finish(c, &[finish], done)?;
        let delivery = Delivery::get(c, id)?;
        let record = AttemptRecord::for_delivery(c, id)?.pop().ok_or_else(|| {
            Error::Internal(format!("the attempt of delivery {id} was not recorded"))
        })?;
        Ok((delivery, record))
    })
    .await?;
    Ok(Sent {
        delivery,
        record,
        attempt,
    })
}

/// A test-send as the page and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TestReport {
    pub delivery_id: i64,
    /// Sent as `webhook-id`.
    pub delivery_uid: String,
    /// The answer was 2xx.
    pub succeeded: bool,
    pub status: Option<i32>,
    pub duration_ms: i64,
    /// `dns`, `connect`, `tls`, `timeout`, `too_large`, `refused_by_policy`,
    /// `redirect`, `http` or `auth`; absent on success.
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    /// What happened before the request, in order: for OAuth 2.0 connections the token
    /// request and the token obtained (expiry, scopes granted), or the cached token used.
    pub auth_steps: Vec<String>,
    pub request_method: String,
    pub request_url: String,
    /// As sent, secrets shown as `••••`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    #[schema(value_type = Vec<Vec<String>>)]
    pub response_headers: Vec<(String, String)>,
    /// At most 64 KiB.
    pub response_body: String,
    pub response_truncated: bool,
    /// What the webhook's response fields and actions would do with this answer (a
    /// test-send never applies them), one line each.
    pub response_processing: Vec<String>,
}

impl TestReport {
    pub fn new(sent: &Sent, response_processing: Vec<String>) -> Self {
        let r = &sent.record;
        Self {
            delivery_id: sent.delivery.id,
            delivery_uid: sent.delivery.uid.clone(),
            succeeded: sent.attempt.succeeded(),
            status: r.response_status,
            duration_ms: r.duration_ms,
            error_class: r.error_class.clone(),
            error_message: r.error_message.clone(),
            auth_steps: sent.attempt.steps.clone(),
            request_method: r.request_method.clone(),
            request_url: r.request_url.clone(),
            request_headers: r.request_header_list(),
            request_body: r.request_body.clone(),
            response_headers: r.response_header_list(),
            response_body: r.response_body.clone(),
            response_truncated: r.response_truncated,
            response_processing,
        }
    }

    /// The response body for people: JSON pretty-printed, anything else as it came.
    pub fn display_body(&self) -> String {
        match serde_json::from_str::<serde_json::Value>(&self.response_body) {
            Ok(v) if v.is_object() || v.is_array() => {
                serde_json::to_string_pretty(&v).unwrap_or_else(|_| self.response_body.clone())
            }
            _ => self.response_body.clone(),
        }
    }
}
