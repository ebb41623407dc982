//! The ticket and the one set of functions that change it: create, update (also for
//! webhook responses), add note, multi-line rows, delete. Each runs in one transaction
//! that also writes the history entry and the events, so a change and its record
//! exist together or not at all.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Map, Value, json};

pub(super) use super::changes::finish_update;
use super::changes::{form_changes, same};
use super::events::Sink;
use super::input::{Core, find_assignee, validate_core};
pub use super::input::{TicketInput, TicketPatch};
use super::lookup::TicketKey;
use super::payload::TicketState;
use super::values::{self, FormWrite};
use super::{ChangeActor, TicketType, display_id, events, history, priority_display};
use crate::audit::{self, Actor};
use crate::auth::{Principal, User};
use crate::db::DbConn;
use crate::db::schema::{ticket_form_rows, ticket_history, tickets, users};
use crate::error::{Error, FieldErrors, Result};
use crate::ids::TicketId;
use crate::limits;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: i64,
    pub display_id: String,
    pub ticket_type: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    /// Priority id (`P2`); `priority_display()` gives `P2 High`.
    pub priority: String,
    pub category: String,
    pub assigned_group: String,
    pub assignee_id: Option<i64>,
    pub requester_name: String,
    pub requester_email: String,
    pub created_at: NaiveDateTime,
    pub created_by: Option<i64>,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<i64>,
    /// Set on a ticket Hookdesk opened about a failing connection (`alerts`): the
    /// ticket never sends to that connection.
    pub alert_connection_id: Option<i64>,
}

/// What [`Ticket::update_returning`] did.
pub struct Updated {
    pub ticket_id: i64,
    pub changes: Changes,
    /// The ticket as it now is, unless something changed it after the update (a rule).
    pub now: Option<TicketState>,
}

impl Ticket {
    pub fn kind(&self) -> TicketType {
        TicketType::parse(&self.ticket_type).unwrap_or(TicketType::Incident)
    }
    pub fn priority_display(&self) -> &str {
        priority_display(&self.priority)
    }
}

/// What changed, `{field: {old, new}}` by placeholder name (`status`,
/// `inventory.serial`, `linkedassets` for a whole multi-line form).
pub type Changes = BTreeMap<String, Value>;

pub(super) fn change(old: Value, new: Value) -> Value {
    json!({ "old": old, "new": new })
}

impl Ticket {
    /// The fields a change compares, its assignee taken from `users` (absent: none).
    fn core(&self, users: &[User]) -> Core {
        let assignee = self
            .assignee_id
            .and_then(|id| users.iter().find(|u| u.id == id).cloned());
        Core {
            subject: self.subject.clone(),
            description: self.description.clone(),
            status: self.status.clone(),
            priority: self.priority.clone(),
            category: self.category.clone(),
            assigned_group: self.assigned_group.clone(),
            assignee,
            requester_name: self.requester_name.clone(),
            requester_email: self.requester_email.clone(),
        }
    }

    /// Validates everything, then inserts the ticket, its form values, a history entry
    /// and a `ticket.created` event in one transaction.
    pub fn create(
        conn: &mut DbConn,
        actor: &Principal,
        input: &TicketInput,
        sink: &dyn Sink,
    ) -> Result<Ticket> {
        Ticket::create_as(conn, &ChangeActor::user(actor), input, sink)
    }

    pub fn create_as(
        conn: &mut DbConn,
        actor: &ChangeActor,
        input: &TicketInput,
        sink: &dyn Sink,
    ) -> Result<Ticket> {
        Ticket::create_with(conn, actor, input, None, sink)
    }

    /// An alert ticket about a failing connection (`alerts`), marked before the
    /// rules see its events: it never sends to that connection (`webhooks::refusal`).
    pub fn create_alert(
        conn: &mut DbConn,
        actor: &ChangeActor,
        input: &TicketInput,
        connection_id: i64,
        sink: &dyn Sink,
    ) -> Result<Ticket> {
        Ticket::create_with(conn, actor, input, Some(connection_id), sink)
    }

