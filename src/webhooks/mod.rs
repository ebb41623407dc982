//! Webhook definitions: what an administrator configures (the tabs of the webhook page),
//! validated whole and saved in one transaction; the request a webhook sends for a ticket
//! (`request::build`, shared by the preview and the delivery engine); and who may fire
//! it (`may_fire`).

pub mod cache;
pub mod checks;
pub mod input;
pub mod model;
pub mod presets;
pub mod request;
pub mod response;
pub mod secret_headers;
pub mod store;
pub mod syntax;

pub use input::WebhookInput;
pub use model::{
    ActionKind, BatchMode, Method, Parameter, PayloadMode, RequestType, ResponseAction,
    ResponseField, ResponseType, Status, Webhook,
};

use std::collections::BTreeMap;

use serde_json::Value;

use crate::auth::Principal;
use crate::conditions;
use crate::tickets::TicketType;

/// Whether `principal` may fire `webhook` by hand on a ticket with these template values:
/// no [`refusal`], and one of the principal's roles granted.
pub fn may_fire(
    principal: &Principal,
    webhook: &Webhook,
    ticket_values: &BTreeMap<String, Value>,
) -> bool {
    refusal(webhook, ticket_values).is_none() && grants(webhook, principal)
}

/// Whether `webhook` grants one of `principal`'s roles the right to fire it by hand.
/// Administrators get no pass: the Administrator role counts only when it is granted,
/// so who may send what stays the decision of the webhook's Roles tab.
pub fn grants(webhook: &Webhook, principal: &Principal) -> bool {
    webhook.roles.iter().any(|r| principal.has_role(r))
}

/// The template value an alert ticket carries: the connection it is about.
pub const ALERT_CONNECTION: &str = crate::tickets::payload::ALERT_CONNECTION;

/// An alert ticket about a connection never sends to it: its failure would feed the
/// alert (`alerts`, point 2). Part of [`refusal`]; the rules engine also asks it alone,
/// to say so in the ticket's history (a loop stopped is worth a line; a webhook for
/// other ticket types is not).
pub fn alert_loop(w: &Webhook, values: &BTreeMap<String, Value>) -> Option<String> {
    let c = values.get(ALERT_CONNECTION).and_then(Value::as_i64)?;
    (w.connection_id == Some(c) || w.test_connection_id == Some(c)).then(|| {
        format!(
            "this ticket is an alert about the connection webhook “{}” sends to; it never \
             sends there",
            w.name
        )
    })
}

/// Why `w` may not fire for a ticket with these template values (status, ticket type,
/// "Select tickets" conditions), or None when it may. Rules, buttons and the dry runs
/// all ask this one question.
pub fn refusal(w: &Webhook, values: &BTreeMap<String, Value>) -> Option<String> {
    if w.status == Status::Disabled {
        return Some(format!("webhook “{}” is disabled", w.name));
    }
    if let Some(why) = alert_loop(w, values) {
        return Some(why);
    }
    let ticket_type = values
        .get("ticket.type")
        .and_then(Value::as_str)
        .and_then(TicketType::parse);
    if !w.ticket_types.is_empty()
        && !ticket_type.is_some_and(|t| w.ticket_types.iter().any(|c| c == t.code()))
    {
        return Some(format!(
            "webhook “{}” does not act on {} tickets",
            w.name,
            ticket_type.map_or("these", TicketType::name)
        ));
    }
    if !conditions::evaluate(w.condition_match, &w.conditions, values, None) {
        return Some(format!(
            "the ticket does not meet the “Select tickets” conditions of webhook “{}”",
            w.name
        ));
    }
    None
}
