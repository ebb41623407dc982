//! How long typed text may be, and the one check that says so. Every input — connection,
//! webhook, ticket, user, role, form — goes through [`check`], so a 100,000-character URL
//! is refused beside its field with the same words everywhere, on the page and in the API
//! alike. Lengths count characters, not bytes.

use crate::error::FieldErrors;

/// Names of things: connections, webhooks, parameters' labels.
pub const NAME: usize = 100;
/// Short free text: a user name, a domain, a label, a ticket's category or group.
pub const SHORT: usize = 200;
/// Descriptions and one-line templates (an action description).
pub const DESCRIPTION: usize = 2_000;
/// A URL or URL template (browsers and most servers stop near 8 KiB; 2 KiB is plenty).
pub const URL: usize = 2_048;
/// A header name.
pub const HEADER_NAME: usize = 256;
/// A header value, or a webhook's whole header text.
pub const HEADERS: usize = 8_192;
/// A body template or another multi-line template.
pub const TEMPLATE: usize = 100_000;

/// The message for a value longer than `max`, if it is.
pub fn too_long(value: &str, max: usize) -> Option<String> {
    let n = value.chars().count();
    (n > max).then(|| format!("must be at most {max} characters (this has {n})"))
}

/// Adds the error under `field` when `value` is longer than `max`; true when it fits.
pub fn check(errs: &mut FieldErrors, field: impl Into<String>, value: &str, max: usize) -> bool {
    match too_long(value, max) {
        Some(m) => {
            errs.add(field, m);
            false
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_not_bytes() {
        let mut errs = FieldErrors::new();
        assert!(check(&mut errs, "a", "ééé", 3));
        assert!(!check(&mut errs, "b", "abcd", 3));
        assert_eq!(
            errs.get("b"),
            Some("must be at most 3 characters (this has 4)")
        );
        assert!(errs.get("a").is_none());
    }
}
