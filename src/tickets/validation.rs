//! Typed validation of custom form values. Input comes as JSON (API) or as strings
//! (pages); what is stored is typed JSON: strings, numbers, booleans, dates as
//! `YYYY-MM-DD` and single selects as the option id.

use serde_json::{Map, Value};

use super::forms::{FieldType, FormField};
use super::{normalize_name, values};
use crate::error::FieldErrors;

/// Converts one input value to what is stored; `Null` means "no value".
pub fn coerce(field: &FormField, v: &Value) -> Result<Value, String> {
    let text = match v {
        Value::Null => return Ok(empty_value(field)),
        Value::String(s) if s.trim().is_empty() => return Ok(empty_value(field)),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => return Err("must be a single value".into()),
    };
    match field.kind() {
        FieldType::Text | FieldType::MultilineText => {
            let raw = match v {
                Value::String(s) => unix_newlines(s),
                _ => text,
            };
            if let Some(m) = crate::limits::too_long(&raw, 10_000) {
                return Err(m);
            }
            Ok(Value::String(raw))
        }
        FieldType::Number => {
            let n = match v {
                Value::Number(n) => n.clone(),
                _ => match text.parse::<i64>() {
                    Ok(i) => i.into(),
                    Err(_) => text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .ok_or_else(|| format!("“{text}” is not a number"))?,
                },
            };
            check_decimals(field, &n)?;
            Ok(Value::Number(n))
        }
        FieldType::Date => {
            let norm = text.replace('/', "-");
            chrono::NaiveDate::parse_from_str(&norm, "%Y-%m-%d")
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| format!("“{text}” is not a date (YYYY-MM-DD)"))
        }
        FieldType::Checkbox => match text.to_ascii_lowercase().as_str() {
            "true" | "on" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "off" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(format!("“{text}” is not true or false")),
        },
        FieldType::Select => {
            let opts = field.option_list();
            if let Some(o) = opts.iter().find(|o| o.id == text) {
                return Ok(Value::String(o.id.clone()));
            }
            if let Some(o) = opts.iter().find(|o| o.value.eq_ignore_ascii_case(&text)) {
                return Ok(Value::String(o.id.clone()));
            }
            let names: Vec<String> = opts.iter().map(|o| o.value.clone()).collect();
            Err(format!(
                "“{text}” is not one of the options: {}",
                names.join(", ")
            ))
        }
    }
}

/// Text with its line breaks as stored, `\n`. Browsers send a textarea's line breaks as
/// CRLF while the API and Hookdesk's own texts send LF: stored as sent, saving the edit
/// page unchanged turned every multi-line text into a change.
pub fn unix_newlines(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    }
}

/// Refuses a number with more decimals than its field allows. Trailing zeros are not
/// decimals: `45.500` is `45.5`, stored and shown as `45.50` with two places.
fn check_decimals(field: &FormField, n: &serde_json::Number) -> Result<(), String> {
    let Some(places) = field.decimals() else {
        return Ok(());
    };
    if values::decimals_of(n) <= places {
        return Ok(());
    }
    let name = &field.name;
    Err(match places {
        0 => format!("{name} allows no decimal places"),
        1 => format!("{name} allows at most 1 decimal place"),
        p => format!("{name} allows at most {p} decimal places"),
    })
}

fn empty_value(field: &FormField) -> Value {
    if field.kind() == FieldType::Checkbox {
        Value::Bool(false)
    } else {
        Value::Null
    }
}

pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Validates one set of values (a single form, or one row of a multi-line form) given
/// by field name, into stored data keyed by field id. With `old`, fields not given keep
/// their stored value (a partial update). Errors are named `<prefix>.<field>`.
pub fn validate_row(
    fields: &[FormField],
    input: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    prefix: &str,
    errs: &mut FieldErrors,
) -> Map<String, Value> {
    for key in input.keys() {
        let n = normalize_name(key);
        if !fields.iter().any(|f| f.normalized_name == n) {
            errs.add(format!("{prefix}.{key}"), "is not a field of this form");
        }
    }
    let mut out = Map::new();
    for f in fields {
        let given = input
            .iter()
            .find(|(k, _)| normalize_name(k) == f.normalized_name)
            .map(|(_, v)| v);
        let key = f.id.to_string();
        let value = match given {
            Some(v) => match coerce(f, v) {
                Ok(v) => v,
                Err(m) => {
                    errs.add(format!("{prefix}.{}", f.normalized_name), m);
                    continue;
                }
            },
            None => old
                .and_then(|o| o.get(&key).cloned())
                .unwrap_or_else(|| empty_value(f)),
        };
        if f.required && f.kind() != FieldType::Checkbox && is_empty(&value) {
            errs.add(format!("{prefix}.{}", f.normalized_name), "is required");
            continue;
        }
        out.insert(key, value);
    }
    out
}
