//! Integration health where a service desk lives: a connection's failures become a
//! ticket (issue 14).
//!
//! The worker's recorder tells [`hook`] what happened to a connection (breaker opened,
//! first 410, a delivery failed, recovered) inside the transaction that records the
//! outcome. Here that news meets the connection's alert [`policy`]:
//!
//! 1. One open alert ticket per connection at a time (`connections.alert_ticket_id`).
//!    While it is open, further failures add a note to it, at most once per
//!    `note_every_minutes` (`alert_noted_at`); once it is resolved or closed, the next
//!    alert opens a new one.
//! 2. Alert tickets are created by Hookdesk's built-in system user and marked with the
//!    connection (`tickets.alert_connection_id`): `webhooks::refusal` never lets such a
//!    ticket send to that connection, whatever rule or button asks, so an alert cannot
//!    feed its own failure.
//! 3. They are ordinary tickets: the rules engine sees their events (e.g. to notify an
//!    on-call chat through another connection).
//! 4. A success after the alert (a probe, or any delivery) notes the recovery and, when
//!    the policy says so, resolves the ticket; `alert_raised_at` is cleared.
//! 5. Nothing here can undo the recording of an outcome: the recorder runs the hook under
//!    a savepoint and only logs its errors.

pub mod policy;
mod text;

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use policy::{ConnectionPolicy, Policy};

use crate::auth::system_user;
use crate::connections::Connection;
use crate::db::DbConn;
use crate::db::schema::{connections, deliveries};
use crate::delivery::health::Change;
use crate::delivery::hooks::{HealthHook, HealthNews, NewsKind};
use crate::error::{Error, Result};
use crate::tickets::events::Sink;
use crate::tickets::{ChangeActor, Ticket, TicketInput, TicketPatch};

/// Why an alert is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    BreakerOpen,
    Gone,
    /// Deliveries that ended failed within the window.
    ManyFailed(i64),
}

/// The worker's health hook: alerts, with `rules` seeing the tickets' events.
pub fn hook(rules: Arc<dyn Sink + Send + Sync>) -> HealthHook {
    Arc::new(move |conn, news| on_news(conn, news, rules.as_ref()))
}

