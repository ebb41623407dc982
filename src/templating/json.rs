//! JSON templates: checked as strict JSON when saved, filled inside the parsed tree when
//! rendered, so the output is valid JSON whatever the ticket holds.
//!
//! - A string that is exactly one placeholder (`"{{ticket.assets}}"`) becomes the value
//!   itself: a number stays a number, a multi-line form becomes an array of row objects,
//!   a known name without a value becomes `null`.
//! - A placeholder inside a longer string is inserted as text and escaped by the JSON
//!   writer.
//! - Placeholders in object keys are allowed and always inserted as text (a key must be a
//!   string); a duplicate key in the template itself is refused.
//! - Key order is kept as written: the tree is our own, not `serde_json::Map`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::context::RenderContext;
use super::error::TemplateError;
use super::segments::{self, Segment};

/// A parsed JSON template.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Vec<Segment>),
    Array(Vec<Node>),
    Object(Vec<(Vec<Segment>, Node)>),
}

pub fn parse(text: &str) -> Result<Node, TemplateError> {
    serde_json::from_str::<Node>(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let mut message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        // The most common mistake: a placeholder written where a value goes, unquoted.
        let error_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        if e.is_syntax() && error_line.contains("{{") {
            message.push_str(
                " (placeholders go inside JSON strings: \"{{ticket.id}}\" alone in a string \
                 keeps the value's own type)",
            );
        }
        TemplateError::Syntax {
            line,
            column,
            message,
        }
    })
}

/// Every placeholder name used, in document order.
pub fn placeholders<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
    let names = |segs: &'a [Segment], out: &mut Vec<&'a str>| {
        for s in segs {
            if let Segment::Placeholder(n) = s {
                out.push(n);
            }
        }
    };
    match node {
        Node::Null | Node::Bool(_) | Node::Number(_) => {}
        Node::String(segs) => names(segs, out),
        Node::Array(items) => items.iter().for_each(|i| placeholders(i, out)),
        Node::Object(members) => {
            for (key, value) in members {
                names(key, out);
                placeholders(value, out);
            }
        }
    }
}

/// Renders compact JSON.
pub fn render(node: &Node, ctx: &RenderContext) -> String {
    let mut out = String::new();
    write_node(node, ctx, &mut out);
    out
}

/// Renders to a `serde_json::Value` (key order is then `serde_json`'s).
pub fn render_value(node: &Node, ctx: &RenderContext) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Number(n) => Value::Number(n.clone()),
        Node::String(segs) => match segments::sole_placeholder(segs) {
            Some(name) => ctx.lookup(name).unwrap_or(Value::Null),
            None => Value::String(text_of(segs, ctx)),
        },
        Node::Array(items) => Value::Array(items.iter().map(|i| render_value(i, ctx)).collect()),
        Node::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (text_of(k, ctx), render_value(v, ctx)))
                .collect(),
        ),
    }
}

fn write_node(node: &Node, ctx: &RenderContext, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Number(n) => out.push_str(&n.to_string()),
        Node::String(segs) => match segments::sole_placeholder(segs) {
            Some(name) => out.push_str(&ctx.lookup(name).unwrap_or(Value::Null).to_string()),
            None => write_string(&text_of(segs, ctx), out),
        },
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(item, ctx, out);
            }
            out.push(']');
        }
        Node::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(&text_of(key, ctx), out);
                out.push(':');
                write_node(value, ctx, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // `Value::String`'s Display is serde_json's escaping writer: it cannot fail.
    out.push_str(&Value::String(s.to_string()).to_string());
}

fn text_of(segs: &[Segment], ctx: &RenderContext) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Segment::Literal(l) => s.push_str(l),
            Segment::Placeholder(name) => s.push_str(&ctx.text(name)),
        }
    }
    s
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

