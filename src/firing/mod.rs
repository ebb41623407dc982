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

pub mod manual;
pub mod progress;
pub mod test_send;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::delivery::batching;
use crate::delivery::claim::{ResponseHook, ResponseJob};
use crate::delivery::queue::{self, Delivery, DeliveryId, NewDelivery, Trigger};
use crate::error::{Error, Result};
use crate::ids::WebhookId;
use crate::secrets::SecretBox;
use crate::templating::TicketValues;
use crate::tickets::ChangeActor;
use crate::tickets::events::Sink;
use crate::webhooks::Webhook;
use crate::webhooks::request::{self, TicketRef, TriggerCtx};

/// Why a webhook is fired.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// A trigger rule matched a ticket event.
    Rule {
        rule_id: i64,
        event_id: Option<i64>,
        /// `ticket.updated`, … (`{{event.type}}`).
        event_type: String,
        /// The event's `{field: {old, new}}` object (`{{event.changes}}`).
        changes: Value,
        /// What else the event tells (`{{event.note}}` …): `tickets::events::values_of`.
        event_values: BTreeMap<String, Value>,
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
    /// The ticket's template values when the caller has just read them in this
    /// transaction (the rule engine, the fire endpoint): rendering then reads no ticket.
    pub values: Option<&'a TicketValues>,
    /// Values typed at the prompt or set by the rule; defaults fill the rest.
    pub params: &'a BTreeMap<String, String>,
    /// `{{actor.name}}`: who pressed the button, or whose change set the rule off.
    pub actor_name: Option<String>,
    /// The user who fired it by hand (button, test-send), recorded on the delivery.
    pub actor_id: Option<i64>,
    pub cause: Cause,
    /// Send through the webhook's test connection (test-send's choice, Test status).
    pub use_test_connection: bool,
    /// Who the ticket's history names as having fired it ("Rule “P1 to Slack”", the
    /// technician); None writes no history entry (a test-send, a ticket being deleted).
    pub by: Option<&'a ChangeActor>,
}

/// A rendered firing: the delivery to queue and the action description for the history.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub delivery: NewDelivery,
    pub description: String,
}

/// Why a webhook may not fire for a ticket (status, type, "Select tickets"): the one
/// question rules, buttons and dry runs ask; it lives with the webhook.
pub use crate::webhooks::refusal;

