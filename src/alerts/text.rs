//! What an alert ticket says: what failed, since when, the last errors, what is waiting,
//! and where to look (the filtered execution log; the connection, with its Resume
//! button). Links are relative to the console: the ticket page shows them as links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Reason;
use crate::connections::Connection;
use crate::db::DbConn;
use crate::db::schema::{deliveries, delivery_attempts};
use crate::delivery::hooks::HealthNews;
use crate::error::Result;

/// An attempt that failed: when, which delivery, HTTP status, error class and message.
type ErrorRow = (
    NaiveDateTime,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
);

/// How many of the latest errors a ticket or note lists.
const LAST_ERRORS: i64 = 5;

fn at(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn subject(c: &Connection, why: &Reason) -> String {
    let what = match why {
        Reason::BreakerOpen => "paused after repeated failures".to_owned(),
        Reason::Gone => "the receiver answered 410 Gone".to_owned(),
        Reason::ManyFailed(n) => format!("{n} deliveries failed"),
    };
    format!("Integration alert: connection “{}”: {what}", c.name)
}

/// The connection's state when the text is written.
pub(super) struct Facts {
    waiting: i64,
    errors: Vec<String>,
    now: NaiveDateTime,
}

impl Facts {
    pub(super) fn read(conn: &mut DbConn, c: &Connection, now: NaiveDateTime) -> Result<Facts> {
        let waiting: i64 = deliveries::table
            .filter(deliveries::connection_id.eq(c.id))
            .filter(deliveries::status.eq_any(["pending", "in_flight"]))
            .count()
            .get_result(conn)?;
        let rows: Vec<ErrorRow> = delivery_attempts::table
            .inner_join(deliveries::table)
            .filter(deliveries::connection_id.eq(c.id))
            .filter(
                delivery_attempts::error_class
                    .is_not_null()
                    .or(delivery_attempts::response_status.ge(300)),
            )
            .order(delivery_attempts::id.desc())
            .limit(LAST_ERRORS)
            .select((
                delivery_attempts::started_at,
                deliveries::uid,
                delivery_attempts::response_status,
                delivery_attempts::error_class,
                delivery_attempts::error_message,
            ))
            .load(conn)?;
        let errors = rows
            .into_iter()
            .map(|(t, uid, status, class, msg)| {
                let what = match (status, class, msg) {
                    (Some(s), _, _) => format!("HTTP {s}"),
                    (None, Some(class), Some(m)) => format!("{class}: {m}"),
                    (None, Some(class), None) => class,
                    (None, None, m) => m.unwrap_or_default(),
                };
                format!("- {} · {uid} · {what}", at(t))
            })
            .collect();
        Ok(Facts {
            waiting,
            errors,
            now,
        })
    }

    fn what(c: &Connection, why: &Reason) -> String {
        match why {
            Reason::BreakerOpen => format!(
                "The circuit breaker opened after {} failures in a row: deliveries to this \
                 connection are held (not sent, not lost) until it recovers or an \
                 administrator resumes it.",
                c.consecutive_failures
            ),
            Reason::Gone => "The receiver answered 410 Gone: it says this endpoint no longer \
                 exists. That delivery is not retried."
                .to_owned(),
            Reason::ManyFailed(n) => format!(
                "{n} deliveries to this connection ended failed (no attempts left, or \
                 refused) within the alert window."
            ),
        }
    }

    fn body(&self, c: &Connection, why: &Reason) -> String {
        let mut s = format!("{}\n\n", Facts::what(c, why));
        if let Some(since) = c.failing_since {
            s.push_str(&format!("Failing since: {}\n", at(since)));
        }
        s.push_str(&format!(
            "Waiting: {} deliver{} to send.\n",
            self.waiting,
            if self.waiting == 1 { "y" } else { "ies" }
        ));
        if !self.errors.is_empty() {
            s.push_str("\nLast errors:\n");
            for e in &self.errors {
                s.push_str(e);
                s.push('\n');
            }
        }
        s.push_str(&format!(
            "\nWaiting deliveries in the execution log: /admin/log?connection={id}&status=held\n\
             Failed deliveries: /admin/log?connection={id}&status=failed\n\
             The connection (Resume, Pause, Discard held): /admin/connections/{id}\n",
            id = c.id
        ));
        s
    }

    pub(super) fn description(&self, c: &Connection, why: &Reason) -> String {
        format!(
            "Hookdesk could not deliver to the connection “{}” ({}) at {}.\n\n{}",
            c.name,
            c.base_url,
            at(self.now),
            self.body(c, why)
        )
    }

    pub(super) fn note(&self, c: &Connection, why: &Reason) -> String {
        format!(
            "Still failing at {}.\n\n{}",
            at(self.now),
            self.body(c, why)
        )
    }

    pub(super) fn recovered(&self, c: &Connection, news: &HealthNews, resolving: bool) -> String {
        format!(
            "Recovered at {}: delivery #{} to “{}” succeeded. {} deliver{} still to send{}.{}",
            at(self.now),
            news.delivery_id,
            c.name,
            self.waiting,
            if self.waiting == 1 { "y" } else { "ies" },
            if self.waiting > 0 {
                ", leaving now"
            } else {
                ""
            },
            if resolving {
                " Resolved by Hookdesk."
            } else {
                ""
            }
        )
    }
}
