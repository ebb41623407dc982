//! Stored custom form values of tickets: one row per ticket for a single form, any
//! number for a multi-line form. Reads turn them into JSON keyed by field name.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Map, Number, Value};

use super::forms::{FieldType, Form, FormField};
use super::validation;
use super::{TicketType, normalize_name};
use crate::db::DbConn;
use crate::db::schema::ticket_form_rows;
use crate::error::{Error, FieldErrors, Result};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_form_rows)]
pub struct StoredRow {
    pub id: i64,
    pub ticket_id: i64,
    pub form_id: i64,
    pub data: String,
    pub created_at: chrono::NaiveDateTime,
}

impl StoredRow {
    pub fn values(&self) -> Map<String, Value> {
        serde_json::from_str(&self.data).unwrap_or_default()
    }
}

/// A form as it appears on one ticket, for pages.
#[derive(Debug, Clone)]
pub struct TicketForm {
    pub form: Form,
    pub fields: Vec<FormField>,
    /// (row id, values by field name, display text by field name).
    pub rows: Vec<FormRow>,
}

#[derive(Debug, Clone)]
pub struct FormRow {
    pub id: i64,
    /// Stored values by field name (select = option id), for edit inputs.
    pub raw: BTreeMap<String, String>,
    /// What people read, by field name.
    pub shown: BTreeMap<String, String>,
}

impl FormRow {
    /// Whether this row is the one being edited.
    pub fn is(&self, editing: &Option<i64>) -> bool {
        *editing == Some(self.id)
    }
}

impl TicketForm {
    pub fn single(&self) -> Option<&FormRow> {
        self.rows.first()
    }
}

pub fn rows_of(conn: &mut DbConn, ticket_id: i64) -> Result<Vec<StoredRow>> {
    Ok(ticket_form_rows::table
        .filter(ticket_form_rows::ticket_id.eq(ticket_id))
        .order(ticket_form_rows::id.asc())
        .select(StoredRow::as_select())
        .load(conn)?)
}

/// A stored value as JSON: select as display value or id, as asked.
pub fn typed(field: &FormField, v: Option<&Value>, ids: bool) -> Value {
    let v = v.cloned().unwrap_or(Value::Null);
    if field.kind() == FieldType::Select
        && !ids
        && let Value::String(id) = &v
    {
        return field
            .option_list()
            .into_iter()
            .find(|o| &o.id == id)
            .map(|o| Value::String(o.value))
            .unwrap_or(v);
    }
    v
}

/// One row as `{field name: value}`.
pub fn row_json(fields: &[FormField], data: &Map<String, Value>, ids: bool) -> Value {
    let mut m = Map::new();
    for f in fields {
        m.insert(
            f.normalized_name.clone(),
            typed(f, data.get(&f.id.to_string()), ids),
        );
    }
    Value::Object(m)
}

/// A value as people read it: nothing as empty, booleans as Yes / No, the rest as JSON
/// writes it. A form field's value is shown with `field_text`, which knows its field.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "Yes".into(),
        Value::Bool(false) => "No".into(),
        other => other.to_string(),
    }
}

/// A form field's value as people read it, wherever it is shown as text (the ticket
/// page, the history, text templates): `text_of`, except that a Number field with
/// decimal places shows exactly that many (`45.5` with 2 → `45.50`). A value stored with
/// more (the decimal places were lowered since) shows as stored, never rounded.
pub fn field_text(field: &FormField, v: &Value) -> String {
    if let (Some(places), Value::Number(n)) = (field.decimals(), v)
        && let Some(s) = fixed(n, places)
    {
        return s;
    }
    text_of(v)
}

/// How many decimals a number has when written out in full: `45.5` → 1, `7` → 0.
pub fn decimals_of(n: &Number) -> usize {
    decimals_in(&written_out(n))
}

fn decimals_in(s: &str) -> usize {
    s.split_once('.').map_or(0, |(_, d)| d.len())
}

/// A number in full without an exponent (`1e-7` → `0.0000001`): integers exactly, a
/// float as the shortest text that reads back as the same float.
fn written_out(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.as_f64().map_or_else(|| n.to_string(), |x| x.to_string())
    }
}

/// `n` with exactly `places` decimals, padded with zeros; `None` when it has more.
fn fixed(n: &Number, places: usize) -> Option<String> {
    let mut s = written_out(n);
    let have = decimals_in(&s);
    if have > places {
        return None;
    }
    if places > 0 && have == 0 {
        s.push('.');
    }
    s.extend(std::iter::repeat_n('0', places - have));
    Some(s)
}

/// The forms that apply to the ticket's type, with their rows.
pub fn ticket_forms(conn: &mut DbConn, ticket_id: i64, t: TicketType) -> Result<Vec<TicketForm>> {
    let rows = rows_of(conn, ticket_id)?;
    let mut out = Vec::new();
    for (form, fields) in Form::with_fields(conn, Some(t))? {
        let mut frows = Vec::new();
        for r in rows.iter().filter(|r| r.form_id == form.id) {
            let data = r.values();
            let mut raw = BTreeMap::new();
            let mut shown = BTreeMap::new();
            for f in &fields {
                let key = f.id.to_string();
                raw.insert(
                    f.normalized_name.clone(),
                    field_text(f, &typed(f, data.get(&key), true)),
                );
                shown.insert(
                    f.normalized_name.clone(),
                    field_text(f, &typed(f, data.get(&key), false)),
                );
            }
            frows.push(FormRow {
                id: r.id,
                raw,
                shown,
            });
        }
        out.push(TicketForm {
            form,
            fields,
            rows: frows,
        });
    }
    Ok(out)
}

