//! Custom forms defined by administrators: a name, the ticket types it applies to,
//! single or multi-line, and ordered, typed fields. Values live in `values.rs`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{TicketType, normalize_name};
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{form_fields, forms, ticket_form_rows};
use crate::error::{Error, FieldErrors, Result};

/// Ticket JSON keys a form may not take, so `ticket.<form>` never shadows a field.
pub const RESERVED_NAMES: &[&str] = &[
    "id",
    "url",
    "displayid",
    "type",
    "subject",
    "description",
    "status",
    "priority",
    "category",
    "assignedgroup",
    "assignee",
    "assigneeusername",
    "requestername",
    "requesteremail",
    "createdat",
    "createdby",
    "updatedat",
    "updatedby",
    "forms",
    "history",
];

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = forms)]
pub struct Form {
    pub id: i64,
    pub name: String,
    pub normalized_name: String,
    pub multi_line: bool,
    /// Comma-separated type codes (`IN,SR`); empty means none.
    pub ticket_types: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = form_fields)]
pub struct FormField {
    pub id: i64,
    pub form_id: i64,
    pub name: String,
    pub normalized_name: String,
    pub field_type: String,
    pub required: bool,
    pub position: i32,
    /// JSON array of `SelectOption`.
    pub options: String,
    /// A Number field's decimal places (0–`MAX_DECIMAL_PLACES`): values show with exactly
    /// this many and input with more is refused. `None`: shown as stored.
    pub decimal_places: Option<i32>,
}

/// The most decimal places a Number field may ask for.
pub const MAX_DECIMAL_PLACES: i32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    MultilineText,
    Number,
    Date,
    Checkbox,
    Select,
}

impl FieldType {
    pub const ALL: [FieldType; 6] = [
        FieldType::Text,
        FieldType::MultilineText,
        FieldType::Number,
        FieldType::Date,
        FieldType::Checkbox,
        FieldType::Select,
    ];
    pub fn code(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::MultilineText => "textarea",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Checkbox => "checkbox",
            FieldType::Select => "select",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            FieldType::Text => "Text",
            FieldType::MultilineText => "Multi-line text",
            FieldType::Number => "Number",
            FieldType::Date => "Date",
            FieldType::Checkbox => "Checkbox",
            FieldType::Select => "Single select",
        }
    }
    pub fn parse(s: &str) -> Option<FieldType> {
        Self::ALL.into_iter().find(|t| t.code() == s)
    }
}

/// One option of a single select: a stable id and what people see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SelectOption {
    pub id: String,
    pub value: String,
}