fn scan_str<E: de::Error>(s: &str) -> Result<Vec<Segment>, E> {
    // serde_json appends the position of the string that failed to the message.
    segments::scan(s).map_err(|e| match e {
        TemplateError::Syntax { message, .. } => E::custom(message),
        other => E::custom(other),
    })
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        scan_str(v).map(Node::String)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members: Vec<(Vec<Segment>, Node)> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let segs = scan_str(&key)?;
            let value = map.next_value::<Node>()?;
            seen.push(key);
            members.push((segs, value));
        }
        Ok(Node::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ctx() -> RenderContext {
        let ticket = BTreeMap::from([
            ("ticket.id".to_string(), json!(42)),
            ("ticket.displayid".to_string(), json!("IN164")),
            ("ticket.subject".to_string(), json!("Say \"hi\"\n\\ now")),
            ("ticket.it.urgent".to_string(), json!(true)),
            ("ticket.it.notes".to_string(), Value::Null),
            (
                "ticket.assets".to_string(),
                json!([{"asset": "P2425", "assetrequestdate": "2025/04/23"},
                       {"asset": "FH6354", "assetrequestdate": "2025/04/30"}]),
            ),
        ]);
        RenderContext::new(ticket, Utc::now()).with_param("ref", "CR-1")
    }

    fn render_str(t: &str) -> String {
        render(&parse(t).unwrap(), &ctx())
    }

    #[test]
    fn whole_string_placeholders_keep_the_value_type() {
        let out = render_str(
            r#"{"ticketid": "{{ticket.displayid}}", "id": "{{ticket.id}}", "urgent": "{{ticket.it.urgent}}",
               "notes": "{{ticket.it.notes}}", "linkedassets": "{{ticket.assets}}", "ref": "{{param.ref}}"}"#,
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!({"ticketid": "IN164", "id": 42, "urgent": true, "notes": null, "ref": "CR-1",
                   "linkedassets": [{"asset": "P2425", "assetrequestdate": "2025/04/23"},
                                    {"asset": "FH6354", "assetrequestdate": "2025/04/30"}]})
        );
    }

    #[test]
    fn placeholders_in_longer_strings_and_keys_are_escaped_text() {
        let out = render_str(
            r#"{"s": "[{{ticket.subject}}] #{{ticket.id}} {{ticket.it.notes}}", "k-{{ticket.id}}": 1}"#,
        );
        assert_eq!(out, r#"{"s":"[Say \"hi\"\n\\ now] #42 ","k-42":1}"#);
    }

    #[test]
    fn key_order_and_literals_are_kept() {
        assert_eq!(
            render_str(r#"{ "z": 1.5, "a": [null, false, -3, "x"], "m": {} }"#),
            r#"{"z":1.5,"a":[null,false,-3,"x"],"m":{}}"#
        );
    }

    #[test]
    fn invalid_json_is_refused_with_line_and_column() {
        let err = parse("{\n  'subject': 1\n}").unwrap_err();
        assert_eq!(
            err,
            TemplateError::Syntax {
                line: 2,
                column: 3,
                message: "key must be a string".into()
            }
        );
        let err = parse("{\"a\": [1, 2,]\n}").unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::Syntax {
                    line: 1,
                    column: 13,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse("{\"a\": 1,}").unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::Syntax {
                    line: 1,
                    column: 9,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse("{\"a\": 1} x").unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::Syntax {
                    line: 1,
                    column: 10,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_unquoted_placeholder_gets_a_hint() {
        let err = parse("{\"id\": {{ticket.id}}}").unwrap_err();
        assert!(
            err.to_string()
                .contains("placeholders go inside JSON strings"),
            "{err}"
        );
    }

    #[test]
    fn bad_placeholders_and_duplicate_keys_are_refused_with_position() {
        let err = parse("{\n\"a\": \"{{ticket subject}}\"}").unwrap_err();
        assert!(
            matches!(err, TemplateError::Syntax { line: 2, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("is not a placeholder name"),
            "{err}"
        );
        let err = parse("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert!(
            matches!(err, TemplateError::Syntax { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("duplicate key \"a\""), "{err}");
    }

    #[test]
    fn lists_placeholders_in_order() {
        let node = parse(r#"{"{{now}}": ["{{ticket.id}}", "x {{param.ref}}"]}"#).unwrap();
        let mut names = Vec::new();
        placeholders(&node, &mut names);
        assert_eq!(names, ["now", "ticket.id", "param.ref"]);
    }

    #[test]
    fn render_value_matches_render() {
        let t = r#"{"a": "{{ticket.assets}}", "b": "x{{ticket.subject}}", "c": [1, "{{ticket.it.notes}}"]}"#;
        let node = parse(t).unwrap();
        let v: Value = serde_json::from_str(&render(&node, &ctx())).unwrap();
        assert_eq!(v, render_value(&node, &ctx()));
    }
}
