//! Firing: the one home for "make a webhook go out for a ticket", and for what an
//! administrator does to a delivery afterwards (replay, cancel).
//!
//! It sits above `webhooks` (which renders a request from a webhook and a ticket) and
//! `delivery` (which queues and sends it), so neither has to know the other: the queue
//! is handed response processing as a hook ([`response_hook`], wired at start-up).
//!
//! Every cause goes through [`render`], so a rule, a technician's button and a test-send
//! produce the same request for the same ticket; [`fire`] queues it inside the caller's
//! write transaction (`db::write`), which is what makes a delivery exist exactly when
//! its cause committed. Wake the worker after the commit.

pub mod test_send;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::delivery::claim::{ResponseHook, ResponseJob};
use crate::delivery::queue::{self, Delivery, DeliveryId, NewDelivery, Trigger};
use crate::error::Result;
use crate::ids::WebhookId;
use crate::secrets::SecretBox;
use crate::webhooks::Webhook;
use crate::webhooks::request::{self, TicketRef, TriggerCtx};

/// Why a webhook is fired.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// A trigger rule matched a ticket event.
    Rule {
        event_id: Option<i64>,
        /// `ticket.updated`, … (`{{event.type}}`).
        event_type: String,
        /// The event's `{field: {old, new}}` object (`{{event.changes}}`).
        changes: Value,
    },
    /// A technician pressed the webhook's button on a ticket.
    Button,
    /// Test-send from the webhook's page or the API.
    Test,
}

impl Cause {
    fn trigger(&self) -> Trigger {
        match self {
            Cause::Rule { .. } => Trigger::Rule,
            Cause::Button => Trigger::Manual,
            Cause::Test => Trigger::Test,
        }
    }
}

/// One firing: which webhook, for which ticket, with which parameter values, and why.
#[derive(Debug, Clone)]
pub struct Firing<'a> {
    pub webhook: &'a Webhook,
    /// The saved webhook the delivery links to; None for an unsaved form (test-send).
    pub webhook_id: Option<WebhookId>,
    pub ticket: TicketRef,
    /// Values typed at the prompt or set by the rule; defaults fill the rest.
    pub params: &'a BTreeMap<String, String>,
    /// `{{actor.name}}`: who pressed the button, or whose change set the rule off.
    pub actor_name: Option<String>,
    pub cause: Cause,
    /// Send through the webhook's test connection (test-send's choice, Test status).
    pub use_test_connection: bool,
}

/// Renders the request the firing sends, as a delivery not yet queued: the body from
/// the ticket as it is now, secrets sealed, the webhook's retry policy attached.
/// `global_schedule` is the configured schedule (the webhook may shorten or lengthen it).
pub fn render(
    conn: &mut DbConn,
    sb: &SecretBox,
    f: &Firing<'_>,
    global_schedule: &[String],
    now: DateTime<Utc>,
) -> Result<NewDelivery> {
    let trigger = match &f.cause {
        Cause::Rule {
            event_type,
            changes,
            ..
        } => TriggerCtx {
            event_type: Some(event_type.clone()),
            changes: Some(changes.clone()),
            actor_name: f.actor_name.clone(),
        },
        Cause::Button | Cause::Test => TriggerCtx {
            actor_name: f.actor_name.clone(),
            ..TriggerCtx::default()
        },
    };
    let built = request::build(
        conn,
        sb,
        f.webhook,
        f.ticket,
        f.params,
        &trigger,
        now,
        f.use_test_connection,
    )?;
    let mut d = NewDelivery::new(f.cause.trigger(), built.connection_id, built.snapshot(sb)?);
    d.webhook_id = f.webhook_id.map(|w| w.0);
    d.ticket_id = match f.ticket {
        TicketRef::Id(id) => Some(id),
        TicketRef::Sample => None,
    };
    if let Cause::Rule { event_id, .. } = &f.cause {
        d.event_id = *event_id;
    }
    d.retry_schedule = retry_schedule(
        f.webhook.retry_max_attempts,
        f.webhook.retry_schedule.as_deref(),
        global_schedule,
    );
    Ok(d)
}

