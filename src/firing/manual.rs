//! Firing by hand: the webhooks a user may fire on a ticket ([`offered`]), what one
//! asks for ([`offer`]), the exact request it would send ([`preview`]) and firing it
//! ([`fire`]). The ticket page and the API call these same functions, so every check
//! below holds for both and neither front end can skip one:
//!
//! 1. **Role** (403). The user holds a role the webhook grants (`webhooks::grants`).
//!    Administrators get no pass: the Administrator role counts only when granted.
//! 2. **Status, ticket type, "Select tickets"** (422). [`super::refusal`], the question
//!    rules ask too. A webhook in Test status fires through its test connection.
//! 3. **Parameters** (422). Every name given is one of the webhook's parameters (an
//!    unknown name is refused, not ignored), and a read-only parameter, if given at all,
//!    holds exactly its default as rendered for this ticket now.
//!
//! A refused [`fire`] is written to the audit log in a transaction that holds nothing
//! else; a successful one queues the delivery, writes "webhook fired" with the action
//! description to the ticket's history and audits it, all in one transaction. Wake the
//! worker after it commits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Cause, Firing};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::db::{self, DbConn};
use crate::delivery::queue::Queued;
use crate::error::{Error, FieldErrors, Result};
use crate::ids::{TicketId, WebhookId};
use crate::secrets::SecretBox;
use crate::templating::TicketValues;
use crate::tickets::{ChangeActor, Ticket, TicketKey, template_values};
use crate::webhooks::model::Status;
use crate::webhooks::request::{TicketRef, TriggerCtx, base_context, parameter_values};
use crate::webhooks::{Webhook, grants, store};

/// The audit log's action for firing a webhook by hand (refused or not).
pub const AUDIT_ACTION: &str = "webhook.fire";

/// A webhook a user may fire on a ticket, with its prompts filled for that ticket.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Offer {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `enabled`, or `test`: it sends through the webhook's test connection.
    pub status: Status,
    /// Shown as a button on the ticket as well as in its Actions menu.
    pub show_as_button: bool,
    pub parameters: Vec<Prompt>,
}

impl Offer {
    pub fn is_test(&self) -> bool {
        self.status == Status::Test
    }
}

/// One parameter as the prompt shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Prompt {
    pub name: String,
    /// The label to show (the name when the webhook gives none).
    pub label: String,
    /// The default rendered for this ticket and user: what the prompt starts with, and
    /// the only value a read-only parameter takes.
    pub value: String,
    pub read_only: bool,
    pub multi_line: bool,
}

/// What a user asks for: fire `webhook` on `ticket` with these parameter values.
#[derive(Debug, Clone, Copy)]
pub struct FireRequest<'a> {
    pub principal: &'a Principal,
    /// Who the audit log names, and from where ([`preview`] writes nothing, so it
    /// audits nothing).
    pub audit: &'a Actor,
    pub ticket: TicketKey<'a>,
    pub webhook: WebhookId,
    /// Values by parameter name; parameters left out take their default.
    pub params: &'a BTreeMap<String, String>,
}

/// The request [`fire`] would queue, rendered as the delivery would store it (secret
/// header values `••••`; the connection's authentication is added at send time).
#[derive(Debug, Clone)]
pub struct Preview {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub content_type: String,
    /// What the ticket's history will say.
    pub description: String,
    pub through_test_connection: bool,
}

impl Preview {
    /// The body as it will be sent (not re-formatted: a JSON round trip would reorder
    /// the keys the template keeps).
    pub fn display_body(&self) -> String {
        self.body.clone()
    }
}

