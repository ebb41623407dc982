//! Conditions on a ticket, shared by webhooks ("Select tickets") and trigger rules: a list
//! of `field operator value` rows matched all or any, and ONE pure evaluator over the
//! ticket's template values (plus, for rules, the changes of the event being handled).
//!
//! Fields are placeholder names without braces (`ticket.status`, `ticket.it.site`,
//! `ticket.it.site.id`), so a condition can test anything a template can show. Text
//! comparisons ignore case and surrounding whitespace, as people type values by hand.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::FieldErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    All,
    Any,
}

impl MatchMode {
    pub fn code(self) -> &'static str {
        match self {
            MatchMode::All => "all",
            MatchMode::Any => "any",
        }
    }
    pub fn parse(s: &str) -> Option<MatchMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Some(MatchMode::All),
            "any" => Some(MatchMode::Any),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    InList,
    IsEmpty,
    IsNotEmpty,
    GreaterThan,
    LessThan,
    Changed,
    ChangedTo,
    ChangedFrom,
}

impl Operator {
    pub const ALL: [Operator; 12] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::Contains,
        Operator::StartsWith,
        Operator::InList,
        Operator::IsEmpty,
        Operator::IsNotEmpty,
        Operator::GreaterThan,
        Operator::LessThan,
        Operator::Changed,
        Operator::ChangedTo,
        Operator::ChangedFrom,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::Contains => "contains",
            Operator::StartsWith => "starts_with",
            Operator::InList => "in_list",
            Operator::IsEmpty => "is_empty",
            Operator::IsNotEmpty => "is_not_empty",
            Operator::GreaterThan => "greater_than",
            Operator::LessThan => "less_than",
            Operator::Changed => "changed",
            Operator::ChangedTo => "changed_to",
            Operator::ChangedFrom => "changed_from",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not equals",
            Operator::Contains => "contains",
            Operator::StartsWith => "starts with",
            Operator::InList => "in list",
            Operator::IsEmpty => "is empty",
            Operator::IsNotEmpty => "is not empty",
            Operator::GreaterThan => "greater than",
            Operator::LessThan => "less than",
            Operator::Changed => "changed",
            Operator::ChangedTo => "changed to",
            Operator::ChangedFrom => "changed from",
        }
    }

    /// Accepts the code (`not_equals`) or the label (`not equals`).
    pub fn parse(s: &str) -> Option<Operator> {
        let s = s.trim().to_ascii_lowercase().replace(' ', "_");
        Self::ALL.into_iter().find(|o| o.code() == s)
    }

    /// Operators that read the event's changes, meaningful only when an event is handled.
    pub fn is_event_only(self) -> bool {
        matches!(
            self,
            Operator::Changed | Operator::ChangedTo | Operator::ChangedFrom
        )
    }

    /// Whether the row needs a comparison value.
    pub fn needs_value(self) -> bool {
        !matches!(
            self,
            Operator::IsEmpty | Operator::IsNotEmpty | Operator::Changed
        )
    }
}

/// One row: `field operator value`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Condition {
    pub field: String,
    pub operator: Operator,
    #[serde(default)]
    pub value: String,
}

/// One row as typed in a form or sent to the API, before validation.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionInput {
    pub field: String,
    pub operator: String,
    pub value: String,
}

impl From<&Condition> for ConditionInput {
    fn from(c: &Condition) -> Self {
        Self {
            field: c.field.clone(),
            operator: c.operator.code().into(),
            value: c.value.clone(),
        }
    }
}

/// Parses and validates typed rows (see [`validate`]); errors go to `errs`.
pub fn parse_inputs(
    inputs: &[ConditionInput],
    known: &[String],
    allow_event_ops: bool,
    prefix: &str,
    errs: &mut FieldErrors,
) -> Vec<Condition> {
    let mut conds = Vec::new();
    for (i, c) in inputs.iter().enumerate() {
        match Operator::parse(&c.operator) {
            Some(op) => conds.push(Condition {
                field: c.field.trim().to_ascii_lowercase(),
                operator: op,
                value: c.value.clone(),
            }),
            None => errs.add(format!("{prefix}.{i}.operator"), "choose an operator"),
        }
    }
    if conds.len() == inputs.len() {
        validate(&conds, known, allow_event_ops, prefix, errs);
    }
    conds
}

/// A field's value before and after the event being handled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldChange {
    pub old: Value,
    pub new: Value,
}

/// The changes of an event, by placeholder name (`ticket.status`).
pub type Changes = BTreeMap<String, FieldChange>;

