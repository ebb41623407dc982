//! A rule as typed in the form or sent to the API, and its validation: one function for
//! both, so the page and the API refuse the same things with the same words.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, Rule};
use crate::conditions::{self, Condition, ConditionInput, MatchMode};
use crate::db::DbConn;
use crate::error::{FieldErrors, Result};
use crate::templating::{Kind, KnownNames, Template};
use crate::tickets::{TicketPatch, events, parse_status};
use crate::webhooks::checks::ticket_names;
use crate::webhooks::syntax::writable;
use crate::{limits, webhooks};

fn yes() -> bool {
    true
}

/// What the form and `POST`/`PUT /api/v1/rules` send.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Event types: `ticket.created`, `ticket.updated`, `ticket.deleted`,
    /// `ticket.status_changed`, `ticket.reassigned`, `ticket.note_added`,
    /// `webhook.response_processed`.
    #[serde(default)]
    pub events: Vec<String>,
    /// `all` (default) or `any`.
    #[serde(default)]
    pub condition_match: String,
    #[serde(default)]
    pub conditions: Vec<ConditionInput>,
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub stop_processing: bool,
    #[serde(default = "yes")]
    pub ignore_integration: bool,
    /// Usernames whose changes do not set the rule off.
    #[serde(default)]
    pub ignored_users: Vec<String>,
}

impl Default for RuleInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            enabled: true,
            events: Vec::new(),
            condition_match: "all".into(),
            conditions: Vec::new(),
            actions: Vec::new(),
            stop_processing: false,
            ignore_integration: true,
            ignored_users: Vec::new(),
        }
    }
}

impl RuleInput {
    pub fn from_rule(r: &Rule) -> Self {
        Self {
            name: r.name.clone(),
            description: r.description.clone(),
            enabled: r.enabled,
            events: r.events.clone(),
            condition_match: r.condition_match.code().into(),
            conditions: r.conditions.iter().map(ConditionInput::from).collect(),
            actions: r.actions.clone(),
            stop_processing: r.stop_processing,
            ignore_integration: r.ignore_integration,
            ignored_users: r.ignored_users.clone(),
        }
    }
}

/// A rule that passed validation, ready to store.
#[derive(Debug, Clone)]
pub struct Valid {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub events: Vec<String>,
    pub condition_match: MatchMode,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    pub stop_processing: bool,
    pub ignore_integration: bool,
    pub ignored_user_ids: Vec<i64>,
}

/// The names a rule's conditions may test (every ticket field of every type, and what
/// an event tells besides its changes: `event.note`), and those its templates may use
/// (these, the event, the actor, `now`).
pub fn known_names(conn: &mut DbConn) -> Result<(Vec<String>, KnownNames)> {
    let mut names = ticket_names(conn, &[])?;
    names.extend(events::VALUE_NAMES.iter().map(|n| n.to_string()));
    let known = KnownNames::new(names.iter(), std::iter::empty::<&str>());
    Ok((names, known))
}

/// Why a *changed* condition on this field could never match, if it could not. An
/// event's changes hold the fields a person edits, by the value shown (the assignee's
/// name, a select's label) — plus `ticket.priority.id`, which the engine derives — so a
/// rule on any other name (a select's `.id`, `ticket.assigneeusername`, `updatedat`)
/// would be saved and then never fire.
fn untracked_change(c: &Condition) -> Option<String> {
    const NEVER: &[&str] = &[
        "ticket.id",
        "ticket.displayid",
        "ticket.type",
        "ticket.assigneeusername",
        "ticket.createdat",
        "ticket.createdby",
        "ticket.updatedat",
        "ticket.updatedby",
        "ticket.url",
        // The event's own values: the note it added, not a change.
        crate::templating::EVENT_NOTE,
        crate::templating::EVENT_NOTE_INTERNAL,
    ];
    if !c.operator.is_event_only() {
        return None;
    }
    let f = c.field.as_str();
    let hint = if f == "ticket.assigneeusername" {
        Some("ticket.assignee".to_string())
    } else if f != "ticket.priority.id" {
        f.strip_suffix(".id").map(str::to_string)
    } else {
        None
    };
    if !NEVER.contains(&f) && hint.is_none() {
        return None;
    }
    let op = c.operator.label();
    Some(match hint {
        Some(h) => format!(
            "changes record `{h}` (the value as shown), not `{f}`: `{op}` on `{f}` would never match; use `{h}`"
        ),
        None => format!("changes never record `{f}`, so `{op}` on it would never match"),
    })
}

fn check_template(errs: &mut FieldErrors, field: String, text: &str, known: &KnownNames) {
    if !limits::check(errs, field.clone(), text, limits::TEMPLATE) {
        return;
    }
    if let Err(e) = Template::parse_known(text, Kind::Text, known) {
        errs.add(field, e.to_string());
    }
}

