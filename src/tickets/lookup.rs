//! Finding a ticket: by id, by what a person typed, and locked for a change.

use diesel::prelude::*;

use super::model::Ticket;
use crate::db::DbConn;
use crate::db::schema::tickets;
use crate::error::{Error, Result};
use crate::ids::TicketId;

/// How a caller names a ticket: by id, or as a person typed it in a URL (`IN164` or
/// `42`). Lets an action resolve what was typed inside its own transaction, in the one
/// read it needs anyway, instead of in a read of its own before.
#[derive(Debug, Clone, Copy)]
pub enum TicketKey<'a> {
    Id(TicketId),
    Typed(&'a str),
}

impl TicketKey<'_> {
    /// The id, when the key is one (typed as a number, or given).
    fn id(self) -> Option<i64> {
        match self {
            TicketKey::Id(id) => Some(id.0),
            TicketKey::Typed(k) => k.trim().parse().ok(),
        }
    }

    /// As a display id is stored (`in164` → `IN164`).
    fn display_id(self) -> String {
        match self {
            TicketKey::Id(id) => id.0.to_string(),
            TicketKey::Typed(k) => k.trim().to_ascii_uppercase(),
        }
    }
}

impl Ticket {
    /// [`Ticket::get`] inside a write, locking the row until the commit on PostgreSQL
    /// (SQLite's write lock already covers it): changes to one ticket then go one at a
    /// time, each computed from the state the one before left, and nothing writes the
    /// ticket's form rows under a change that has read them.
    pub fn get_locked(conn: &mut DbConn, id: i64) -> Result<Ticket> {
        Ticket::get_locked_by(conn, TicketKey::Id(TicketId(id)))
    }

    /// [`Ticket::get_locked`] of the ticket `key` names.
    pub fn get_locked_by(conn: &mut DbConn, key: TicketKey<'_>) -> Result<Ticket> {
        let DbConn::Postgres(pg) = conn else {
            return Ticket::get_by(conn, key);
        };
        let found = match key.id() {
            Some(id) => tickets::table
                .find(id)
                .select(Ticket::as_select())
                .for_update()
                .get_result(pg),
            None => tickets::table
                .filter(tickets::display_id.eq(key.display_id()))
                .select(Ticket::as_select())
                .for_update()
                .get_result(pg),
        };
        found
            .optional()?
            .ok_or_else(|| Error::NotFound("ticket".into()))
    }

    pub fn get(conn: &mut DbConn, id: i64) -> Result<Ticket> {
        tickets::table
            .find(id)
            .select(Ticket::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("ticket".into()))
    }

    /// The ticket `key` names.
    pub fn get_by(conn: &mut DbConn, key: TicketKey<'_>) -> Result<Ticket> {
        match key {
            TicketKey::Id(id) => Ticket::get(conn, id.0),
            TicketKey::Typed(k) => Ticket::find(conn, k),
        }
    }

    /// By internal id (`42`) or display id (`IN164`).
    pub fn find(conn: &mut DbConn, key: &str) -> Result<Ticket> {
        let key = TicketKey::Typed(key);
        if let Some(id) = key.id() {
            return Ticket::get(conn, id);
        }
        tickets::table
            .filter(tickets::display_id.eq(key.display_id()))
            .select(Ticket::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("ticket".into()))
    }
}
