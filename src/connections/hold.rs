//! Pausing and resuming a connection, and what waits meanwhile. While a connection is
//! paused — by its circuit breaker or by an administrator — its deliveries are *held*:
//! not sent, not failed, their attempts not counted. Resuming sends them in the order
//! they were created; an administrator may instead discard them. Each action writes its
//! audit row in its own transaction. The caller wakes the worker after a resume.

use diesel::prelude::*;

use super::Connection;
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::deliveries;
use crate::delivery::health;
use crate::error::{Error, Result};

impl Connection {
    /// Deliveries waiting to be sent (held, while the connection is paused).
    pub fn waiting(conn: &mut DbConn, id: i64) -> Result<i64> {
        Ok(deliveries::table
            .filter(deliveries::connection_id.eq(id))
            .filter(deliveries::status.eq("pending"))
            .count()
            .get_result(conn)?)
    }

    /// An administrator pauses deliveries to the connection (a maintenance window, a
    /// vendor's outage): new and retrying deliveries are held until it is resumed.
    pub fn pause(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Connection> {
        crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            if old.hold_since.is_some() {
                return Err(Error::Conflict(format!(
                    "connection “{}” is already paused",
                    old.name
                )));
            }
            health::hold(c, id, &actor.name, crate::db::now())?;
            audit::record(c, actor, "connection.pause", &old.name, audit::SUCCESS, "")?;
            Connection::get(c, id)
        })
    }

    /// Closes the breaker, lifts a pause and clears the 410 flag (see
    /// `delivery::health::resume`): held deliveries leave at once, oldest first.
    /// Returns the connection and how many were released.
    pub fn resume(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<(Connection, usize)> {
        crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            let waiting = Connection::waiting(c, id)?;
            health::resume(c, id, crate::db::now())?;
            audit::record(
                c,
                actor,
                "connection.resume",
                &old.name,
                audit::SUCCESS,
                &format!("{waiting} waiting deliveries released"),
            )?;
            Ok((
                Connection::get(c, id)?,
                usize::try_from(waiting).unwrap_or(0),
            ))
        })
    }

    /// An administrator discards the held deliveries of a paused connection (they are
    /// cancelled, and stay in the log as such). Refused while the connection is not
    /// paused: its pending deliveries are then simply on their way.
    pub fn discard_held(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<usize> {
        let res = crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            if !old.is_held() {
                return Err(Error::Conflict(format!(
                    "connection “{}” is not paused: its deliveries are not held; pause it \
                     first to discard them",
                    old.name
                )));
            }
            let n = health::discard_held(c, id, &actor.name, crate::db::now())?;
            audit::record(
                c,
                actor,
                "connection.discard_held",
                &old.name,
                audit::SUCCESS,
                &format!("{n} held deliveries discarded"),
            )?;
            Ok(n)
        });
        audit::record_refusal(
            conn,
            actor,
            "connection.discard_held",
            &format!("connection #{id}"),
            &res,
        )?;
        res
    }
}
