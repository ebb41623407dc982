//! Fuzzes `Template::parse` and `render` for every kind: nothing may panic, and whatever
//! renders must keep the kind's promise (valid JSON, well-formed XML, a form that
//! decodes, a header without line breaks).
//!
//! Input: the first byte picks the kind, and the rest is split at the first NUL into
//! the template text and the ticket text every placeholder is filled with.
#![no_main]

use std::collections::BTreeMap;

use hookdesk::templating::{Kind, RenderContext, Template};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let rest = String::from_utf8_lossy(rest);
    let (source, value) = rest.split_once('\0').unwrap_or((&rest, "x"));
    let kind = match selector % 7 {
        0 => Kind::Json,
        1 => Kind::Xml,
        2 => Kind::Form,
        3 => Kind::Text,
        4 => Kind::Url {
            already_encoded: false,
        },
        5 => Kind::Url {
            already_encoded: true,
        },
        _ => Kind::Header,
    };
    let Ok(template) = Template::parse(source, kind) else {
        return;
    };
    // Every name the template uses gets a value: the text, a number or an array of rows.
    let mut ticket = BTreeMap::new();
    for (i, name) in template.placeholders().into_iter().enumerate() {
        let v = match i % 3 {
            0 => json!(value),
            1 => json!(i),
            _ => json!([{ "row": value }]),
        };
        ticket.insert(name.to_string(), v);
    }
    let ctx = RenderContext::new(ticket, chrono::Utc::now()).with_param("p", value);
    let Ok(out) = template.render(&ctx) else {
        assert!(
            matches!(kind, Kind::Header | Kind::Url { .. }),
            "only headers and URLs may refuse a value"
        );
        return;
    };
    match kind {
        Kind::Json => {
            if let Err(e) = serde_json::from_str::<Value>(&out) {
                // A value (an array of rows) nested at the template's deepest level can
                // pass the parser's own nesting limit; anything else is a bug.
                assert!(
                    e.to_string().contains("recursion limit"),
                    "rendered JSON: {e}"
                );
            }
        }
        Kind::Xml => {
            roxmltree::Document::parse_with_options(
                &out,
                roxmltree::ParsingOptions {
                    allow_dtd: true,
                    ..Default::default()
                },
            )
            .expect("rendered XML parses");
        }
        Kind::Form => {
            assert!(out.bytes().all(|b| b.is_ascii_graphic()));
            let _ = form_urlencoded::parse(out.as_bytes()).count();
        }
        Kind::Header => assert!(!out.contains(['\r', '\n'])),
        Kind::Text | Kind::Url { .. } => {}
    }
});
