//! Events: one row per thing that happened to a ticket, written in the transaction of
//! the change itself, so an event exists exactly when its change does. Trigger rules
//! consume them later and set `processed_at`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::ChangeActor;
use crate::db::DbConn;
use crate::db::schema::events;
use crate::error::Result;

pub const TICKET_CREATED: &str = "ticket.created";
pub const TICKET_UPDATED: &str = "ticket.updated";
pub const TICKET_DELETED: &str = "ticket.deleted";
pub const TICKET_STATUS_CHANGED: &str = "ticket.status_changed";
pub const TICKET_REASSIGNED: &str = "ticket.reassigned";
pub const TICKET_NOTE_ADDED: &str = "ticket.note_added";
pub const WEBHOOK_RESPONSE_PROCESSED: &str = "webhook.response_processed";

pub const ALL: [&str; 7] = [
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_DELETED,
    TICKET_STATUS_CHANGED,
    TICKET_REASSIGNED,
    TICKET_NOTE_ADDED,
    WEBHOOK_RESPONSE_PROCESSED,
];

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub event_type: String,
    pub ticket_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_integration: bool,
    /// JSON; `changes` is `{field: {old, new}}` for updates.
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub processed_at: Option<NaiveDateTime>,
}

impl Event {
    pub fn payload_json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or(Value::Null)
    }
}

/// Writes one event. Call inside the change's transaction: if this fails, the caller's
/// `?` rolls the change back.
pub fn record(
    conn: &mut DbConn,
    event_type: &str,
    ticket_id: i64,
    actor: &ChangeActor,
    payload: &Value,
) -> Result<()> {
    diesel::insert_into(events::table)
        .values((
            events::event_type.eq(event_type),
            events::ticket_id.eq(Some(ticket_id)),
            events::actor_id.eq(actor.id),
            events::actor_integration.eq(actor.integration),
            events::payload.eq(payload.to_string()),
            events::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Events of a ticket, oldest first.
pub fn for_ticket(conn: &mut DbConn, ticket_id: i64) -> Result<Vec<Event>> {
    Ok(events::table
        .filter(events::ticket_id.eq(ticket_id))
        .order(events::id.asc())
        .select(Event::as_select())
        .load(conn)?)
}

/// Unprocessed events, oldest first, for the trigger-rules engine.
pub fn unprocessed(conn: &mut DbConn, limit: i64) -> Result<Vec<Event>> {
    Ok(events::table
        .filter(events::processed_at.is_null())
        .order(events::id.asc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

pub fn mark_processed(conn: &mut DbConn, id: i64, at: NaiveDateTime) -> Result<()> {
    diesel::update(events::table.find(id))
        .set(events::processed_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}