/// Renders the request the firing sends, as a delivery not yet queued: the body from
/// the ticket as it is now, secrets sealed, the webhook's retry policy attached.
/// `global_schedule` is the configured schedule (the webhook may shorten or lengthen it).
pub fn render(
    conn: &mut DbConn,
    sb: &SecretBox,
    f: &Firing<'_>,
    global_schedule: &[String],
    now: DateTime<Utc>,
) -> Result<Rendered> {
    let trigger = match &f.cause {
        Cause::Rule {
            event_type,
            changes,
            event_values,
            ..
        } => TriggerCtx {
            event_type: Some(event_type.clone()),
            changes: Some(changes.clone()),
            event_values: event_values.clone(),
            actor_name: f.actor_name.clone(),
        },
        Cause::Button | Cause::Test => TriggerCtx {
            actor_name: f.actor_name.clone(),
            ..TriggerCtx::default()
        },
    };
    let values = match f.values {
        Some(v) => v.clone(),
        None => request::ticket_values(conn, f.ticket)?,
    };
    let built = request::build_with(
        conn,
        sb,
        f.webhook,
        f.ticket,
        values,
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
    match &f.cause {
        Cause::Rule {
            rule_id,
            event_id,
            event_type,
            ..
        } => {
            d.event_id = *event_id;
            d.rule_id = Some(*rule_id);
            // Only events are grouped: a button press or a test goes out on its own.
            if let Some(id) = f.webhook_id {
                d.batch = batching::spec(
                    batch_mode(f.webhook.batch_mode),
                    id.0,
                    event_type,
                    &d.request,
                    i64::from(f.webhook.batch_wait_seconds),
                    f.webhook.batch_max_items,
                );
            }
        }
        Cause::Button | Cause::Test => {
            d.actor_id = f.actor_id;
            d.actor_name = f.actor_name.clone().unwrap_or_default();
        }
    }
    // A test-send is not part of the ticket's sequence (it goes out at once, alone).
    d.ordered = f.webhook.keep_order && !matches!(f.cause, Cause::Test);
    d.retry_schedule = f.webhook.delivery_schedule(global_schedule);
    Ok(Rendered {
        delivery: d,
        description: built.description,
    })
}

fn batch_mode(m: crate::webhooks::model::BatchMode) -> batching::BatchMode {
    use crate::webhooks::model::BatchMode as W;
    match m {
        W::None => batching::BatchMode::None,
        W::SameEvent => batching::BatchMode::SameEvent,
        W::SameEventType => batching::BatchMode::SameEventType,
        W::AnyEvent => batching::BatchMode::AnyEvent,
    }
}

/// Renders and queues inside the caller's write transaction, and writes "webhook fired"
/// with the action description to the ticket's history (when `f.by` is set); returns
/// the delivery.
///
/// Every refusal (a template that does not render, a missing connection, a request
/// `enqueue` rejects) comes before the first write, so a caller that goes on after a
/// refusal needs no savepoint around this (the rule engine relies on it). Keep it so.
pub fn fire(
    conn: &mut DbConn,
    sb: &SecretBox,
    f: &Firing<'_>,
    global_schedule: &[String],
    now: DateTime<Utc>,
) -> Result<queue::Queued> {
    let r = render(conn, sb, f, global_schedule, now)?;
    let queued = queue::enqueue_queued(
        conn,
        &r.delivery,
        crate::delivery::attempts_of(global_schedule),
        now.naive_utc(),
    )?;
    if let (Some(by), TicketRef::Id(ticket)) = (f.by, f.ticket) {
        let text = if r.description.trim().is_empty() {
            format!("Webhook “{}” fired", f.webhook.name)
        } else {
            r.description
        };
        crate::tickets::history::record_webhook_fired(conn, ticket, by, &text)?;
    }
    Ok(queued)
}

/// Replays delivery `id` as a new delivery of the same request, linked to it, and
/// audits it — one transaction. Wake the worker after.
///
/// Its retries follow the policy of the webhook it came from as that webhook is now; the
/// original's own schedule only when the webhook is gone; else `global`, the configured
/// schedule.
pub fn replay(
    conn: &mut DbConn,
    actor: &Actor,
    id: DeliveryId,
    global: &[String],
    now: NaiveDateTime,
) -> Result<DeliveryId> {
    crate::db::write(conn, |c| {
        let new = replay_unaudited(c, (actor.id, &actor.name), id, global, now)?;
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

/// [`replay`] without its audit row, inside the caller's write: for a bulk replay,
/// which audits once for all of them. `by` is the replaying user (id, name).
pub fn replay_unaudited(
    c: &mut DbConn,
    by: (Option<i64>, &str),
    id: DeliveryId,
    global: &[String],
    now: NaiveDateTime,
) -> Result<DeliveryId> {
    let d = Delivery::get(c, id.0)?;
    // A delivery still under way will be sent by itself: a replay now would send the
    // request twice, under two webhook-ids (bulk replay refuses these the same way).
    let stage = crate::delivery::queue::Stage::of(&d.status, d.attempts);
    if stage.is_open() {
        return Err(Error::Conflict(format!(
            "delivery {} is {}: it is still under way, and a replay now would send it twice. \
             Replay it once it has failed or been delivered, or cancel it first.",
            d.id,
            stage.label().to_lowercase()
        )));
    }
    let schedule = match d.webhook_id.map(|w| crate::webhooks::cache::get(c, w)) {
        Some(Ok(w)) => w.delivery_schedule(global),
        Some(Err(Error::NotFound(_))) | None => d.own_retry_schedule(),
        Some(Err(e)) => return Err(e),
    };
    queue::replay(
        c,
        d,
        by,
        schedule,
        crate::delivery::attempts_of(global),
        now,
    )
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
/// ticket), handed to the delivery worker's recorder at start-up. What it changes goes
/// to `rules` like any other change (when the webhook lets rules run after it).
pub fn response_hook(rules: std::sync::Arc<dyn Sink + Send + Sync>) -> ResponseHook {
    std::sync::Arc::new(
        move |c: &mut DbConn, job: &ResponseJob, body: &[u8], truncated: bool, now| {
            crate::webhooks::response::process_delivery(
                c,
                &*rules,
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
