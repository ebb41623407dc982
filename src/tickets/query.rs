//! Ticket lists: filters shared by the page and the API, newest first, keyset pages.

use diesel::prelude::*;

use super::model::Ticket;
use super::{TicketType, parse_priority, parse_status};
use crate::db::DbConn;
use crate::db::schema::{tickets, users};
use crate::error::{Error, Result};

use crate::db::{escape_like, lower};

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    /// Ticket type name or code (`Incident`, `SR`).
    #[serde(rename = "type")]
    pub ticket_type: String,
    /// Status (`Open`, `In Progress`, …).
    pub status: String,
    /// Priority id or display value (`P2`, `P2 High`).
    pub priority: String,
    /// Assignee username or user id; `none` for unassigned tickets.
    pub assignee: String,
    /// Free text matched against the display id and the subject.
    pub q: String,
    /// Cursor: list tickets with an id below this one (from `next_cursor`).
    pub before: Option<i64>,
    /// Page size (1–200, default 50).
    pub limit: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// Newest first; returns the page and the cursor of the next one.
pub fn list(conn: &mut DbConn, f: &TicketFilter) -> Result<(Vec<Ticket>, Option<i64>)> {
    let mut q = tickets::table.into_boxed();
    if !f.ticket_type.trim().is_empty() {
        let t = TicketType::parse(&f.ticket_type)
            .ok_or_else(|| Error::invalid("type", "is not a ticket type"))?;
        q = q.filter(tickets::ticket_type.eq(t.code()));
    }
    if !f.status.trim().is_empty() {
        let s =
            parse_status(&f.status).ok_or_else(|| Error::invalid("status", "is not a status"))?;
        q = q.filter(tickets::status.eq(s));
    }
    if !f.priority.trim().is_empty() {
        let p = parse_priority(&f.priority)
            .ok_or_else(|| Error::invalid("priority", "is not a priority"))?;
        q = q.filter(tickets::priority.eq(p));
    }
    let a = f.assignee.trim();
    if a.eq_ignore_ascii_case("none") {
        q = q.filter(tickets::assignee_id.is_null());
    } else if let Ok(id) = a.parse::<i64>() {
        q = q.filter(tickets::assignee_id.eq(id));
    } else if !a.is_empty() {
        let id: Option<i64> = users::table
            .filter(users::username.eq(a.to_lowercase()))
            .select(users::id)
            .get_result(conn)
            .optional()?;
        q = q.filter(tickets::assignee_id.eq(id.unwrap_or(-1)));
    }
    let text = f.q.trim();
    if !text.is_empty() {
        let pat = format!("%{}%", escape_like(&text.to_lowercase()));
        q = q.filter(
            lower(tickets::display_id)
                .like(pat.clone())
                .escape('\\')
                .or(lower(tickets::subject).like(pat).escape('\\')),
        );
    }
    if let Some(b) = f.before {
        q = q.filter(tickets::id.lt(b));
    }
    let size = f.limit.unwrap_or(PAGE_SIZE).clamp(1, 200);
    let mut rows: Vec<Ticket> = q
        .order(tickets::id.desc())
        .limit(size + 1)
        .select(Ticket::as_select())
        .load(conn)?;
    let next = if rows.len() as i64 > size {
        rows.truncate(size as usize);
        rows.last().map(|t| t.id)
    } else {
        None
    };
    Ok((rows, next))
}

/// Display names of users by id, for list pages.
pub fn user_names(
    conn: &mut DbConn,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = users::table
        .filter(users::id.eq_any(ids.to_vec()))
        .select((users::id, users::display_name))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn count(conn: &mut DbConn) -> Result<i64> {
    Ok(tickets::table.count().get_result(conn)?)
}
