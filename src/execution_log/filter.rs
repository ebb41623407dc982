//! The execution log's filters as the URL carries them (`?last=24h&status=failed&…`), so
//! a page, a bookmark, the back button, the API and the CSV export all read the same
//! words; and their validated form, which the query runs.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::delivery::queue::{Stage, Trigger};
use crate::error::{FieldErrors, Result};

/// What the URL says. Every field is text so that a bad value is an error beside its
/// filter, not a rejected request.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize, utoipa::IntoParams,
)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `1h`, `24h` or `7d`: the last hour, day or week (ignored when `from`/`to` is set).
    pub last: String,
    /// From this time, UTC (`2026-11-24` or `2026-11-24T09:30`).
    pub from: String,
    /// Up to this time, UTC (a date alone means the end of that day).
    pub to: String,
    /// Ticket display id (`IN164`) or id.
    pub ticket: String,
    /// Webhook id.
    pub webhook: String,
    /// Connection id.
    pub connection: String,
    /// Any of: `queued`, `retrying`, `sending`, `delivered`, `failed`, `cancelled`
    /// (repeat the parameter for several).
    pub status: Vec<String>,
    /// HTTP status of the last attempt: exact (`503`) or a class (`5xx`).
    pub http: String,
    /// `rule`, `manual`, `test` or `replay`.
    pub cause: String,
    /// Rule id.
    pub rule: String,
    /// Text the last error contains.
    pub error: String,
    /// A delivery's number or its `webhook-id` (`msg_…`).
    pub id: String,
    /// Settled (delivered, failed or cancelled) by this time, UTC: what a bulk replay's
    /// confirmation counted.
    pub settled: String,
    /// Cursor: deliveries older than this id (from `next_cursor`).
    pub before: Option<i64>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStatus {
    Exact(i32),
    /// `5` for `5xx`.
    Class(i32),
}

/// The filters, checked. Ids stay ids; the ticket is resolved by the query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub from: Option<NaiveDateTime>,
    /// Exclusive.
    pub to: Option<NaiveDateTime>,
    pub ticket: Option<String>,
    pub webhook: Option<i64>,
    pub connection: Option<i64>,
    pub statuses: Vec<Stage>,
    pub http: Option<HttpStatus>,
    pub cause: Option<Trigger>,
    pub rule: Option<i64>,
    pub error: Option<String>,
    pub id: Option<String>,
    pub before: Option<i64>,
    /// Only deliveries settled (delivered, failed, cancelled) by then: a bulk replay takes
    /// what its confirmation counted, not one that failed after.
    pub settled_by: Option<NaiveDateTime>,
    pub limit: i64,
}

pub const PAGE_SIZE: i64 = 50;

fn time(s: &str, end_of_day: bool) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?;
    Some(if end_of_day { t + Duration::days(1) } else { t })
}

fn id_of(errs: &mut FieldErrors, field: &str, s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    match s.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errs.add(field, "is not an id");
            None
        }
    }
}

/// A `from`/`to` as the filter form's `datetime-local` input must hold it. A browser
/// blanks a value without a time, so a bare date from a link (`?from=2026-11-24`)
/// would vanish at the next change of any filter: it is shown as the time it means
/// (`to`'s end of day is the next midnight, as the filter compares `< to`).
fn input_value(s: &str, end_of_day: bool) -> String {
    let s = s.trim();
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
        return s.to_string();
    }
    time(s, end_of_day)
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

impl LogQuery {
    /// `from` for the filter form's input ([`input_value`]).
    pub fn from_input(&self) -> String {
        input_value(&self.from, false)
    }

    /// `to` for the filter form's input ([`input_value`]).
    pub fn to_input(&self) -> String {
        input_value(&self.to, true)
    }

