//! A form's fields as administrators edit them: the input, its checks (name unique in
//! the form, a type, options for a single select, decimal places for a number), and
//! adding, changing, deleting and moving a field, each with its audit row. The forms
//! themselves and reading fields are in `forms.rs`.

use diesel::prelude::*;

use super::forms::{FieldType, Form, FormField, MAX_DECIMAL_PLACES, SelectOption};
use super::normalize_name;
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::form_fields;
use crate::error::{Error, FieldErrors, Result};

/// What an administrator gives for a field. `options` is one `id = Display` per line;
/// `decimal_places` is as typed, empty for none (Number fields only).
#[derive(Debug, Clone, Default)]
pub struct FieldInput {
    pub name: String,
    pub field_type: String,
    pub required: bool,
    pub options: String,
    pub decimal_places: String,
}

/// Parses the decimal places typed for a field of type `kind`: empty is none; a number
/// from 0 to `MAX_DECIMAL_PLACES` on a Number field only.
pub fn parse_decimal_places(
    text: &str,
    kind: Option<FieldType>,
) -> std::result::Result<Option<i32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if kind.is_some_and(|k| k != FieldType::Number) {
        return Err("only Number fields have decimal places; leave it empty".into());
    }
    match text.parse::<i32>() {
        Ok(n) if (0..=MAX_DECIMAL_PLACES).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "must be a whole number from 0 to {MAX_DECIMAL_PLACES}, or empty"
        )),
    }
}

/// Parses `id = Display` lines; a line without `=` uses its text as both.
pub fn parse_options(text: &str) -> std::result::Result<Vec<SelectOption>, String> {
    let mut out: Vec<SelectOption> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (id, value) = match line.split_once('=') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (line, line),
        };
        if id.is_empty() || value.is_empty() {
            return Err(format!("option “{line}” needs an id and a display value"));
        }
        if out.iter().any(|o| o.id == id) {
            return Err(format!("option id “{id}” is used twice"));
        }
        out.push(SelectOption {
            id: id.into(),
            value: value.into(),
        });
    }
    Ok(out)
}

/// A field's input, checked and ready to store.
struct ValidField {
    normalized_name: String,
    kind: FieldType,
    /// JSON array of `SelectOption`.
    options: String,
    decimal_places: Option<i32>,
}

fn validate_field(
    conn: &mut DbConn,
    form_id: i64,
    id: Option<i64>,
    input: &FieldInput,
) -> Result<ValidField> {
    let mut errs = FieldErrors::new();
    let name = input.name.trim();
    let norm = normalize_name(name);
    if name.is_empty() {
        errs.add("field_name", "is required");
    } else if norm.is_empty() {
        errs.add("field_name", "must contain at least one letter or digit");
    } else if crate::limits::check(&mut errs, "field_name", name, 80) {
        let clash: Option<i64> = form_fields::table
            .filter(form_fields::form_id.eq(form_id))
            .filter(form_fields::normalized_name.eq(&norm))
            .select(form_fields::id)
            .get_result(conn)
            .optional()?;
        if clash.is_some_and(|c| Some(c) != id) {
            errs.add(
                "field_name",
                format!("this form already has a field named “{norm}”"),
            );
        }
    }
    let kind = FieldType::parse(&input.field_type);
    if kind.is_none() {
        errs.add("field_type", "choose a field type");
    }
    let mut options = Vec::new();
    if kind == Some(FieldType::Select)
        && crate::limits::check(&mut errs, "options", &input.options, 20_000)
    {
        match parse_options(&input.options) {
            Ok(o) if o.is_empty() => errs.add("options", "a single select needs options"),
            Ok(o) => options = o,
            Err(e) => errs.add("options", e),
        }
    }
    let decimal_places = match parse_decimal_places(&input.decimal_places, kind) {
        Ok(p) => p,
        Err(e) => {
            errs.add("decimal_places", e);
            None
        }
    };
    errs.into_result()?;
    let opts = serde_json::to_string(&options).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(ValidField {
        normalized_name: norm,
        kind: kind.unwrap_or(FieldType::Text),
        options: opts,
        decimal_places,
    })
}

impl FormField {
    pub fn get(conn: &mut DbConn, id: i64) -> Result<FormField> {
        form_fields::table
            .find(id)
            .select(FormField::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("field".into()))
    }

    /// The field `id` of form `form_id`; a field of another form is not found.
    fn get_in_form(conn: &mut DbConn, form_id: i64, id: i64) -> Result<FormField> {
        let f = FormField::get(conn, id)?;
        if f.form_id != form_id {
            return Err(Error::NotFound("field".into()));
        }
        Ok(f)
    }

