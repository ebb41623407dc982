//! The ticket as data for webhooks and templates. Two views of one ticket:
//!
//! `ticket_json` — THE whole-ticket JSON shape (stable; pinned by a test):
//! ```json
//! {
//!   "id": 12,                       // internal id, use it to match updates
//!   "displayid": "IN164",
//!   "type": "Incident",             // Incident | Service Request | Problem | Change
//!   "subject": "…", "description": "…",
//!   "status": "Open",               // Open | In Progress | Pending | Resolved | Closed
//!   "priority": "P2 High",          // with ids_instead_of_display: "P2"
//!   "category": "…", "assignedgroup": "…",
//!   "assignee": "Tess Tech",        // display name, or the user id with ids; null if none
//!   "assigneeusername": "tess",     // null if none
//!   "requestername": "…", "requesteremail": "…",
//!   "createdat": "2026-11-25T02:12:40Z", "createdby": "Tess Tech",
//!   "updatedat": "2026-11-25T02:12:40Z", "updatedby": "Tess Tech",
//!   "forms": {
//!     "<form>": { "<field>": value, … },            // single form (null when unset)
//!     "<multilineform>": [ { "<field>": value }, … ] // one object per row
//!   },
//!   "history": [ { "id", "kind", "actor", "actorid", "body", "internal",
//!                  "changes", "createdat" }, … ]   // only with_linked, oldest first
//! }
//! ```
//! Form and field keys are `normalize_name`d. Values are typed: numbers are numbers,
//! checkboxes booleans, dates `YYYY-MM-DD`, single selects the display value (or the
//! option id with `ids_instead_of_display`). Every form that applies to the ticket's type
//! is present.
//!
//! `template_values` — the flat map of placeholder names (`ticket.subject`,
//! `ticket.<form>.<field>`, `ticket.<form>.<field>.id`, `ticket.<multilineform>`) the
//! template engine substitutes, typed as above; a single form's Number field with
//! decimal places also carries its text (`45.50`, `values::field_text`) for templates
//! that write text. JSON keeps the number.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::forms::{FieldType, Form, FormField};
use super::model::Ticket;
use super::values::{self, StoredRow};
use super::{TicketType, history};
use crate::auth::User;
use crate::db::DbConn;
use crate::error::Result;
use crate::templating::TicketValues;

