//! A webhook's header lines that carry credentials — secret by their name alone
//! (`Authorization: Bearer …`, `X-Api-Key: …`; the rule is `delivery::redact`) — are
//! sealed at rest, like a connection's secrets.
//!
//! The `headers` column keeps every line, a secret one with its value redacted
//! (`Authorization: Bearer ••••`), so whatever shows the definition (the page, the API,
//! the audit summary, a copy) can only show that. `sealed_headers` holds the real value
//! templates, each sealed on its own (JSON `[{"name", "value"}]`), so an unchanged value
//! is kept as it is without being opened. A line sent back blank or redacted — an edit
//! form, or a GET's body PUT back — keeps the stored value of the header of that name.
//!
//! Unless the edit sends the headers to a new host (another URL, connection or test
//! connection: `input::prepare`): a value kept then is refused, naming the header, as a
//! connection refuses its own (`connections::input`), so a credential never moves to
//! another host without being typed again.
//!
//! Lines are matched by name and order: the second `X-Key` line takes the second stored
//! `X-Key` value. A definition saved before this rule may still hold a value in clear in
//! `headers`; it is used as it is, hidden when shown, and sealed on the next save.

use std::collections::HashMap;

use super::model::Webhook;
use crate::delivery::redact::{is_redacted, is_secret_header, redact_value};
use crate::error::{Error, FieldErrors, Result};
use crate::secrets::{Secret, SecretBox};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SealedLine {
    name: String,
    /// The value template, sealed.
    value: String,
}

/// Submitted header lines made ready for storage.
#[derive(Debug, Clone, Default)]
pub struct SealedHeaders {
    /// For the `headers` column and every display: secret values redacted.
    pub shown: String,
    /// For `sealed_headers`: the secret values, sealed; `None` when there are none.
    pub sealed: Option<String>,
    /// The lines with their real values, for checking their templates; never stored
    /// or shown.
    pub real: String,
}

/// One `Name: value` line split, or `None` for a line that is not one (blank, no colon),
/// which passes through untouched for validation to report.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim();
    (!name.is_empty()).then_some((name, value.trim()))
}

/// Counts occurrences of header names, so the k-th line named N meets the k-th stored
/// value named N.
#[derive(Default)]
struct Occurrences(HashMap<String, usize>);

impl Occurrences {
    fn next(&mut self, name: &str) -> usize {
        let n = self.0.entry(name.to_ascii_lowercase()).or_default();
        *n += 1;
        *n - 1
    }
}

fn parse_sealed(sealed: Option<&str>) -> Vec<SealedLine> {
    sealed
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// A saved definition's two columns.
#[derive(Debug, Clone, Copy)]
struct Stored<'a> {
    headers: &'a str,
    sealed: Option<&'a str>,
}

impl<'a> From<&'a Webhook> for Stored<'a> {
    fn from(w: &'a Webhook) -> Self {
        Self {
            headers: &w.headers,
            sealed: w.sealed_headers.as_deref(),
        }
    }
}

/// The `k`-th stored value of header `name`, sealed: from `sealed_headers`, or (saved
/// before the rule) sealed now from the clear text of `headers`. `None` when there is
/// none.
fn stored_value(st: Stored, name: &str, k: usize, sb: &SecretBox) -> Result<Option<String>> {
    if let Some(s) = parse_sealed(st.sealed)
        .into_iter()
        .filter(|s| s.name.eq_ignore_ascii_case(name))
        .nth(k)
    {
        return Ok(Some(s.value));
    }
    let clear = st
        .headers
        .lines()
        .filter_map(split_line)
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .nth(k)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && !is_redacted(name, v));
    clear.map(|v| sb.seal(&Secret(v.to_string()))).transpose()
}