/// Checks everything; `except` is the rule being edited (its own name is not taken).
/// Errors are keyed by field (`actions.2.webhook_id`, `conditions.0.field`, …).
pub fn validate(conn: &mut DbConn, input: &RuleInput, except: Option<i64>) -> Result<Valid> {
    let mut errs = FieldErrors::new();
    let name = input.name.trim().to_string();
    if name.is_empty() {
        errs.add("name", "is required");
    } else if let Some(m) = limits::too_long(&name, limits::NAME) {
        errs.add("name", m);
    } else if super::store::name_taken(conn, &name, except)? {
        errs.add("name", "is already taken by another rule");
    }
    limits::check(
        &mut errs,
        "description",
        &input.description,
        limits::DESCRIPTION,
    );

    let mut evs: Vec<String> = Vec::new();
    for e in &input.events {
        let e = e.trim().to_ascii_lowercase();
        if !events::ALL.contains(&e.as_str()) {
            errs.add(
                "events",
                format!(
                    "`{e}` is not an event; choose from {}",
                    events::ALL.join(", ")
                ),
            );
        } else if !evs.contains(&e) {
            evs.push(e);
        }
    }
    if input.events.is_empty() {
        errs.add("events", "choose at least one event");
    }

    let condition_match = if input.condition_match.trim().is_empty() {
        MatchMode::All
    } else {
        MatchMode::parse(&input.condition_match).unwrap_or_else(|| {
            errs.add("condition_match", "choose all or any");
            MatchMode::All
        })
    };
    let (names, known) = known_names(conn)?;
    let conds = conditions::parse_inputs(&input.conditions, &names, true, "conditions", &mut errs);
    for (i, c) in conds.iter().enumerate() {
        if let Some(why) = untracked_change(c) {
            errs.add(format!("conditions.{i}.field"), why);
        }
    }

    if input.actions.is_empty() {
        errs.add("actions", "add at least one action");
    }
    if input.actions.len() > 50 {
        errs.add("actions", "a rule may have at most 50 actions");
    }
    let mut actions = Vec::new();
    for (i, a) in input.actions.iter().enumerate() {
        if let Some(a) = validate_action(conn, i, a, &names, &known, &mut errs)? {
            actions.push(a);
        }
    }

    let mut ignored = Vec::new();
    for u in &input.ignored_users {
        let u = u.trim();
        if u.is_empty() {
            continue;
        }
        match crate::auth::User::find_by_username(conn, u)? {
            Some(user) => {
                if !ignored.contains(&user.id) {
                    ignored.push(user.id);
                }
            }
            None => errs.add("ignored_users", format!("no user “{u}”")),
        }
    }
    errs.into_result()?;
    Ok(Valid {
        name,
        description: input.description.trim().to_string(),
        enabled: input.enabled,
        events: evs,
        condition_match,
        conditions: conds,
        actions,
        stop_processing: input.stop_processing,
        ignore_integration: input.ignore_integration,
        ignored_user_ids: ignored,
    })
}

fn validate_action(
    conn: &mut DbConn,
    i: usize,
    a: &Action,
    names: &[String],
    known: &KnownNames,
    errs: &mut FieldErrors,
) -> Result<Option<Action>> {
    let key = |f: &str| format!("actions.{i}.{f}");
    Ok(Some(match a {
        Action::ExecuteWebhook { webhook_id, params } => {
            // Ids start at 1: 0 is a form row where no webhook was chosen.
            if *webhook_id <= 0 {
                errs.add(key("webhook_id"), "choose a webhook");
                return Ok(None);
            }
            let w = match webhooks::store::get(conn, *webhook_id) {
                Ok(w) => w,
                Err(crate::error::Error::NotFound(_)) => {
                    errs.add(key("webhook_id"), format!("no webhook #{webhook_id}"));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let mut kept = BTreeMap::new();
            for (name, value) in params {
                let Some(p) = w
                    .parameters
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
                else {
                    errs.add(
                        key(&format!("params.{name}")),
                        format!("webhook “{}” has no parameter `{name}`", w.name),
                    );
                    continue;
                };
                if p.read_only {
                    // A read-only parameter always takes its default: a value here
                    // would be silently ignored, so refuse it.
                    if !value.trim().is_empty() {
                        errs.add(
                            key(&format!("params.{name}")),
                            format!("`{}` is read-only: it always takes its default", p.name),
                        );
                    }
                    continue;
                }
                if value.is_empty() {
                    continue;
                }
                check_template(errs, key(&format!("params.{name}")), value, known);
                kept.insert(p.name.clone(), value.clone());
            }
            Action::ExecuteWebhook {
                webhook_id: *webhook_id,
                params: kept,
            }
        }
        Action::AddNote { text, internal } => {
            if text.trim().is_empty() {
                errs.add(key("text"), "is required");
            } else {
                check_template(errs, key("text"), text, known);
            }
            Action::AddNote {
                text: text.trim().to_string(),
                internal: *internal,
            }
        }
        Action::SetField { field, value } => {
            let f = field.trim().to_ascii_lowercase();
            let f = if f.is_empty() || f.starts_with("ticket.") {
                f
            } else {
                format!("ticket.{f}")
            };
            if f.is_empty() {
                errs.add(key("field"), "choose a field");
            } else if !names.contains(&f) || !writable(&f) {
                errs.add(
                    key("field"),
                    format!("`{field}` is not a field a rule can set"),
                );
            } else if f == "ticket.status" || f == "ticket.assignee" {
                errs.add(
                    key("field"),
                    "use the Change status or Assign action for this field",
                );
            } else if TicketPatch::default()
                .set(&f, Value::String(String::new()))
                .is_err()
            {
                errs.add(key("field"), format!("`{field}` cannot be set"));
            }
            check_template(errs, key("value"), value, known);
            Action::SetField {
                field: f,
                value: value.clone(),
            }
        }
        Action::ChangeStatus { status } => match parse_status(status) {
            Some(s) => Action::ChangeStatus { status: s.into() },
            None => {
                errs.add(
                    key("status"),
                    format!(
                        "“{status}” is not a status ({})",
                        crate::tickets::STATUSES.join(", ")
                    ),
                );
                return Ok(None);
            }
        },
        Action::Assign { assignee, group } => {
            let who = assignee.trim();
            if !who.is_empty() {
                match crate::auth::User::find_by_username(conn, who)? {
                    Some(u) if u.active && !u.integration => {}
                    _ => errs.add(key("assignee"), format!("no active technician “{who}”")),
                }
            }
            limits::check(errs, key("group"), group, limits::SHORT);
            Action::Assign {
                assignee: who.to_string(),
                group: group.trim().to_string(),
            }
        }
    }))
}
