//! The retry policy: a schedule (data, from config or a webhook's own settings) and one
//! pure function, [`next_delay`], that turns an attempt's outcome into a decision. Time
//! and randomness are parameters, so tests pass a later `now` or a seeded rng instead of
//! sleeping.
//!
//! Rules, in order:
//! 1. 2xx → delivered.
//! 2. 410 Gone → gone: the receiver says the endpoint no longer exists; not retried, and
//!    the caller flags the connection.
//! 3. Never retried: refused by policy, too large, redirect (retrying cannot change them),
//!    and 4xx other than 408 and 429 (the request itself is wrong).
//! 4. Retried: dns, connect, tls, timeout, 408, 429, 5xx — while the schedule lasts.
//! 5. Delay = schedule entry ±20 % jitter (so many deliveries failing together do not
//!    return together); at least 60 s after a timeout or a 429 (the receiver is struggling);
//!    a longer `Retry-After` is honoured (SPEC: "429 (honouring `Retry-After`)") up to
//!    [`MAX_RETRY_AFTER`], so a receiver can slow Hookdesk down but neither stall a
//!    delivery for ever nor speed it up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::attempt::{Attempt, ErrorClass};

/// The default schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE: &[&str] = &["0s", "5s", "5m", "30m", "2h", "5h", "10h", "10h"];

const JITTER: f64 = 0.2;
const MIN_AFTER_BACKOFF_SIGNAL: Duration = Duration::from_secs(60);
/// The longest wait a `Retry-After` may ask for: a day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `schedule[n]` is the wait before attempt `n + 1`; its length is the number of
/// attempts. `schedule[0]` (normally 0) is the first attempt's delay after enqueueing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub schedule: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let schedule = DEFAULT_SCHEDULE
            .iter()
            .filter_map(|s| parse_duration(s).ok())
            .collect();
        Self { schedule }
    }
}

impl RetryPolicy {
    /// From strings like `["0s", "5s", "5m", "2h"]` (the `retry_schedule` setting).
    pub fn parse(list: &[String]) -> Result<Self, String> {
        if list.is_empty() {
            return Err("retry_schedule: needs at least one entry".into());
        }
        let schedule = list
            .iter()
            .map(|s| parse_duration(s).map_err(|e| format!("retry_schedule: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { schedule })
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.schedule.len()).unwrap_or(u32::MAX)
    }
}

/// `90`, `90s`, `5m`, `2h`, `1d` → a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m, 2h or 1d"))?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?} is not a duration like 30s, 5m, 2h or 1d")),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// What the policy needs to know about an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<ErrorClass>,
    /// The raw `Retry-After` response header, if any.
    pub retry_after: Option<String>,
}

impl Outcome {
    pub fn of(attempt: &Attempt) -> Self {
        Self {
            status: attempt.status,
            error: attempt.error_class(),
            retry_after: attempt.response_header("retry-after").map(str::to_owned),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    Retry { at: DateTime<Utc> },
    GiveUp { reason: String },
    Gone,
}

/// After attempt number `attempt_no` (1-based) ended with `outcome` at `now`: what next.
pub fn next_delay(
    policy: &RetryPolicy,
    attempt_no: u32,
    outcome: &Outcome,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Decision {
    let backoff_signal = match (outcome.error, outcome.status) {
        (None, _) => return Decision::Delivered,
        (_, Some(410)) => return Decision::Gone,
        (Some(ErrorClass::Timeout), _) | (_, Some(429)) => true,
        // A token endpoint that failed may answer next time, and an administrator who
        // fixes the client secret wants the waiting deliveries to go out.
        (Some(ErrorClass::Dns | ErrorClass::Connect | ErrorClass::Tls | ErrorClass::Auth), _) => {
            false
        }
        (_, Some(408)) => false,
        (_, Some(s)) if s >= 500 => false,
        (Some(class), status) => {
            let what = status.map_or_else(|| class.to_string(), |s| format!("HTTP {s}"));
            return Decision::GiveUp {
                reason: format!("{what} is not retried"),
            };
        }
    };
    let Some(base) = usize::try_from(attempt_no)
        .ok()
        .and_then(|n| policy.schedule.get(n))
    else {
        return Decision::GiveUp {
            reason: format!("no attempts left after {attempt_no}"),
        };
    };
    let factor = 1.0 + rng.random_range(-JITTER..=JITTER);
    let mut delay = base.mul_f64(factor);
    if backoff_signal {
        delay = delay.max(MIN_AFTER_BACKOFF_SIGNAL);
    }
    if let Some(asked) = outcome
        .retry_after
        .as_deref()
        .and_then(|v| parse_retry_after(v, now))
    {
        delay = asked.clamp(delay, MAX_RETRY_AFTER.max(delay));
    }
    let at = chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    Decision::Retry { at }
}

/// `Retry-After`: delay-seconds or an HTTP date (a date in the past means 0).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