    /// Checks every filter; errors are keyed by the URL parameter. `now` anchors `last`.
    pub fn check(&self, now: NaiveDateTime) -> Result<LogFilter> {
        let mut errs = FieldErrors::new();
        let mut f = LogFilter {
            limit: self.limit.unwrap_or(PAGE_SIZE).clamp(1, 500),
            before: self.before,
            ..LogFilter::default()
        };
        if !self.from.trim().is_empty() {
            f.from = time(&self.from, false);
            if f.from.is_none() {
                errs.add(
                    "from",
                    "is not a date or time (2026-11-24 or 2026-11-24T09:30)",
                );
            }
        }
        if !self.to.trim().is_empty() {
            f.to = time(&self.to, true);
            if f.to.is_none() {
                errs.add(
                    "to",
                    "is not a date or time (2026-11-24 or 2026-11-24T09:30)",
                );
            }
        }
        if !self.settled.trim().is_empty() {
            f.settled_by = time(&self.settled, false);
            if f.settled_by.is_none() {
                errs.add("settled", "is not a date or time (2026-11-24T09:30:00)");
            }
        }
        if let (Some(a), Some(b)) = (f.from, f.to)
            && a >= b
        {
            errs.add("to", "is before “from”");
        }
        if f.from.is_none() && f.to.is_none() {
            match self.last.trim() {
                "" => {}
                "1h" => f.from = Some(now - Duration::hours(1)),
                "24h" => f.from = Some(now - Duration::hours(24)),
                "7d" => f.from = Some(now - Duration::days(7)),
                _ => errs.add("last", "choose 1h, 24h or 7d"),
            }
        }
        let t = self.ticket.trim();
        if !t.is_empty() {
            f.ticket = Some(t.to_ascii_uppercase());
        }
        f.webhook = id_of(&mut errs, "webhook", &self.webhook);
        f.connection = id_of(&mut errs, "connection", &self.connection);
        f.rule = id_of(&mut errs, "rule", &self.rule);
        for s in self.status.iter().filter(|s| !s.trim().is_empty()) {
            match Stage::parse(s) {
                Some(x) if !f.statuses.contains(&x) => f.statuses.push(x),
                Some(_) => {}
                None => errs.add(
                    "status",
                    format!(
                        "“{s}” is not a status ({})",
                        Stage::ALL.map(Stage::code).join(", ")
                    ),
                ),
            }
        }
        let h = self.http.trim().to_ascii_lowercase();
        if !h.is_empty() {
            f.http = match (h.strip_suffix("xx"), h.parse::<i32>()) {
                (Some(d), _) if d.len() == 1 && ("1"..="5").contains(&d) => {
                    d.parse().ok().map(HttpStatus::Class)
                }
                (None, Ok(n)) if (100..600).contains(&n) => Some(HttpStatus::Exact(n)),
                _ => {
                    errs.add("http", "is a status (503) or a class (5xx)");
                    None
                }
            };
        }
        let c = self.cause.trim().to_ascii_lowercase();
        if !c.is_empty() {
            f.cause = Trigger::parse(&c);
            if f.cause.is_none() {
                errs.add("cause", "choose rule, manual, test or replay");
            }
        }
        let e = self.error.trim();
        if !e.is_empty() {
            f.error = Some(e.to_string());
        }
        let i = self.id.trim();
        if !i.is_empty() {
            f.id = Some(i.to_string());
        }
        errs.into_result()?;
        Ok(f)
    }

    /// The URL query of these filters with another cursor (`None`: the first page).
    pub fn with_cursor(&self, before: Option<i64>) -> String {
        let q = LogQuery {
            before,
            ..self.clone()
        };
        serde_html_form::to_string(&q).unwrap_or_default()
    }