/// Where a secret line left blank or redacted takes its value from.
#[derive(Debug, Clone, Copy)]
pub enum Keep<'a> {
    /// Nowhere: a new webhook.
    Nothing,
    /// The webhook being edited, or the original of a copy.
    From(&'a Webhook),
    /// The webhook being edited, whose headers the edit sends to a new host: a value it
    /// has is not kept but refused.
    NewHost(&'a Webhook),
}

/// Splits submitted header text into what is shown and what is sealed. A secret line
/// left blank or redacted keeps the value `keep` has for it; with none, or with a new
/// host, it is an error under `headers`.
pub fn seal(
    text: &str,
    keep: Keep,
    sb: &SecretBox,
    errs: &mut FieldErrors,
) -> Result<SealedHeaders> {
    match keep {
        Keep::Nothing => seal_lines(text, None, false, sb, errs),
        Keep::From(w) => seal_lines(text, Some(w.into()), false, sb, errs),
        Keep::NewHost(w) => seal_lines(text, Some(w.into()), true, sb, errs),
    }
}

fn seal_lines(
    text: &str,
    stored: Option<Stored>,
    new_host: bool,
    sb: &SecretBox,
    errs: &mut FieldErrors,
) -> Result<SealedHeaders> {
    let mut shown = Vec::new();
    let mut real = Vec::new();
    let mut sealed = Vec::new();
    let mut seen = Occurrences::default();
    for (i, line) in text.trim().lines().enumerate() {
        let Some((name, value)) = split_line(line).filter(|(n, _)| is_secret_header(n)) else {
            shown.push(line.to_string());
            real.push(line.to_string());
            continue;
        };
        let k = seen.next(name);
        let typed = !value.is_empty() && !is_redacted(name, value);
        let kept = match stored {
            Some(st) if !typed => stored_value(st, name, k, sb)?,
            _ => None,
        };
        let (sealed_value, plain) = match kept {
            Some(s) if !new_host => {
                let plain = sb.open(&s)?;
                (s, plain)
            }
            None if typed => {
                let plain = Secret(value.to_string());
                (sb.seal(&plain)?, plain)
            }
            refused => {
                let line_no = i + 1;
                errs.add(
                    "headers",
                    if refused.is_some() {
                        format!(
                            "line {line_no}: the host changed: enter the value of the secret header {name} again (it is not sent to a new host unconfirmed)"
                        )
                    } else {
                        format!(
                            "line {line_no}: enter the value of {name} (a secret header: it is stored encrypted and shown as {})",
                            redact_value(name, value)
                        )
                    },
                );
                shown.push(line.to_string());
                real.push(line.to_string());
                continue;
            }
        };
        shown.push(format!("{name}: {}", redact_value(name, plain.expose())));
        real.push(format!("{name}: {}", plain.expose()));
        sealed.push(SealedLine {
            name: name.to_string(),
            value: sealed_value,
        });
    }
    let sealed = if sealed.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&sealed)
                .map_err(|e| Error::Internal(format!("cannot encode sealed headers: {e}")))?,
        )
    };
    Ok(SealedHeaders {
        shown: shown.join("\n"),
        sealed,
        real: real.join("\n"),
    })
}

/// `text` with every secret value redacted, for showing a definition or a submitted
/// form again. Also returns the names whose typed value was hidden by it (the person
/// has to type them again).
pub fn redact_text(text: &str) -> (String, Vec<String>) {
    let mut hidden = Vec::new();
    let lines: Vec<String> = text
        .lines()
        .map(|line| match split_line(line) {
            Some((name, value)) if is_secret_header(name) => {
                if !value.is_empty() && !is_redacted(name, value) {
                    hidden.push(name.to_string());
                }
                format!("{name}: {}", redact_value(name, value))
            }
            _ => line.to_string(),
        })
        .collect();
    (lines.join("\n"), hidden)
}

/// The header lines of `w` as (name, value template) with the secret values opened,
/// for building the request only.
pub fn request_lines(w: &Webhook, sb: &SecretBox) -> Result<Vec<(String, Secret)>> {
    open_lines(Stored::from(w), &w.name, sb)
}

fn open_lines(st: Stored, owner: &str, sb: &SecretBox) -> Result<Vec<(String, Secret)>> {
    let sealed = parse_sealed(st.sealed);
    let mut seen = Occurrences::default();
    let mut out = Vec::new();
    for (_, name, value) in super::model::parse_header_lines(st.headers) {
        if !is_secret_header(&name) {
            out.push((name, Secret(value)));
            continue;
        }
        let k = seen.next(&name);
        let stored = sealed
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(&name))
            .nth(k);
        let real = match stored {
            Some(s) => sb.open(&s.value)?,
            None if !is_redacted(&name, &value) => Secret(value),
            None => {
                return Err(Error::Conflict(format!(
                    "the value of the header {name} of webhook `{owner}` is missing: enter it again on the webhook page"
                )));
            }
        };
        out.push((name, real));
    }
    Ok(out)
}

