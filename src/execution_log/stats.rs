//! The administrator's dashboard in numbers: what the last 24 hours delivered, how fast,
//! deliveries per hour over a window, the connections the circuit breaker is worried
//! about, and the queue. One function, [`dashboard`], read by the start page.
//!
//! Everything here is counted the way the execution log filters: a delivery belongs to
//! the hour it was *created* in, so "failed in the last 24 h" is exactly the rows of
//! `/admin/log?last=24h&status=failed`. Aggregates are plain `COUNT … GROUP BY status`
//! that both backends run alike; what needs date arithmetic (hourly buckets) or ordering
//! (percentiles) is done here over the few columns loaded, never in backend-specific SQL.

use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{connections, deliveries, delivery_attempts};
use crate::delivery::health::{self, State};
use crate::error::Result;

/// The chart's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    #[default]
    Day,
    Week,
}

impl Window {
    /// `24h` or `7d`; anything else is the default day.
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "7d" => Window::Week,
            _ => Window::Day,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    pub fn hours(self) -> i64 {
        match self {
            Window::Day => 24,
            Window::Week => 24 * 7,
        }
    }
}

/// Deliveries created in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The hour's start (UTC).
    pub start: NaiveDateTime,
    pub delivered: i64,
    pub failed: i64,
}

/// A connection that is failing, paused by the breaker, or answered 410 Gone.
#[derive(Debug, Clone)]
pub struct Trouble {
    pub id: i64,
    pub name: String,
    pub state: State,
    pub gone_at: Option<NaiveDateTime>,
}

