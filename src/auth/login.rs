//! Password login with per-account throttling.
//!
//! After `max_failures` failed logins within `window`, the account is locked for
//! `lockout`. Unknown users, wrong passwords, locked and inactive accounts all get the same
//! answer after the same work (an argon2 verification), so the response tells an attacker
//! nothing about which usernames exist.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{Principal, User, password};
use crate::audit::{self, Actor};
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

/// Checks the password, updates the account's failure counters and writes the
/// `auth.login` audit row (with why a login failed), the last two in one transaction.
/// `ip` is the client's address, for the audit row; `now` is passed in so tests can move
/// time instead of waiting.
pub fn attempt(
    conn: &mut DbConn,
    username: &str,
    password_given: &str,
    policy: &LoginPolicy,
    dummy_hash: &str,
    ip: &str,
    now: NaiveDateTime,
) -> Result<LoginResult> {
    // argon2 is slow on purpose: it runs before the write lock is taken, so a login
    // never holds up other writers. `decide` then works on a fresh read of the account.
    let seen = User::find_by_username(conn, username)?;
    let ok = match &seen {
        Some(u) => password::verify(password_given, &u.password_hash),
        None => {
            password::verify(password_given, dummy_hash);
            false
        }
    };
    crate::db::write(conn, |c| {
        let result = decide(c, seen.as_ref(), ok, policy, now)?;
        let (actor, outcome, detail) = match &result {
            LoginResult::Success(p) => (Actor::user(p, ip), audit::SUCCESS, ""),
            LoginResult::Failed(why) => (
                Actor {
                    id: None,
                    name: super::users::normalize_username(username),
                    ip: ip.into(),
                },
                audit::FAILURE,
                *why,
            ),
        };
        audit::record(c, &actor, "auth.login", &actor.name, outcome, detail)?;
        Ok(result)
    })
}

/// The outcome, given whether the password matched the hash `seen` before the write.
/// The account is read again inside the write, so the failure counters and the lock are
/// current; a password changed in between is not the one that was checked.
fn decide(
    conn: &mut DbConn,
    seen: Option<&User>,
    ok: bool,
    policy: &LoginPolicy,
    now: NaiveDateTime,
) -> Result<LoginResult> {
    let user: Option<User> = match seen {
        Some(s) => users::table
            .find(s.id)
            .select(User::as_select())
            .first(conn)
            .optional()?,
        None => None,
    };
    let (Some(seen), Some(user)) = (seen, user) else {
        return Ok(LoginResult::Failed("unknown user"));
    };
    let ok = ok && user.password_hash == seen.password_hash;
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
