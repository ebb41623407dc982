//! Export of everything a filter selects, as CSV (the page's "Export CSV") or JSON Lines
//! (the API), produced page by page with the log's own keyset query: memory holds one
//! chunk, however many rows there are, and the HTTP layer streams each chunk as it comes.

use super::filter::LogFilter;
use super::query::{LogRow, page};
use crate::db::DbConn;
use crate::error::{Error, Result};

/// Rows fetched per round trip.
pub const CHUNK: i64 = 1_000;

pub const CSV_HEADER: [&str; 17] = [
    "id",
    "webhook_id",
    "created_at",
    "status",
    "webhook",
    "connection",
    "ticket",
    "trigger",
    "cause",
    "attempts",
    "max_attempts",
    "last_http_status",
    "duration_ms",
    "last_error",
    "next_attempt_at",
    "rule_id",
    "replay_of",
];

/// A spreadsheet must not run what a receiver wrote into an error message: a cell that
/// starts like a formula is prefixed with `'` (OWASP's CSV injection advice).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// `rows` as CSV lines, with the header line first when `header`.
pub fn csv_chunk(rows: &[LogRow], header: bool) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("csv: {e}"));
    if header {
        w.write_record(CSV_HEADER).map_err(fail)?;
    }
    for r in rows {
        w.write_record([
            r.id.to_string(),
            r.uid.clone(),
            r.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            r.status.code().to_string(),
            cell(&r.webhook),
            cell(&r.connection),
            r.ticket.clone(),
            r.trigger.clone(),
            cell(&r.cause),
            r.attempts.to_string(),
            r.max_attempts.to_string(),
            opt(r.last_status),
            opt(r.duration_ms),
            cell(r.last_error.as_deref().unwrap_or("")),
            opt(r.next_attempt_at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ"))),
            opt(r.rule_id),
            opt(r.replay_of),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("csv: {e}")))
}

/// `rows` as JSON Lines.
pub fn jsonl_chunk(rows: &[LogRow]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, r).map_err(|e| Error::Internal(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Runs `f` chunk by chunk (newest first, as the page lists them), handing each to
/// `emit`; stops early when `emit` says the reader went away. `conn` is asked for a
/// connection per chunk so none is held while the client reads. Returns the rows sent.
pub fn each_chunk(
    mut conn: impl FnMut() -> Result<crate::db::PooledConn>,
    f: &LogFilter,
    mut emit: impl FnMut(&[LogRow], bool) -> bool,
) -> Result<usize> {
    let mut f = LogFilter {
        limit: CHUNK,
        ..f.clone()
    };
    let mut sent = 0;
    let mut first = true;
    loop {
        let p = {
            let mut c = conn()?;
            let c: &mut DbConn = &mut c;
            page(c, &f)?
        };
        sent += p.items.len();
        if !emit(&p.items, first) {
            return Ok(sent);
        }
        first = false;
        match p.next_cursor {
            Some(b) => f.before = Some(b),
            None => return Ok(sent),
        }
    }
}
