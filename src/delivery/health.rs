//! Connection health: a circuit breaker per connection.
//!
//! Closed: failures in a row are counted. Open: after `breaker_failures` of them the
//! connection is paused until `paused_until`, and claims skip its deliveries. Half-open:
//! once the pause has passed while the count is still at the threshold, the worker sends
//! one delivery at a time (the probe); a success closes the breaker, a failure opens it
//! again for another cool-down. A 410 Gone sets `gone_at` for an administrator to see.
//! An administrator can close the breaker at once ([`resume`]), or pause a connection
//! ([`hold`]): its deliveries are then held — not sent, not failed — until resumed.

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
    /// The endpoint failed: no connection, timeout, 408, 429 or 5xx, or no token from
    /// its OAuth 2.0 token endpoint.
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
                Some(
                    ErrorClass::Dns
                    | ErrorClass::Connect
                    | ErrorClass::Tls
                    | ErrorClass::Timeout
                    | ErrorClass::Auth,
                ),
                _,
            ) => Some(Self::Failure),
            (_, Some(s)) if s == 408 || s == 429 || s >= 500 => Some(Self::Failure),
            _ => None,
        }
    }
}

/// What an outcome changed in a connection's health: the news the alert hook hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The breaker opened (or a probe failed and opened it again).
    Opened,
    /// The first 410 Gone.
    Gone,
    /// A success after failures.
    Recovered,
}

/// Applies one outcome to its connection's breaker; `breaker` is (failures, cool-down).
/// Returns what changed. A healthy connection's success is one `UPDATE` that matches
/// nothing, so the hot path pays no read.
pub fn apply(
    conn: &mut DbConn,
    id: i64,
    ev: HealthEvent,
    breaker: (i32, Duration),
    now: NaiveDateTime,
) -> Result<Option<Change>> {
    let row = || connections::table.find(id);
    let changed = match ev {
        HealthEvent::Success => {
            let n = diesel::update(
                row().filter(
                    connections::consecutive_failures
                        .gt(0)
                        .or(connections::paused_until.is_not_null())
                        .or(connections::alert_raised_at.is_not_null()),
                ),
            )
            .set((
                connections::consecutive_failures.eq(0),
                connections::paused_until.eq(None::<NaiveDateTime>),
                connections::failing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
            (n == 1).then_some(Change::Recovered)
        }
        HealthEvent::Failure => {
            diesel::update(row())
                .set((
                    connections::consecutive_failures.eq(connections::consecutive_failures + 1),
                    connections::failing_since.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
                    >("COALESCE(failing_since, ")
                    .bind::<diesel::sql_types::Timestamp, _>(now)
                    .sql(")")),
                ))
                .execute(conn)?;
            let until =
                now + chrono::Duration::from_std(breaker.1).unwrap_or(chrono::Duration::MAX);
            let n = diesel::update(row().filter(connections::consecutive_failures.ge(breaker.0)))
                .set(connections::paused_until.eq(Some(until)))
                .execute(conn)?;
            (n == 1).then_some(Change::Opened)
        }
        HealthEvent::Gone => {
            let n = diesel::update(row().filter(connections::gone_at.is_null()))
                .set(connections::gone_at.eq(Some(now)))
                .execute(conn)?;
            (n == 1).then_some(Change::Gone)
        }
    };
    Ok(changed)
}

/// Connections whose deliveries are held at `now`: the breaker is open, or an
/// administrator paused them. Claims skip them; their deliveries wait, uncounted.
pub fn paused(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<i64>> {
    Ok(connections::table
        .filter(
            connections::paused_until
                .gt(now)
                .or(connections::hold_since.is_not_null()),
        )
        .select(connections::id)
        .load(conn)?)
}

/// Why each held connection's deliveries wait, as the log shows it.
pub fn hold_reasons(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> Result<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, Option<NaiveDateTime>, String, Option<NaiveDateTime>)> = connections::table
        .filter(
            connections::paused_until
                .gt(now)
                .or(connections::hold_since.is_not_null()),
        )
        .select((
            connections::id,
            connections::hold_since,
            connections::hold_by,
            connections::paused_until,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, hold, by, until)| {
            let why = match (hold, until) {
                (Some(at), _) => format!(
                    "connection paused by {by} at {} UTC",
                    at.format("%Y-%m-%d %H:%M")
                ),
                (None, Some(t)) => format!(
                    "connection paused by its circuit breaker until {} UTC",
                    t.format("%Y-%m-%d %H:%M:%S")
                ),
                (None, None) => "connection paused".to_owned(),
            };
            (id, why)
        })
        .collect())
}

/// An administrator pauses a connection: its deliveries are held until [`resume`].
pub fn hold(conn: &mut DbConn, id: i64, by: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::hold_since.is_null()),
    )
    .set((
        connections::hold_since.eq(Some(now)),
        connections::hold_by.eq(by),
    ))
    .execute(conn)?;
    Ok(())
}

/// Closes the breaker, lifts an administrator's pause and clears the 410 flag; the
/// held deliveries become due at once and leave in the order they were created (the
/// claim orders by due time, then id). Returns how many were waiting.
pub fn resume(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<usize> {
    diesel::update(connections::table.find(id))
        .set((
            connections::consecutive_failures.eq(0),
            connections::paused_until.eq(None::<NaiveDateTime>),
            connections::gone_at.eq(None::<NaiveDateTime>),
            connections::hold_since.eq(None::<NaiveDateTime>),
            connections::hold_by.eq(""),
        ))
        .execute(conn)?;
    use crate::db::schema::deliveries;
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::connection_id.eq(id))
            .filter(deliveries::status.eq("pending"))
            .filter(deliveries::next_attempt_at.gt(now)),
    )
    .set(deliveries::next_attempt_at.eq(now))
    .execute(conn)?)
}

/// Cancels the pending deliveries of a connection (an administrator discards what was
/// held); in-flight ones finish. Returns how many.
pub fn discard_held(conn: &mut DbConn, id: i64, by: &str, now: NaiveDateTime) -> Result<usize> {
    use crate::db::schema::deliveries;
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::connection_id.eq(id))
            .filter(deliveries::status.eq("pending")),
    )
    .set((
        deliveries::status.eq("cancelled"),
        deliveries::last_error.eq(format!("discarded while held, by {by}")),
        deliveries::updated_at.eq(now),
        deliveries::completed_at.eq(Some(now)),
    ))
    .execute(conn)?)
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
        if let Some(at) = self.hold_since {
            return format!(
                "Paused by {} at {} UTC: deliveries are held",
                self.hold_by,
                at.format("%Y-%m-%d %H:%M")
            );
        }
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
        self.consecutive_failures > 0
            || self.paused_until.is_some()
            || self.gone_at.is_some()
            || self.hold_since.is_some()
    }

    /// Its deliveries are held now (breaker open, or paused by an administrator).
    pub fn is_held(&self) -> bool {
        self.hold_since.is_some() || self.paused_until.is_some_and(|t| t > crate::db::now())
    }
}
