//! Form bodies, URLs and header values: how each writes literal text and values.

use percent_encoding::{
    AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode,
};

use super::context::RenderContext;
use super::error::{RenderError, TemplateError};
use super::segments::{Segment, line_column};

/// What a value is percent-encoded against in a URL: everything but the unreserved
/// characters of RFC 3986, so a value can never add a path segment, query parameter or
/// fragment.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What literal URL text is encoded against when it is taken as written by a person:
/// characters a URL cannot hold, and `%` itself (so `100%` stays a percent sign). The
/// reserved characters (`:/?#[]@!$&'()*+,;=`) keep their URL meaning.
const URL_LITERAL: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The ticket's own page (`<public_url>/tickets/<id>`), the one placeholder whose value
/// is a whole link.
const TICKET_URL: &str = "ticket.url";

/// Renders a URL template. With `already_encoded` the literal text is sent exactly as
/// written (its `%XX` escapes are the author's); without it the literal text is encoded
/// as above. Values are always percent-encoded as `URL_VALUE` says, except
/// `{{ticket.url}}` opening the URL, which is the link itself.
///
/// A value of `.` or `..` filling a whole path segment is refused: URL parsers resolve
/// such segments (even encoded as `%2E`), so `/tickets/{{x}}/close` would become
/// `/close`.
pub fn render_url(
    segs: &[Segment],
    ctx: &RenderContext,
    already_encoded: bool,
) -> Result<String, RenderError> {
    let mut out = String::new();
    let mut in_path = true;
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Segment::Literal(l) => {
                in_path = in_path && !l.contains(['?', '#']);
                if already_encoded {
                    out.push_str(l);
                } else {
                    out.extend(utf8_percent_encode(l, URL_LITERAL));
                }
            }
            // A link Hookdesk makes itself, opening the URL, is a link, not a value.
            Segment::Placeholder(name) if i == 0 && name == TICKET_URL => {
                out.extend(utf8_percent_encode(&ctx.text(name), URL_LITERAL));
            }
            Segment::Placeholder(name) => {
                let value: String = utf8_percent_encode(&ctx.text(name), URL_VALUE).collect();
                let segment_ends = match segs.get(i + 1) {
                    None => true,
                    Some(Segment::Literal(next)) => next.starts_with(['/', '?', '#']),
                    Some(Segment::Placeholder(_)) => false,
                };
                if in_path && (value == "." || value == "..") && out.ends_with('/') && segment_ends
                {
                    return Err(RenderError::UrlDotSegment {
                        placeholder: name.clone(),
                    });
                }
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

/// One `key=value` line of a form template; `value` is `None` for a bare key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPair {
    pub key: Vec<Segment>,
    pub value: Option<Vec<Segment>>,
}

/// Splits a form template into pairs. Pairs are separated by `&` or line breaks (one pair
/// a line reads better); the first `=` separates key and value. Literal text is decoded
/// as form data (`+` and `%20` are spaces), so both `a=b c` and `a=b+c` mean "b c", and the
/// whole key and value are encoded again at render.
pub fn parse_form(segs: Vec<Segment>) -> Vec<FormPair> {
    let mut pairs = Vec::new();
    let mut key: Vec<Segment> = Vec::new();
    let mut value: Option<Vec<Segment>> = None;
    let mut buf = String::new();
    fn flush(buf: &mut String, key: &mut Vec<Segment>, value: &mut Option<Vec<Segment>>) {
        if !buf.is_empty() {
            let decoded = percent_decode_str(&buf.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            buf.clear();
            value
                .as_mut()
                .unwrap_or(key)
                .push(Segment::Literal(decoded));
        }
    }
    for seg in segs {
        match seg {
            Segment::Placeholder(name) => {
                flush(&mut buf, &mut key, &mut value);
                value
                    .as_mut()
                    .unwrap_or(&mut key)
                    .push(Segment::Placeholder(name));
            }
            Segment::Literal(text) => {
                for c in text.chars() {
                    match c {
                        '&' | '\n' | '\r' => {
                            flush(&mut buf, &mut key, &mut value);
                            let (k, v) = (std::mem::take(&mut key), value.take());
                            if !k.is_empty() || v.is_some() {
                                pairs.push(FormPair { key: k, value: v });
                            }
                        }
                        '=' if value.is_none() => {
                            flush(&mut buf, &mut key, &mut value);
                            value = Some(Vec::new());
                        }
                        c => buf.push(c),
                    }
                }
            }
        }
    }
    flush(&mut buf, &mut key, &mut value);
    if !key.is_empty() || value.is_some() {
        pairs.push(FormPair { key, value });
    }
    pairs
}

pub fn render_form(pairs: &[FormPair], ctx: &RenderContext) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for pair in pairs {
        let key = render_text(&pair.key, ctx);
        match &pair.value {
            Some(value) => form.append_pair(&key, &render_text(value, ctx)),
            None => form.append_key_only(&key),
        };
    }
    form.finish()
}

/// Literal text and values as they are.
pub fn render_text(segs: &[Segment], ctx: &RenderContext) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Segment::Literal(l) => out.push_str(l),
            Segment::Placeholder(name) => out.push_str(&ctx.text(name)),
        }
    }
    out
}

