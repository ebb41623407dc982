//! Erasing what the log stored for one ticket: the request and response bodies of its
//! deliveries' attempts, and the stored request body of its finished deliveries (a
//! pending one keeps its body: it has yet to be sent). For a requester who asks for their
//! data to go; the rows stay, so the log still says what was sent when, and to whom.
//! A batch that carries the ticket (`delivery_tickets`) holds its data too: its bodies go
//! with the rest, though they hold other tickets' data as well.

use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{deliveries, delivery_attempts, delivery_tickets};
use crate::error::Result;

/// What was erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub attempts: usize,
    pub deliveries: usize,
}

/// Erases the stored bodies of ticket `ticket_id`'s deliveries, audited, in one write.
pub fn ticket_bodies(
    conn: &mut DbConn,
    actor: &Actor,
    ticket_id: i64,
    display_id: &str,
) -> Result<Erased> {
    crate::db::write(conn, |c| {
        let mut ids: Vec<i64> = deliveries::table
            .filter(deliveries::ticket_id.eq(ticket_id))
            .select(deliveries::id)
            .load(c)?;
        ids.extend(
            delivery_tickets::table
                .filter(delivery_tickets::ticket_id.eq(ticket_id))
                .select(delivery_tickets::delivery_id)
                .load::<i64>(c)?,
        );
        ids.sort_unstable();
        ids.dedup();
        let attempts = diesel::update(
            delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(&ids)),
        )
        .set((
            delivery_attempts::request_body.eq(""),
            delivery_attempts::response_body.eq(""),
        ))
        .execute(c)?;
        let finished = diesel::update(
            deliveries::table
                .filter(deliveries::id.eq_any(&ids))
                .filter(deliveries::status.eq_any(["succeeded", "failed", "cancelled"])),
        )
        .set(deliveries::body.eq(""))
        .execute(c)?;
        audit::record(
            c,
            actor,
            "delivery.erase_bodies",
            display_id,
            audit::SUCCESS,
            &format!("{finished} deliveries, {attempts} attempts"),
        )?;
        Ok(Erased {
            attempts,
            deliveries: finished,
        })
    })
}
