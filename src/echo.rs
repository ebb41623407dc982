//! The built-in echo receiver: somewhere to send a first webhook without any other
//! system. Off unless `echo_receiver` is set (`hookdesk serve --demo` sets it).
//! `/_echo/{name}` records what it receives — method, headers, body — and the
//! administrators' page shows it, with the Standard Webhooks signature checked against
//! the secrets of the connections that point there.
//!
//! Why it is built like this:
//! 1. Requests are kept in memory only, the last [`KEEP`] per name and at most
//!    [`MAX_NAMES`] names: it is a tool for trying things out, not a log; a restart
//!    empties it, and nothing it holds can grow without bound.
//! 2. It is reached like any other receiver: over the network, through the SSRF guard,
//!    so Hookdesk sends to itself only when the allow-list opens loopback.
//! 3. Headers are shown through the one redaction rule, with every header name any
//!    connection sends as a secret (ticked secret, or carrying its API key) added to it,
//!    so credentials a connection sends here are never shown back.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::NaiveDateTime;

use crate::connections::Connection;
use crate::db::DbConn;
use crate::delivery::redact::redact_headers;
use crate::delivery::signing;
use crate::error::Result;
use crate::secrets::SecretBox;

pub const KEEP: usize = 50;
pub const MAX_NAMES: usize = 20;
/// Body bytes kept per request.
pub const MAX_BODY: usize = 64 * 1024;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct EchoRequest {
    pub id: u64,
    pub at: NaiveDateTime,
    pub method: String,
    /// Path and query as requested.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub truncated: bool,
}

impl EchoRequest {
    /// Headers as people may see them: credentials, and the headers named in
    /// `also_secret` ([`secret_header_names`]), as `••••`.
    pub fn shown_headers(&self, also_secret: &[String]) -> Vec<(String, String)> {
        let names: Vec<&str> = also_secret.iter().map(String::as_str).collect();
        redact_headers(&self.headers, &names)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body for people: JSON pretty-printed, anything else as text.
    pub fn display_body(&self) -> String {
        let text = String::from_utf8_lossy(&self.body).into_owned();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v.is_object() || v.is_array() => {
                serde_json::to_string_pretty(&v).unwrap_or(text)
            }
            _ => text,
        }
    }
}

/// What the signature check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No `webhook-signature` header.
    NotSigned,
    /// Signed, but no connection pointing here has a signing secret.
    NoSecret,
    /// A signature matches the secret of this connection.
    Valid(String),
    Invalid(String),
}

impl Signature {
    pub fn label(&self) -> String {
        match self {
            Signature::NotSigned => "not signed".into(),
            Signature::NoSecret => {
                "signed, but no connection pointing here has a signing secret to check it with"
                    .into()
            }
            Signature::Valid(c) => format!("valid (signing secret of connection {c})"),
            Signature::Invalid(why) => format!("invalid: {why}"),
        }
    }
    pub fn is_valid(&self) -> bool {
        matches!(self, Signature::Valid(_))
    }
}

#[derive(Default)]
pub struct Echo {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    by_name: HashMap<String, VecDeque<EchoRequest>>,
}

