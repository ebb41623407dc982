//! "Test this rule": the engine's questions asked of one ticket and one event type,
//! each answer shown, and the requests the rule would send rendered — with nothing sent,
//! queued or changed. The event's changes come from the ticket's latest event of that
//! type, when it has one, so `changed` conditions can be tried on a real change.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::{Action, Rule};
use crate::conditions;
use crate::db::DbConn;
use crate::db::schema::events as events_table;
use crate::error::{Error, Result};
use crate::firing;
use crate::secrets::SecretBox;
use crate::templating::{Kind, RenderContext, Template};
use crate::tickets::Ticket;
use crate::webhooks::request::{self, TicketRef, TriggerCtx};

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConditionOutcome {
    /// `ticket.priority equals P1`
    pub condition: String,
    /// The ticket's value (for `changed…`: `old → new`).
    pub actual: String,
    pub matched: bool,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestPreview {
    pub method: String,
    pub url: String,
    /// Secret values shown as `••••`.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    pub action: String,
    /// What would happen, or why it would not.
    pub outcome: String,
    pub request: Option<RequestPreview>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DryRun {
    pub ticket: String,
    pub event: String,
    /// Whether the ticket had such an event, whose changes were used.
    pub used_event_changes: bool,
    pub listens: bool,
    pub conditions: Vec<ConditionOutcome>,
    /// The rule would run: it listens to the event and its conditions match.
    pub matched: bool,
    pub actions: Vec<ActionOutcome>,
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "(empty)".into(),
        Value::String(s) if s.is_empty() => "(empty)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn run(
    conn: &mut DbConn,
    sb: &SecretBox,
    rule: &Rule,
    ticket: &Ticket,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<DryRun> {
    if !crate::tickets::events::ALL.contains(&event_type) {
        return Err(Error::invalid(
            "event",
            format!("`{event_type}` is not an event"),
        ));
    }
    let latest: Option<String> = events_table::table
        .filter(events_table::ticket_id.eq(ticket.id))
        .filter(events_table::event_type.eq(event_type))
        .order(events_table::id.desc())
        .select(events_table::payload)
        .first(conn)
        .optional()?;
    let payload = latest
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .unwrap_or(Value::Null);
    let changes_json = payload
        .get("changes")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let changes = super::engine::changes_of(&changes_json);
    let event_values = crate::tickets::events::values_of(event_type, &payload);
    let values = crate::tickets::template_values(conn, ticket.id)?;
    // Conditions read the event's own values (`event.note`) beside the ticket's, as the
    // engine's do.
    let mut with_event: BTreeMap<String, Value> = (*values).clone();
    with_event.extend(event_values.clone());

    let outcomes: Vec<ConditionOutcome> = rule
        .conditions
        .iter()
        .map(|c| {
            let field = c.field.trim().to_ascii_lowercase();
            let actual = if c.operator.is_event_only() {
                match changes.get(&field) {
                    Some(ch) => format!("{} → {}", shown(&ch.old), shown(&ch.new)),
                    None => "(not changed by this event)".into(),
                }
            } else if let Some(v) = event_values.get(&field) {
                shown(v)
            } else {
                // As the ticket shows it (a Number field with decimal places: `45.50`).
                values.text(&field).map_or_else(
                    || shown(values.get(&field).unwrap_or(&Value::Null)),
                    str::to_string,
                )
            };
            ConditionOutcome {
                condition: format!("{} {} {}", c.field, c.operator.label(), c.value)
                    .trim_end()
                    .to_string(),
                actual,
                matched: conditions::matches(c, &with_event, Some(&changes)),
            }
        })
        .collect();
    let listens = rule.listens_to(event_type);
    let matched = listens
        && conditions::evaluate(
            rule.condition_match,
            &rule.conditions,
            &with_event,
            Some(&changes),
        );

    let ctx = RenderContext::new(values.clone(), now)
        .with_event(event_type.to_string(), changes_json.clone())
        .with_event_values(event_values.clone())
        .with_actor("(you)".to_string());
    let text = |t: &str| -> Result<String> { Ok(Template::parse(t, Kind::Text)?.render(&ctx)?) };
    let mut actions = Vec::new();
    for a in &rule.actions {
        let (outcome, request) = match a {
            Action::ExecuteWebhook { webhook_id, params } => {
                match crate::webhooks::store::get(conn, *webhook_id) {
                    Err(Error::NotFound(_)) => {
                        (format!("webhook #{webhook_id} no longer exists"), None)
                    }
                    Err(e) => return Err(e),
                    Ok(w) => match firing::refusal(&w, &values) {
                        Some(why) => (format!("not sent: {why}"), None),
                        None => {
                            let mut rendered = BTreeMap::new();
                            for (k, v) in params {
                                rendered.insert(k.clone(), text(v)?);
                            }
                            // Built as the engine's firing builds it, but the preview
                            // keeps the connection's authentication header (redacted):
                            // the stored snapshot leaves it out, yet it is sent.
                            let trigger = TriggerCtx {
                                event_type: Some(event_type.to_string()),
                                changes: Some(changes_json.clone()),
                                event_values: event_values.clone(),
                                actor_name: Some("(you)".into()),
                            };
                            let ticket_ref = TicketRef::Id(ticket.id);
                            match request::build(
                                conn, sb, &w, ticket_ref, &rendered, &trigger, now, false,
                            ) {
                                Ok(b) => (
                                    format!("would send webhook “{}”", w.name),
                                    Some(RequestPreview {
                                        method: b.method.code().to_string(),
                                        url: b.url.clone(),
                                        body: b.display_body(),
                                        headers: b.redacted_headers,
                                    }),
                                ),
                                Err(e) if !e.is_internal() => {
                                    (format!("not sent: {}", e.public_message()), None)
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    },
                }
            }
            Action::AddNote { text: t, internal } => (
                format!(
                    "would add {} note: {}",
                    if *internal { "an internal" } else { "a public" },
                    text(t)?
                ),
                None,
            ),
            Action::SetField { field, value } => {
                (format!("would set {field} to “{}”", text(value)?), None)
            }
            Action::ChangeStatus { status } => {
                (format!("would change the status to {status}"), None)
            }
            Action::Assign { assignee, group } => {
                let who = if assignee.is_empty() {
                    "nobody".to_string()
                } else {
                    assignee.clone()
                };
                let mut s = format!("would assign to {who}");
                if !group.is_empty() {
                    s.push_str(&format!(" in group {group}"));
                }
                (s, None)
            }
        };
        actions.push(ActionOutcome {
            action: a.kind_label().into(),
            outcome,
            request,
        });
    }
    Ok(DryRun {
        ticket: ticket.display_id.clone(),
        event: event_type.into(),
        used_event_changes: latest.is_some(),
        listens,
        conditions: outcomes,
        matched,
        actions,
    })
}
