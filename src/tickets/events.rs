//! Events: one row per thing that happened to a ticket, written in the transaction of
//! the change itself, so an event exists exactly when its change does. Every change
//! hands the events it wrote to a [`Sink`] before it commits: the trigger-rules engine,
//! which evaluates them there and sets `processed_at`.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::ChangeActor;
use crate::db::DbConn;
use crate::db::schema::events;
use crate::error::Result;
use crate::templating::{EVENT_NOTE, EVENT_NOTE_INTERNAL};

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

/// What an event tells besides its changes, by the name templates and rule conditions
/// read it under: a `ticket.note_added` event's note (`event.note`) and whether it is
/// internal (`event.note.internal`). Empty for other events. Without these a rule on
/// "note added" could fire a webhook but not send the note.
pub fn values_of(event_type: &str, payload: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if event_type == TICKET_NOTE_ADDED {
        let note = payload
            .get("note")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let internal = payload
            .get("internal")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.insert(EVENT_NOTE.to_string(), Value::String(note.to_string()));
        out.insert(EVENT_NOTE_INTERNAL.to_string(), Value::Bool(internal));
    }
    out
}

/// The names [`values_of`] may fill, for rule conditions.
pub const VALUE_NAMES: [&str; 2] = [EVENT_NOTE, EVENT_NOTE_INTERNAL];

/// Who hears of the events a change wrote, called inside the change's transaction (so
/// what it writes commits or rolls back with the change). The trigger-rules engine is
/// the one that matters; `tickets` cannot name it (rules act on tickets), so every
/// change is handed one.
pub trait Sink {
    /// `events` are in the order the change wrote them; `actor` made the change.
    fn on_events(&self, conn: &mut DbConn, actor: &ChangeActor, events: Vec<Event>) -> Result<()>;

    /// Whether this sink evaluates every event it is handed before the change's
    /// transaction commits: [`record`] then writes the event as processed.
    fn evaluates_in_transaction(&self) -> bool {
        false
    }

    /// [`Sink::on_events`] for an update, told the ticket as the update left it (so it
    /// need not read it again). Returns whether the ticket may have changed since:
    /// only a sink that knows it did not may say `false`.
    fn on_update(
        &self,
        conn: &mut DbConn,
        actor: &ChangeActor,
        events: Vec<Event>,
        after: &super::payload::TicketState,
    ) -> Result<bool> {
        let _ = after;
        self.on_events(conn, actor, events)?;
        Ok(true)
    }
}

/// A sink that hears nothing: the events stay unprocessed. For demo data (which must
/// not send anything anywhere) and for tests of tickets alone.
pub struct NoRules;

impl Sink for NoRules {
    fn on_events(&self, _: &mut DbConn, _: &ChangeActor, _: Vec<Event>) -> Result<()> {
        Ok(())
    }

    fn on_update(
        &self,
        _: &mut DbConn,
        _: &ChangeActor,
        _: Vec<Event>,
        _: &super::payload::TicketState,
    ) -> Result<bool> {
        Ok(false)
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
    sink: &dyn Sink,
) -> Result<Event> {
    let now = crate::db::now();
    let payload = payload.to_string();
    // Written as processed when the sink evaluates it before this transaction commits:
    // the one `UPDATE` marking it afterwards is saved, and a rollback takes both back.
    let processed_at = sink.evaluates_in_transaction().then_some(now);
    let id = diesel::insert_into(events::table)
        .values((
            events::event_type.eq(event_type),
            events::ticket_id.eq(Some(ticket_id)),
            events::actor_id.eq(actor.id),
            events::actor_integration.eq(actor.integration),
            events::payload.eq(&payload),
            events::created_at.eq(now),
            events::processed_at.eq(processed_at),
        ))
        .returning(events::id)
        .get_result(conn)?;
    Ok(Event {
        id,
        event_type: event_type.to_string(),
        ticket_id: Some(ticket_id),
        actor_id: actor.id,
        actor_integration: actor.integration,
        payload,
        created_at: now,
        processed_at,
    })
}

/// Events of a ticket, oldest first.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Event> {
    Ok(events::table
        .find(id)
        .select(Event::as_select())
        .get_result(conn)?)
}

pub fn for_ticket(conn: &mut DbConn, ticket_id: i64) -> Result<Vec<Event>> {
    Ok(events::table
        .filter(events::ticket_id.eq(ticket_id))
        .order(events::id.asc())
        .select(Event::as_select())
        .load(conn)?)
}

/// Marks events as evaluated by the trigger rules.
pub fn mark_processed(conn: &mut DbConn, ids: &[i64], at: NaiveDateTime) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(events::table.filter(events::id.eq_any(ids)))
        .set(events::processed_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}