/// Builds `Changes` from an event's `{field: {old, new}}` object. Keys are taken as
/// placeholder names; bare field names get the `ticket.` prefix.
pub fn changes_from_json(v: &Value) -> Changes {
    let mut out = Changes::new();
    if let Some(obj) = v.as_object() {
        for (k, ch) in obj {
            let key = k.trim().to_ascii_lowercase();
            let key = if key.starts_with("ticket.") {
                key
            } else {
                format!("ticket.{key}")
            };
            out.insert(
                key,
                FieldChange {
                    old: ch.get("old").cloned().unwrap_or(Value::Null),
                    new: ch.get("new").cloned().unwrap_or(Value::Null),
                },
            );
        }
    }
    out
}

/// True when the ticket meets the conditions. No conditions means no restriction.
/// `changes` is `None` outside event handling; event operators are then false.
pub fn evaluate(
    mode: MatchMode,
    conditions: &[Condition],
    values: &BTreeMap<String, Value>,
    changes: Option<&Changes>,
) -> bool {
    if conditions.is_empty() {
        return true;
    }
    let mut results = conditions.iter().map(|c| matches(c, values, changes));
    match mode {
        MatchMode::All => results.all(|r| r),
        MatchMode::Any => results.any(|r| r),
    }
}

/// One row against the ticket.
pub fn matches(c: &Condition, values: &BTreeMap<String, Value>, changes: Option<&Changes>) -> bool {
    let field = c.field.trim().to_ascii_lowercase();
    let current = values.get(&field).unwrap_or(&Value::Null);
    let want = c.value.as_str();
    match c.operator {
        Operator::Equals => text_eq(current, want),
        Operator::NotEquals => !text_eq(current, want),
        Operator::Contains => norm(&text(current)).contains(&norm(want)),
        Operator::StartsWith => norm(&text(current)).starts_with(&norm(want)),
        Operator::InList => list_items(want).any(|item| text_eq(current, item)),
        Operator::IsEmpty => is_empty(current),
        Operator::IsNotEmpty => !is_empty(current),
        Operator::GreaterThan => compare(current, want) == Some(std::cmp::Ordering::Greater),
        Operator::LessThan => compare(current, want) == Some(std::cmp::Ordering::Less),
        Operator::Changed => change_of(changes, &field).is_some(),
        Operator::ChangedTo => change_of(changes, &field).is_some_and(|ch| text_eq(&ch.new, want)),
        Operator::ChangedFrom => {
            change_of(changes, &field).is_some_and(|ch| text_eq(&ch.old, want))
        }
    }
}

fn change_of<'a>(changes: Option<&'a Changes>, field: &str) -> Option<&'a FieldChange> {
    // A change counts only when the value really differs: a save that rewrote the same
    // value is not a change to react to.
    changes?
        .get(field)
        .filter(|ch| norm(&text(&ch.old)) != norm(&text(&ch.new)))
}

/// The value as people read it: strings as they are, numbers and booleans as written,
/// nothing as the empty string, rows (a multi-line form) as compact JSON.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn text_eq(v: &Value, want: &str) -> bool {
    if let (Some(a), Some(b)) = (number(v), want.trim().parse::<f64>().ok()) {
        return a == b;
    }
    norm(&text(v)) == norm(want)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Items of an "in list" value: separated by commas or line breaks.
