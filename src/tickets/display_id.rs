//! Display ids (`IN164`): a type prefix and a per-type number taken from a counter row
//! that is bumped inside the creating transaction. The bump is a single `UPDATE … SET
//! n = n + 1`, which locks the row until commit on PostgreSQL and needs the database
//! write lock on SQLite, so two concurrent creates can never read the same number.

use diesel::prelude::*;

use super::TicketType;
use crate::db::DbConn;
use crate::db::schema::ticket_counters;
use crate::error::Result;

/// Takes the next number of `t` and returns the display id. Call inside the transaction
/// that inserts the ticket, so a rolled-back create also gives its number back.
pub fn next(conn: &mut DbConn, t: TicketType) -> Result<String> {
    diesel::update(ticket_counters::table.find(t.code()))
        .set(ticket_counters::last_number.eq(ticket_counters::last_number + 1))
        .execute(conn)?;
    let n: i64 = ticket_counters::table
        .find(t.code())
        .select(ticket_counters::last_number)
        .get_result(conn)?;
    Ok(format!("{}{n}", t.code()))
}

/// Splits `IN164` into its type and number (case-insensitive), or None.
pub fn parse(s: &str) -> Option<(TicketType, i64)> {
    let s = s.trim();
    if s.len() < 3 || !s.is_char_boundary(2) {
        return None;
    }
    let (prefix, num) = s.split_at(2);
    let t = TicketType::ALL
        .into_iter()
        .find(|t| t.code().eq_ignore_ascii_case(prefix))?;
    if !num.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((t, num.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_display_ids() {
        assert_eq!(parse("IN164"), Some((TicketType::Incident, 164)));
        assert_eq!(parse("sr12"), Some((TicketType::ServiceRequest, 12)));
        assert_eq!(parse("XX1"), None);
        assert_eq!(parse("IN"), None);
        assert_eq!(parse("IN1a"), None);
    }
}
