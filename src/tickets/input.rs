//! What people give for a ticket — a new ticket, a partial update — and the checks of its
//! core fields (subject, status, priority, assignee, requester, lengths). Form values are
//! checked in `validation.rs`; the changes themselves are made in `model.rs`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::validation::unix_newlines;
use super::{parse_priority, parse_status, priority_display};
use crate::auth::User;
use crate::auth::users::normalize_username;
use crate::db::DbConn;
use crate::error::{FieldErrors, Result};
use crate::limits;

/// A new ticket. `assignee` is a username or user id; `forms` maps a form name to
/// `{field: value}` (single) or `[{field: value}, …]` (multi-line).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TicketInput {
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub category: String,
    pub assigned_group: String,
    pub assignee: Option<String>,
    pub requester_name: String,
    pub requester_email: String,
    pub forms: BTreeMap<String, Value>,
}

/// A partial update: only what is `Some` changes. `assignee: Some(None)` unassigns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub assigned_group: Option<String>,
    pub assignee: Option<Option<String>>,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    pub forms: BTreeMap<String, Value>,
}

/// Core fields after validation.
#[derive(Debug, Clone)]
pub(super) struct Core {
    pub(super) subject: String,
    pub(super) description: String,
    pub(super) status: String,
    pub(super) priority: String,
    pub(super) category: String,
    pub(super) assigned_group: String,
    pub(super) assignee: Option<User>,
    pub(super) requester_name: String,
    pub(super) requester_email: String,
}

impl Core {
    /// `(placeholder name, shown value)` pairs, the unit of change tracking.
    pub(super) fn shown(&self) -> Vec<(&'static str, Value)> {
        let s = |x: &str| Value::String(x.to_string());
        vec![
            ("subject", s(&self.subject)),
            ("description", s(&self.description)),
            ("status", s(&self.status)),
            ("priority", s(priority_display(&self.priority))),
            ("category", s(&self.category)),
            ("assignedgroup", s(&self.assigned_group)),
            (
                "assignee",
                self.assignee
                    .as_ref()
                    .map(|u| s(&u.display_name))
                    .unwrap_or(Value::Null),
            ),
            ("requestername", s(&self.requester_name)),
            ("requesteremail", s(&self.requester_email)),
        ]
    }
}

/// The user `who` names, who must be active unless they are `current`, the ticket's
/// assignee now: an edit that leaves a deactivated assignee as it was keeps them.
pub(super) fn find_assignee(
    conn: &mut DbConn,
    who: &str,
    current: Option<&User>,
    errs: &mut FieldErrors,
) -> Result<Option<User>> {
    let who = who.trim();
    if who.is_empty() {
        return Ok(None);
    }
    if let Some(u) =
        current.filter(|u| u.id.to_string() == who || u.username == normalize_username(who))
    {
        return Ok(Some(u.clone()));
    }
    let u = match who.parse::<i64>() {
        Ok(id) => User::get(conn, id).ok(),
        Err(_) => User::find_by_username(conn, who)?,
    };
    match u {
        Some(u) if u.active => Ok(Some(u)),
        _ => {
            errs.add("assignee", format!("no active user “{who}”"));
            Ok(None)
        }
    }
}

pub(super) fn validate_core(c: &mut Core, errs: &mut FieldErrors) {
    c.subject = c.subject.trim().to_string();
    if c.subject.is_empty() {
        errs.add("subject", "is required");
    } else {
        limits::check(errs, "subject", &c.subject, limits::SHORT);
    }
    c.description = unix_newlines(&c.description);
    limits::check(errs, "description", &c.description, 50_000);
    match parse_status(&c.status) {
        Some(s) => c.status = s.into(),
        None => errs.add("status", format!("“{}” is not a status", c.status)),
    }
    match parse_priority(&c.priority) {
        Some(p) => c.priority = p.into(),
        None => errs.add("priority", format!("“{}” is not a priority", c.priority)),
    }
    for (name, v) in [
        ("category", &mut c.category),
        ("assigned_group", &mut c.assigned_group),
        ("requester_name", &mut c.requester_name),
    ] {
        *v = v.trim().to_string();
        limits::check(errs, name, v, 120);
    }
    c.requester_email = c.requester_email.trim().to_string();
    let e = &c.requester_email;
    if limits::check(errs, "requester_email", e, 254)
        && !e.is_empty()
        && (!e.contains('@') || e.contains(char::is_whitespace))
    {
        errs.add("requester_email", "is not an email address");
    }
}