    fn create_with(
        conn: &mut DbConn,
        actor: &ChangeActor,
        input: &TicketInput,
        alert_connection_id: Option<i64>,
        sink: &dyn Sink,
    ) -> Result<Ticket> {
        crate::db::write(conn, |c| {
            let mut errs = FieldErrors::new();
            let t = TicketType::parse(&input.ticket_type);
            if input.ticket_type.trim().is_empty() {
                errs.add("type", "is required");
            } else if t.is_none() {
                errs.add(
                    "type",
                    format!(
                        "“{}” is not a ticket type (Incident, Service Request, Problem, Change)",
                        input.ticket_type
                    ),
                );
            }
            let or = |s: &str, d: &str| {
                if s.trim().is_empty() {
                    d.to_string()
                } else {
                    s.to_string()
                }
            };
            let assignee = match &input.assignee {
                Some(a) => find_assignee(c, a, None, &mut errs)?,
                None => None,
            };
            let mut core = Core {
                subject: input.subject.clone(),
                description: input.description.clone(),
                status: or(&input.status, "Open"),
                priority: or(&input.priority, "P3"),
                category: input.category.clone(),
                assigned_group: input.assigned_group.clone(),
                assignee,
                requester_name: input.requester_name.clone(),
                requester_email: input.requester_email.clone(),
            };
            validate_core(&mut core, &mut errs);
            let writes = match t {
                Some(t) => values::validate_forms(c, t, &input.forms, &[], &mut errs)?,
                None => Vec::new(),
            };
            errs.into_result()?;
            let t = t.ok_or_else(|| Error::Internal("type vanished".into()))?;
            let display = display_id::next(c, t)?;
            let now = crate::db::now();
            diesel::insert_into(tickets::table)
                .values((
                    tickets::display_id.eq(&display),
                    tickets::ticket_type.eq(t.code()),
                    tickets::subject.eq(&core.subject),
                    tickets::description.eq(&core.description),
                    tickets::status.eq(&core.status),
                    tickets::priority.eq(&core.priority),
                    tickets::category.eq(&core.category),
                    tickets::assigned_group.eq(&core.assigned_group),
                    tickets::assignee_id.eq(core.assignee.as_ref().map(|u| u.id)),
                    tickets::requester_name.eq(&core.requester_name),
                    tickets::requester_email.eq(&core.requester_email),
                    tickets::created_at.eq(now),
                    tickets::created_by.eq(actor.id),
                    tickets::updated_at.eq(now),
                    tickets::updated_by.eq(actor.id),
                    tickets::alert_connection_id.eq(alert_connection_id),
                ))
                .execute(c)?;
            let ticket: Ticket = tickets::table
                .filter(tickets::display_id.eq(&display))
                .select(Ticket::as_select())
                .get_result(c)?;
            for w in &writes {
                write_form(c, ticket.id, w)?;
            }
            history::record(
                c,
                ticket.id,
                history::FIELD_CHANGE,
                actor,
                &format!("Created {} {}", t.name(), display),
                false,
                &json!({}),
            )?;
            let snapshot = super::payload::ticket_json(c, ticket.id, false, false)?;
            let e = events::record(
                c,
                events::TICKET_CREATED,
                ticket.id,
                actor,
                &json!({ "ticket": snapshot }),
                sink,
            )?;
            sink.on_events(c, actor, vec![e])?;
            // Rules may have changed it already.
            Ticket::get(c, ticket.id)
        })
    }

    /// Applies a partial update and returns what changed (empty: nothing was written).
    pub fn update(
        conn: &mut DbConn,
        actor: &Principal,
        id: i64,
        patch: &TicketPatch,
        sink: &dyn Sink,
    ) -> Result<Changes> {
        let key = TicketKey::Id(TicketId(id));
        Ok(update_with(conn, &ChangeActor::user(actor), key, patch, None, sink)?.changes)
    }

    /// [`Ticket::update`], also returning the ticket as it now is when nothing changed it
    /// after the update (the rules did not): the API answers with it without reading the
    /// ticket again.
    ///
    /// `key` is resolved inside the update's transaction, in the read it makes anyway.
    pub fn update_returning(
        conn: &mut DbConn,
        actor: &Principal,
        key: TicketKey<'_>,
        patch: &TicketPatch,
        sink: &dyn Sink,
    ) -> Result<Updated> {
        update_with(conn, &ChangeActor::user(actor), key, patch, None, sink)
    }

    /// An update by anyone (a rule's action, Hookdesk itself).
    pub fn update_as(
        conn: &mut DbConn,
        actor: &ChangeActor,
        id: i64,
        patch: &TicketPatch,
        sink: &dyn Sink,
    ) -> Result<Changes> {
        let key = TicketKey::Id(TicketId(id));
        Ok(update_with(conn, actor, key, patch, None, sink)?.changes)
    }

    /// The webhook engine's hook: a change that a webhook's response made, recorded as a
    /// `webhook_response` history entry and a `webhook.response_processed` event (and no
    /// `ticket.updated`, so rules can tell the two apart).
    pub fn apply_webhook_response(
        conn: &mut DbConn,
        actor: &ChangeActor,
        id: i64,
        origin: &super::ResponseOrigin,
        patch: &TicketPatch,
        sink: &dyn Sink,
    ) -> Result<Changes> {
        let key = TicketKey::Id(TicketId(id));
        Ok(update_with(conn, actor, key, patch, Some(origin), sink)?.changes)
    }

