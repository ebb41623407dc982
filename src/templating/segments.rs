//! Splitting template text into literal runs and placeholders.
//!
//! Syntax: `{{ name }}` where the name is a dotted path of ASCII letters, digits, `_` and
//! `-` (`ticket.subject`, `param.customer_ref`). Names are case-insensitive and stored
//! lower-cased; spaces and tabs inside the braces are ignored. A literal `{{` is written
//! `{{{{` (four braces give two); a lone `}}` needs no escaping. Anything else that opens
//! with `{{` is an error, so a typo never goes out silently as literal text.

use super::error::TemplateError;

/// One piece of a template: text to copy, or a placeholder to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Placeholder(String),
}

/// Scans `text`; errors carry the 1-based line and column of the offending `{{`.
pub fn scan(text: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut out: Vec<Segment> = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        if let Some(tail) = after.strip_prefix("{{") {
            literal.push_str("{{");
            rest = tail;
            continue;
        }
        let offset = text.len() - rest.len() + open;
        let Some(close) = after.find("}}") else {
            return Err(syntax(
                text,
                offset,
                "`{{` is not closed by `}}` (write `{{{{` for a literal `{{`)",
            ));
        };
        let name = normalize_name(&after[..close]).map_err(|m| syntax(text, offset, &m))?;
        if !literal.is_empty() {
            out.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        out.push(Segment::Placeholder(name));
        rest = &after[close + 2..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        out.push(Segment::Literal(literal));
    }
    Ok(out)
}

/// The one placeholder `segments` consist of, if that is all they are.
pub fn sole_placeholder(segments: &[Segment]) -> Option<&str> {
    match segments {
        [Segment::Placeholder(name)] => Some(name),
        _ => None,
    }
}

/// Lower-cases and checks a placeholder name as written between the braces.
pub fn normalize_name(raw: &str) -> Result<String, String> {
    let name = raw.trim_matches([' ', '\t']);
    if name.is_empty() {
        return Err("empty placeholder `{{}}` (write `{{{{` for a literal `{{`)".into());
    }
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !name.split('.').all(valid_part) {
        let shown: String = name.chars().take(60).collect();
        return Err(format!(
            "`{{{{{shown}}}}}` is not a placeholder name: use dotted names of letters, digits, \
             `_` and `-`, such as `{{{{ticket.subject}}}}` (write `{{{{{{{{` for a literal `{{{{`)"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

fn syntax(text: &str, byte_offset: usize, message: &str) -> TemplateError {
    let (line, column) = line_column(text, byte_offset);
    TemplateError::Syntax {
        line,
        column,
        message: message.to_string(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, byte_offset: usize) -> (usize, usize) {
    let before = &text[..byte_offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }
    fn ph(s: &str) -> Segment {
        Segment::Placeholder(s.into())
    }

    #[test]
    fn splits_literals_and_placeholders() {
        assert_eq!(
            scan("Ticket {{ticket.displayid}}: {{ Ticket.Subject }}!").unwrap(),
            vec![
                lit("Ticket "),
                ph("ticket.displayid"),
                lit(": "),
                ph("ticket.subject"),
                lit("!")
            ]
        );
        assert_eq!(scan("").unwrap(), vec![]);
        assert_eq!(scan("{{now}}").unwrap(), vec![ph("now")]);
        assert_eq!(scan("{{\tparam.a-b_c }}").unwrap(), vec![ph("param.a-b_c")]);
    }

    #[test]
    fn four_braces_are_a_literal_pair_and_closing_braces_need_no_escape() {
        assert_eq!(scan("a {{{{ b }} c").unwrap(), vec![lit("a {{ b }} c")]);
        assert_eq!(scan("{{{{{{now}}").unwrap(), vec![lit("{{"), ph("now")]);
    }

    #[test]
    fn errors_point_at_the_opening_braces() {
        let err = scan("line one\n  x {{ticket.subject").unwrap_err();
        assert_eq!(
            err,
            TemplateError::Syntax {
                line: 2,
                column: 5,
                message: "`{{` is not closed by `}}` (write `{{{{` for a literal `{{`)".into()
            }
        );
        for bad in [
            "{{}}",
            "{{ }}",
            "{{ticket subject}}",
            "{{ticket..x}}",
            "{{.x}}",
            "{{é}}",
            "{{{x}}}",
        ] {
            assert!(
                matches!(
                    scan(bad),
                    Err(TemplateError::Syntax {
                        line: 1,
                        column: 1,
                        ..
                    })
                ),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_column("héllo {{", 7), (1, 7));
    }
}