    /// How the audit log names a field.
    fn audit_target(&self) -> String {
        format!("form {} field {}", self.form_id, self.name)
    }

    /// What the audit log says of a field's settings.
    fn audit_detail(&self) -> String {
        match self.decimal_places {
            Some(p) => format!("{}; decimal places: {p}", self.field_type),
            None => self.field_type.clone(),
        }
    }

    /// Appends a field at the end of the form, with its audit row.
    pub fn add(
        conn: &mut DbConn,
        actor: &Actor,
        form_id: i64,
        input: &FieldInput,
    ) -> Result<FormField> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            Form::get(c, form_id)?;
            let v = validate_field(c, form_id, None, input)?;
            let last: Option<i32> = form_fields::table
                .filter(form_fields::form_id.eq(form_id))
                .select(diesel::dsl::max(form_fields::position))
                .first(c)?;
            diesel::insert_into(form_fields::table)
                .values((
                    form_fields::form_id.eq(form_id),
                    form_fields::name.eq(input.name.trim()),
                    form_fields::normalized_name.eq(&v.normalized_name),
                    form_fields::field_type.eq(v.kind.code()),
                    form_fields::required.eq(input.required),
                    form_fields::position.eq(last.unwrap_or(0) + 1),
                    form_fields::options.eq(&v.options),
                    form_fields::decimal_places.eq(v.decimal_places),
                ))
                .execute(c)?;
            let f: FormField = form_fields::table
                .filter(form_fields::form_id.eq(form_id))
                .filter(form_fields::normalized_name.eq(&v.normalized_name))
                .select(FormField::as_select())
                .first(c)?;
            let target = f.audit_target();
            audit::record(
                c,
                actor,
                "form.field_add",
                &target,
                audit::SUCCESS,
                &f.audit_detail(),
            )?;
            Ok(f)
        })
    }

    /// Saves field `id` of form `form_id`, with its audit row. Changing a field's type
    /// or its decimal places keeps stored values; values that no longer fit show as they
    /// were stored until edited.
    pub fn update(
        conn: &mut DbConn,
        actor: &Actor,
        form_id: i64,
        id: i64,
        input: &FieldInput,
    ) -> Result<FormField> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let f = FormField::get_in_form(c, form_id, id)?;
            let v = validate_field(c, f.form_id, Some(id), input)?;
            diesel::update(form_fields::table.find(id))
                .set((
                    form_fields::name.eq(input.name.trim()),
                    form_fields::normalized_name.eq(&v.normalized_name),
                    form_fields::field_type.eq(v.kind.code()),
                    form_fields::required.eq(input.required),
                    form_fields::options.eq(&v.options),
                    form_fields::decimal_places.eq(v.decimal_places),
                ))
                .execute(c)?;
            let f = FormField::get(c, id)?;
            let target = f.audit_target();
            audit::record(
                c,
                actor,
                "form.field_update",
                &target,
                audit::SUCCESS,
                &f.audit_detail(),
            )?;
            Ok(f)
        })
    }

    /// Deletes field `id` of form `form_id`, with its audit row.
    pub fn delete(conn: &mut DbConn, actor: &Actor, form_id: i64, id: i64) -> Result<FormField> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let f = FormField::get_in_form(c, form_id, id)?;
            diesel::delete(form_fields::table.find(id)).execute(c)?;
            let target = f.audit_target();
            audit::record(c, actor, "form.field_delete", &target, audit::SUCCESS, "")?;
            Ok(f)
        })
    }

    /// Swaps field `id` of form `form_id` with its neighbour above (`up`) or below,
    /// renumbering the form, with its audit row.
    pub fn reorder(
        conn: &mut DbConn,
        actor: &Actor,
        form_id: i64,
        id: i64,
        up: bool,
    ) -> Result<FormField> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let f = FormField::get_in_form(c, form_id, id)?;
            let mut all = Form::fields(c, f.form_id)?;
            if let Some(i) = all.iter().position(|x| x.id == id) {
                let j = if up { i.checked_sub(1) } else { Some(i + 1) };
                if let Some(j) = j.filter(|j| *j < all.len()) {
                    all.swap(i, j);
                }
            }
            for (pos, x) in all.iter().enumerate() {
                diesel::update(form_fields::table.find(x.id))
                    .set(form_fields::position.eq(pos as i32 + 1))
                    .execute(c)?;
            }
            let dir = if up { "up" } else { "down" };
            let target = f.audit_target();
            audit::record(c, actor, "form.field_move", &target, audit::SUCCESS, dir)?;
            Ok(f)
        })
    }
}