    pub fn add_note(
        conn: &mut DbConn,
        actor: &Principal,
        id: i64,
        text: &str,
        internal: bool,
        sink: &dyn Sink,
    ) -> Result<i64> {
        Ticket::add_note_as(conn, &ChangeActor::user(actor), id, text, internal, sink)
    }

    pub fn add_note_as(
        conn: &mut DbConn,
        actor: &ChangeActor,
        id: i64,
        text: &str,
        internal: bool,
        sink: &dyn Sink,
    ) -> Result<i64> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid("note", "is required"));
        }
        if let Some(m) = limits::too_long(text, 20_000) {
            return Err(Error::invalid("note", m));
        }
        crate::db::write(conn, |c| {
            Ticket::get_locked(c, id)?;
            touch(c, id, actor)?;
            let hid = history::record(c, id, history::NOTE, actor, text, internal, &json!({}))?;
            let e = events::record(
                c,
                events::TICKET_NOTE_ADDED,
                id,
                actor,
                &json!({ "note": text, "internal": internal, "historyid": hid }),
                sink,
            )?;
            sink.on_events(c, actor, vec![e])?;
            Ok(hid)
        })
    }

    /// Administrators only (`by`). The history goes with the ticket, so the audit row
    /// (`actor`: `by` and where they came from) is what remains of the deletion besides
    /// the `ticket.deleted` event, which keeps the ticket's last state.
    ///
    /// The sink hears of `ticket.deleted` before the rows go, so a rule's webhook is
    /// rendered from the ticket as it was, in the same transaction.
    pub fn delete(
        conn: &mut DbConn,
        by: &Principal,
        actor: &Actor,
        id: i64,
        sink: &dyn Sink,
    ) -> Result<Ticket> {
        if !by.is_admin() {
            return Err(Error::Forbidden(
                "Only administrators may delete tickets.".into(),
            ));
        }
        let by = ChangeActor::user(by);
        crate::db::write(conn, |c| {
            let t = Ticket::get_locked(c, id)?;
            let last = super::payload::ticket_json(c, id, true, false)?;
            let e = events::record(
                c,
                events::TICKET_DELETED,
                id,
                &by,
                &json!({ "ticket": last }),
                sink,
            )?;
            sink.on_events(c, &by, vec![e])?;
            diesel::delete(ticket_form_rows::table.filter(ticket_form_rows::ticket_id.eq(id)))
                .execute(c)?;
            diesel::delete(ticket_history::table.filter(ticket_history::ticket_id.eq(id)))
                .execute(c)?;
            diesel::delete(tickets::table.find(id)).execute(c)?;
            let detail = format!("subject: {}", t.subject);
            audit::record(
                c,
                actor,
                "ticket.delete",
                &t.display_id,
                audit::SUCCESS,
                &detail,
            )?;
            Ok(t)
        })
    }
}

pub(super) fn rows_json(fields: &[super::FormField], rows: &[Map<String, Value>]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| values::row_json(fields, r, false))
            .collect(),
    )
}

fn write_form(c: &mut DbConn, ticket_id: i64, w: &FormWrite) -> Result<()> {
    match w {
        FormWrite::Single { form, data, .. } => {
            values::delete_rows(c, ticket_id, form.id)?;
            values::insert_row(c, ticket_id, form.id, data)
        }
        FormWrite::Rows { form, rows, .. } => {
            values::delete_rows(c, ticket_id, form.id)?;
            for r in rows {
                values::insert_row(c, ticket_id, form.id, r)?;
            }
            Ok(())
        }
    }
}

pub(super) fn touch(c: &mut DbConn, id: i64, actor: &ChangeActor) -> Result<()> {
    diesel::update(tickets::table.find(id))
        .set((
            tickets::updated_at.eq(crate::db::now()),
            tickets::updated_by.eq(actor.id),
        ))
        .execute(c)?;
    Ok(())
}