/// Letters, digits, `-` and `_`, 1 to 64 of them.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Echo {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps one request (rule 1); returns its id.
    pub fn record(
        &self,
        name: &str,
        at: NaiveDateTime,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> u64 {
        let mut inner = self.lock();
        if !inner.by_name.contains_key(name) && inner.by_name.len() >= MAX_NAMES {
            // The name that heard nothing for longest makes room.
            let oldest = inner
                .by_name
                .iter()
                .min_by_key(|(_, q)| q.front().map(|r| r.at))
                .map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                inner.by_name.remove(&n);
            }
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let queue = inner.by_name.entry(name.to_owned()).or_default();
        queue.push_front(EchoRequest {
            id,
            at,
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: body[..body.len().min(MAX_BODY)].to_vec(),
            truncated: body.len() > MAX_BODY,
        });
        queue.truncate(KEEP);
        id
    }

    /// Names that received something, with their count and last arrival, newest first.
    pub fn names(&self) -> Vec<(String, usize, NaiveDateTime)> {
        let inner = self.lock();
        let mut out: Vec<_> = inner
            .by_name
            .iter()
            .filter_map(|(n, q)| q.front().map(|r| (n.clone(), q.len(), r.at)))
            .collect();
        out.sort_by_key(|n| std::cmp::Reverse(n.2));
        out
    }

    /// What `name` received, newest first.
    pub fn requests(&self, name: &str) -> Vec<EchoRequest> {
        self.lock()
            .by_name
            .get(name)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn clear(&self, name: &str) {
        self.lock().by_name.remove(name);
    }
}

/// The header names any connection sends as secrets: its ticked-secret default headers
/// and the header of an API key. Taken from every connection, not only those pointing
/// here, since a webhook may give a full URL of its own: hiding a header that is secret
/// elsewhere costs nothing, showing one costs the secret.
pub fn secret_header_names(conn: &mut DbConn) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for c in Connection::list(conn)? {
        names.extend(
            c.stored_headers()
                .into_iter()
                .filter(|h| h.secret)
                .map(|h| h.name),
        );
        if c.auth_kind() == crate::connections::AuthKind::ApiKey && !c.auth_header.is_empty() {
            names.push(c.auth_header.clone());
        }
    }
    Ok(names)
}

/// Checks `r`'s signature with the active secrets of every connection whose base URL
/// points at `/_echo/{name}`.
pub fn check_signature(
    conn: &mut DbConn,
    sb: &SecretBox,
    name: &str,
    r: &EchoRequest,
    now: NaiveDateTime,
) -> Result<Signature> {
    let Some(sigs) = r.header(signing::HEADER_SIGNATURE) else {
        return Ok(Signature::NotSigned);
    };
    let id = r.header(signing::HEADER_ID).unwrap_or_default();
    let Some(ts) = r
        .header(signing::HEADER_TIMESTAMP)
        .and_then(|t| t.trim().parse::<i64>().ok())
    else {
        return Ok(Signature::Invalid("no valid webhook-timestamp".into()));
    };
    let suffix = format!("/_echo/{name}");
    let mut any_secret = false;
    for c in Connection::list(conn)? {
        let base = c.base_url.split(['?', '#']).next().unwrap_or_default();
        if !base.trim_end_matches('/').ends_with(&suffix) {
            continue;
        }
        for secret in c.active_signing_secrets(sb, now)? {
            any_secret = true;
            let Ok(key) = signing::secret_key(&secret) else {
                continue;
            };
            let expected = signing::sign(&key, id, ts, &r.body);
            if sigs.split_whitespace().any(|s| s == expected) {
                return Ok(Signature::Valid(c.name.clone()));
            }
        }
    }
    Ok(if any_secret {
        Signature::Invalid(
            "no signature matches the signing secret of a connection pointing here".into(),
        )
    } else {
        Signature::NoSecret
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_limits() {
        assert!(valid_name("demo") && valid_name("team_a-1"));
        assert!(!valid_name("") && !valid_name("a/b") && !valid_name(&"x".repeat(65)));
        let e = Echo::default();
        let t = chrono::Utc::now().naive_utc();
        for i in 0..(KEEP + 5) {
            e.record(
                "demo",
                t,
                "POST",
                "/_echo/demo",
                Vec::new(),
                format!("{i}").as_bytes(),
            );
        }
        let got = e.requests("demo");
        assert_eq!(got.len(), KEEP);
        assert_eq!(
            got[0].body,
            format!("{}", KEEP + 4).as_bytes(),
            "newest first"
        );
        for n in 0..MAX_NAMES + 3 {
            e.record(&format!("n{n}"), t, "GET", "/", Vec::new(), b"");
        }
        assert_eq!(e.names().len(), MAX_NAMES);
        let big = vec![b'x'; MAX_BODY + 1];
        e.record("big", t, "POST", "/", Vec::new(), &big);
        let r = &e.requests("big")[0];
        assert!(r.truncated && r.body.len() == MAX_BODY);
    }
}
