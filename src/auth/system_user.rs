//! Hookdesk's own built-in user: alert tickets are created by it, so a ticket's history
//! says who opened it and rules can tell. It cannot sign in (inactive, and its password
//! hash is no hash any password matches) and administrators cannot change it.

use diesel::prelude::*;

use super::User;
use crate::db::DbConn;
use crate::db::schema::users;
use crate::error::{Error, Result};

/// The username it gets, unless a person already has it.
const USERNAME: &str = "hookdesk";
pub const DISPLAY_NAME: &str = "Hookdesk (system)";

/// The system user, created on first use (inside the caller's write transaction, or in
/// one of its own).
pub fn get_or_create(conn: &mut DbConn) -> Result<User> {
    crate::db::write(conn, |c| {
        if let Some(u) = find(c)? {
            return Ok(u);
        }
        let mut name = USERNAME.to_owned();
        let mut n = 1;
        while User::find_by_username(c, &name)?.is_some() {
            n += 1;
            name = format!("{USERNAME}-{n}");
        }
        let now = crate::db::now();
        diesel::insert_into(users::table)
            .values((
                users::username.eq(&name),
                users::display_name.eq(DISPLAY_NAME),
                users::email.eq(""),
                users::password_hash.eq("!"),
                users::active.eq(false),
                users::integration.eq(false),
                users::system.eq(true),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(c)?;
        find(c)?.ok_or_else(|| Error::Internal("the system user vanished".into()))
    })
}

fn find(conn: &mut DbConn) -> Result<Option<User>> {
    Ok(users::table
        .filter(users::system.eq(true))
        .order(users::id.asc())
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Refuses a change to the system user (edit, activate, password).
pub fn refuse_change(conn: &mut DbConn, id: i64) -> Result<()> {
    let system: Option<bool> = users::table
        .find(id)
        .select(users::system)
        .first(conn)
        .optional()?;
    if system == Some(true) {
        return Err(Error::Conflict(format!(
            "“{DISPLAY_NAME}” is Hookdesk's built-in user; it cannot be changed"
        )));
    }
    Ok(())
}