/// Control characters a header value cannot hold (a tab is allowed).
fn is_header_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || c == '\u{7f}'
}

/// Refuses a header template whose own text holds a line break or control character.
pub fn check_header(text: &str) -> Result<(), TemplateError> {
    match text.char_indices().find(|(_, c)| is_header_control(*c)) {
        Some((offset, _)) => {
            let (line, column) = line_column(text, offset);
            Err(TemplateError::Syntax {
                line,
                column,
                message: "a header value cannot hold a line break or control character".into(),
            })
        }
        None => Ok(()),
    }
}

/// Renders a header value, refusing values with line breaks or control characters
/// rather than letting them add headers to the request.
pub fn render_header(segs: &[Segment], ctx: &RenderContext) -> Result<String, RenderError> {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Segment::Literal(l) => out.push_str(l),
            Segment::Placeholder(name) => {
                let value = ctx.text(name);
                if value.chars().any(is_header_control) {
                    return Err(RenderError::HeaderControlCharacter {
                        placeholder: name.clone(),
                    });
                }
                out.push_str(&value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templating::segments::scan;
    use chrono::Utc;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ctx() -> RenderContext {
        let ticket = BTreeMap::from([
            ("ticket.id".to_string(), json!(42)),
            ("ticket.subject".to_string(), json!("a&b=c d/e?f#g%h+é")),
            ("ticket.evil".to_string(), json!("x\r\nX-Injected: 1")),
        ]);
        RenderContext::new(ticket, Utc::now())
    }

    #[test]
    fn url_values_are_encoded_and_literals_follow_the_option() {
        let segs = scan("https://h/a b/100%25/{{ticket.subject}}?q={{ticket.id}}&r=é").unwrap();
        assert_eq!(
            render_url(&segs, &ctx(), false).unwrap(),
            "https://h/a%20b/100%2525/a%26b%3Dc%20d%2Fe%3Ff%23g%25h%2B%C3%A9?q=42&r=%C3%A9"
        );
        assert_eq!(
            render_url(&segs, &ctx(), true).unwrap(),
            "https://h/a b/100%25/a%26b%3Dc%20d%2Fe%3Ff%23g%25h%2B%C3%A9?q=42&r=é"
        );
    }

    #[test]
    fn dot_segments_from_values_are_refused() {
        let dots = RenderContext::new(
            BTreeMap::from([("ticket.x".to_string(), json!(".."))]),
            Utc::now(),
        );
        let refused = Err(RenderError::UrlDotSegment {
            placeholder: "ticket.x".into(),
        });
        for t in [
            "https://h/t/{{ticket.x}}/close",
            "https://h/t/{{ticket.x}}",
            "/{{ticket.x}}?a",
        ] {
            assert_eq!(render_url(&scan(t).unwrap(), &dots, false), refused, "{t}");
        }
        for t in [
            "https://h/t/a{{ticket.x}}/close",
            "https://h/t/{{ticket.x}}b",
            "https://h/?q=/{{ticket.x}}/",
        ] {
            assert!(render_url(&scan(t).unwrap(), &dots, true).is_ok(), "{t}");
        }
    }

    #[test]
    fn form_pairs_split_on_ampersands_and_lines_and_encode_values() {
        let pairs = parse_form(scan("subject={{ticket.subject}}&id=#{{ticket.id}}\nnote=a+b%21 c\r\n\nflag&k{{ticket.id}}=x=y").unwrap());
        assert_eq!(pairs.len(), 5);
        let out = render_form(&pairs, &ctx());
        assert_eq!(
            out,
            "subject=a%26b%3Dc+d%2Fe%3Ff%23g%25h%2B%C3%A9&id=%2342&note=a+b%21+c&flag&k42=x%3Dy"
        );
        let decoded: Vec<(String, String)> = form_urlencoded::parse(out.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(decoded[0], ("subject".into(), "a&b=c d/e?f#g%h+é".into()));
        assert_eq!(decoded[2], ("note".into(), "a b! c".into()));
        assert_eq!(decoded[4], ("k42".into(), "x=y".into()));
    }

    #[test]
    fn header_values_refuse_line_breaks() {
        let segs = scan("Bearer {{ticket.subject}}").unwrap();
        assert_eq!(
            render_header(&segs, &ctx()).unwrap(),
            "Bearer a&b=c d/e?f#g%h+é"
        );
        let segs = scan("x {{ticket.evil}}").unwrap();
        assert_eq!(
            render_header(&segs, &ctx()),
            Err(RenderError::HeaderControlCharacter {
                placeholder: "ticket.evil".into()
            })
        );
        assert!(matches!(
            check_header("a\nb"),
            Err(TemplateError::Syntax {
                line: 1,
                column: 2,
                ..
            })
        ));
        assert!(check_header("a\tb").is_ok());
    }
}
