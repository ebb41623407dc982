//! Tickets: the ticket itself with its per-type display id, administrator-defined custom
//! forms and their values, the history timeline, and the events every change emits in
//! its own transaction. Pages and the API both call these functions; nothing here knows
//! about HTTP.

mod changes;
pub mod demo;
pub mod display_id;
pub mod events;
pub mod form_fields;
pub mod forms;
pub mod history;
pub mod history_view;
mod input;
pub mod lookup;
pub mod model;
pub mod payload;
pub mod query;
pub mod rows;
pub mod targets;
pub mod validation;
pub mod values;

pub use forms::{FieldType, Form, FormField, SelectOption};
pub use lookup::TicketKey;
pub use model::{Changes, Ticket, TicketInput, TicketPatch, Updated};
pub use payload::{
    normalize_name, template_names, template_values, template_values_of, ticket_json,
};

use crate::auth::Principal;

/// The four ticket types; the code is the display id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
pub enum TicketType {
    Incident,
    ServiceRequest,
    Problem,
    Change,
}

impl TicketType {
    pub const ALL: [TicketType; 4] = [
        TicketType::Incident,
        TicketType::ServiceRequest,
        TicketType::Problem,
        TicketType::Change,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TicketType::Incident => "IN",
            TicketType::ServiceRequest => "SR",
            TicketType::Problem => "PR",
            TicketType::Change => "CH",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TicketType::Incident => "Incident",
            TicketType::ServiceRequest => "Service Request",
            TicketType::Problem => "Problem",
            TicketType::Change => "Change",
        }
    }

    /// Accepts the code (`SR`) or the name in any case and spacing (`service request`).
    pub fn parse(s: &str) -> Option<TicketType> {
        let n = normalize_name(s);
        Self::ALL
            .into_iter()
            .find(|t| n == t.code().to_ascii_lowercase() || n == normalize_name(t.name()))
    }
}

pub const STATUSES: [&str; 5] = ["Open", "In Progress", "Pending", "Resolved", "Closed"];

/// Canonical spelling of a status given in any case and spacing.
pub fn parse_status(s: &str) -> Option<&'static str> {
    let n = normalize_name(s);
    STATUSES.into_iter().find(|x| normalize_name(x) == n)
}

/// Priority: a single select with an id and a display value.
pub const PRIORITIES: [(&str, &str); 4] = [
    ("P1", "P1 Critical"),
    ("P2", "P2 High"),
    ("P3", "P3 Medium"),
    ("P4", "P4 Low"),
];

/// The priority id for an id (`p2`), a display value (`P2 High`) or a bare label (`High`).
pub fn parse_priority(s: &str) -> Option<&'static str> {
    let n = normalize_name(s);
    PRIORITIES.into_iter().find_map(|(id, display)| {
        let label = display.split_once(' ').map(|x| x.1).unwrap_or(display);
        (n == normalize_name(id) || n == normalize_name(display) || n == normalize_name(label))
            .then_some(id)
    })
}

pub fn priority_display(id: &str) -> &str {
    PRIORITIES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, d)| *d)
        .unwrap_or(id)
}

/// Who made a change, as history and events record it.
#[derive(Debug, Clone)]
pub struct ChangeActor {
    pub id: Option<i64>,
    pub name: String,
    pub integration: bool,
    /// The webhook whose response made the change: rules never fire that webhook
    /// again from it (a response cannot call itself).
    pub response_of: Option<i64>,
}

impl ChangeActor {
    pub fn user(p: &Principal) -> Self {
        Self {
            id: Some(p.user.id),
            name: p.user.display_name.clone(),
            integration: p.user.integration,
            response_of: None,
        }
    }
    /// Changes made by Hookdesk itself (demo data, webhook responses without a user).
    pub fn system(name: &str) -> Self {
        Self {
            id: None,
            name: name.into(),
            integration: false,
            response_of: None,
        }
    }
}

/// Which webhook response made a change (see `Ticket::apply_webhook_response`).
#[derive(Debug, Clone, Default)]
pub struct ResponseOrigin {
    pub webhook_id: Option<i64>,
    pub webhook_name: String,
    /// The delivery's `msg_…` id.
    pub delivery_uid: String,
    /// The webhook's "run rules after response processed": whether the change also
    /// emits the ticket events rules react to.
    pub run_rules: bool,
    /// What the response did, one clause per mapping and action.
    pub summary: String,
}

impl From<&Principal> for ChangeActor {
    fn from(p: &Principal) -> Self {
        ChangeActor::user(p)
    }
}
