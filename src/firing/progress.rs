//! How a delivery fired by hand is doing, in the words the ticket page and its live
//! status use: queued → sending → delivered (with the HTTP status and the start of the
//! answer), or retrying / failed with the last error and, while retrying, when the next
//! attempt is due.

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::delivery::queue::{Delivery, DeliveryId, Trigger};
use crate::delivery::records::AttemptRecord;
use crate::error::{Error, Result};
use crate::ids::TicketId;
use crate::webhooks::store;

/// How many characters of a response body the summary keeps.
const SUMMARY_CHARS: usize = 120;

pub use crate::delivery::queue::Stage;

/// One delivery as the ticket page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Progress {
    pub id: i64,
    pub uid: String,
    pub ticket_id: Option<i64>,
    /// Empty when the webhook has been deleted since.
    pub webhook_name: String,
    /// Who fired it.
    pub actor_name: String,
    pub created_at: NaiveDateTime,
    pub stage: Stage,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The last answer's HTTP status, if one came.
    pub http_status: Option<i32>,
    /// The start of the last answer's body, on one line.
    pub response_summary: String,
    /// Why the last attempt failed (retrying, failed).
    pub error: Option<String>,
    /// When the next attempt is due (retrying).
    pub next_attempt_at: Option<NaiveDateTime>,
}

impl Progress {
    pub fn settled(&self) -> bool {
        self.stage.settled()
    }
}

/// The delivery `id` fired by hand on `ticket`; NotFound for any other delivery, so a
/// ticket's page shows only its own.
pub fn of_ticket(conn: &mut DbConn, ticket: TicketId, id: DeliveryId) -> Result<Progress> {
    let d = Delivery::get(conn, id.0)?;
    if d.ticket_id != Some(ticket.0) || d.trigger != Trigger::Manual.as_str() {
        return Err(Error::NotFound(format!("delivery {id}")));
    }
    let name = webhook_name(conn, d.webhook_id)?;
    build(conn, d, name)
}

/// The latest `limit` deliveries fired by hand on `ticket`, newest first.
pub fn recent(conn: &mut DbConn, ticket: TicketId, limit: i64) -> Result<Vec<Progress>> {
    let rows = Delivery::recent_for_ticket(conn, ticket.0, Trigger::Manual, limit)?;
    let ids: Vec<i64> = rows.iter().filter_map(|d| d.webhook_id).collect();
    let names = store::names(conn, &ids)?;
    rows.into_iter()
        .map(|d| {
            let name = d
                .webhook_id
                .and_then(|w| names.get(&w).cloned())
                .unwrap_or_default();
            build(conn, d, name)
        })
        .collect()
}

fn webhook_name(conn: &mut DbConn, id: Option<i64>) -> Result<String> {
    let ids: Vec<i64> = id.into_iter().collect();
    Ok(store::names(conn, &ids)?
        .into_values()
        .next()
        .unwrap_or_default())
}

fn build(conn: &mut DbConn, d: Delivery, webhook_name: String) -> Result<Progress> {
    let held = match (d.status.as_str(), d.connection_id) {
        ("pending", Some(c)) => {
            crate::delivery::health::hold_reasons(conn, crate::db::now())?.remove(&c)
        }
        _ => None,
    };
    let stage = Stage::of_held(&d.status, d.attempts, held.is_some());
    let last = AttemptRecord::last_for_delivery(conn, d.id)?;
    let response_summary = last
        .as_ref()
        .filter(|a| a.response_status.is_some())
        .map(|a| summary(&a.response_body))
        .unwrap_or_default();
    let error = match stage {
        Stage::Retrying | Stage::Failed => {
            let note = last.as_ref().and_then(|a| a.note.clone());
            let base = d
                .last_error
                .clone()
                .or_else(|| d.last_status.map(|s| format!("HTTP {s}")));
            match (base, note) {
                (Some(b), Some(n)) => Some(format!("{b} ({n})")),
                (b, n) => b.or(n),
            }
        }
        Stage::Held => held.map(|why| format!("held: {why}")),
        _ => None,
    };
    Ok(Progress {
        id: d.id,
        uid: d.uid,
        ticket_id: d.ticket_id,
        webhook_name,
        actor_name: d.actor_name,
        created_at: d.created_at,
        next_attempt_at: (stage == Stage::Retrying).then_some(d.next_attempt_at),
        stage,
        attempts: d.attempts,
        max_attempts: d.max_attempts,
        http_status: d.last_status,
        response_summary,
        error,
    })
}

/// The body's first characters on one line, `…` when cut.
fn summary(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > SUMMARY_CHARS {
        let cut: String = flat.chars().take(SUMMARY_CHARS).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn a_summary_is_one_short_line() {
        assert_eq!(summary("{\n  \"ok\": true\n}"), "{ \"ok\": true }");
        let long = "x".repeat(500);
        let s = summary(&long);
        assert_eq!(s.chars().count(), 121);
        assert!(s.ends_with('…'));
        assert_eq!(summary(""), "");
    }
}
