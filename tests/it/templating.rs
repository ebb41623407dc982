//! The template engine through its public API: one case per kind end to end, then
//! property tests with arbitrary ticket text (quotes, backslashes, control characters,
//! emoji, 100 KB strings) for every kind.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hookdesk::templating::{Kind, KnownNames, RenderContext, RenderError, Template, TemplateError};
use proptest::prelude::*;
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    "2026-11-25T02:00:00Z".parse().unwrap()
}

/// A context where `ticket.subject` holds `text` and the other names hold fixed values.
fn ctx_with(text: &str) -> RenderContext {
    let ticket = BTreeMap::from([
        ("ticket.id".to_string(), json!(42)),
        ("ticket.subject".to_string(), json!(text)),
        ("ticket.it.site".to_string(), Value::Null),
        (
            "ticket.assets".to_string(),
            json!([{"asset": text, "n": 1}, {"asset": "FH6354", "n": 2.5}]),
        ),
    ]);
    RenderContext::new(ticket, now())
        .with_param("note", text)
        .with_event(
            "ticket.updated",
            json!({"subject": {"old": "x", "new": text}}),
        )
        .with_actor("Ada")
        .with_webhook("Mirror")
}

fn known() -> KnownNames {
    KnownNames::new(
        [
            "ticket.id",
            "ticket.subject",
            "ticket.it.site",
            "ticket.assets",
        ],
        ["note"],
    )
}

#[test]
fn a_json_body_with_fields_a_form_a_multi_line_form_and_a_parameter() {
    let template = r#"{
        "ticketid": "{{ ticket.ID }}",
        "title": "[{{ticket.subject}}] from {{actor.name}} at {{now}}",
        "site": "{{ticket.it.site}}",
        "linkedassets": "{{ticket.assets}}",
        "note": "{{param.note}}",
        "event": {"type": "{{event.type}}", "changes": "{{event.changes}}", "hook": "{{webhook.name}}"},
        "literal": "{{{{not a placeholder}}"
    }"#;
    let t = Template::parse_known(template, Kind::Json, &known()).unwrap();
    let out = t.render(&ctx_with("Printer \"Lyon\"")).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({
            "ticketid": 42,
            "title": "[Printer \"Lyon\"] from Ada at 2026-11-25T02:00:00Z",
            "site": null,
            "linkedassets": [{"asset": "Printer \"Lyon\"", "n": 1}, {"asset": "FH6354", "n": 2.5}],
            "note": "Printer \"Lyon\"",
            "event": {"type": "ticket.updated",
                      "changes": {"subject": {"old": "x", "new": "Printer \"Lyon\""}},
                      "hook": "Mirror"},
            "literal": "{{not a placeholder}}"
        })
    );
    assert!(
        out.starts_with(r#"{"ticketid":42,"title":"#),
        "key order kept: {out}"
    );
}

#[test]
fn saving_refuses_broken_templates_with_where_and_why() {
    let err = Template::parse("{\n  \"a\": 'x'\n}", Kind::Json).unwrap_err();
    assert_eq!(err.to_string(), "line 2, column 8: expected value");
    let err = Template::parse("{\"a\": [1,],}", Kind::Json).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::Syntax {
                line: 1,
                column: 10,
                ..
            }
        ),
        "{err}"
    );

    let err = Template::parse_known(
        r#"{"a": "{{ticket.subjet}} {{param.nope}}"}"#,
        Kind::Json,
        &known(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown placeholders {{ticket.subjet}}, {{param.nope}}; known names: actor.name, \
         event.changes, event.note, event.note.internal, event.type, now, param.note, \
         ticket.assets, ticket.id, ticket.it.site, ticket.subject, webhook.name"
    );
    let err = Template::parse("<a>{{ticket.id}}</b>", Kind::Xml).unwrap_err();
    assert!(
        matches!(err, TemplateError::Syntax { line: 1, .. }),
        "{err}"
    );
    let err = Template::parse("Bearer {{ticket.id}}\r\nX-Evil: 1", Kind::Header).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::Syntax {
                line: 1,
                column: 21,
                ..
            }
        ),
        "{err}"
    );
    let err = Template::parse("see {{ticket.id", Kind::Text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 5: `{{` is not closed by `}}` (write `{{{{` for a literal `{{`)"
    );
}