    /// The log page's URL query of these filters alone: set filters only, no cursor or
    /// page size (`webhook=7`), for "See all in the execution log".
    pub fn link_query(&self) -> String {
        let all = serde_html_form::to_string(self).unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_html_form::from_str(&all).unwrap_or_default();
        let kept: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(k, v)| !v.is_empty() && k != "before" && k != "limit")
            .collect();
        serde_html_form::to_string(&kept).unwrap_or_default()
    }

    /// Whether any filter is set (the cursor and page size aside).
    pub fn is_empty(&self) -> bool {
        *self
            == LogQuery {
                before: self.before,
                limit: self.limit,
                ..LogQuery::default()
            }
    }

    pub fn has_status(&self, s: &str) -> bool {
        self.status.iter().any(|x| x.eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_date_is_shown_as_the_time_it_means_in_the_form() {
        let q = LogQuery {
            from: "2026-11-24".into(),
            to: "2026-11-24".into(),
            ..LogQuery::default()
        };
        assert_eq!(q.from_input(), "2026-11-24T00:00");
        assert_eq!(q.to_input(), "2026-11-25T00:00");
        let q = LogQuery {
            from: "2026-11-24T09:30:15".into(),
            ..LogQuery::default()
        };
        assert_eq!(
            q.from_input(),
            "2026-11-24T09:30:15",
            "a time stays as typed"
        );
        assert_eq!(q.to_input(), "");
    }

    fn now() -> NaiveDateTime {
        time("2026-11-28T12:00", false).unwrap()
    }

    #[test]
    fn filters_parse_and_bad_ones_are_named() {
        let q = LogQuery {
            last: "24h".into(),
            status: vec!["failed".into(), "retrying".into(), "failed".into()],
            http: "5xx".into(),
            cause: "rule".into(),
            webhook: "7".into(),
            ..LogQuery::default()
        };
        let f = q.check(now()).unwrap();
        assert_eq!(f.from, time("2026-11-27T12:00", false));
        assert_eq!(f.statuses, [Stage::Failed, Stage::Retrying]);
        assert_eq!(f.http, Some(HttpStatus::Class(5)));
        assert_eq!(f.cause, Some(Trigger::Rule));
        assert_eq!(f.webhook, Some(7));

        let q = LogQuery {
            from: "2026-11-24".into(),
            to: "2026-11-24".into(),
            http: "503".into(),
            ..LogQuery::default()
        };
        let f = q.check(now()).unwrap();
        assert_eq!(
            f.to.unwrap() - f.from.unwrap(),
            Duration::days(1),
            "a whole day"
        );
        assert_eq!(f.http, Some(HttpStatus::Exact(503)));

        let bad = LogQuery {
            from: "Tuesday".into(),
            status: vec!["lost".into()],
            http: "9xx".into(),
            cause: "magic".into(),
            webhook: "x".into(),
            ..LogQuery::default()
        };
        let e = bad.check(now()).unwrap_err();
        let crate::error::Error::Validation(e) = e else {
            panic!("{e:?}")
        };
        for k in ["from", "status", "http", "cause", "webhook"] {
            assert!(e.get(k).is_some(), "{k}: {e}");
        }
    }

    #[test]
    fn the_shown_status_tells_queued_from_retrying() {
        assert_eq!(Stage::of("pending", 0), Stage::Queued);
        assert_eq!(Stage::of("pending", 2), Stage::Retrying);
        assert_eq!(Stage::of("in_flight", 1), Stage::Sending);
        assert_eq!(Stage::of("succeeded", 1), Stage::Delivered);
        assert!(Stage::Retrying.is_open() && !Stage::Failed.is_open());
    }

    #[test]
    fn the_url_keeps_the_filters_and_moves_the_cursor() {
        let q = LogQuery {
            status: vec!["failed".into(), "queued".into()],
            ticket: "IN164".into(),
            ..LogQuery::default()
        };
        let url = q.with_cursor(Some(40));
        let back: LogQuery = serde_html_form::from_str(&url).unwrap();
        assert_eq!(back.status, q.status);
        assert_eq!(back.ticket, "IN164");
        assert_eq!(back.before, Some(40));
        assert!(!q.is_empty() && LogQuery::default().is_empty());
        let q = LogQuery {
            webhook: "7".into(),
            status: vec!["failed".into(), "retrying".into()],
            limit: Some(10),
            before: Some(3),
            ..LogQuery::default()
        };
        assert_eq!(q.link_query(), "webhook=7&status=failed&status=retrying");
    }
}
