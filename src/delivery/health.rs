//! Connection health: a circuit breaker per connection.
//!
//! Closed: failures in a row are counted. Open: after `breaker_failures` of them the
//! connection is paused until `paused_until`, and claims skip its deliveries. Half-open:
//! once the pause has passed while the count is still at the threshold, the worker sends
//! one delivery at a time (the probe); a success closes the breaker, a failure opens it
//! again for another cool-down. A 410 Gone sets `gone_at` for an administrator to see.
//! An administrator can close the breaker at once ([`resume`]).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::attempt::ErrorClass;
use super::retry::Outcome;
use crate::db::DbConn;
use crate::db::schema::connections;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// A 2xx: the endpoint works.
    Success,
    /// The endpoint failed: no connection, timeout, 408, 429 or 5xx.
    Failure,
    /// 410 Gone.
    Gone,
}

impl HealthEvent {
    /// `None` for outcomes that say nothing about the endpoint's health (a 4xx is the
    /// request's fault; a refusal by policy never reached it).
    pub fn of(o: &Outcome) -> Option<Self> {
        match (o.error, o.status) {
            (None, _) => Some(Self::Success),
            (_, Some(410)) => Some(Self::Gone),
            (
                Some(ErrorClass::Dns | ErrorClass::Connect | ErrorClass::Tls | ErrorClass::Timeout),
                _,
            ) => Some(Self::Failure),
            (_, Some(s)) if s == 408 || s == 429 || s >= 500 => Some(Self::Failure),
            _ => None,
        }
    }
}

/// Applies one outcome to its connection's breaker; `breaker` is (failures, cool-down).
pub fn apply(
    conn: &mut DbConn,
    id: i64,
    ev: HealthEvent,
    breaker: (i32, Duration),
    now: NaiveDateTime,
) -> Result<()> {
    let row = || connections::table.find(id);
    match ev {
        HealthEvent::Success => {
            diesel::update(
                row().filter(
                    connections::consecutive_failures
                        .gt(0)
                        .or(connections::paused_until.is_not_null()),
                ),
            )
            .set((
                connections::consecutive_failures.eq(0),
                connections::paused_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        }
        HealthEvent::Failure => {
            diesel::update(row())
                .set(connections::consecutive_failures.eq(connections::consecutive_failures + 1))
                .execute(conn)?;
            let until =
                now + chrono::Duration::from_std(breaker.1).unwrap_or(chrono::Duration::MAX);
            diesel::update(row().filter(connections::consecutive_failures.ge(breaker.0)))
                .set(connections::paused_until.eq(Some(until)))
                .execute(conn)?;
        }
        HealthEvent::Gone => {
            diesel::update(row().filter(connections::gone_at.is_null()))
                .set(connections::gone_at.eq(Some(now)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Connections paused at `now` (the breaker is open): claims skip them.
pub fn paused(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<i64>> {
    Ok(connections::table
        .filter(connections::paused_until.gt(now))
        .select(connections::id)
        .load(conn)?)
}

/// Closes the breaker and clears the 410 flag: deliveries flow again at once.
pub fn resume(conn: &mut DbConn, id: i64) -> Result<()> {
    diesel::update(connections::table.find(id))
        .set((
            connections::consecutive_failures.eq(0),
            connections::paused_until.eq(None::<NaiveDateTime>),
            connections::gone_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// How a connection's health reads on its page and in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Healthy,
    /// Failing, not yet paused (failures in a row so far).
    Failing(i32),
    /// Paused by the breaker until the given time.
    Paused(NaiveDateTime),
    /// Pause over; the next delivery is the probe.
    Probing,
}

pub fn state(
    failures: i32,
    paused_until: Option<NaiveDateTime>,
    threshold: i32,
    now: NaiveDateTime,
) -> State {
    match paused_until {
        Some(t) if t > now => State::Paused(t),
        _ if failures >= threshold => State::Probing,
        _ if failures > 0 => State::Failing(failures),
        _ => State::Healthy,
    }
}

impl State {
    pub fn label(self) -> String {
        match self {
            State::Healthy => "Healthy".into(),
            State::Failing(n) => format!("Failing ({n} in a row)"),
            State::Paused(t) => format!("Paused until {} UTC", t.format("%Y-%m-%d %H:%M:%S")),
            State::Probing => "Probing".into(),
        }
    }

    pub fn is_paused(self) -> bool {
        matches!(self, State::Paused(_) | State::Probing)
    }
}

impl crate::connections::Connection {
    /// The breaker's state as the connection pages show it (read at the current time).
    pub fn health_label(&self) -> String {
        let mut s = match self.paused_until {
            Some(t) if t > crate::db::now() => State::Paused(t).label(),
            _ if self.consecutive_failures > 0 => {
                format!("Failing ({} in a row)", self.consecutive_failures)
            }
            _ => State::Healthy.label(),
        };
        if let Some(g) = self.gone_at {
            s.push_str(&format!(
                "; answered 410 Gone at {} UTC",
                g.format("%Y-%m-%d %H:%M:%S")
            ));
        }
        s
    }

    /// Paused, failing or flagged gone: an administrator may resume it.
    pub fn needs_resume(&self) -> bool {
        self.consecutive_failures > 0 || self.paused_until.is_some() || self.gone_at.is_some()
    }
}
