//! XML templates: checked as well-formed XML when saved, with placeholders allowed in
//! element text and attribute values only (where escaping makes any value safe).
//! Values are escaped at render, and characters XML 1.0 cannot hold at all (most
//! control characters) become U+FFFD, so the output always parses.

use super::error::TemplateError;
use super::segments::Segment;

/// What a placeholder is replaced by for the well-formedness check. A character reference
/// is only legal in text and attribute values, so a placeholder in a tag or attribute
/// name makes the check fail; inside a comment, CDATA section or processing instruction it
/// stays literal, which `check` looks for.
const PROBE: &str = "&#xE000;";

pub fn check(segs: &[Segment]) -> Result<(), TemplateError> {
    let mut probe = String::new();
    let mut offsets = Vec::new();
    for seg in segs {
        match seg {
            Segment::Literal(l) => probe.push_str(l),
            Segment::Placeholder(_) => {
                offsets.push(probe.len());
                probe.push_str(PROBE);
            }
        }
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&probe, options).map_err(|e| {
        let pos = e.pos();
        TemplateError::Syntax {
            line: pos.row as usize,
            column: pos.col as usize,
            message: format!(
                "not well-formed XML ({e}); placeholders go in element text or attribute values"
            ),
        }
    })?;
    // Outside the root element (XML declaration, DOCTYPE and its entities) a value could
    // change what the document declares.
    let root = doc.root_element().range();
    let outside_root = offsets.iter().any(|o| !root.contains(o));
    let misplaced = outside_root
        || doc.descendants().any(|node| {
            node.text().is_some_and(|t| t.contains(PROBE))
                || node
                    .pi()
                    .is_some_and(|pi| pi.value.is_some_and(|v| v.contains(PROBE)))
                || node.attributes().any(|a| a.value().contains(PROBE))
        });
    if misplaced {
        return Err(TemplateError::Misplaced {
            message: "placeholders in XML go in element text or attribute values, not in \
                      comments, CDATA sections, processing instructions or the DOCTYPE"
                .into(),
        });
    }
    Ok(())
}

/// Escapes a value for element text or an attribute value (either quote style).
/// Line breaks and tabs are written as character references because XML parsers
/// normalise them (CR LF to LF, and in attributes all whitespace to spaces); characters
/// XML 1.0 forbids even as references become U+FFFD.
pub fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templating::segments::scan;

    fn check_text(t: &str) -> Result<(), TemplateError> {
        check(&scan(t).unwrap())
    }

    #[test]
    fn placeholders_in_text_and_attributes_are_fine() {
        check_text(
            "<?xml version=\"1.0\"?>\n<ticket id=\"{{ticket.id}}\" x='a{{now}}'><s>{{ticket.subject}} &amp; more</s></ticket>",
        )
        .unwrap();
    }

    #[test]
    fn ill_formed_xml_and_misplaced_placeholders_are_refused() {
        let err = check_text("<a>\n<b></a>").unwrap_err();
        assert!(
            matches!(err, TemplateError::Syntax { line: 2, .. }),
            "{err:?}"
        );
        for bad in [
            "<{{x}}/>",
            "<a {{x}}=\"1\"/>",
            "<a b=\"1\" {{x}}/>",
            "<a>&{{x}};</a>",
        ] {
            assert!(
                matches!(check_text(bad), Err(TemplateError::Syntax { .. })),
                "{bad} accepted"
            );
        }
        for bad in [
            "<a><!-- {{x}} --></a>",
            "<a><![CDATA[{{x}}]]></a>",
            "<a><?pi {{x}}?></a>",
            "<!DOCTYPE a [<!ENTITY e \"{{x}}\">]><a>&e;</a>",
        ] {
            assert!(
                matches!(check_text(bad), Err(TemplateError::Misplaced { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn escaping_survives_a_parser() {
        let value = "a<b>&\"c'\r\n\td\u{1}\u{7f}é🎉";
        let mut text = String::new();
        escape(value, &mut text);
        let doc = format!("<r a=\"{text}\" b='{text}'>{text}</r>");
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        let root = parsed.root_element();
        let expected = "a<b>&\"c'\r\n\td\u{fffd}\u{7f}é🎉";
        assert_eq!(root.attribute("a"), Some(expected));
        assert_eq!(root.attribute("b"), Some(expected));
        assert_eq!(root.text(), Some(expected));
    }
}
