//! Server-side session rows. The cookie carries only a random key; the row is found by
//! the key's SHA-256, so a copy of the table does not yield usable cookies. Rows carry
//! the user and a per-login id so that logout or a password change can end a user's
//! other sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sha256_hex;
use crate::db::DbConn;
use crate::db::schema::sessions;
use crate::error::Result;

/// Session state keys with a meaning outside the web layer.
pub const KEY_USER_ID: &str = "uid";
pub const KEY_LOGIN_ID: &str = "login_id";

pub type State = std::collections::HashMap<String, String>;

fn user_of(state: &State) -> (Option<i64>, Option<String>) {
    let uid = state
        .get(KEY_USER_ID)
        .and_then(|v| serde_json::from_str::<i64>(v).ok());
    let login = state
        .get(KEY_LOGIN_ID)
        .and_then(|v| serde_json::from_str::<String>(v).ok());
    (uid, login)
}

pub fn load(conn: &mut DbConn, key: &str, now: NaiveDateTime) -> Result<Option<State>> {
    let row: Option<String> = sessions::table
        .filter(sessions::key_hash.eq(sha256_hex(key)))
        .filter(sessions::expires_at.gt(now))
        .select(sessions::state)
        .get_result(conn)
        .optional()?;
    Ok(row.and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn insert(
    conn: &mut DbConn,
    key: &str,
    state: &State,
    expires_at: NaiveDateTime,
) -> Result<()> {
    let (uid, login) = user_of(state);
    let json =
        serde_json::to_string(state).map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(sha256_hex(key)),
            sessions::user_id.eq(uid),
            sessions::login_id.eq(login),
            sessions::state.eq(json),
            sessions::created_at.eq(crate::db::now()),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Updates a live session. Returns false when the row is gone (ended elsewhere), so
/// the caller can refuse to resurrect it.
pub fn update(
    conn: &mut DbConn,
    key: &str,
    state: &State,
    expires_at: NaiveDateTime,
) -> Result<bool> {
    let (uid, login) = user_of(state);
    let json =
        serde_json::to_string(state).map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    let n = diesel::update(sessions::table.filter(sessions::key_hash.eq(sha256_hex(key))))
        .set((
            sessions::user_id.eq(uid),
            sessions::login_id.eq(login),
            sessions::state.eq(json),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

pub fn touch(conn: &mut DbConn, key: &str, expires_at: NaiveDateTime) -> Result<()> {
    diesel::update(sessions::table.filter(sessions::key_hash.eq(sha256_hex(key))))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConn, key: &str) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(sha256_hex(key)))).execute(conn)?;
    Ok(())
}

pub fn end_all_for_user(conn: &mut DbConn, user_id: i64) -> Result<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Ends every session of the user but the one with `keep_login`.
pub fn end_others_for_user(conn: &mut DbConn, user_id: i64, keep_login: &str) -> Result<usize> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(
                sessions::login_id
                    .ne(keep_login)
                    .or(sessions::login_id.is_null()),
            ),
    )
    .execute(conn)?)
}

/// Live sessions of a user (for tests and the account page).
pub fn count_for_user(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> Result<i64> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// Removes expired rows; called now and then by the server.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}
