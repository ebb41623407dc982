//! Ticket fields by placeholder name (`ticket.category`, `ticket.<form>.<field>`): which
//! ones can be written, and setting one on a [`TicketPatch`]. Shared by webhook response
//! fields and actions and by trigger rules' "set field".

use serde_json::{Map, Value};

use super::TicketPatch;

/// Whether a placeholder name is a field a response or a rule may write (not the ids,
/// times and authors Hookdesk keeps itself, nor a select's `.id` alias).
pub fn writable(name: &str) -> bool {
    !matches!(
        name,
        "ticket.id"
            | "ticket.displayid"
            | "ticket.type"
            | "ticket.createdat"
            | "ticket.createdby"
            | "ticket.updatedat"
            | "ticket.updatedby"
            | "ticket.assigneeusername"
    ) && !name.ends_with(".id")
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl TicketPatch {
    /// Puts `v` where `target` (`ticket.category`, `ticket.<form>.<field>`,
    /// `ticket.<multi-line form>`) says; returns the value as shown.
    pub fn set(&mut self, target: &str, v: Value) -> std::result::Result<String, String> {
        let patch = self;
        let Some(name) = target.strip_prefix("ticket.") else {
            return Err(format!("`{target}` is not a ticket field"));
        };
        let as_text = |v: &Value| -> std::result::Result<String, String> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
                other => Err(format!(
                    "the value is {}, not a single value",
                    kind_of(other)
                )),
            }
        };
        let shown = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let core = |slot: &mut Option<String>| -> std::result::Result<(), String> {
            *slot = Some(as_text(&v)?);
            Ok(())
        };
        match name {
            "subject" => core(&mut patch.subject)?,
            "description" => core(&mut patch.description)?,
            "status" => core(&mut patch.status)?,
            "priority" => core(&mut patch.priority)?,
            "category" => core(&mut patch.category)?,
            "assignedgroup" => core(&mut patch.assigned_group)?,
            "requestername" => core(&mut patch.requester_name)?,
            "requesteremail" => core(&mut patch.requester_email)?,
            "assignee" => {
                let t = as_text(&v)?;
                patch.assignee = Some((!t.trim().is_empty()).then_some(t));
            }
            other => match other.split_once('.') {
                Some((form, field)) => {
                    let entry = patch
                        .forms
                        .entry(form.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = entry {
                        m.insert(field.to_string(), v);
                    }
                }
                // A multi-line form takes the whole list of rows.
                None => {
                    patch.forms.insert(other.to_string(), v);
                }
            },
        }
        Ok(shown)
    }
}
