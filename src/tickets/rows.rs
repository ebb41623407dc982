//! Rows of multi-line forms, changed one at a time from the ticket page. Each change
//! records the whole form's rows before and after, like any other ticket update, and
//! hands its events to the sink (the rules) like one.

use serde_json::{Map, Value};

use super::ChangeActor;
use super::events::Sink;
use super::model::{Changes, Ticket, change, finish_update, rows_json, touch};
use super::values;
use crate::auth::Principal;
use crate::db::DbConn;
use crate::error::{Error, FieldErrors, Result};

impl Ticket {
    /// Adds (`row_id` None) or replaces one row of a multi-line form.
    pub fn save_row(
        conn: &mut DbConn,
        actor: &Principal,
        id: i64,
        form_id: i64,
        row_id: Option<i64>,
        input: &Map<String, Value>,
        sink: &dyn Sink,
    ) -> Result<Changes> {
        let actor = ChangeActor::user(actor);
        crate::db::write(conn, |c| {
            let t = Ticket::get_locked(c, id)?;
            let (form, fields, before) = multi_rows(c, &t, form_id)?;
            let prefix = format!("forms.{}", form.normalized_name);
            let mut errs = FieldErrors::new();
            let data = super::validation::validate_row(&fields, input, None, &prefix, &mut errs);
            errs.into_result()?;
            match row_id {
                Some(r) => {
                    if !before.iter().any(|(rid, _)| *rid == r) {
                        return Err(Error::NotFound("row".into()));
                    }
                    values::update_row(c, r, &data)?;
                }
                None => values::insert_row(c, id, form_id, &data)?,
            }
            record_rows_change(c, &actor, &t, &form, &fields, before, sink)
        })
    }

    pub fn delete_row(
        conn: &mut DbConn,
        actor: &Principal,
        id: i64,
        form_id: i64,
        row_id: i64,
        sink: &dyn Sink,
    ) -> Result<Changes> {
        let actor = ChangeActor::user(actor);
        crate::db::write(conn, |c| {
            let t = Ticket::get_locked(c, id)?;
            let (form, fields, before) = multi_rows(c, &t, form_id)?;
            if !before.iter().any(|(rid, _)| *rid == row_id) {
                return Err(Error::NotFound("row".into()));
            }
            values::delete_row(c, row_id)?;
            record_rows_change(c, &actor, &t, &form, &fields, before, sink)
        })
    }
}

type Rows = Vec<(i64, Map<String, Value>)>;

fn multi_rows(
    c: &mut DbConn,
    t: &Ticket,
    form_id: i64,
) -> Result<(super::Form, Vec<super::FormField>, Rows)> {
    let form = super::Form::get(c, form_id)?;
    if !form.multi_line || !form.applies_to(t.kind()) {
        return Err(Error::NotFound("multi-line form of this ticket".into()));
    }
    let fields = super::Form::fields(c, form_id)?;
    let rows = values::rows_of(c, t.id)?
        .into_iter()
        .filter(|r| r.form_id == form_id)
        .map(|r| (r.id, r.values()))
        .collect();
    Ok((form, fields, rows))
}

fn record_rows_change(
    c: &mut DbConn,
    actor: &ChangeActor,
    t: &Ticket,
    form: &super::Form,
    fields: &[super::FormField],
    before: Rows,
    sink: &dyn Sink,
) -> Result<Changes> {
    let after: Vec<Map<String, Value>> = values::rows_of(c, t.id)?
        .into_iter()
        .filter(|r| r.form_id == form.id)
        .map(|r| r.values())
        .collect();
    let before: Vec<Map<String, Value>> = before.into_iter().map(|(_, m)| m).collect();
    let mut changes = Changes::new();
    let (old, new) = (rows_json(fields, &before), rows_json(fields, &after));
    if old != new {
        changes.insert(form.normalized_name.clone(), change(old, new));
        touch(c, t.id, actor)?;
        let events = finish_update(c, actor, t.id, &changes, None, sink)?;
        sink.on_events(c, actor, events)?;
    }
    Ok(changes)
}
