//! What an update changed: the per-field differences of form values, and the history
//! entry and events written for a change (`ticket.updated`, `ticket.status_changed`,
//! `ticket.reassigned`, or `webhook.response_processed` for a webhook's response).

use serde_json::{Map, Value, json};

use super::model::{Changes, change, rows_json};
use super::validation::unix_newlines;
use super::values::{self, FormWrite};
use super::{ChangeActor, ResponseOrigin, events, history};
use crate::db::DbConn;
use crate::error::Result;

pub(super) fn form_changes(w: &FormWrite, existing: &[values::StoredRow], changes: &mut Changes) {
    match w {
        FormWrite::Single { form, fields, data } => {
            let old = existing
                .iter()
                .find(|r| r.form_id == form.id)
                .map(values::StoredRow::values)
                .unwrap_or_default();
            for f in fields {
                let k = f.id.to_string();
                let (o, n) = (
                    values::typed(f, old.get(&k), false),
                    values::typed(f, data.get(&k), false),
                );
                // A missing checkbox and an unticked one mean the same thing.
                let unchanged = same(&o, &n) || (o.is_null() && n == Value::Bool(false));
                if !unchanged {
                    changes.insert(
                        format!("{}.{}", form.normalized_name, f.normalized_name),
                        change(o, n),
                    );
                }
            }
        }
        FormWrite::Rows { form, fields, rows } => {
            let old: Vec<Map<String, Value>> = existing
                .iter()
                .filter(|r| r.form_id == form.id)
                .map(values::StoredRow::values)
                .collect();
            let (o, n) = (rows_json(fields, &old), rows_json(fields, rows));
            if !same(&o, &n) {
                changes.insert(form.normalized_name.clone(), change(o, n));
            }
        }
    }
}

/// Whether a value is unchanged as people read it. Numbers compare by value: the edit
/// page shows a stored integer 7 as `7.00` with two decimal places, which comes back as
/// the float 7.0. Text compares with its line breaks as stored now: values written
/// before input was normalised hold the CRLF that browsers send.
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        (Value::String(x), Value::String(y)) => x == y || unix_newlines(x) == unix_newlines(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// History entry and events for an update. A user's update that changed something gets
/// a field-change entry and `ticket.updated` (plus `ticket.status_changed` and
/// `ticket.reassigned` when those changed). A webhook's response always gets its own
/// "response processed" entry and `webhook.response_processed`, even when no field
/// changed; the ticket events follow only when the webhook lets rules run after its
/// response, so by default no rule reacts to what a response wrote (loop breaking).
/// The caller has set the ticket's `updated_at` and `updated_by` (with its own update of
/// the row, or `model::touch`).
pub(super) fn finish_update(
    c: &mut DbConn,
    actor: &ChangeActor,
    id: i64,
    changes: &Changes,
    webhook: Option<&ResponseOrigin>,
    sink: &dyn events::Sink,
) -> Result<Vec<events::Event>> {
    let mut out = Vec::new();
    let ch = Value::Object(changes.clone().into_iter().collect());
    if let Some(o) = webhook {
        let mut body = format!("Response of webhook “{}” processed", o.webhook_name);
        if !o.summary.is_empty() {
            body.push_str(": ");
            body.push_str(&o.summary);
        }
        history::record(c, id, history::WEBHOOK_RESPONSE, actor, &body, false, &ch)?;
        out.push(events::record(
            c,
            events::WEBHOOK_RESPONSE_PROCESSED,
            id,
            actor,
            &json!({
                "webhook": o.webhook_name,
                "webhook_id": o.webhook_id,
                "delivery": o.delivery_uid,
                "run_rules": o.run_rules,
                "changes": ch,
            }),
            sink,
        )?);
        if !o.run_rules || changes.is_empty() {
            return Ok(out);
        }
    } else {
        history::record(c, id, history::FIELD_CHANGE, actor, "", false, &ch)?;
    }
    out.push(events::record(
        c,
        events::TICKET_UPDATED,
        id,
        actor,
        &json!({ "changes": ch }),
        sink,
    )?);
    if let Some(s) = changes.get("status") {
        out.push(events::record(
            c,
            events::TICKET_STATUS_CHANGED,
            id,
            actor,
            &json!({ "changes": { "status": s } }),
            sink,
        )?);
    }
    if let Some(a) = changes.get("assignee") {
        out.push(events::record(
            c,
            events::TICKET_REASSIGNED,
            id,
            actor,
            &json!({ "changes": { "assignee": a } }),
            sink,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value_and_text_by_its_line_breaks_as_stored() {
        assert!(same(&json!(7), &json!(7.0)));
        assert!(same(&json!([{"n": 7}]), &json!([{"n": 7.0}])));
        assert!(!same(&json!(7), &json!(7.5)));
        assert!(!same(
            &json!(9_007_199_254_740_993_i64),
            &json!(9_007_199_254_740_992_i64)
        ));
        assert!(same(&json!("a\r\nb\rc"), &json!("a\nb\nc")));
        assert!(!same(&json!("a\nb"), &json!("a b")));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