/// Lower-case, ASCII letters and digits only: "Linked assets" → `linkedassets`.
pub fn normalize_name(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Times in the JSON shape: RFC 3339, UTC, seconds.
pub fn time(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What both views of a ticket are made of, read in five statements: the ticket, its form
/// rows, the forms (two) and the users it names (one, whichever of them are set).
struct Loaded {
    t: Ticket,
    rows: Vec<StoredRow>,
    forms: Vec<(Form, Vec<FormField>)>,
    assignee: Option<User>,
    created_by: Option<User>,
    updated_by: Option<User>,
}

impl Loaded {
    fn read(conn: &mut DbConn, ticket_id: i64) -> Result<Self> {
        let t = Ticket::get(conn, ticket_id)?;
        Self::read_with(conn, t)
    }

    /// [`Loaded::read`] for a ticket the caller has just read.
    fn read_with(conn: &mut DbConn, t: Ticket) -> Result<Self> {
        let rows = values::rows_of(conn, t.id)?;
        Self::with_rows(conn, t, rows)
    }

    /// [`Loaded::read`] for a ticket and form rows the caller has just read.
    fn with_rows(conn: &mut DbConn, t: Ticket, rows: Vec<StoredRow>) -> Result<Self> {
        Self::with_users(conn, t, rows, &[])
    }

    /// [`Loaded::with_rows`] that reads only the users not among `known`.
    fn with_users(
        conn: &mut DbConn,
        t: Ticket,
        rows: Vec<StoredRow>,
        known: &[User],
    ) -> Result<Self> {
        let forms = Form::with_fields(conn, Some(t.kind()))?;
        let missing: Vec<i64> = [t.assignee_id, t.created_by, t.updated_by]
            .into_iter()
            .flatten()
            .filter(|id| !known.iter().any(|u| u.id == *id))
            .collect();
        let mut users = User::get_many(conn, &missing)?;
        users.extend_from_slice(known);
        let find = |id: Option<i64>| id.and_then(|id| users.iter().find(|u| u.id == id).cloned());
        Ok(Self {
            assignee: find(t.assignee_id),
            created_by: find(t.created_by),
            updated_by: find(t.updated_by),
            t,
            rows,
            forms,
        })
    }

    fn base(&self, ids: bool) -> Map<String, Value> {
        base_json(
            &self.t,
            self.assignee.as_ref(),
            self.created_by.as_ref(),
            self.updated_by.as_ref(),
            ids,
        )
    }
}

/// The whole ticket; see the module documentation for the shape.
pub fn ticket_json(
    conn: &mut DbConn,
    ticket_id: i64,
    with_linked: bool,
    ids_instead_of_display: bool,
) -> Result<Value> {
    let l = Loaded::read(conn, ticket_id)?;
    let mut v = json_of(&l, ids_instead_of_display);
    if with_linked {
        let h: Vec<Value> = history::list(conn, ticket_id)?
            .iter()
            .map(history::HistoryEntry::json)
            .collect();
        v.insert("history".into(), Value::Array(h));
    }
    Ok(Value::Object(v))
}

fn json_of(l: &Loaded, ids: bool) -> Map<String, Value> {
    let mut v = l.base(ids);
    v.insert(
        "forms".into(),
        Value::Object(forms_json(&l.forms, &l.rows, ids)),
    );
    v
}

/// A ticket as a change has just left it, inside the change's transaction with the
/// ticket's row locked: what the rules that change sets off and the answer to it are
/// made from, so that neither reads the ticket again ([`Ticket::update_returning`]).
pub struct TicketState(Loaded);

impl TicketState {
    /// From the ticket row as the change wrote it, its form rows as now stored and the
    /// users the change has read (others it names are read here).
    pub(super) fn of(
        conn: &mut DbConn,
        t: Ticket,
        rows: Vec<StoredRow>,
        known: &[User],
    ) -> Result<Self> {
        Ok(Self(Loaded::with_users(conn, t, rows, known)?))
    }

    pub fn ticket_id(&self) -> i64 {
        self.0.t.id
    }

    /// [`template_values`] of this state.
    pub fn values(&self, conn: &mut DbConn) -> Result<TicketValues> {
        values_of(conn, &self.0)
    }

    /// [`ticket_json`] of this state, without history.
    pub fn json(&self, ids_instead_of_display: bool) -> Value {
        Value::Object(json_of(&self.0, ids_instead_of_display))
    }
}

fn base_json(
    t: &Ticket,
    assignee: Option<&User>,
    created_by: Option<&User>,
    updated_by: Option<&User>,
    ids: bool,
) -> Map<String, Value> {
    let name = |u: Option<&User>| {
        u.map(|u| Value::String(u.display_name.clone()))
            .unwrap_or(Value::Null)
    };
    let v = json!({
        "id": t.id,
        "displayid": t.display_id,
        "type": t.kind().name(),
        "subject": t.subject,
        "description": t.description,
        "status": t.status,
        "priority": if ids { t.priority.clone() } else { t.priority_display().to_string() },
        "category": t.category,
        "assignedgroup": t.assigned_group,
        "assignee": if ids { assignee.map(|u| Value::from(u.id)).unwrap_or(Value::Null) } else { name(assignee) },
        "assigneeusername": assignee.map(|u| Value::String(u.username.clone())).unwrap_or(Value::Null),
        "requestername": t.requester_name,
        "requesteremail": t.requester_email,
        "createdat": time(t.created_at),
        "createdby": name(created_by),
        "updatedat": time(t.updated_at),
        "updatedby": name(updated_by),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn forms_json(
    forms: &[(Form, Vec<FormField>)],
    rows: &[StoredRow],
    ids: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (form, fields) in forms {
        let mine: Vec<Map<String, Value>> = rows
            .iter()
            .filter(|r| r.form_id == form.id)
            .map(StoredRow::values)
            .collect();
        let v = if form.multi_line {
            Value::Array(
                mine.iter()
                    .map(|r| values::row_json(fields, r, ids))
                    .collect(),
            )
        } else {
            values::row_json(fields, mine.first().unwrap_or(&Map::new()), ids)
        };
        out.insert(form.normalized_name.clone(), v);
    }
    out
}

const BASE_NAMES: &[&str] = &[
    "id",
    "displayid",
    "type",
    "subject",
    "description",
    "status",
    "priority",
    "priority.id",
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
    "url",
];

/// Flat placeholder map of one ticket (names lower-case, dotted; unset values `null`),
/// with the text of the values that read otherwise than JSON writes them.
pub fn template_values(conn: &mut DbConn, ticket_id: i64) -> Result<TicketValues> {
    let t = Ticket::get(conn, ticket_id)?;
    template_values_of(conn, t)
}

/// [`template_values`] of a ticket the caller has just read in the same transaction (one
/// read of the ticket fewer).
pub fn template_values_of(conn: &mut DbConn, ticket: Ticket) -> Result<TicketValues> {
    let l = Loaded::read_with(conn, ticket)?;
    values_of(conn, &l)
}

fn values_of(conn: &mut DbConn, l: &Loaded) -> Result<TicketValues> {
    let t = &l.t;
    let (mut values, texts) = flatten(l.base(false), &t.priority, &l.forms, &l.rows);
    values.insert("ticket.url".into(), Value::String(ticket_url(conn, t.id)?));
    if let Some(c) = t.alert_connection_id {
        values.insert(ALERT_CONNECTION.into(), Value::from(c));
    }
    Ok(TicketValues::new(values, texts))
}

/// The `settings` row holding the console's public address (`Config::public_base`),
/// written at start-up: every process that renders a webhook reads the same one.
const PUBLIC_BASE: &str = "public_url";

/// Stores the console's public address for `{{ticket.url}}`.
pub fn set_public_base(conn: &mut DbConn, base: &str) -> Result<()> {
    crate::db::write(conn, |c| crate::db::settings::put(c, PUBLIC_BASE, base))
}

/// The ticket's page as people reach it: `<public_url>/tickets/<id>`.
pub fn ticket_url(conn: &mut DbConn, id: i64) -> Result<String> {
    let base = crate::db::settings::get(conn, PUBLIC_BASE)?
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    Ok(format!("{base}/tickets/{id}"))
}

/// On an alert ticket, the connection it is about (`alerts`); `webhooks::refusal` reads
/// it so the ticket never sends there.
pub const ALERT_CONNECTION: &str = "ticket.alert.connection_id";

/// The typed values by name, and the texts of those that read otherwise.
fn flatten(
    base: Map<String, Value>,
    priority_id: &str,
    forms: &[(Form, Vec<FormField>)],
    rows: &[StoredRow],
) -> (BTreeMap<String, Value>, BTreeMap<String, String>) {
    let mut out = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for (k, v) in base {
        out.insert(format!("ticket.{k}"), v);
    }
    out.insert(
        "ticket.priority.id".into(),
        Value::String(priority_id.into()),
    );
    for (form, fields) in forms {
        let mine: Vec<Map<String, Value>> = rows
            .iter()
            .filter(|r| r.form_id == form.id)
            .map(StoredRow::values)
            .collect();
        let key = format!("ticket.{}", form.normalized_name);
        if form.multi_line {
            let arr = mine
                .iter()
                .map(|r| values::row_json(fields, r, false))
                .collect();
            out.insert(key, Value::Array(arr));
            continue;
        }
        let data = mine.first().cloned().unwrap_or_default();
        for f in fields {
            let stored = data.get(&f.id.to_string());
            let fk = format!("{key}.{}", f.normalized_name);
            let v = values::typed(f, stored, false);
            if f.decimals().is_some() && v.is_number() {
                texts.insert(fk.clone(), values::field_text(f, &v));
            }
            out.insert(fk.clone(), v);
            if f.kind() == FieldType::Select {
                out.insert(format!("{fk}.id"), values::typed(f, stored, true));
            }
        }
    }
    (out, texts)
}

/// Every valid ticket placeholder for tickets of type `t` (all forms when None).
pub fn template_names(conn: &mut DbConn, t: Option<TicketType>) -> Result<Vec<String>> {
    let mut out: Vec<String> = BASE_NAMES.iter().map(|n| format!("ticket.{n}")).collect();
    for (form, fields) in Form::with_fields(conn, t)? {
        let key = format!("ticket.{}", form.normalized_name);
        if form.multi_line {
            out.push(key);
            continue;
        }
        for f in fields {
            out.push(format!("{key}.{}", f.normalized_name));
            if f.kind() == FieldType::Select {
                out.push(format!("{key}.{}.id", f.normalized_name));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A built-in sample ticket for previews, with an "Inventory" single form and a
/// multi-line "Linked assets" form. Needs no database.
pub fn sample_template_values() -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        m.insert(format!("ticket.{k}"), v);
    };
    put("id", json!(164));
    put("displayid", json!("IN164"));
    put("type", json!("Incident"));
    put("subject", json!("Laptop will not start"));
    put(
        "description",
        json!("The laptop shows a black screen after the update."),
    );
    put("status", json!("Open"));
    put("priority", json!("P2 High"));
    put("priority.id", json!("P2"));
    put("category", json!("Hardware"));
    put("assignedgroup", json!("Service Desk"));
    put("assignee", json!("Tess Tech"));
    put("assigneeusername", json!("tess"));
    put("requestername", json!("Robin Requester"));
    put("requesteremail", json!("robin@example.com"));
    put("createdat", json!("2026-11-25T09:30:00Z"));
    put("createdby", json!("Tess Tech"));
    put("updatedat", json!("2026-11-25T10:05:00Z"));
    put("updatedby", json!("Tess Tech"));
    // Rendering puts the configured address here (`ticket_url`).
    put("url", json!("http://127.0.0.1:8080/tickets/164"));
    put("inventory.serialnumber", json!("SN-4411"));
    put("inventory.warranty", json!(true));
    put("inventory.location", json!("London office"));
    put("inventory.location.id", json!("LON"));
    put(
        "linkedassets",
        json!([
            { "asset": "P2425", "requestdate": "2025-04-23" },
            { "asset": "FH6354", "requestdate": "2025-04-30" }
        ]),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize_name("Linked assets"), "linkedassets");
        assert_eq!(normalize_name("Request date"), "requestdate");
        assert_eq!(normalize_name("Ünïcode-Name_2"), "ncodename2");
    }

    #[test]
    fn sample_has_every_base_name() {
        let s = sample_template_values();
        for n in BASE_NAMES {
            assert!(s.contains_key(&format!("ticket.{n}")), "{n}");
        }
    }
}