/// Renders and queues inside the caller's write transaction; returns the delivery.
pub fn fire(
    conn: &mut DbConn,
    sb: &SecretBox,
    f: &Firing<'_>,
    global_schedule: &[String],
    now: DateTime<Utc>,
) -> Result<DeliveryId> {
    let d = render(conn, sb, f, global_schedule, now)?;
    let default_max = i32::try_from(global_schedule.len()).unwrap_or(i32::MAX);
    queue::enqueue(conn, &d, default_max, now.naive_utc())
}

/// The queue's schedule (the wait before each attempt, `["0s", "5s", …]`) for a webhook
/// with its own policy; None keeps the configured one. The webhook's schedule lists the
/// delays *between* attempts, so the first attempt waits nothing; a maximum number of
/// attempts cuts the schedule or repeats its last wait.
pub fn retry_schedule(
    max_attempts: Option<i32>,
    delays: Option<&[u32]>,
    global: &[String],
) -> Option<Vec<String>> {
    let mut waits: Vec<String> = match delays {
        Some(d) => std::iter::once("0s".to_string())
            .chain(d.iter().map(|s| format!("{s}s")))
            .collect(),
        None if max_attempts.is_some() => global.to_vec(),
        None => return None,
    };
    if let Some(n) = max_attempts.and_then(|n| usize::try_from(n).ok()) {
        let n = n.max(1);
        let last = waits.last().cloned().unwrap_or_else(|| "0s".into());
        waits.resize(n, last);
    }
    Some(waits)
}

/// Replays delivery `id` as a new delivery of the same request, linked to it and with
/// its retry policy, and audits it — one transaction. Wake the worker after.
pub fn replay(
    conn: &mut DbConn,
    actor: &Actor,
    id: DeliveryId,
    default_max_attempts: i32,
    now: NaiveDateTime,
) -> Result<DeliveryId> {
    crate::db::write(conn, |c| {
        let new = queue::replay(c, id.0, default_max_attempts, now)?;
        audit::record(
            c,
            actor,
            "delivery.replay",
            &format!("delivery {}", id.0),
            audit::SUCCESS,
            &format!("new delivery {}", new.0),
        )?;
        Ok(new)
    })
}

/// Cancels a pending delivery and audits it — one transaction.
pub fn cancel(
    conn: &mut DbConn,
    actor: &Actor,
    id: DeliveryId,
    now: NaiveDateTime,
) -> Result<Delivery> {
    crate::db::write(conn, |c| {
        let d = queue::cancel(c, id.0, now)?;
        audit::record(
            c,
            actor,
            "delivery.cancel",
            &format!("delivery {}", id.0),
            audit::SUCCESS,
            "",
        )?;
        Ok(d)
    })
}

/// Response processing (the webhook's response fields and actions applied to the
/// ticket), handed to the delivery worker's recorder at start-up.
pub fn response_hook() -> ResponseHook {
    std::sync::Arc::new(
        |c: &mut DbConn, job: &ResponseJob, body: &[u8], truncated: bool, now| {
            crate::webhooks::response::process_delivery(
                c,
                job.webhook_id.0,
                job.ticket_id.0,
                &job.delivery_uid,
                body,
                truncated,
                now,
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::retry_schedule;

    fn g() -> Vec<String> {
        ["0s", "5s", "5m"]
            .iter()
            .map(|s| (*s).to_string())
            .collect()
    }

    #[test]
    fn no_policy_of_its_own_keeps_the_global_one() {
        assert_eq!(retry_schedule(None, None, &g()), None);
    }

    #[test]
    fn delays_between_attempts_become_waits_before_each() {
        assert_eq!(
            retry_schedule(None, Some(&[10, 60]), &g()),
            Some(vec!["0s".into(), "10s".into(), "60s".into()])
        );
    }

    #[test]
    fn a_maximum_cuts_or_repeats_the_last_wait() {
        assert_eq!(
            retry_schedule(Some(1), None, &g()),
            Some(vec!["0s".to_string()])
        );
        assert_eq!(
            retry_schedule(Some(5), Some(&[30]), &g()),
            Some(vec![
                "0s".into(),
                "30s".into(),
                "30s".into(),
                "30s".into(),
                "30s".into()
            ])
        );
        assert_eq!(
            retry_schedule(Some(4), None, &g()).map(|v| v.len()),
            Some(4)
        );
    }
}
