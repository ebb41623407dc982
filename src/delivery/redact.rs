//! The one redaction rule. Which header values are secret, and what is shown and stored
//! instead of them, is decided here and nowhere else: the preview, the stored request of
//! a delivery, its attempt records, the API, the webhook and connection pages and the
//! "Test connection" record all ask these functions.
//!
//! A header is secret by its name alone (the built-in list below), or because whoever
//! holds it says so (a connection's header ticked "secret", the API-key header of a
//! connection's authentication). The name rule errs on the side of hiding: an
//! `Idempotency-Key` is shown as `••••` too, which costs a little debugging comfort and
//! never a credential.

/// The value stored and shown in place of a secret header value.
pub const REDACTED: &str = "••••";

/// A header whose name contains one of these (case-insensitively) is secret:
/// `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `X-API-Key`, `Api-Key`,
/// `X-Auth-Token`, `X-Client-Secret`, `X-Password`, `X-Session-Id`, `X-Credentials`, …
const SECRET_PARTS: &[&str] = &[
    "authorization",
    "token",
    "secret",
    "key",
    "password",
    "passwd",
    "credential",
    "session",
    "cookie",
];

/// Whether a header named `name` carries a credential, by its name alone.
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    SECRET_PARTS.iter().any(|p| lower.contains(p))
}

/// The `Authorization` kind of header, whose first word (the scheme) is kept.
fn keeps_scheme(name: &str) -> bool {
    name.trim().to_ascii_lowercase().ends_with("authorization")
}

/// What is shown and stored instead of a secret header value: [`REDACTED`], keeping the
/// scheme word of an `Authorization` value (`Bearer ••••`) so people can see which kind
/// of credential was sent.
pub fn redact_value(name: &str, value: &str) -> String {
    match value.trim().split_once(' ') {
        Some((scheme, _)) if keeps_scheme(name) && !scheme.is_empty() => {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_owned(),
    }
}

/// Whether `value` already is what [`redact_value`] shows (`••••`, `Bearer ••••`): an
/// edit form or an API client sending it back means "keep the stored value".
pub fn is_redacted(name: &str, value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && redact_value(name, v) == v
}

/// `value` as it may be shown: redacted when the header is secret by its name or
/// `flagged` by its owner.
pub fn shown_value(name: &str, value: &str, flagged: bool) -> String {
    if flagged || is_secret_header(name) {
        redact_value(name, value)
    } else {
        value.to_owned()
    }
}

/// Copies `headers`, redacting every secret one: secret by name, or listed in
/// `also_secret` (compared case-insensitively).
pub fn redact_headers(headers: &[(String, String)], also_secret: &[&str]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let flagged = also_secret.iter().any(|s| s.eq_ignore_ascii_case(k));
            (k.clone(), shown_value(k, v, flagged))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_carry_credentials() {
        for n in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "Set-Cookie",
            "X-API-Key",
            "Api-Key",
            "X-Auth-Token",
            "X-Client-Secret",
            "X-Password",
            "X-Session-Id",
            "X-Credentials",
        ] {
            assert!(is_secret_header(n), "{n}");
        }
        for n in [
            "Content-Type",
            "X-Ticket",
            "User-Agent",
            "webhook-id",
            "webhook-signature",
            "Accept",
        ] {
            assert!(!is_secret_header(n), "{n}");
        }
    }

    #[test]
    fn redaction_covers_named_and_flagged_headers() {
        let h = vec![
            ("Authorization".to_owned(), "Bearer abc".to_owned()),
            ("X-Thing".to_owned(), "s3".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        let r = redact_headers(&h, &["x-thing"]);
        assert_eq!(r[0].1, "Bearer ••••");
        assert_eq!(r[1].1, REDACTED);
        assert_eq!(r[2].1, "application/json");
    }

    #[test]
    fn only_the_scheme_of_an_authorization_survives() {
        assert_eq!(
            redact_value("Authorization", "Basic dXNlcjpwdw=="),
            "Basic ••••"
        );
        assert_eq!(
            redact_value("Proxy-Authorization", "Bearer x y"),
            "Bearer ••••"
        );
        assert_eq!(redact_value("authorization", "opaque-token"), REDACTED);
        assert_eq!(redact_value("X-Api-Key", "Bearer lookalike"), REDACTED);
    }

    #[test]
    fn a_redacted_value_is_recognised() {
        assert!(is_redacted("Authorization", "Bearer ••••"));
        assert!(is_redacted("Authorization", "••••"));
        assert!(is_redacted("X-Api-Key", " •••• "));
        assert!(!is_redacted("X-Api-Key", "Bearer ••••"));
        assert!(!is_redacted("Authorization", "Bearer real"));
        assert!(!is_redacted("Authorization", ""));
    }
}
