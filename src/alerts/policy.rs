//! The alert policy: whether and how a connection's failures open a ticket. One default
//! (settings `alerts.default`), and per connection either "follow the default" (its
//! `alert_policy` is NULL) or a policy of its own (off is a policy with `enabled: false`).

use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::connections::Connection;
use crate::db::schema::connections;
use crate::db::{DbConn, settings};
use crate::error::{Error, FieldErrors, Result};
use crate::tickets::{TicketType, parse_priority};

const DEFAULT_KEY: &str = "alerts.default";

/// What opens an alert ticket, and what the ticket looks like.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Off: failures open no tickets (the breaker still pauses and holds).
    pub enabled: bool,
    /// When the circuit breaker opens (the connection is paused).
    pub on_breaker_open: bool,
    /// When the receiver answers 410 Gone.
    pub on_gone: bool,
    /// When more than this many deliveries end `failed` within the window; 0: never.
    pub failed_threshold: u32,
    pub failed_window_minutes: u32,
    /// Incident, Service Request, Problem or Change (name or code).
    pub ticket_type: String,
    /// P1 … P4.
    pub priority: String,
    pub group: String,
    /// A username; empty: unassigned.
    pub assignee: String,
    /// Resolve the alert ticket when the connection recovers.
    pub auto_resolve: bool,
    /// Further failures add a note to the open alert ticket at most this often.
    pub note_every_minutes: u32,
}

impl Default for Policy {
    /// The built-in default: off, and when switched on, an Incident P2 for the Service
    /// Desk group on the breaker and on 410, resolved on recovery.
    fn default() -> Self {
        Self {
            enabled: false,
            on_breaker_open: true,
            on_gone: true,
            failed_threshold: 0,
            failed_window_minutes: 15,
            ticket_type: "Incident".into(),
            priority: "P2".into(),
            group: "Service Desk".into(),
            assignee: String::new(),
            auto_resolve: true,
            note_every_minutes: 30,
        }
    }
}

impl Policy {
    /// Checks every field; the stored policy is the normalised one.
    pub fn checked(mut self, conn: &mut DbConn) -> Result<Policy> {
        let mut errs = FieldErrors::new();
        match TicketType::parse(&self.ticket_type) {
            Some(t) => self.ticket_type = t.name().into(),
            None => errs.add(
                "ticket_type",
                "must be Incident, Service Request, Problem or Change",
            ),
        }
        match parse_priority(&self.priority) {
            Some(p) => self.priority = p.into(),
            None => errs.add("priority", "must be P1, P2, P3 or P4"),
        }
        self.group = self.group.trim().to_owned();
        if self.group.chars().count() > 100 {
            errs.add("group", "must be at most 100 characters");
        }
        self.assignee = self.assignee.trim().to_owned();
        if !self.assignee.is_empty() {
            match crate::auth::User::find_by_username(conn, &self.assignee)? {
                Some(u) if u.active && !u.system => self.assignee = u.username,
                _ => errs.add("assignee", "is not an active user's username"),
            }
        }
        if !(1..=1440).contains(&self.failed_window_minutes) {
            errs.add(
                "failed_window_minutes",
                "must be between 1 and 1440 minutes",
            );
        }
        if self.failed_threshold > 100_000 {
            errs.add("failed_threshold", "must be at most 100000 (0: never)");
        }
        if self.note_every_minutes > 1440 {
            errs.add("note_every_minutes", "must be at most 1440 minutes");
        }
        if self.enabled && !self.on_breaker_open && !self.on_gone && self.failed_threshold == 0 {
            errs.add(
                "enabled",
                "choose at least one thing that opens an alert (breaker, 410, failed deliveries)",
            );
        }
        errs.into_result()?;
        Ok(self)
    }

    /// One line for lists: "Off", or what opens a ticket and for whom.
    pub fn summary(&self) -> String {
        if !self.enabled {
            return "Off".into();
        }
        let mut on = Vec::new();
        if self.on_breaker_open {
            on.push("breaker opens".to_owned());
        }
        if self.on_gone {
            on.push("410 Gone".to_owned());
        }
        if self.failed_threshold > 0 {
            on.push(format!(
                "more than {} failed in {} min",
                self.failed_threshold, self.failed_window_minutes
            ));
        }
        let whom = match (self.group.is_empty(), self.assignee.is_empty()) {
            (_, false) => format!(" for {}", self.assignee),
            (false, true) => format!(" for {}", self.group),
            (true, true) => String::new(),
        };
        format!(
            "{} {}{} when {}",
            self.ticket_type,
            self.priority,
            whom,
            on.join(", ")
        )
    }
}

/// A connection's choice: follow the default, or its own policy.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPolicy {
    pub follows_default: bool,
    /// The connection's own policy; ignored (and answered as the default's) when it
    /// follows the default.
    #[serde(default)]
    pub policy: Option<Policy>,
}

pub fn default_policy(conn: &mut DbConn) -> Result<Policy> {
    Ok(match settings::get(conn, DEFAULT_KEY)? {
        Some(v) if !v.is_empty() => serde_json::from_str(&v).unwrap_or_default(),
        _ => Policy::default(),
    })
}

/// The policy that applies to a connection now.
pub fn effective(conn: &mut DbConn, c: &Connection) -> Result<Policy> {
    match c.alert_policy.as_deref() {
        Some(own) => Ok(serde_json::from_str(own).unwrap_or_default()),
        None => default_policy(conn),
    }
}

/// The connection's choice as the page and the API show it.
pub fn of_connection(conn: &mut DbConn, c: &Connection) -> Result<ConnectionPolicy> {
    Ok(ConnectionPolicy {
        follows_default: c.alert_policy.is_none(),
        policy: Some(effective(conn, c)?),
    })
}

/// An administrator saves the default, with its audit row.
pub fn put_default(conn: &mut DbConn, actor: &Actor, p: Policy) -> Result<Policy> {
    let p = p.checked(conn)?;
    let json = serde_json::to_string(&p).map_err(|e| Error::Internal(e.to_string()))?;
    crate::db::write(conn, |c| {
        settings::put(c, DEFAULT_KEY, &json)?;
        audit::record(
            c,
            actor,
            "alerts.default",
            "default alert policy",
            audit::SUCCESS,
            &p.summary(),
        )?;
        Ok(p)
    })
}

/// An administrator sets a connection's policy (or makes it follow the default), with
/// its audit row.
pub fn put_for_connection(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    choice: ConnectionPolicy,
) -> Result<ConnectionPolicy> {
    let own = match (choice.follows_default, choice.policy) {
        (true, _) => None,
        (false, Some(p)) => Some(p.checked(conn)?),
        (false, None) => {
            return Err(Error::invalid(
                "policy",
                "is required unless the connection follows the default",
            ));
        }
    };
    let json = own
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    crate::db::write(conn, |c| {
        let old = Connection::get(c, id)?;
        diesel::update(connections::table.find(id))
            .set(connections::alert_policy.eq(&json))
            .execute(c)?;
        let detail = match &own {
            None => "follows the default".to_owned(),
            Some(p) => p.summary(),
        };
        audit::record(
            c,
            actor,
            "connection.alerts",
            &old.name,
            audit::SUCCESS,
            &detail,
        )?;
        let now = Connection::get(c, id)?;
        of_connection(c, &now)
    })
}