#[test]
fn each_kind_writes_values_its_own_way() {
    let ctx = ctx_with("a&b <c> \"d\"");
    let render =
        |text: &str, kind: Kind| Template::parse(text, kind).unwrap().render(&ctx).unwrap();
    assert_eq!(
        render("S: {{ticket.subject}}", Kind::Text),
        "S: a&b <c> \"d\""
    );
    assert_eq!(
        render(
            "<s a=\"{{ticket.subject}}\">{{ticket.subject}}</s>",
            Kind::Xml
        ),
        "<s a=\"a&amp;b &lt;c&gt; &quot;d&quot;\">a&amp;b &lt;c&gt; &quot;d&quot;</s>"
    );
    assert_eq!(
        render("s={{ticket.subject}}&id={{ticket.id}}", Kind::Form),
        "s=a%26b+%3Cc%3E+%22d%22&id=42"
    );
    assert_eq!(
        render(
            "https://x/t/{{ticket.subject}}?q=1%2B1",
            Kind::Url {
                already_encoded: true
            }
        ),
        "https://x/t/a%26b%20%3Cc%3E%20%22d%22?q=1%2B1"
    );
    assert_eq!(
        render(
            "https://x/t/{{ticket.id}}?q=1%2B1 x",
            Kind::Url {
                already_encoded: false
            }
        ),
        "https://x/t/42?q=1%252B1%20x"
    );
    assert_eq!(render("Ticket {{ticket.id}}", Kind::Header), "Ticket 42");
    let evil = ctx_with("x\r\nX-Injected: yes");
    let header = Template::parse("Ticket {{ticket.subject}}", Kind::Header).unwrap();
    assert_eq!(
        header.render(&evil),
        Err(RenderError::HeaderControlCharacter {
            placeholder: "ticket.subject".into()
        })
    );
}

/// Ticket text as users paste it, and worse.
fn ticket_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => r#"["\\\x00-\x1f\x7f'<>&=+%#?/;:. a-zA-Zé🎉\u{2028}\u{FFFE}\u{FFFF}{}]{0,64}"#,
        1 => prop_oneof![Just(".".to_string()), Just("..".to_string())],
        1 => r#"["\\\x00-\x1fa🎉<&]{1,8}"#.prop_map(|s| s.repeat(100_000 / s.len() + 1)),
    ]
}

