//! The ticket timeline: notes, field changes, webhooks fired and webhook responses
//! processed, each with who and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::ChangeActor;
use crate::db::DbConn;
use crate::db::schema::ticket_history;
use crate::error::Result;

pub const NOTE: &str = "note";
pub const FIELD_CHANGE: &str = "field_change";
pub const WEBHOOK_FIRED: &str = "webhook_fired";
pub const WEBHOOK_RESPONSE: &str = "webhook_response";
/// What the trigger rules could not do, or where a chain of rule changes stopped.
pub const RULE: &str = "rule";

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = ticket_history)]
pub struct HistoryEntry {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub body: String,
    pub internal: bool,
    /// JSON `{field: {old, new}}`.
    pub changes: String,
    pub created_at: NaiveDateTime,
}

/// One field change, for display (`history_view`).
#[derive(Debug, Clone)]
pub struct ChangeLine {
    pub field: String,
    pub old: String,
    pub new: String,
}

impl HistoryEntry {
    pub fn json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "actor": self.actor_name,
            "actorid": self.actor_id,
            "body": self.body,
            "internal": self.internal,
            "changes": serde_json::from_str::<Value>(&self.changes).unwrap_or(Value::Null),
            "createdat": super::payload::time(self.created_at),
        })
    }
}

pub fn record(
    conn: &mut DbConn,
    ticket_id: i64,
    kind: &str,
    actor: &ChangeActor,
    body: &str,
    internal: bool,
    changes: &Value,
) -> Result<i64> {
    Ok(diesel::insert_into(ticket_history::table)
        .values((
            ticket_history::ticket_id.eq(ticket_id),
            ticket_history::kind.eq(kind),
            ticket_history::actor_id.eq(actor.id),
            ticket_history::actor_name.eq(&actor.name),
            ticket_history::body.eq(body),
            ticket_history::internal.eq(internal),
            ticket_history::changes.eq(changes.to_string()),
            ticket_history::created_at.eq(crate::db::now()),
        ))
        .returning(ticket_history::id)
        .get_result(conn)?)
}

/// Oldest first.
pub fn list(conn: &mut DbConn, ticket_id: i64) -> Result<Vec<HistoryEntry>> {
    Ok(ticket_history::table
        .filter(ticket_history::ticket_id.eq(ticket_id))
        .order(ticket_history::id.asc())
        .select(HistoryEntry::as_select())
        .load(conn)?)
}

/// For the webhook engine: "webhook fired" with its action description.
pub fn record_webhook_fired(
    conn: &mut DbConn,
    ticket_id: i64,
    actor: &ChangeActor,
    description: &str,
) -> Result<i64> {
    record(
        conn,
        ticket_id,
        WEBHOOK_FIRED,
        actor,
        description,
        false,
        &Value::Object(Default::default()),
    )
}
