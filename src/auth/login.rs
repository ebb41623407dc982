//! Password login with per-account throttling.
//!
//! After `max_failures` failed logins within `window`, the account is locked for
//! `lockout`. Unknown users, wrong passwords, locked and inactive accounts all get the same
//! answer after the same work (an argon2 verification), so the response tells an attacker
//! nothing about which usernames exist.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{Principal, User, password};
use crate::db::DbConn;
use crate::db::schema::users;
use crate::error::Result;

#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub max_failures: i32,
    pub window: Duration,
    pub lockout: Duration,
}

impl LoginPolicy {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            max_failures: cfg.login_max_failures,
            window: Duration::minutes(cfg.login_failure_window_minutes),
            lockout: Duration::minutes(cfg.login_lockout_minutes),
        }
    }
}

/// The one message every failed login gets.
pub const FAILED_MESSAGE: &str =
    "Invalid username or password, or the account is temporarily locked.";

#[derive(Debug)]
pub enum LoginResult {
    Success(Principal),
    /// Why, for the audit log only; the user is shown `FAILED_MESSAGE`.
    Failed(&'static str),
}

/// Checks the password and updates the account's failure counters. `now` is passed in
/// so tests can move time instead of waiting.
pub fn attempt(
    conn: &mut DbConn,
    username: &str,
    password_given: &str,
    policy: &LoginPolicy,
    dummy_hash: &str,
    now: NaiveDateTime,
) -> Result<LoginResult> {
    let Some(user) = User::find_by_username(conn, username)? else {
        password::verify(password_given, dummy_hash);
        return Ok(LoginResult::Failed("unknown user"));
    };
    // Verify before looking at the lock, so a locked account costs the same time.
    let ok = password::verify(password_given, &user.password_hash);
    if user.locked_until.is_some_and(|t| t > now) {
        return Ok(LoginResult::Failed("account locked"));
    }
    if !ok {
        record_failure(conn, &user, policy, now)?;
        return Ok(LoginResult::Failed("wrong password"));
    }
    if !user.active {
        return Ok(LoginResult::Failed("account inactive"));
    }
    diesel::update(users::table.find(user.id))
        .set((
            users::failed_logins.eq(0),
            users::first_failed_at.eq(None::<NaiveDateTime>),
            users::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(LoginResult::Success(User::principal(conn, user.id)?))
}

fn record_failure(
    conn: &mut DbConn,
    user: &User,
    policy: &LoginPolicy,
    now: NaiveDateTime,
) -> Result<()> {
    let in_window = user
        .first_failed_at
        .is_some_and(|first| now - first <= policy.window);
    let (count, first) = if in_window {
        (user.failed_logins + 1, user.first_failed_at)
    } else {
        (1, Some(now))
    };
    if count >= policy.max_failures {
        diesel::update(users::table.find(user.id))
            .set((
                users::failed_logins.eq(0),
                users::first_failed_at.eq(None::<NaiveDateTime>),
                users::locked_until.eq(Some(now + policy.lockout)),
            ))
            .execute(conn)?;
        tracing::warn!(user = %user.username, "account locked after repeated failed logins");
    } else {
        diesel::update(users::table.find(user.id))
            .set((
                users::failed_logins.eq(count),
                users::first_failed_at.eq(first),
            ))
            .execute(conn)?;
    }
    Ok(())
}
