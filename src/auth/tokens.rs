//! API tokens: shown once at creation, stored only as a SHA-256 hash, revocable.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Principal, User, random_token, sha256_hex};
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{api_tokens, roles, user_roles, users};
use crate::error::{Error, Result};

/// Visible start of every token, so leaked tokens are easy to spot in code and logs.
pub const TOKEN_PREFIX: &str = "hdk_";

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    /// The first characters of the token, to tell tokens apart in lists.
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiToken {
    /// Creates a token of `user_id` with its audit row; the returned string is the only
    /// time the secret exists in clear.
    pub fn create(
        conn: &mut DbConn,
        actor: &Actor,
        user_id: i64,
        name: &str,
    ) -> Result<(ApiToken, String)> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        if let Some(m) = crate::limits::too_long(name, 80) {
            return Err(Error::invalid("name", m));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
        let hash = sha256_hex(&secret);
        let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
        crate::db::write(conn, |c| {
            let owner = User::get(c, user_id)?;
            diesel::insert_into(api_tokens::table)
                .values((
                    api_tokens::user_id.eq(user_id),
                    api_tokens::name.eq(name),
                    api_tokens::token_hash.eq(&hash),
                    api_tokens::prefix.eq(&prefix),
                    api_tokens::created_at.eq(crate::db::now()),
                ))
                .execute(c)?;
            let tok = api_tokens::table
                .filter(api_tokens::token_hash.eq(&hash))
                .select(ApiToken::as_select())
                .get_result(c)?;
            let target = audit_target(&tok, &owner, actor);
            audit::record(c, actor, "token.create", &target, audit::SUCCESS, "")?;
            Ok((tok, secret))
        })
    }

    pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> Result<Vec<ApiToken>> {
        Ok(api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .order(api_tokens::created_at.desc())
            .select(ApiToken::as_select())
            .load(conn)?)
    }

    /// Revokes one of `user_id`'s tokens, with its audit row.
    pub fn revoke(
        conn: &mut DbConn,
        actor: &Actor,
        user_id: i64,
        token_id: i64,
    ) -> Result<ApiToken> {
        crate::db::write(conn, |c| {
            let n = diesel::update(
                api_tokens::table
                    .filter(api_tokens::id.eq(token_id))
                    .filter(api_tokens::user_id.eq(user_id))
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set(api_tokens::revoked_at.eq(Some(crate::db::now())))
            .execute(c)?;
            if n == 0 {
                return Err(Error::NotFound("active token".into()));
            }
            let tok: ApiToken = api_tokens::table
                .find(token_id)
                .select(ApiToken::as_select())
                .get_result(c)?;
            let target = audit_target(&tok, &User::get(c, user_id)?, actor);
            audit::record(c, actor, "token.revoke", &target, audit::SUCCESS, "")?;
            Ok(tok)
        })
    }

    /// The user behind a bearer token, if the token is live and the user active.
    /// Records the time of use, at most once a minute per token.
    pub fn authenticate(conn: &mut DbConn, secret: &str, now: NaiveDateTime) -> Result<Principal> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        let hash = sha256_hex(secret);
        // The token, its user and the user's roles in one statement: every API call
        // starts here.
        let rows: Vec<(ApiToken, User, Option<String>)> = api_tokens::table
            .inner_join(users::table.left_join(user_roles::table.inner_join(roles::table)))
            .filter(api_tokens::token_hash.eq(&hash))
            .filter(api_tokens::revoked_at.is_null())
            .select((
                ApiToken::as_select(),
                User::as_select(),
                roles::name.nullable(),
            ))
            .load(conn)?;
        let tok = rows.first().map(|(t, _, _)| t.clone());
        let (tok, principal) = tok
            .zip(Principal::from_rows(
                rows.into_iter().map(|(_, u, r)| (u, r)),
            ))
            .ok_or(Error::Unauthenticated)?;
        if !principal.user.active {
            return Err(Error::Unauthenticated);
        }
        if last_used_is_stale(tok.last_used_at, now) {
            // The filter repeats the check so that of several requests (or nodes) racing
            // here, one writes and the rest match no row.
            diesel::update(
                api_tokens::table.find(tok.id).filter(
                    api_tokens::last_used_at
                        .is_null()
                        .or(api_tokens::last_used_at.lt(now - LAST_USED_GRANULARITY)),
                ),
            )
            .set(api_tokens::last_used_at.eq(Some(now)))
            .execute(conn)?;
        }
        Ok(principal)
    }
}

/// How the audit log names a token: by name and visible prefix, and by owner when the
/// actor is someone else (the CLI creating a token for a user).
fn audit_target(tok: &ApiToken, owner: &User, actor: &Actor) -> String {
    if actor.id == Some(owner.id) {
        format!("token {} ({})", tok.name, tok.prefix)
    } else {
        format!("token {} ({}) of {}", tok.name, tok.prefix, owner.username)
    }
}

/// How often a token's "last used" time is written: every API call used to be a write,
/// which under load queued every request behind the write lock for no one's benefit.
pub const LAST_USED_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Whether a use at `now` should be recorded, given the recorded `last` use.
pub fn last_used_is_stale(last: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    last.is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_used_is_written_at_most_once_a_minute() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        assert!(last_used_is_stale(None, t0));
        assert!(!last_used_is_stale(Some(t0), t0));
        assert!(!last_used_is_stale(
            Some(t0),
            t0 + chrono::TimeDelta::seconds(59)
        ));
        assert!(last_used_is_stale(
            Some(t0),
            t0 + chrono::TimeDelta::seconds(60)
        ));
    }
}