fn list_items(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Numbers compare as numbers; anything else as text, which orders ISO dates and times
/// correctly. An empty field is neither greater nor less than anything.
fn compare(v: &Value, want: &str) -> Option<std::cmp::Ordering> {
    if is_empty(v) {
        return None;
    }
    if let (Some(a), Some(b)) = (number(v), want.trim().parse::<f64>().ok()) {
        return a.partial_cmp(&b);
    }
    Some(norm(&text(v)).cmp(&norm(want)))
}

/// Checks rows as an administrator entered them. `known` are the field names that may be
/// tested; `allow_event_ops` is false where no event is at hand (webhook ticket
/// selection). Errors are keyed `{prefix}.{index}.{field|operator|value}`.
pub fn validate(
    conditions: &[Condition],
    known: &[String],
    allow_event_ops: bool,
    prefix: &str,
    errs: &mut FieldErrors,
) {
    for (i, c) in conditions.iter().enumerate() {
        let field = c.field.trim().to_ascii_lowercase();
        if field.is_empty() {
            errs.add(format!("{prefix}.{i}.field"), "choose a field");
        } else if !known.contains(&field) {
            errs.add(
                format!("{prefix}.{i}.field"),
                format!("unknown field `{}`", c.field.trim()),
            );
        }
        if c.operator.is_event_only() && !allow_event_ops {
            errs.add(
                format!("{prefix}.{i}.operator"),
                format!(
                    "`{}` needs an event and is only available in trigger rules",
                    c.operator.label()
                ),
            );
        }
        if c.operator.needs_value() && c.value.trim().is_empty() {
            errs.add(format!("{prefix}.{i}.value"), "a value is required");
        }
        crate::limits::check(errs, format!("{prefix}.{i}.value"), &c.value, 1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("ticket.subject".into(), json!("Printer on fire")),
            ("ticket.status".into(), json!("Open")),
            ("ticket.priority".into(), json!("P2 High")),
            ("ticket.priority.id".into(), json!("P2")),
            ("ticket.category".into(), json!("")),
            ("ticket.assignee".into(), Value::Null),
            ("ticket.it.cost".into(), json!(120.5)),
            ("ticket.it.due".into(), json!("2026-11-30")),
            ("ticket.assets".into(), json!([{"asset": "P2425"}])),
            ("ticket.noassets".into(), json!([])),
        ])
    }

    fn c(field: &str, op: Operator, value: &str) -> Condition {
        Condition {
            field: field.into(),
            operator: op,
            value: value.into(),
        }
    }

    fn m(field: &str, op: Operator, value: &str) -> bool {
        matches(&c(field, op, value), &values(), None)
    }

    fn changes() -> Changes {
        changes_from_json(&json!({
            "status": {"old": "Open", "new": "Resolved"},
            "ticket.priority": {"old": "P3 Medium", "new": "P3 Medium"},
        }))
    }

    fn mc(field: &str, op: Operator, value: &str) -> bool {
        matches(&c(field, op, value), &values(), Some(&changes()))
    }

    #[test]
    fn equals_ignores_case_and_spaces_and_compares_numbers_as_numbers() {
        assert!(m("ticket.status", Operator::Equals, "open"));
        assert!(m("Ticket.Status", Operator::Equals, "  OPEN "));
        assert!(!m("ticket.status", Operator::Equals, "Closed"));
        assert!(m("ticket.it.cost", Operator::Equals, "120.50"));
        assert!(m("ticket.assignee", Operator::Equals, ""));
        assert!(!m("ticket.unknown", Operator::Equals, "x"));
    }

    #[test]
    fn not_equals_is_the_negation_of_equals() {
        assert!(m("ticket.status", Operator::NotEquals, "Closed"));
        assert!(!m("ticket.status", Operator::NotEquals, "open"));
        assert!(m("ticket.assignee", Operator::NotEquals, "bob"));
    }

    #[test]
    fn contains_finds_a_substring_in_any_case() {
        assert!(m("ticket.subject", Operator::Contains, "ON FIRE"));
        assert!(!m("ticket.subject", Operator::Contains, "water"));
        assert!(m("ticket.assets", Operator::Contains, "P2425"));
        assert!(!m("ticket.assignee", Operator::Contains, "a"));
    }

    #[test]
    fn starts_with_checks_the_prefix() {
        assert!(m("ticket.subject", Operator::StartsWith, "printer"));
        assert!(!m("ticket.subject", Operator::StartsWith, "fire"));
        assert!(m("ticket.priority.id", Operator::StartsWith, "p"));
    }

    #[test]
    fn in_list_accepts_commas_and_line_breaks() {
        assert!(m(
            "ticket.status",
            Operator::InList,
            "Closed, open ,Pending"
        ));
        assert!(m("ticket.status", Operator::InList, "Closed\nOpen"));
        assert!(!m("ticket.status", Operator::InList, "Closed,Pending"));
        assert!(!m("ticket.status", Operator::InList, ""));
        assert!(m("ticket.it.cost", Operator::InList, "1, 120.5"));
    }

    #[test]
    fn is_empty_covers_null_blank_and_empty_rows() {
        assert!(m("ticket.assignee", Operator::IsEmpty, ""));
        assert!(m("ticket.category", Operator::IsEmpty, ""));
        assert!(m("ticket.noassets", Operator::IsEmpty, ""));
        assert!(m("ticket.missing", Operator::IsEmpty, ""));
        assert!(!m("ticket.subject", Operator::IsEmpty, ""));
        assert!(!m("ticket.assets", Operator::IsEmpty, ""));
        assert!(!m("ticket.it.cost", Operator::IsEmpty, ""));
    }

    #[test]
    fn is_not_empty_is_the_negation_of_is_empty() {
        assert!(m("ticket.subject", Operator::IsNotEmpty, ""));
        assert!(m("ticket.assets", Operator::IsNotEmpty, ""));
        assert!(!m("ticket.category", Operator::IsNotEmpty, ""));
        assert!(!m("ticket.assignee", Operator::IsNotEmpty, ""));
    }

    #[test]
    fn greater_than_compares_numbers_numerically_and_dates_as_text() {
        assert!(m("ticket.it.cost", Operator::GreaterThan, "99"));
        assert!(!m("ticket.it.cost", Operator::GreaterThan, "1000"));
        assert!(!m("ticket.it.cost", Operator::GreaterThan, "120.5"));
        assert!(m("ticket.it.due", Operator::GreaterThan, "2026-11-01"));
        assert!(!m("ticket.assignee", Operator::GreaterThan, "0"));
    }

    #[test]
    fn less_than_compares_numbers_numerically_and_dates_as_text() {
        assert!(m("ticket.it.cost", Operator::LessThan, "1000"));
        assert!(!m("ticket.it.cost", Operator::LessThan, "99"));
        assert!(m("ticket.it.due", Operator::LessThan, "2027-01-01"));
        assert!(m("ticket.priority.id", Operator::LessThan, "P3"));
        assert!(!m("ticket.assignee", Operator::LessThan, "zzz"));
    }

    #[test]
    fn changed_needs_an_event_and_a_real_difference() {
        assert!(mc("ticket.status", Operator::Changed, ""));
        assert!(!mc("ticket.priority", Operator::Changed, ""));
        assert!(!mc("ticket.subject", Operator::Changed, ""));
        assert!(!m("ticket.status", Operator::Changed, ""));
    }

    #[test]
    fn changed_to_checks_the_new_value() {
        assert!(mc("ticket.status", Operator::ChangedTo, "resolved"));
        assert!(!mc("ticket.status", Operator::ChangedTo, "Open"));
        assert!(!mc("ticket.priority", Operator::ChangedTo, "P3 Medium"));
        assert!(!m("ticket.status", Operator::ChangedTo, "Resolved"));
    }

    #[test]
    fn changed_from_checks_the_old_value() {
        assert!(mc("ticket.status", Operator::ChangedFrom, "open"));
        assert!(!mc("ticket.status", Operator::ChangedFrom, "Resolved"));
        assert!(!m("ticket.status", Operator::ChangedFrom, "Open"));
    }

    #[test]
    fn all_needs_every_row_any_needs_one_and_none_means_no_restriction() {
        let rows = [
            c("ticket.status", Operator::Equals, "Open"),
            c("ticket.subject", Operator::Contains, "water"),
        ];
        assert!(!evaluate(MatchMode::All, &rows, &values(), None));
        assert!(evaluate(MatchMode::Any, &rows, &values(), None));
        assert!(evaluate(MatchMode::All, &rows[..1], &values(), None));
        assert!(!evaluate(MatchMode::Any, &rows[1..], &values(), None));
        assert!(evaluate(MatchMode::All, &[], &values(), None));
        assert!(evaluate(MatchMode::Any, &[], &values(), None));
    }

    #[test]
    fn operators_parse_from_code_and_label() {
        for op in Operator::ALL {
            assert_eq!(Operator::parse(op.code()), Some(op));
            assert_eq!(Operator::parse(op.label()), Some(op));
        }
        assert_eq!(Operator::parse("bigger"), None);
        assert_eq!(MatchMode::parse("ANY"), Some(MatchMode::Any));
    }

    #[test]
    fn validation_reports_each_row_beside_its_field() {
        let known = vec!["ticket.status".to_string()];
        let rows = [
            c("ticket.status", Operator::Equals, "Open"),
            c("ticket.nope", Operator::Equals, ""),
            c("ticket.status", Operator::ChangedTo, "x"),
            c("", Operator::IsEmpty, ""),
        ];
        let mut errs = FieldErrors::new();
        validate(&rows, &known, false, "conditions", &mut errs);
        assert_eq!(errs.get("conditions.0.field"), None);
        assert!(
            errs.get("conditions.1.field")
                .unwrap()
                .contains("ticket.nope")
        );
        assert_eq!(errs.get("conditions.1.value"), Some("a value is required"));
        assert!(
            errs.get("conditions.2.operator")
                .unwrap()
                .contains("trigger rules")
        );
        assert_eq!(errs.get("conditions.3.field"), Some("choose a field"));
        let mut errs = FieldErrors::new();
        validate(&rows[2..3], &known, true, "conditions", &mut errs);
        assert!(errs.is_empty());
    }
}
