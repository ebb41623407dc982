//! Trigger rules: "when this happens to a ticket and it looks like this, do these
//! things". A rule listens to ticket events, tests the ticket (and the event's changes)
//! with the shared `conditions` evaluator, and runs its actions in order: execute a
//! webhook (through `firing`), add a note, set a field, change the status, assign.
//!
//! - [`store`]: the rules themselves — validation, create, update, clone, reorder,
//!   enable, delete, each audited in its own transaction — and their firing counts.
//! - [`engine`]: runs on the events of every ticket change **inside that change's
//!   transaction** (it is the `tickets::events::Sink` every change is handed), so a
//!   delivery exists exactly when its cause committed. It is what makes loops
//!   impossible by default; its invariants are listed there.
//! - [`dry_run`]: "test this rule" — the same evaluation against a chosen ticket, with
//!   nothing sent or changed.
//!
//! Nothing here knows about HTTP.

pub mod bench;
pub mod dry_run;
pub mod engine;
pub mod input;
pub mod store;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::conditions::{Condition, MatchMode};

pub use engine::Engine;
pub use input::RuleInput;

/// How far changes made by rules' actions are evaluated again: the change a person or
/// an integration made is depth 0; the events of actions it set off are depth 1, and so
/// on. Events deeper than this are not evaluated and the ticket's history says so.
pub const MAX_DEPTH: usize = 3;

/// One action of a rule, run in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Queue the webhook for the ticket. `params` are values for its parameters
    /// (templates allowed); a parameter not given, or read-only, takes its default.
    ExecuteWebhook {
        webhook_id: i64,
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
    /// A note on the ticket (template allowed); internal notes are not shown to the
    /// requester.
    AddNote {
        text: String,
        #[serde(default)]
        internal: bool,
    },
    /// A ticket field by placeholder name (`ticket.category`, `ticket.<form>.<field>`),
    /// to a value (template allowed).
    SetField {
        field: String,
        value: String,
    },
    ChangeStatus {
        status: String,
    },
    /// Assign to a user (username; empty unassigns) and/or a group (empty: unchanged).
    Assign {
        #[serde(default)]
        assignee: String,
        #[serde(default)]
        group: String,
    },
}

impl Action {
    pub fn kind_label(&self) -> &'static str {
        match self {
            Action::ExecuteWebhook { .. } => "Execute webhook",
            Action::AddNote { .. } => "Add note",
            Action::SetField { .. } => "Set field",
            Action::ChangeStatus { .. } => "Change status",
            Action::Assign { .. } => "Assign",
        }
    }

    /// Whether the action changes the ticket (and so sets off events of its own).
    pub fn changes_ticket(&self) -> bool {
        !matches!(self, Action::ExecuteWebhook { .. })
    }
}

/// A saved rule.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// Evaluation order, smallest first.
    pub position: i32,
    /// Event types (`ticket.updated`, …) the rule listens to.
    pub events: Vec<String>,
    #[schema(value_type = String, example = "all")]
    pub condition_match: MatchMode,
    #[schema(value_type = Vec<Object>)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// Later rules are not evaluated for an event this rule matched.
    pub stop_processing: bool,
    /// Changes made through an integration user's token do not set the rule off.
    pub ignore_integration: bool,
    /// Users whose changes do not set the rule off, by username.
    pub ignored_users: Vec<String>,
    #[serde(skip)]
    pub ignored_user_ids: Vec<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Rule {
    /// Whether the rule listens to `event_type`.
    pub fn listens_to(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == event_type)
    }
}

/// The event types as the rule form lists them.
pub fn event_label(event_type: &str) -> &'static str {
    use crate::tickets::events as ev;
    match event_type {
        ev::TICKET_CREATED => "Ticket created",
        ev::TICKET_UPDATED => "Ticket updated",
        ev::TICKET_DELETED => "Ticket deleted",
        ev::TICKET_STATUS_CHANGED => "Status changed",
        ev::TICKET_REASSIGNED => "Reassigned",
        ev::TICKET_NOTE_ADDED => "Note added",
        ev::WEBHOOK_RESPONSE_PROCESSED => "Webhook response processed",
        _ => "Unknown event",
    }
}
