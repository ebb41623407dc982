//! The history as people read it: each change under the field's label (a form's field
//! as "Form › Field"), and a multi-line form's rows as "Label: value" lines instead of
//! raw JSON. Form values read as the field shows them now (`values::field_text`: a
//! Number field with decimal places as `45.50`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::history::{self, ChangeLine, HistoryEntry};
use super::{Form, FormField, values};
use crate::db::DbConn;
use crate::error::Result;

/// One history entry with its change lines ready to show. Derefs to the entry.
#[derive(Debug, Clone)]
pub struct HistoryView {
    pub entry: HistoryEntry,
    pub lines: Vec<ChangeLine>,
}

impl std::ops::Deref for HistoryView {
    type Target = HistoryEntry;
    fn deref(&self) -> &HistoryEntry {
        &self.entry
    }
}

/// A multi-line form's columns by field key.
type Columns = BTreeMap<String, FormField>;

/// Labels of every change key: the ticket's own fields, `form.field`, and a
/// multi-line form's columns; and the form field behind each, which says how its values
/// read.
#[derive(Debug, Default)]
pub struct Labels {
    names: BTreeMap<String, String>,
    fields: BTreeMap<String, FormField>,
    columns: BTreeMap<String, Columns>,
}

const BASE: &[(&str, &str)] = &[
    ("subject", "Subject"),
    ("description", "Description"),
    ("status", "Status"),
    ("priority", "Priority"),
    ("category", "Category"),
    ("assignedgroup", "Assigned group"),
    ("assignee", "Assignee"),
    ("requestername", "Requester name"),
    ("requesteremail", "Requester email"),
    ("type", "Type"),
];

impl Labels {
    pub fn load(conn: &mut DbConn) -> Result<Labels> {
        let mut l = Labels::default();
        for (k, v) in BASE {
            l.names.insert((*k).into(), (*v).into());
        }
        for (form, fields) in Form::with_fields(conn, None)? {
            if form.multi_line {
                l.names
                    .insert(form.normalized_name.clone(), form.name.clone());
                l.columns.insert(
                    form.normalized_name.clone(),
                    fields
                        .into_iter()
                        .map(|f| (f.normalized_name.clone(), f))
                        .collect(),
                );
                continue;
            }
            for f in fields {
                let key = format!("{}.{}", form.normalized_name, f.normalized_name);
                l.names
                    .insert(key.clone(), format!("{} › {}", form.name, f.name));
                l.fields.insert(key, f);
            }
        }
        Ok(l)
    }

    fn line(&self, key: &str, old: Option<&Value>, new: Option<&Value>) -> ChangeLine {
        let (field, columns) = (self.fields.get(key), self.columns.get(key));
        ChangeLine {
            field: self.names.get(key).cloned().unwrap_or_else(|| key.into()),
            old: show(old, field, columns),
            new: show(new, field, columns),
        }
    }
}

/// A value for people: `—` for nothing, a form field's value as the field shows it, a
/// multi-line form's rows one per line as `Label: value, Label: value`.
fn show(v: Option<&Value>, field: Option<&FormField>, columns: Option<&Columns>) -> String {
    match v {
        Some(Value::Array(rows)) if rows.is_empty() => "no rows".into(),
        Some(Value::Array(rows)) => rows
            .iter()
            .map(|r| match r {
                Value::Object(cells) => cells
                    .iter()
                    .map(|(k, v)| {
                        let column = columns.and_then(|c| c.get(k));
                        let label = column.map_or(k.as_str(), |f| f.name.as_str());
                        format!("{label}: {}", show(Some(v), column, None))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => show(Some(other), None, None),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) if s.is_empty() => "—".into(),
        Some(v) => match field {
            Some(f) => values::field_text(f, v),
            None => values::text_of(v),
        },
    }
}

/// A ticket's history, oldest first, ready to show.
pub fn for_people(conn: &mut DbConn, ticket_id: i64) -> Result<Vec<HistoryView>> {
    let labels = Labels::load(conn)?;
    Ok(history::list(conn, ticket_id)?
        .into_iter()
        .map(|entry| {
            let changes: serde_json::Map<String, Value> =
                serde_json::from_str(&entry.changes).unwrap_or_default();
            let lines = changes
                .iter()
                .map(|(k, c)| labels.line(k, c.get("old"), c.get("new")))
                .collect();
            HistoryView { entry, lines }
        })
        .collect())
}
