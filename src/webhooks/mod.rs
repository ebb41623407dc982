//! Webhook definitions: what an administrator configures (the tabs of the webhook page),
//! validated whole and saved in one transaction; the request a webhook sends for a ticket
//! (`request::build`, shared by the preview and the delivery engine); and who may fire
//! it (`may_fire`).

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
/// the webhook is not disabled, acts on the ticket's type, grants one of the principal's
/// roles, and the ticket meets its "Select tickets" conditions.
pub fn may_fire(
    principal: &Principal,
    webhook: &Webhook,
    ticket_values: &BTreeMap<String, Value>,
) -> bool {
    webhook.status != Status::Disabled
        && applies_to(webhook, ticket_values)
        && grants(webhook, principal)
}

/// Whether `webhook` grants one of `principal`'s roles the right to fire it by hand.
/// Administrators get no pass: the Administrator role counts only when it is granted,
/// so who may send what stays the decision of the webhook's Roles tab.
pub fn grants(webhook: &Webhook, principal: &Principal) -> bool {
    webhook.roles.iter().any(|r| principal.has_role(r))
}

/// The type and condition half of `may_fire`, for rules (which need no role).
pub fn applies_to(webhook: &Webhook, ticket_values: &BTreeMap<String, Value>) -> bool {
    let type_ok = webhook.ticket_types.is_empty()
        || ticket_values
            .get("ticket.type")
            .and_then(Value::as_str)
            .and_then(TicketType::parse)
            .is_some_and(|t| webhook.ticket_types.iter().any(|c| c == t.code()));
    type_ok
        && conditions::evaluate(
            webhook.condition_match,
            &webhook.conditions,
            ticket_values,
            None,
        )
}
