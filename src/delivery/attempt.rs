//! What one send produced — the record the execution log shows — and how failures are
//! classified. Stored request headers pass through `redact::redact_headers` first.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Failure classes, as stored and shown (`as_str`) and as the retry policy reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The name did not resolve.
    Dns,
    /// No connection (refused, unreachable, reset before a response).
    Connect,
    /// TLS handshake or certificate failure.
    Tls,
    /// Connect or total deadline passed (the total includes reading the body).
    Timeout,
    /// The request body exceeds the limit; nothing was sent.
    TooLarge,
    /// The SSRF guard refused the destination; nothing was sent.
    RefusedByPolicy,
    /// A 3xx answer; redirects are never followed.
    Redirect,
    /// A 4xx/5xx answer, or a malformed response.
    Http,
    /// The connection could not get credentials to send with: its OAuth 2.0 token
    /// endpoint refused or failed. Nothing was sent to the receiver.
    Auth,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::RefusedByPolicy => "refused_by_policy",
            Self::Redirect => "redirect",
            Self::Http => "http",
            Self::Auth => "auth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Dns,
            Self::Connect,
            Self::Tls,
            Self::Timeout,
            Self::TooLarge,
            Self::RefusedByPolicy,
            Self::Redirect,
            Self::Http,
            Self::Auth,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    pub class: ErrorClass,
    /// Readable, for the execution log; never contains a secret.
    pub message: String,
}

/// One send, start to finish. `error` is `None` exactly when the answer was 2xx.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub method: String,
    pub url: String,
    /// Every header sent (including authentication and signatures), secrets redacted.
    pub request_headers_redacted: Vec<(String, String)>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    /// At most the sender's cap (64 KiB by default).
    pub response_body: Vec<u8>,
    /// The response body was longer than what is stored.
    pub truncated: bool,
    pub error: Option<AttemptError>,
    /// What happened before the request itself, step by step, for people testing a
    /// connection ("Token request: …", "Token obtained: …"); never holds a secret.
    pub steps: Vec<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// The first response header named `name` (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error_class(&self) -> Option<ErrorClass> {
        self.error.as_ref().map(|e| e.class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_trip() {
        for s in [
            "dns",
            "connect",
            "tls",
            "timeout",
            "too_large",
            "refused_by_policy",
            "redirect",
            "http",
            "auth",
        ] {
            assert_eq!(ErrorClass::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(ErrorClass::parse("nope"), None);
    }
}