/// What one piece of news does, under the connection's policy.
pub fn on_news(conn: &mut DbConn, news: &HealthNews, sink: &dyn Sink) -> Result<()> {
    // Two workers (processes) recording failures of one connection at once must not
    // both find no open alert and open two: PostgreSQL takes the connection's row lock
    // first (SQLite's write lock already orders them).
    if let DbConn::Postgres(pg) = &mut *conn {
        diesel::sql_query("SELECT id FROM connections WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::BigInt, _>(news.connection_id)
            .execute(pg)?;
    }
    let c = match Connection::get(conn, news.connection_id) {
        Ok(c) => c,
        // Deleted while its delivery was in flight: nobody to alert about.
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let p = policy::effective(conn, &c)?;
    match news.kind {
        NewsKind::Health(Change::Recovered) if c.alert_raised_at.is_some() => {
            recover(conn, &c, &p, news, sink)?;
        }
        NewsKind::Health(Change::Opened) if p.enabled && p.on_breaker_open => {
            raise(conn, &c, &p, &Reason::BreakerOpen, news.at, sink)?;
        }
        NewsKind::Health(Change::Gone) if p.enabled && p.on_gone => {
            raise(conn, &c, &p, &Reason::Gone, news.at, sink)?;
        }
        NewsKind::DeliveryFailed if p.enabled && p.failed_threshold > 0 => {
            let since = news.at - chrono::Duration::minutes(i64::from(p.failed_window_minutes));
            let n: i64 = deliveries::table
                .filter(deliveries::connection_id.eq(c.id))
                .filter(deliveries::status.eq("failed"))
                .filter(deliveries::completed_at.gt(since))
                .count()
                .get_result(conn)?;
            if n > i64::from(p.failed_threshold) {
                raise(conn, &c, &p, &Reason::ManyFailed(n), news.at, sink)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn system_actor(conn: &mut DbConn) -> Result<ChangeActor> {
    let u = system_user::get_or_create(conn)?;
    Ok(ChangeActor {
        id: Some(u.id),
        name: u.display_name,
        integration: false,
        response_of: None,
    })
}

/// The connection's alert ticket if it is still open.
fn open_ticket(conn: &mut DbConn, c: &Connection) -> Result<Option<Ticket>> {
    let Some(id) = c.alert_ticket_id else {
        return Ok(None);
    };
    match Ticket::get(conn, id) {
        Ok(t) if t.status != "Resolved" && t.status != "Closed" => Ok(Some(t)),
        Ok(_) | Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the alert ticket, or notes on the open one (throttled).
pub fn raise(
    conn: &mut DbConn,
    c: &Connection,
    p: &Policy,
    why: &Reason,
    now: NaiveDateTime,
    sink: &dyn Sink,
) -> Result<()> {
    let actor = system_actor(conn)?;
    if let Some(t) = open_ticket(conn, c)? {
        let due = c.alert_noted_at.is_none_or(|at| {
            now - at >= chrono::Duration::minutes(i64::from(p.note_every_minutes))
        });
        if due {
            let facts = text::Facts::read(conn, c, now)?;
            Ticket::add_note_as(conn, &actor, t.id, &facts.note(c, why), false, sink)?;
        }
        diesel::update(connections::table.find(c.id))
            .set((
                connections::alert_noted_at.eq(if due { Some(now) } else { c.alert_noted_at }),
                connections::alert_raised_at.eq(c.alert_raised_at.or(Some(now))),
            ))
            .execute(conn)?;
        return Ok(());
    }
    let facts = text::Facts::read(conn, c, now)?;
    let input = TicketInput {
        ticket_type: p.ticket_type.clone(),
        subject: text::subject(c, why),
        description: facts.description(c, why),
        status: "Open".into(),
        priority: p.priority.clone(),
        category: "Integration".into(),
        assigned_group: p.group.clone(),
        assignee: (!p.assignee.is_empty()).then(|| p.assignee.clone()),
        requester_name: actor.name.clone(),
        requester_email: String::new(),
        forms: Default::default(),
    };
    let t = match Ticket::create_alert(conn, &actor, &input, c.id, sink) {
        // The assignee was deactivated since the policy was saved: the alert still
        // opens, for the group.
        Err(Error::Validation(_)) if input.assignee.is_some() => {
            tracing::warn!(
                connection = c.id,
                "alert assignee refused; opening it unassigned"
            );
            let input = TicketInput {
                assignee: None,
                ..input
            };
            Ticket::create_alert(conn, &actor, &input, c.id, sink)?
        }
        r => r?,
    };
    diesel::update(connections::table.find(c.id))
        .set((
            connections::alert_ticket_id.eq(Some(t.id)),
            connections::alert_noted_at.eq(Some(now)),
            connections::alert_raised_at.eq(Some(now)),
        ))
        .execute(conn)?;
    tracing::warn!(connection = c.id, ticket = %t.display_id, "integration alert raised");
    Ok(())
}

/// The connection works again: a note on the open alert ticket, resolved when the
/// policy says so.
fn recover(
    conn: &mut DbConn,
    c: &Connection,
    p: &Policy,
    news: &HealthNews,
    sink: &dyn Sink,
) -> Result<()> {
    if let Some(t) = open_ticket(conn, c)? {
        let actor = system_actor(conn)?;
        let facts = text::Facts::read(conn, c, news.at)?;
        Ticket::add_note_as(
            conn,
            &actor,
            t.id,
            &facts.recovered(c, news, p.auto_resolve),
            false,
            sink,
        )?;
        if p.auto_resolve {
            let patch = TicketPatch {
                status: Some("Resolved".into()),
                ..TicketPatch::default()
            };
            Ticket::update_as(conn, &actor, t.id, &patch, sink)?;
        }
    }
    diesel::update(connections::table.find(c.id))
        .set((
            connections::alert_raised_at.eq(None::<NaiveDateTime>),
            connections::alert_noted_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}