/// What XML can carry of `text`: characters XML 1.0 forbids become U+FFFD.
fn xml_expected(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A JSON template tree whose strings are literal text, one placeholder, or placeholders
/// inside text.
fn json_template() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z \"\\\\é🎉]{0,8}".prop_map(Value::String),
        Just(json!("{{ticket.subject}}")),
        Just(json!("{{ticket.id}}")),
        Just(json!("{{ticket.assets}}")),
        Just(json!("{{ticket.it.site}}")),
        Just(json!("{{event.changes}}")),
        Just(json!(
            "«{{ticket.subject}}» #{{ticket.id}} {{param.note}}{{ticket.it.site}}"
        )),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof!["[a-j]{1,4}", Just("K-{{ticket.id}}".to_string())],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What the engine must produce for `template`, computed independently.
fn json_expected(template: &Value, ctx_text: &str) -> Value {
    let whole = |name: &str| match name {
        "{{ticket.subject}}" => Some(json!(ctx_text)),
        "{{ticket.id}}" => Some(json!(42)),
        "{{ticket.assets}}" => {
            Some(json!([{"asset": ctx_text, "n": 1}, {"asset": "FH6354", "n": 2.5}]))
        }
        "{{ticket.it.site}}" => Some(Value::Null),
        "{{event.changes}}" => Some(json!({"subject": {"old": "x", "new": ctx_text}})),
        _ => None,
    };
    match template {
        Value::String(s) => whole(s).unwrap_or_else(|| {
            if s.contains("{{") {
                // The one mixed string `json_template` makes.
                json!(format!("«{ctx_text}» #42 {ctx_text}"))
            } else {
                json!(s)
            }
        }),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| json_expected(i, ctx_text)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.replace("{{ticket.id}}", "42"), json_expected(v, ctx_text)))
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn json_output_is_valid_and_holds_the_exact_values(template in json_template(), text in ticket_text()) {
        let source = serde_json::to_string_pretty(&template).unwrap();
        let t = Template::parse_known(&source, Kind::Json, &known()).unwrap();
        let out = t.render(&ctx_with(&text)).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(&parsed, &json_expected(&template, &text));
        prop_assert_eq!(parsed, t.render_value(&ctx_with(&text)).unwrap());
    }

    #[test]
    fn xml_output_parses_and_holds_the_values(text in ticket_text()) {
        let t = Template::parse(
            "<?xml version=\"1.0\"?>\n<t a=\"{{ticket.subject}}\" b='x{{param.note}}y'>\
             <s>{{ticket.subject}}</s><n>#{{ticket.id}}</n><e>{{ticket.it.site}}</e></t>",
            Kind::Xml,
        ).unwrap();
        let out = t.render(&ctx_with(&text)).unwrap();
        let doc = roxmltree::Document::parse(&out).unwrap();
        let root = doc.root_element();
        let expected = xml_expected(&text);
        prop_assert_eq!(root.attribute("a"), Some(expected.as_str()));
        prop_assert_eq!(root.attribute("b").unwrap(), format!("x{expected}y"));
        let child = |name: &str| root.children().find(|n| n.has_tag_name(name)).unwrap();
        prop_assert_eq!(child("s").text().unwrap_or(""), expected.as_str());
        prop_assert_eq!(child("n").text(), Some("#42"));
        prop_assert_eq!(child("e").text(), None);
    }

    #[test]
    fn form_output_decodes_back_to_the_values(text in ticket_text()) {
        let t = Template::parse(
            "subject={{ticket.subject}}\nnote=re: {{param.note}}&id={{ticket.id}}&site={{ticket.it.site}}",
            Kind::Form,
        ).unwrap();
        let out = t.render(&ctx_with(&text)).unwrap();
        prop_assert!(out.bytes().all(|b| b.is_ascii_graphic()));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(out.as_bytes()).into_owned().collect();
        prop_assert_eq!(pairs, vec![
            ("subject".to_string(), text.clone()),
            ("note".to_string(), format!("re: {text}")),
            ("id".to_string(), "42".to_string()),
            ("site".to_string(), String::new()),
        ]);
    }

    #[test]
    fn url_values_round_trip_through_percent_decoding(text in ticket_text(), encoded in any::<bool>()) {
        let t = Template::parse(
            "https://desk.example.com/api/{{ticket.subject}}/x?q={{param.note}}&id={{ticket.id}}",
            Kind::Url { already_encoded: encoded },
        ).unwrap();
        if text == "." || text == ".." {
            prop_assert_eq!(
                t.render(&ctx_with(&text)),
                Err(RenderError::UrlDotSegment { placeholder: "ticket.subject".into() })
            );
            return Ok(());
        }
        let out = t.render(&ctx_with(&text)).unwrap();
        prop_assert!(out.bytes().all(|b| b.is_ascii_graphic()));
        let url = url::Url::parse(&out).unwrap();
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        prop_assert_eq!(segments.len(), 3);
        prop_assert_eq!(percent_encoding::percent_decode_str(segments[1]).decode_utf8().unwrap(), text.as_str());
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        prop_assert_eq!(query, vec![("q".to_string(), text.clone()), ("id".to_string(), "42".to_string())]);
    }

    #[test]
    fn header_values_never_hold_line_breaks(text in ticket_text()) {
        let t = Template::parse("Bearer {{ticket.subject}}", Kind::Header).unwrap();
        match t.render(&ctx_with(&text)) {
            Ok(out) => {
                prop_assert!(!out.contains(['\r', '\n', '\0']));
                prop_assert_eq!(out, format!("Bearer {text}"));
            }
            Err(RenderError::HeaderControlCharacter { placeholder }) => {
                prop_assert_eq!(placeholder, "ticket.subject");
                prop_assert!(text.chars().any(|c| c.is_ascii_control() && c != '\t'));
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn text_inserts_values_as_they_are(text in ticket_text()) {
        let t = Template::parse("<{{ticket.subject}}|{{{{x}}", Kind::Text).unwrap();
        prop_assert_eq!(t.render(&ctx_with(&text)).unwrap(), format!("<{text}|{{{{x}}}}"));
    }

    #[test]
    fn parsing_any_text_never_panics(source in any::<String>()) {
        for kind in [Kind::Json, Kind::Xml, Kind::Form, Kind::Text, Kind::Header, Kind::Url { already_encoded: false }] {
            if let Ok(t) = Template::parse(&source, kind) {
                let _ = t.render(&ctx_with("x"));
            }
        }
    }
}
