//! The audit log: who changed what, from where, and whether it worked. Callers pass
//! descriptions, never secret values.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::Principal;
use crate::db::schema::audit_log;
use crate::db::{DbConn, escape_like};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub client_ip: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
}

/// Who acted and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    pub ip: String,
}

impl Actor {
    pub fn user(p: &Principal, ip: impl Into<String>) -> Self {
        Self {
            id: Some(p.user.id),
            name: p.user.username.clone(),
            ip: ip.into(),
        }
    }
    pub fn system(name: &str) -> Self {
        Self {
            id: None,
            name: name.into(),
            ip: String::new(),
        }
    }
}

pub const SUCCESS: &str = "success";
pub const FAILURE: &str = "failure";

pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(crate::db::now()),
            audit_log::actor_id.eq(actor.id),
            audit_log::actor_name.eq(&actor.name),
            audit_log::client_ip.eq(&actor.ip),
            audit_log::action.eq(action),
            audit_log::target.eq(target),
            audit_log::outcome.eq(outcome),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// Audits a refused change: when `res` is a `Conflict` (someone tried and the rules said
/// no), writes a FAILURE row with its message. The change's own transaction has rolled
/// back by then, taking anything recorded in it along, so this is a write of its own.
/// Validation errors are not audited: nothing was attempted against the rules.
pub fn record_refusal<T>(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    target: &str,
    res: &Result<T>,
) -> Result<()> {
    if let Err(Error::Conflict(msg)) = res {
        crate::db::write(conn, |c| record(c, actor, action, target, FAILURE, msg))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Part of the action name, e.g. `user.` or `role.delete`.
    pub action: String,
    /// Part of the actor's username.
    pub actor: String,
    /// `success`, `failure`, or empty for both.
    pub outcome: String,
    /// Date (YYYY-MM-DD) from which to list, inclusive.
    pub from: String,
    /// Date (YYYY-MM-DD) up to which to list, inclusive.
    pub to: String,
    /// Keyset cursor: list entries older than this id.
    pub before: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// Newest first, `PAGE_SIZE` at a time; returns the entries and the next cursor.
pub fn list(conn: &mut DbConn, f: &AuditFilter) -> Result<(Vec<AuditEntry>, Option<i64>)> {
    let mut q = audit_log::table.into_boxed();
    if !f.action.trim().is_empty() {
        let pat = format!("%{}%", escape_like(f.action.trim()));
        q = q.filter(audit_log::action.like(pat).escape('\\'));
    }
    if !f.actor.trim().is_empty() {
        let pat = format!("%{}%", escape_like(f.actor.trim()));
        q = q.filter(audit_log::actor_name.like(pat).escape('\\'));
    }
    if !f.outcome.is_empty() {
        q = q.filter(audit_log::outcome.eq(f.outcome.clone()));
    }
    if let Some(d) = parse_date(&f.from) {
        q = q.filter(audit_log::at.ge(d));
    }
    if let Some(d) = parse_date(&f.to) {
        q = q.filter(audit_log::at.lt(d + chrono::Duration::days(1)));
    }
    if let Some(before) = f.before {
        q = q.filter(audit_log::id.lt(before));
    }
    let mut rows: Vec<AuditEntry> = q
        .order(audit_log::id.desc())
        .limit(PAGE_SIZE + 1)
        .select(AuditEntry::as_select())
        .load(conn)?;
    let next = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}

fn parse_date(s: &str) -> Option<NaiveDateTime> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}