/// What a create or update asks of one form, validated and ready to store.
pub enum FormWrite {
    Single {
        form: Form,
        fields: Vec<FormField>,
        data: Map<String, Value>,
    },
    Rows {
        form: Form,
        fields: Vec<FormField>,
        rows: Vec<Map<String, Value>>,
    },
}

/// Validates `forms` input (`{form name: {field: value}}` for single forms, `[{…}, …]`
/// for multi-line ones, which replaces all rows) against the forms of type `t`.
/// `existing` gives stored rows, so single forms update only the fields sent.
pub fn validate_forms(
    conn: &mut DbConn,
    t: TicketType,
    input: &BTreeMap<String, Value>,
    existing: &[StoredRow],
    errs: &mut FieldErrors,
) -> Result<Vec<FormWrite>> {
    let all = Form::with_fields(conn, None)?;
    let mut out = Vec::new();
    for (key, v) in input {
        let n = normalize_name(key);
        let Some((form, fields)) = all.iter().find(|(f, _)| f.normalized_name == n) else {
            errs.add(format!("forms.{key}"), "is not a form");
            continue;
        };
        if !form.applies_to(t) {
            errs.add(
                format!("forms.{key}"),
                format!("does not apply to {} tickets", t.name()),
            );
            continue;
        }
        let prefix = format!("forms.{n}");
        if form.multi_line {
            let Value::Array(items) = v else {
                errs.add(prefix, "is a multi-line form: send an array of rows");
                continue;
            };
            let mut rows = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Value::Object(m) = item else {
                    errs.add(format!("{prefix}[{i}]"), "must be an object");
                    continue;
                };
                rows.push(validation::validate_row(
                    fields,
                    m,
                    None,
                    &format!("{prefix}[{i}]"),
                    errs,
                ));
            }
            out.push(FormWrite::Rows {
                form: form.clone(),
                fields: fields.clone(),
                rows,
            });
        } else {
            let Value::Object(m) = v else {
                errs.add(prefix, "must be an object of field values");
                continue;
            };
            let old = existing
                .iter()
                .find(|r| r.form_id == form.id)
                .map(StoredRow::values);
            let data = validation::validate_row(fields, m, old.as_ref(), &prefix, errs);
            out.push(FormWrite::Single {
                form: form.clone(),
                fields: fields.clone(),
                data,
            });
        }
    }
    Ok(out)
}

fn to_text(m: &Map<String, Value>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))
}

pub fn insert_row(
    conn: &mut DbConn,
    ticket_id: i64,
    form_id: i64,
    data: &Map<String, Value>,
) -> Result<()> {
    diesel::insert_into(ticket_form_rows::table)
        .values((
            ticket_form_rows::ticket_id.eq(ticket_id),
            ticket_form_rows::form_id.eq(form_id),
            ticket_form_rows::data.eq(to_text(data)?),
            ticket_form_rows::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn update_row(conn: &mut DbConn, row_id: i64, data: &Map<String, Value>) -> Result<()> {
    diesel::update(ticket_form_rows::table.find(row_id))
        .set(ticket_form_rows::data.eq(to_text(data)?))
        .execute(conn)?;
    Ok(())
}

pub fn delete_row(conn: &mut DbConn, row_id: i64) -> Result<()> {
    diesel::delete(ticket_form_rows::table.find(row_id)).execute(conn)?;
    Ok(())
}

pub fn delete_rows(conn: &mut DbConn, ticket_id: i64, form_id: i64) -> Result<()> {
    diesel::delete(
        ticket_form_rows::table
            .filter(ticket_form_rows::ticket_id.eq(ticket_id))
            .filter(ticket_form_rows::form_id.eq(form_id)),
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn number_field(places: Option<i32>) -> FormField {
        FormField {
            id: 1,
            form_id: 1,
            name: "Amount".into(),
            normalized_name: "amount".into(),
            field_type: "number".into(),
            required: false,
            position: 1,
            options: "[]".into(),
            decimal_places: places,
        }
    }

    #[test]
    fn a_number_field_with_decimal_places_shows_exactly_that_many() {
        let two = number_field(Some(2));
        assert_eq!(field_text(&two, &json!(45.5)), "45.50");
        assert_eq!(field_text(&two, &json!(7)), "7.00");
        assert_eq!(field_text(&two, &json!(-0.1)), "-0.10");
        assert_eq!(field_text(&two, &json!(12.34)), "12.34");
        assert_eq!(field_text(&two, &Value::Null), "");
        // Stored before the places were lowered: as stored, not rounded.
        assert_eq!(field_text(&two, &json!(1.234)), "1.234");
        let none = number_field(Some(0));
        assert_eq!(field_text(&none, &json!(45)), "45");
        assert_eq!(field_text(&none, &json!(u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn without_decimal_places_or_on_another_type_a_value_shows_as_stored() {
        assert_eq!(field_text(&number_field(None), &json!(45.5)), "45.5");
        let mut text = number_field(Some(2));
        text.field_type = "text".into();
        assert_eq!(field_text(&text, &json!("45.5")), "45.5");
    }

    #[test]
    fn decimals_are_counted_in_the_number_written_out() {
        let n = |v: Value| match v {
            Value::Number(n) => decimals_of(&n),
            _ => unreachable!(),
        };
        assert_eq!(n(json!(45.5)), 1);
        assert_eq!(n(json!(7)), 0);
        assert_eq!(n(json!(1.234)), 3);
        assert_eq!(n(json!(1e-7)), 7);
        assert_eq!(n(json!(1e21)), 0);
    }
}
