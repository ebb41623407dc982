//! What went wrong with an exchange, in the attempt's words: an answer's status as a
//! failure (or none), and a transport error as its class (dns, connect, tls, timeout,
//! refused by policy…) with a message that never repeats the URL.

use super::attempt::{AttemptError, ErrorClass};
use super::ssrf::{DnsFailed, Refused};

/// 2xx is success; 3xx a redirect not followed; anything else an HTTP failure.
pub fn status_error(status: u16, headers: &[(String, String)]) -> Option<AttemptError> {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    match status {
        200..=299 => None,
        300..=399 => {
            let location = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.as_str())
                .unwrap_or("(no Location header)");
            Some(AttemptError {
                class: ErrorClass::Redirect,
                message: format!(
                    "HTTP {status} {reason}: redirect to {location} not followed; update the URL"
                ),
            })
        }
        _ => Some(AttemptError {
            class: ErrorClass::Http,
            message: format!("HTTP {status} {reason}").trim_end().to_owned(),
        }),
    }
}

/// Maps a reqwest error to its class by looking through its causes for the guard's own
/// errors first. The message is built from the causes only: reqwest's own text repeats
/// the URL, whose query string may hold a credential.
pub fn classify(e: &reqwest::Error) -> AttemptError {
    let mut causes: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    let mut tls = false;
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return AttemptError {
                class: ErrorClass::RefusedByPolicy,
                message: r.to_string(),
            };
        }
        if let Some(d) = s.downcast_ref::<DnsFailed>() {
            return AttemptError {
                class: ErrorClass::Dns,
                message: d.to_string(),
            };
        }
        let text = s.to_string();
        let lower = text.to_ascii_lowercase();
        // A refused client certificate arrives as an alert after the handshake (TLS 1.3
        // checks it late), so it is a TLS failure even when the request was under way.
        tls |= lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            || lower.contains("fatal alert");
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = s.source();
    }
    let detail = if causes.is_empty() {
        "no detail".to_owned()
    } else {
        causes.join(": ")
    };
    let (class, what) = if e.is_timeout() {
        (ErrorClass::Timeout, "timed out")
    } else if tls {
        (ErrorClass::Tls, "TLS failure")
    } else if e.is_connect() {
        (ErrorClass::Connect, "cannot connect")
    } else if e.is_body() || e.is_decode() || e.is_request() {
        (ErrorClass::Connect, "connection failed during the exchange")
    } else {
        (ErrorClass::Http, "invalid response")
    };
    AttemptError {
        class,
        message: format!("{what}: {detail}"),
    }
}

/// With TLS 1.3 a server checks the client certificate after the handshake, and one
/// that refuses it may just drop the connection before the request is answered: the
/// client then sees the connection end, not an alert. For a connection with its own TLS
/// settings, a connection that was opened and then dropped is therefore called a TLS
/// failure, with the likely cause; one that could not be opened stays `connect`.
pub fn with_client_tls(e: AttemptError, client_tls: bool) -> AttemptError {
    let opened_then_dropped = !e.message.contains("tcp connect error")
        && !e
            .message
            .to_ascii_lowercase()
            .contains("connection refused");
    if client_tls && e.class == ErrorClass::Connect && opened_then_dropped {
        AttemptError {
            class: ErrorClass::Tls,
            message: format!(
                "{}; the server closed the connection after the TLS handshake, which is how a server refuses a client certificate (or the CA bundle does not match)",
                e.message
            ),
        }
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(message: &str) -> AttemptError {
        AttemptError {
            class: ErrorClass::Connect,
            message: message.into(),
        }
    }

    #[test]
    fn a_dropped_connection_with_a_client_certificate_is_tls() {
        let dropped = connect("connection failed during the exchange: connection was not ready");
        assert_eq!(
            with_client_tls(dropped.clone(), true).class,
            ErrorClass::Tls
        );
        assert_eq!(with_client_tls(dropped, false).class, ErrorClass::Connect);
        let refused =
            connect("cannot connect: tcp connect error: Connection refused (os error 111)");
        assert_eq!(with_client_tls(refused, true).class, ErrorClass::Connect);
    }
}