/// The webhooks `principal` may fire on `ticket` now, by name.
pub fn offered(
    conn: &mut DbConn,
    principal: &Principal,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>> {
    let values = template_values(conn, ticket.0)?;
    let mut out = Vec::new();
    for w in store::list_not_disabled(conn)? {
        if check(principal, &w, &values).is_ok() {
            out.push(offer_of(&w, &values, principal, now)?);
        }
    }
    Ok(out)
}

/// One webhook's prompt for `ticket`, or why `principal` may not fire it there.
pub fn offer(
    conn: &mut DbConn,
    principal: &Principal,
    ticket: TicketId,
    webhook: WebhookId,
    now: DateTime<Utc>,
) -> Result<Offer> {
    let l = load(conn, TicketKey::Id(ticket), webhook)?;
    check(principal, &l.webhook, &l.values)?;
    offer_of(&l.webhook, &l.values, principal, now)
}

/// Renders the request firing would send, after the same checks, and queues nothing.
pub fn preview(
    conn: &mut DbConn,
    sb: &SecretBox,
    global_schedule: &[String],
    r: &FireRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Preview> {
    let l = load(conn, r.ticket, r.webhook)?;
    checked(&l, r, now)?;
    let by = ChangeActor::user(r.principal);
    let rendered = super::render(conn, sb, &firing(&l, r, &by), global_schedule, now)?;
    let req = rendered.delivery.request;
    Ok(Preview {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        content_type: req.content_type,
        description: rendered.description,
        through_test_connection: l.webhook.status == Status::Test,
    })
}

/// Checks, queues the delivery (trigger `manual`), writes the action description to the
/// ticket's history and audits — one transaction; a refusal is audited on its own.
pub fn fire(
    conn: &mut DbConn,
    sb: &SecretBox,
    global_schedule: &[String],
    r: &FireRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Queued> {
    // The outer result is the transaction's, the inner one the decision: a refusal
    // commits its audit row and is still an error for the caller.
    db::write(conn, |c| {
        let l = load(c, r.ticket, r.webhook)?;
        let target = format!("webhook “{}” on {}", l.webhook.name, l.ticket.display_id);
        match checked(&l, r, now) {
            Ok(()) => {}
            Err(refused @ (Error::Forbidden(_) | Error::Validation(_))) => {
                // Nothing else is written in this transaction: it commits the audit
                // row alone.
                let why = refusal_text(&refused);
                audit::record(c, r.audit, AUDIT_ACTION, &target, audit::FAILURE, &why)?;
                return Ok(Err(refused));
            }
            Err(e) => return Err(e),
        }
        let by = ChangeActor::user(r.principal);
        let queued = super::fire(c, sb, &firing(&l, r, &by), global_schedule, now)?;
        let detail = format!("delivery {}", queued.id.0);
        audit::record(c, r.audit, AUDIT_ACTION, &target, audit::SUCCESS, &detail)?;
        Ok(Ok(queued))
    })?
}

struct Loaded {
    webhook: std::sync::Arc<Webhook>,
    ticket: Ticket,
    values: TicketValues,
}

fn load(conn: &mut DbConn, ticket: TicketKey<'_>, webhook: WebhookId) -> Result<Loaded> {
    let ticket = Ticket::get_by(conn, ticket)?;
    Ok(Loaded {
        values: crate::tickets::template_values_of(conn, ticket.clone())?,
        webhook: crate::webhooks::cache::get(conn, webhook.0)?,
        ticket,
    })
}

/// Checks 1 and 2 of the module's list.
fn check(principal: &Principal, w: &Webhook, values: &BTreeMap<String, Value>) -> Result<()> {
    if !grants(w, principal) {
        return Err(Error::Forbidden(format!(
            "None of your roles may fire webhook “{}”.",
            w.name
        )));
    }
    match super::refusal(w, values) {
        Some(why) => Err(Error::invalid("webhook", why)),
        None => Ok(()),
    }
}

/// All three checks.
fn checked(l: &Loaded, r: &FireRequest<'_>, now: DateTime<Utc>) -> Result<()> {
    check(r.principal, &l.webhook, &l.values)?;
    let actor_name = &r.principal.user.display_name;
    check_params(&l.webhook, r.params, &l.values, actor_name, now)
}

/// Check 3: unknown names and changed read-only values, each named. Test-send asks it
/// too, so a test cannot send what a real fire would refuse. The defaults are rendered
/// for `actor_name` at `now`, as the firing renders them.
pub(super) fn check_params(
    w: &Webhook,
    given: &BTreeMap<String, String>,
    values: &TicketValues,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if given.is_empty() {
        return Ok(());
    }
    let defaults = defaults(w, values, actor_name, now)?;
    let mut errs = FieldErrors::new();
    for (name, value) in given {
        let field = format!("params.{name}");
        match w
            .parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            None => errs.add(
                field,
                format!("webhook “{}” has no parameter `{name}`", w.name),
            ),
            Some(p) if p.read_only && !same_text(value, defaults.get(&p.name)) => errs.add(
                field,
                format!("parameter `{}` is read-only and cannot be changed", p.name),
            ),
            Some(_) => {}
        }
    }
    errs.into_result()
}

/// Line endings aside (a browser sends a textarea's lines with CRLF).
fn same_text(given: &str, default: Option<&String>) -> bool {
    let norm = |s: &str| s.replace("\r\n", "\n");
    default.is_some_and(|d| norm(given) == norm(d))
}

/// The parameters' defaults rendered for this ticket, as [`fire`] would take them.
fn defaults(
    w: &Webhook,
    values: &TicketValues,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, String>> {
    let trigger = TriggerCtx {
        actor_name: Some(actor_name.to_string()),
        ..TriggerCtx::default()
    };
    let ctx = base_context(w, values.clone(), &trigger, now);
    parameter_values(w, &ctx, &BTreeMap::new())
}

fn offer_of(
    w: &Webhook,
    values: &TicketValues,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Offer> {
    let mut defaults = defaults(w, values, &principal.user.display_name, now)?;
    let parameters = w
        .parameters
        .iter()
        .map(|p| Prompt {
            name: p.name.clone(),
            label: if p.label.trim().is_empty() {
                p.name.clone()
            } else {
                p.label.clone()
            },
            value: defaults.remove(&p.name).unwrap_or_default(),
            read_only: p.read_only,
            multi_line: p.multi_line,
        })
        .collect();
    Ok(Offer {
        id: w.id,
        name: w.name.clone(),
        description: w.description.clone(),
        status: w.status,
        show_as_button: w.show_as_button,
        parameters,
    })
}

fn firing<'a>(l: &'a Loaded, r: &FireRequest<'a>, by: &'a ChangeActor) -> Firing<'a> {
    Firing {
        webhook: &l.webhook,
        webhook_id: Some(WebhookId(l.webhook.id)),
        ticket: TicketRef::Id(l.ticket.id),
        values: Some(&l.values),
        params: r.params,
        actor_name: Some(r.principal.user.display_name.clone()),
        actor_id: Some(r.principal.user.id),
        cause: Cause::Button,
        // A webhook in Test status goes through its test connection by itself
        // (`request::connection_for`); a button never asks for it otherwise.
        use_test_connection: false,
        by: Some(by),
    }
}

/// The audit detail of a refusal: its message, each field's for a validation error.
fn refusal_text(e: &Error) -> String {
    match e {
        Error::Validation(f) => f.to_string(),
        other => other.public_message(),
    }
}