impl Trouble {
    pub fn label(&self) -> String {
        let mut s = self.state.label();
        if let Some(g) = self.gone_at {
            s.push_str(&format!(
                "; answered 410 Gone at {} UTC",
                g.format("%Y-%m-%d %H:%M:%S")
            ));
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub now: NaiveDateTime,
    /// Deliveries created in the last 24 h, by how they stand now.
    pub delivered: i64,
    pub failed: i64,
    /// Queued, retrying or being sent.
    pub pending: i64,
    /// Of `pending`: waiting for another attempt after a failure.
    pub retrying: i64,
    pub cancelled: i64,
    /// Attempts made in the last 24 h: median and 95th percentile duration.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub window: Window,
    /// One per hour of the window, oldest first.
    pub buckets: Vec<Bucket>,
    pub troubled: Vec<Trouble>,
    /// Every pending delivery, whatever its age (held ones of paused connections too).
    pub queue_depth: i64,
    /// When the oldest pending delivery was created.
    pub oldest_pending: Option<NaiveDateTime>,
}

impl Dashboard {
    /// Delivered out of the finished ones (delivered + failed), in percent; `None`
    /// before anything finished.
    pub fn success_rate(&self) -> Option<f64> {
        let done = self.delivered + self.failed;
        (done > 0).then(|| self.delivered as f64 * 100.0 / done as f64)
    }

    /// The rate as the page shows it: `75.0 %`, or `—`.
    pub fn success_rate_label(&self) -> String {
        self.success_rate()
            .map_or_else(|| "—".to_string(), |r| format!("{r:.1} %"))
    }

    /// Seconds since the oldest pending delivery was created.
    pub fn oldest_pending_secs(&self) -> Option<i64> {
        self.oldest_pending
            .map(|t| (self.now - t).num_seconds().max(0))
    }

    /// That age in words: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`; `—` with no queue.
    pub fn oldest_pending_age(&self) -> String {
        match self.oldest_pending_secs() {
            None => "—".into(),
            Some(s) if s < 60 => format!("{s} s"),
            Some(s) if s < 3600 => format!("{} min", s / 60),
            Some(s) if s < 86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
            Some(s) => format!("{} d {} h", s / 86400, s % 86400 / 3600),
        }
    }

    pub fn total_in_window(&self) -> i64 {
        self.buckets.iter().map(|b| b.delivered + b.failed).sum()
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// The hour `t` falls in.
fn hour_of(t: NaiveDateTime) -> NaiveDateTime {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Finished deliveries (created_at, status) into `hours` hourly buckets ending with the
/// hour of `now`.
pub fn buckets(rows: &[(NaiveDateTime, String)], now: NaiveDateTime, hours: i64) -> Vec<Bucket> {
    let last = hour_of(now);
    let first = last - Duration::hours(hours - 1);
    let mut out: Vec<Bucket> = (0..hours)
        .map(|i| Bucket {
            start: first + Duration::hours(i),
            delivered: 0,
            failed: 0,
        })
        .collect();
    for (t, status) in rows {
        let i = (hour_of(*t) - first).num_hours();
        let Some(b) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) else {
            continue;
        };
        match status.as_str() {
            "succeeded" => b.delivered += 1,
            "failed" => b.failed += 1,
            _ => {}
        }
    }
    out
}

/// Everything the dashboard shows, as of `now`. `breaker_failures` is the configured
/// threshold that tells a paused-then-probing connection from a merely failing one.
pub fn dashboard(
    conn: &mut DbConn,
    now: NaiveDateTime,
    window: Window,
    breaker_failures: i32,
) -> Result<Dashboard> {
    let since = now - Duration::hours(24);
    let counts: Vec<(String, i64)> = deliveries::table
        .filter(deliveries::created_at.ge(since))
        .group_by(deliveries::status)
        .select((deliveries::status, count_star()))
        .load(conn)?;
    let count = |s: &str| {
        counts
            .iter()
            .filter(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    let retrying: i64 = deliveries::table
        .filter(deliveries::created_at.ge(since))
        .filter(deliveries::status.eq("pending"))
        .filter(deliveries::attempts.gt(0))
        .count()
        .get_result(conn)?;

    let durations: Vec<i64> = delivery_attempts::table
        .filter(delivery_attempts::started_at.ge(since))
        .order(delivery_attempts::duration_ms.asc())
        .select(delivery_attempts::duration_ms)
        .load(conn)?;

    let chart_from = hour_of(now) - Duration::hours(window.hours() - 1);
    let finished: Vec<(NaiveDateTime, String)> = deliveries::table
        .filter(deliveries::created_at.ge(chart_from))
        .filter(deliveries::status.eq_any(["succeeded", "failed"]))
        .select((deliveries::created_at, deliveries::status))
        .load(conn)?;

    let troubled = connections::table
        .filter(
            connections::consecutive_failures
                .gt(0)
                .or(connections::paused_until.gt(now))
                .or(connections::gone_at.is_not_null()),
        )
        .order(connections::name.asc())
        .select((
            connections::id,
            connections::name,
            connections::consecutive_failures,
            connections::paused_until,
            connections::gone_at,
        ))
        .load::<(
            i64,
            String,
            i32,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        )>(conn)?
        .into_iter()
        .map(|(id, name, failures, paused, gone_at)| Trouble {
            id,
            name,
            state: health::state(failures, paused, breaker_failures, now),
            gone_at,
        })
        .collect();

    let (queue_depth, oldest_pending): (i64, Option<NaiveDateTime>) = deliveries::table
        .filter(deliveries::status.eq("pending"))
        .select((count_star(), min(deliveries::created_at)))
        .first(conn)?;

    Ok(Dashboard {
        now,
        delivered: count("succeeded"),
        failed: count("failed"),
        pending: count("pending") + count("in_flight"),
        retrying,
        cancelled: count("cancelled"),
        p50_ms: percentile(&durations, 50),
        p95_ms: percentile(&durations, 95),
        window,
        buckets: buckets(&finished, now, window.hours()),
        troubled,
        queue_depth,
        oldest_pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[10, 20, 30, 40], 50), Some(20));
        assert_eq!(percentile(&[10, 20, 30, 40], 95), Some(40));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn deliveries_fall_in_the_hour_they_were_created() {
        let now = t("2026-11-28T12:30");
        let rows = vec![
            (t("2026-11-28T12:05"), "succeeded".to_string()),
            (t("2026-11-28T12:59"), "failed".to_string()),
            (t("2026-11-28T10:00"), "succeeded".to_string()),
            (t("2026-11-27T13:00"), "succeeded".to_string()),
            // Before the window: not counted.
            (t("2026-11-27T12:59"), "succeeded".to_string()),
        ];
        let b = buckets(&rows, now, 24);
        assert_eq!(b.len(), 24);
        assert_eq!(b[0].start, t("2026-11-27T13:00"));
        assert_eq!((b[0].delivered, b[0].failed), (1, 0));
        assert_eq!(b[23].start, t("2026-11-28T12:00"));
        assert_eq!((b[23].delivered, b[23].failed), (1, 1));
        assert_eq!(b[21].delivered, 1);
        let total: i64 = b.iter().map(|x| x.delivered + x.failed).sum();
        assert_eq!(total, 4);
    }
}