impl FormField {
    pub fn kind(&self) -> FieldType {
        FieldType::parse(&self.field_type).unwrap_or(FieldType::Text)
    }
    pub fn option_list(&self) -> Vec<SelectOption> {
        serde_json::from_str(&self.options).unwrap_or_default()
    }
    /// The decimal places of a Number field that has them.
    pub fn decimals(&self) -> Option<usize> {
        if self.kind() != FieldType::Number {
            return None;
        }
        self.decimal_places.and_then(|p| usize::try_from(p).ok())
    }
    /// The decimal places as the admin page edits them: empty when not set.
    pub fn decimal_places_text(&self) -> String {
        self.decimal_places
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
    /// The options as the admin page edits them: one `id = Display` per line.
    pub fn options_text(&self) -> String {
        self.option_list()
            .iter()
            .map(|o| format!("{} = {}", o.id, o.value))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Form {
    pub fn types(&self) -> Vec<TicketType> {
        self.ticket_types
            .split(',')
            .filter_map(TicketType::parse)
            .collect()
    }
    pub fn applies_to(&self, t: TicketType) -> bool {
        self.types().contains(&t)
    }
    pub fn type_names(&self) -> String {
        self.types()
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What an administrator gives for a form.
#[derive(Debug, Clone, Default)]
pub struct FormInput {
    pub name: String,
    pub multi_line: bool,
    pub ticket_types: Vec<String>,
}

/// Every form with its fields (see [`Form::with_fields`]).
static FORMS: crate::db::versioned::Versioned<(), Vec<(Form, Vec<FormField>)>> =
    crate::db::versioned::Versioned::new("forms.version");

impl Form {
    pub fn list(conn: &mut DbConn) -> Result<Vec<Form>> {
        Ok(forms::table
            .order(forms::name.asc())
            .select(Form::as_select())
            .load(conn)?)
    }

    pub fn get(conn: &mut DbConn, id: i64) -> Result<Form> {
        forms::table
            .find(id)
            .select(Form::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("form".into()))
    }

    pub fn fields(conn: &mut DbConn, form_id: i64) -> Result<Vec<FormField>> {
        Ok(form_fields::table
            .filter(form_fields::form_id.eq(form_id))
            .order((form_fields::position.asc(), form_fields::id.asc()))
            .select(FormField::as_select())
            .load(conn)?)
    }

    /// Every form with its fields, optionally only those applying to `t`. Every ticket
    /// change and every rendered webhook reads them, so they come from a per-process
    /// cache checked against the forms version (`db::versioned`): one statement.
    pub fn with_fields(
        conn: &mut DbConn,
        t: Option<TicketType>,
    ) -> Result<Vec<(Form, Vec<FormField>)>> {
        let all = FORMS.get(conn, (), Form::load_with_fields)?;
        Ok(all
            .iter()
            .filter(|(f, _)| t.is_none_or(|t| f.applies_to(t)))
            .cloned()
            .collect())
    }

    /// Marks the cached forms stale: every write of a form or a field calls it in its
    /// transaction (`db::versioned`, invariant 1). Migration `000015_definition_versions` seeds the version.
    pub(super) fn bump(c: &mut DbConn) -> Result<()> {
        FORMS.bump(c)
    }

    /// Every form with its fields, in two statements whatever the number of forms.
    fn load_with_fields(conn: &mut DbConn) -> Result<Vec<(Form, Vec<FormField>)>> {
        let forms = Form::list(conn)?;
        if forms.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_form: std::collections::HashMap<i64, Vec<FormField>> =
            std::collections::HashMap::new();
        for field in form_fields::table
            .order((form_fields::position.asc(), form_fields::id.asc()))
            .select(FormField::as_select())
            .load::<FormField>(conn)?
        {
            by_form.entry(field.form_id).or_default().push(field);
        }
        Ok(forms
            .into_iter()
            .map(|f| {
                let fields = by_form.remove(&f.id).unwrap_or_default();
                (f, fields)
            })
            .collect())
    }

    /// How many tickets hold values of this form (shown before deleting it).
    pub fn tickets_with_values(conn: &mut DbConn, id: i64) -> Result<i64> {
        Ok(ticket_form_rows::table
            .filter(ticket_form_rows::form_id.eq(id))
            .select(diesel::dsl::count(ticket_form_rows::ticket_id).aggregate_distinct())
            .get_result(conn)?)
    }

    fn validate(conn: &mut DbConn, id: Option<i64>, input: &FormInput) -> Result<(String, String)> {
        let mut errs = FieldErrors::new();
        let name = input.name.trim().to_string();
        let norm = normalize_name(&name);
        if name.is_empty() {
            errs.add("name", "is required");
        } else if norm.is_empty() {
            errs.add("name", "must contain at least one letter or digit");
        } else if let Some(m) = crate::limits::too_long(&name, 80) {
            errs.add("name", m);
        } else if RESERVED_NAMES.contains(&norm.as_str()) {
            errs.add(
                "name",
                format!("“{norm}” is a ticket field name; choose another"),
            );
        } else {
            let clash: Option<i64> = forms::table
                .filter(forms::normalized_name.eq(&norm))
                .select(forms::id)
                .first(conn)
                .optional()?;
            if clash.is_some_and(|c| Some(c) != id) {
                errs.add("name", format!("a form named “{norm}” already exists"));
            }
        }
        let mut codes = Vec::new();
        for t in &input.ticket_types {
            match TicketType::parse(t) {
                Some(t) if !codes.contains(&t.code()) => codes.push(t.code()),
                Some(_) => {}
                None => errs.add("ticket_types", format!("unknown ticket type “{t}”")),
            }
        }
        if codes.is_empty() && errs.get("ticket_types").is_none() {
            errs.add("ticket_types", "choose at least one ticket type");
        }
        errs.into_result()?;
        Ok((norm, codes.join(",")))
    }

    /// Validates and stores a new form, with its audit row.
    pub fn create(conn: &mut DbConn, actor: &Actor, input: &FormInput) -> Result<Form> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let (norm, types) = Form::validate(c, None, input)?;
            let now = crate::db::now();
            diesel::insert_into(forms::table)
                .values((
                    forms::name.eq(input.name.trim()),
                    forms::normalized_name.eq(&norm),
                    forms::multi_line.eq(input.multi_line),
                    forms::ticket_types.eq(types),
                    forms::created_at.eq(now),
                    forms::updated_at.eq(now),
                ))
                .execute(c)?;
            let f: Form = forms::table
                .filter(forms::normalized_name.eq(&norm))
                .select(Form::as_select())
                .first(c)?;
            audit::record(
                c,
                actor,
                "form.create",
                &f.name,
                audit::SUCCESS,
                &f.summary(),
            )?;
            Ok(f)
        })
    }

    /// Saves the form's details, with its audit row. Switching between single and
    /// multi-line is refused while tickets hold values.
    pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, input: &FormInput) -> Result<Form> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let old = Form::get(c, id)?;
            let (norm, types) = Form::validate(c, Some(id), input)?;
            if old.multi_line != input.multi_line && Form::tickets_with_values(c, id)? > 0 {
                return Err(Error::invalid(
                    "multi_line",
                    "cannot change between single and multi-line while tickets hold values",
                ));
            }
            diesel::update(forms::table.find(id))
                .set((
                    forms::name.eq(input.name.trim()),
                    forms::normalized_name.eq(&norm),
                    forms::multi_line.eq(input.multi_line),
                    forms::ticket_types.eq(types),
                    forms::updated_at.eq(crate::db::now()),
                ))
                .execute(c)?;
            let f = Form::get(c, id)?;
            audit::record(
                c,
                actor,
                "form.update",
                &f.name,
                audit::SUCCESS,
                &f.summary(),
            )?;
            Ok(f)
        })
    }

    /// Deletes the form, its fields and every value tickets hold for it, with its audit
    /// row. Returns the form and how many tickets lost values.
    pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<(Form, i64)> {
        crate::db::write(conn, |c| {
            Form::bump(c)?;
            let f = Form::get(c, id)?;
            let n = Form::tickets_with_values(c, id)?;
            diesel::delete(ticket_form_rows::table.filter(ticket_form_rows::form_id.eq(id)))
                .execute(c)?;
            diesel::delete(form_fields::table.filter(form_fields::form_id.eq(id))).execute(c)?;
            diesel::delete(forms::table.find(id)).execute(c)?;
            let detail = format!("values removed from {n} ticket(s)");
            audit::record(c, actor, "form.delete", &f.name, audit::SUCCESS, &detail)?;
            Ok((f, n))
        })
    }

    /// What the audit log says of a form's settings.
    fn summary(&self) -> String {
        format!(
            "types: {}; multi-line: {}",
            self.ticket_types, self.multi_line
        )
    }
}
