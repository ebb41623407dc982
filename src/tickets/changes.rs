//! What an update changed: the per-field differences of form values, and the history
//! entry and events written for a change (`ticket.updated`, `ticket.status_changed`,
//! `ticket.reassigned`, or `webhook.response_processed` for a webhook's response).

use serde_json::{Map, Value, json};

use super::model::{Changes, change, rows_json};
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
                let same = o == n || (o.is_null() && n == Value::Bool(false));
                if !same {
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
            if o != n {
                changes.insert(form.normalized_name.clone(), change(o, n));
            }
        }
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