/// Re-encrypts every sealed value of a `sealed_headers` column with `reseal` (rekey).
pub fn reseal(sealed: &str, reseal: &dyn Fn(&str) -> Result<String>) -> Result<(String, usize)> {
    let mut lines = parse_sealed(Some(sealed));
    for l in &mut lines {
        l.value = reseal(&l.value)?;
    }
    let text = serde_json::to_string(&lines)
        .map_err(|e| Error::Internal(format!("cannot encode sealed headers: {e}")))?;
    Ok((text, lines.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::new(&SecretBox::generate_key())
    }

    fn stored<'a>(s: &'a SealedHeaders) -> Option<Stored<'a>> {
        Some(Stored {
            headers: &s.shown,
            sealed: s.sealed.as_deref(),
        })
    }

    fn open(s: &SealedHeaders, b: &SecretBox) -> Vec<(String, String)> {
        open_lines(stored(s).unwrap(), "test", b)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.expose().to_string()))
            .collect()
    }

    #[test]
    fn secret_lines_are_sealed_and_shown_redacted() {
        let b = sb();
        let mut errs = FieldErrors::new();
        let s = seal_lines(
            "X-Ticket: {{ticket.id}}\nAuthorization: Bearer tok-123\nX-Api-Key: k-9",
            None,
            false,
            &b,
            &mut errs,
        )
        .unwrap();
        assert!(errs.is_empty(), "{errs}");
        assert_eq!(
            s.shown,
            "X-Ticket: {{ticket.id}}\nAuthorization: Bearer ••••\nX-Api-Key: ••••"
        );
        let sealed = s.sealed.clone().unwrap();
        assert!(!sealed.contains("tok-123") && !sealed.contains("k-9"));
        let real = open(&s, &b);
        let real: Vec<(&str, &str)> = real.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            real,
            [
                ("X-Ticket", "{{ticket.id}}"),
                ("Authorization", "Bearer tok-123"),
                ("X-Api-Key", "k-9")
            ]
        );
    }

    #[test]
    fn blank_or_redacted_keeps_the_stored_value_by_name_and_order() {
        let b = sb();
        let mut errs = FieldErrors::new();
        let first = seal_lines("X-Key: one\nX-Key: two", None, false, &b, &mut errs).unwrap();
        let again = seal_lines(
            "X-Key: ••••\nX-Key:\nX-Other: plain",
            stored(&first),
            false,
            &b,
            &mut errs,
        )
        .unwrap();
        assert!(errs.is_empty(), "{errs}");
        assert_eq!(again.real, "X-Key: one\nX-Key: two\nX-Other: plain");
        assert_eq!(open(&again, &b)[1].1, "two");
        let changed = seal_lines(
            "X-Key: new\nX-Key: ••••",
            stored(&first),
            false,
            &b,
            &mut errs,
        )
        .unwrap();
        assert_eq!(changed.real, "X-Key: new\nX-Key: two");
    }

    #[test]
    fn a_new_host_refuses_a_kept_value_and_takes_a_typed_one() {
        let b = sb();
        let mut errs = FieldErrors::new();
        let first = seal_lines("X-Key: one\nX-Token: two", None, false, &b, &mut errs).unwrap();
        seal_lines(
            "X-Key: new\nX-Token: ••••",
            stored(&first),
            true,
            &b,
            &mut errs,
        )
        .unwrap();
        let msg = errs.get("headers").unwrap();
        assert!(
            msg.contains("line 2: the host changed") && msg.contains("X-Token"),
            "{msg}"
        );
        assert!(!msg.contains("X-Key"), "{msg}");
        let mut errs = FieldErrors::new();
        let again = seal_lines(
            "X-Key: new\nX-Token: typed",
            stored(&first),
            true,
            &b,
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs}");
        assert_eq!(again.unwrap().real, "X-Key: new\nX-Token: typed");
    }

    #[test]
    fn a_redacted_value_with_nothing_stored_is_an_error() {
        let mut errs = FieldErrors::new();
        seal_lines("Authorization: Bearer ••••", None, false, &sb(), &mut errs).unwrap();
        assert!(errs.get("headers").unwrap().contains("Authorization"));
    }

    #[test]
    fn a_value_stored_in_clear_before_the_rule_is_used_and_sealed_on_save() {
        let b = sb();
        let legacy = SealedHeaders {
            shown: "Authorization: Bearer old-clear".into(),
            ..SealedHeaders::default()
        };
        assert_eq!(open(&legacy, &b)[0].1, "Bearer old-clear");
        let mut errs = FieldErrors::new();
        let s = seal_lines(
            "Authorization: Bearer ••••",
            stored(&legacy),
            false,
            &b,
            &mut errs,
        )
        .unwrap();
        assert!(errs.is_empty());
        assert_eq!(s.shown, "Authorization: Bearer ••••");
        assert!(!s.sealed.unwrap().contains("old-clear"));
        assert_eq!(
            redact_text("Authorization: Bearer old-clear\nX-A: b").0,
            "Authorization: Bearer ••••\nX-A: b"
        );
    }
}