fn update_with(
    conn: &mut DbConn,
    actor: &ChangeActor,
    key: TicketKey<'_>,
    p: &TicketPatch,
    webhook: Option<&super::ResponseOrigin>,
    sink: &dyn Sink,
) -> Result<Updated> {
    crate::db::write(conn, |c| {
        let t = Ticket::get_locked_by(c, key)?;
        let id = t.id;
        // Every user the change and its answer name, in one read: the assignee, the
        // creator and whoever changes it now (its new `updatedby`).
        let mut users = User::get_many(
            c,
            &[t.assignee_id, t.created_by, actor.id]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        )?;
        let old = t.core(&users);
        let mut new = old.clone();
        let mut errs = FieldErrors::new();
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *dst = v.clone();
            }
        };
        set(&mut new.subject, &p.subject);
        set(&mut new.description, &p.description);
        set(&mut new.status, &p.status);
        set(&mut new.priority, &p.priority);
        set(&mut new.category, &p.category);
        set(&mut new.assigned_group, &p.assigned_group);
        set(&mut new.requester_name, &p.requester_name);
        set(&mut new.requester_email, &p.requester_email);
        if let Some(a) = &p.assignee {
            new.assignee = match a {
                Some(a) => find_assignee(c, a, old.assignee.as_ref(), &mut errs)?,
                None => None,
            };
        }
        validate_core(&mut new, &mut errs);
        let existing = values::rows_of(c, id)?;
        let writes = values::validate_forms(c, t.kind(), &p.forms, &existing, &mut errs)?;
        errs.into_result()?;

        let mut changes = Changes::new();
        for ((name, o), (_, n)) in old.shown().into_iter().zip(new.shown()) {
            if !same(&o, &n) {
                changes.insert(name.into(), change(o, n));
            }
        }
        for w in &writes {
            form_changes(w, &existing, &mut changes);
        }
        if changes.is_empty() {
            // A response that changed nothing is still on record as processed.
            if webhook.is_some() {
                touch(c, id, actor)?;
                let evs = finish_update(c, actor, id, &changes, webhook, sink)?;
                sink.on_events(c, actor, evs)?;
            }
            return Ok(Updated {
                ticket_id: id,
                changes,
                now: None,
            });
        }
        let update = diesel::update(tickets::table.find(id)).set((
            tickets::subject.eq(&new.subject),
            tickets::description.eq(&new.description),
            tickets::status.eq(&new.status),
            tickets::priority.eq(&new.priority),
            tickets::category.eq(&new.category),
            tickets::assigned_group.eq(&new.assigned_group),
            tickets::assignee_id.eq(new.assignee.as_ref().map(|u| u.id)),
            tickets::requester_name.eq(&new.requester_name),
            tickets::requester_email.eq(&new.requester_email),
            tickets::updated_at.eq(crate::db::now()),
            tickets::updated_by.eq(actor.id),
        ));
        // The row as written, in the same statement (`RETURNING`; diesel's multi-backend
        // connection cannot name the selection, each backend's can).
        let updated: Ticket = match c {
            DbConn::Sqlite(s) => update.returning(Ticket::as_returning()).get_result(s)?,
            DbConn::Postgres(p) => update.returning(Ticket::as_returning()).get_result(p)?,
        };
        for w in &writes {
            write_form(c, id, w)?;
        }
        // The ticket as it now is, from what this transaction read and wrote with the
        // row locked: the rules and the answer start from it instead of reading it again.
        let rows = if writes.is_empty() {
            existing
        } else {
            values::rows_of(c, id)?
        };
        users.extend(new.assignee.clone());
        let state = TicketState::of(c, updated, rows, &users)?;
        let evs = finish_update(c, actor, id, &changes, webhook, sink)?;
        let changed_since = sink.on_update(c, actor, evs, &state)?;
        Ok(Updated {
            ticket_id: id,
            changes,
            now: (!changed_since).then_some(state),
        })
    })
}

/// Active users that tickets can be assigned to: (id, display name).
pub fn assignable_users(conn: &mut DbConn) -> Result<Vec<(i64, String, String)>> {
    Ok(users::table
        .filter(users::active.eq(true))
        .filter(users::integration.eq(false))
        .order(users::display_name.asc())
        .select((users::id, users::username, users::display_name))
        .load(conn)?)
}

/// The assignee choices of a ticket's edit page: the assignable users, and the ticket's
/// own assignee first when not one of them (deactivated, an integration), labelled so.
/// Without it the page selected no one and its save unassigned the ticket.
pub fn assignee_options(
    conn: &mut DbConn,
    current: Option<i64>,
) -> Result<Vec<(i64, String, String)>> {
    let mut users = assignable_users(conn)?;
    if let Some(id) = current
        && !users.iter().any(|(u, ..)| *u == id)
    {
        let u = User::get(conn, id)?;
        let why = if u.active { "integration" } else { "inactive" };
        users.insert(0, (u.id, u.username, format!("{} ({why})", u.display_name)));
    }
    Ok(users)
}
