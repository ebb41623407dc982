//! `/metrics` in the Prometheus text format. Two kinds of figures:
//! - counters and a histogram this process keeps (attempts by outcome, attempt
//!   durations, rule evaluations): they start at zero with the process, as Prometheus
//!   expects, and are summed across processes by the query;
//! - gauges read from the database at each scrape (deliveries by status, webhook and
//!   connection; queue depth; oldest pending age; in flight; each connection's circuit
//!   breaker), so every node reports the same shared state.
//!
//! Labels carry ids and names only; never a URL, header or secret.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{connections, deliveries};
use crate::error::Result;

static ATTEMPTS_SUCCEEDED: AtomicU64 = AtomicU64::new(0);
static ATTEMPTS_RETRY: AtomicU64 = AtomicU64::new(0);
static ATTEMPTS_FAILED: AtomicU64 = AtomicU64::new(0);
static RULE_EVENTS: AtomicU64 = AtomicU64::new(0);
static RULE_MATCHES: AtomicU64 = AtomicU64::new(0);

/// Upper bounds (seconds) of the attempt-duration histogram's buckets.
const BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
static DURATION_BUCKETS: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];
static DURATION_COUNT: AtomicU64 = AtomicU64::new(0);
static DURATION_SUM_MS: AtomicU64 = AtomicU64::new(0);

/// How a recorded attempt ended: delivered, to be retried, or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Retry,
    Failed,
}

/// Counts one recorded attempt (called by the delivery recorder).
pub fn attempt(outcome: Outcome, duration_ms: i64) {
    match outcome {
        Outcome::Succeeded => &ATTEMPTS_SUCCEEDED,
        Outcome::Retry => &ATTEMPTS_RETRY,
        Outcome::Failed => &ATTEMPTS_FAILED,
    }
    .fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(duration_ms).unwrap_or(0);
    let secs = ms as f64 / 1000.0;
    for (i, le) in BUCKETS.iter().enumerate() {
        if secs <= *le {
            DURATION_BUCKETS[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    DURATION_COUNT.fetch_add(1, Ordering::Relaxed);
    DURATION_SUM_MS.fetch_add(ms, Ordering::Relaxed);
}

/// Counts one event the rules engine evaluated and how many rules matched it.
pub fn rule_event(matched: u64) {
    RULE_EVENTS.fetch_add(1, Ordering::Relaxed);
    RULE_MATCHES.fetch_add(matched, Ordering::Relaxed);
}

/// A label value with `\`, `"` and line breaks escaped, as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition.
pub fn render(conn: &mut DbConn, now: NaiveDateTime) -> Result<String> {
    let mut out = String::new();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

    head(
        &mut out,
        "hookdesk_delivery_attempts_total",
        "counter",
        "Delivery attempts recorded by this process, by outcome.",
    );
    for (o, a) in [
        ("succeeded", &ATTEMPTS_SUCCEEDED),
        ("retry", &ATTEMPTS_RETRY),
        ("failed", &ATTEMPTS_FAILED),
    ] {
        let _ = writeln!(
            out,
            "hookdesk_delivery_attempts_total{{outcome=\"{o}\"}} {}",
            load(a)
        );
    }
    head(
        &mut out,
        "hookdesk_attempt_duration_seconds",
        "histogram",
        "Duration of delivery attempts recorded by this process.",
    );
    for (i, le) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "hookdesk_attempt_duration_seconds_bucket{{le=\"{le}\"}} {}",
            load(&DURATION_BUCKETS[i])
        );
    }
    let count = load(&DURATION_COUNT);
    let _ = writeln!(
        out,
        "hookdesk_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "hookdesk_attempt_duration_seconds_sum {}",
        load(&DURATION_SUM_MS) as f64 / 1000.0
    );
    let _ = writeln!(out, "hookdesk_attempt_duration_seconds_count {count}");
    head(
        &mut out,
        "hookdesk_rule_events_total",
        "counter",
        "Ticket events the trigger rules evaluated in this process.",
    );
    let _ = writeln!(out, "hookdesk_rule_events_total {}", load(&RULE_EVENTS));
    head(
        &mut out,
        "hookdesk_rule_matches_total",
        "counter",
        "Rules that matched an event in this process.",
    );
    let _ = writeln!(out, "hookdesk_rule_matches_total {}", load(&RULE_MATCHES));

    let by: Vec<(String, Option<i64>, Option<i64>, i64)> = deliveries::table
        .group_by((
            deliveries::status,
            deliveries::webhook_id,
            deliveries::connection_id,
        ))
        .select((
            deliveries::status,
            deliveries::webhook_id,
            deliveries::connection_id,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    head(
        &mut out,
        "hookdesk_deliveries",
        "gauge",
        "Deliveries in the database by status, webhook id and connection id.",
    );
    for (status, w, c, n) in &by {
        let id = |v: &Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "hookdesk_deliveries{{status=\"{}\",webhook=\"{}\",connection=\"{}\"}} {n}",
            label(status),
            id(w),
            id(c)
        );
    }
    let count_of = |s: &str| -> i64 { by.iter().filter(|(st, ..)| st == s).map(|(.., n)| n).sum() };
    head(
        &mut out,
        "hookdesk_queue_depth",
        "gauge",
        "Deliveries waiting to be sent (pending).",
    );
    let _ = writeln!(out, "hookdesk_queue_depth {}", count_of("pending"));
    head(
        &mut out,
        "hookdesk_in_flight",
        "gauge",
        "Deliveries being sent now.",
    );
    let _ = writeln!(out, "hookdesk_in_flight {}", count_of("in_flight"));
    let oldest: Option<NaiveDateTime> = deliveries::table
        .filter(deliveries::status.eq("pending"))
        .select(diesel::dsl::min(deliveries::created_at))
        .first(conn)?;
    head(
        &mut out,
        "hookdesk_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest pending delivery (0 when none).",
    );
    let _ = writeln!(
        out,
        "hookdesk_oldest_pending_age_seconds {}",
        oldest.map_or(0, |t| (now - t).num_seconds().max(0))
    );
    let conns: Vec<(i64, String, i32, Option<NaiveDateTime>)> = connections::table
        .order(connections::id.asc())
        .select((
            connections::id,
            connections::name,
            connections::consecutive_failures,
            connections::paused_until,
        ))
        .load(conn)?;
    head(
        &mut out,
        "hookdesk_connection_breaker_open",
        "gauge",
        "1 while a connection's circuit breaker holds its deliveries back.",
    );
    for (id, name, _, paused) in &conns {
        let _ = writeln!(
            out,
            "hookdesk_connection_breaker_open{{connection=\"{id}\",name=\"{}\"}} {}",
            label(name),
            i32::from(paused.is_some_and(|p| p > now))
        );
    }
    head(
        &mut out,
        "hookdesk_connection_consecutive_failures",
        "gauge",
        "Failed attempts in a row per connection.",
    );
    for (id, name, n, _) in &conns {
        let _ = writeln!(
            out,
            "hookdesk_connection_consecutive_failures{{connection=\"{id}\",name=\"{}\"}} {n}",
            label(name)
        );
    }
    Ok(out)
}
