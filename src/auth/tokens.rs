//! API tokens: shown once at creation, stored only as a SHA-256 hash, revocable.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Principal, User, random_token, sha256_hex};
use crate::db::DbConn;
use crate::db::schema::api_tokens;
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
    /// Creates a token; the returned string is the only time the secret exists in clear.
    pub fn create(conn: &mut DbConn, user_id: i64, name: &str) -> Result<(ApiToken, String)> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        if let Some(m) = crate::limits::too_long(name, 80) {
            return Err(Error::invalid("name", m));
        }
        User::get(conn, user_id)?;
        let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
        let hash = sha256_hex(&secret);
        let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(&hash),
                api_tokens::prefix.eq(&prefix),
                api_tokens::created_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        let tok = api_tokens::table
            .filter(api_tokens::token_hash.eq(&hash))
            .select(ApiToken::as_select())
            .first(conn)?;
        Ok((tok, secret))
    }

    pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> Result<Vec<ApiToken>> {
        Ok(api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .order(api_tokens::created_at.desc())
            .select(ApiToken::as_select())
            .load(conn)?)
    }

    /// Revokes one of `user_id`'s tokens.
    pub fn revoke(conn: &mut DbConn, user_id: i64, token_id: i64) -> Result<ApiToken> {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(token_id))
                .filter(api_tokens::user_id.eq(user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(Some(crate::db::now())))
        .execute(conn)?;
        if n == 0 {
            return Err(Error::NotFound("active token".into()));
        }
        Ok(api_tokens::table
            .find(token_id)
            .select(ApiToken::as_select())
            .first(conn)?)
    }

    /// The user behind a bearer token, if the token is live and the user active.
    /// Records the time of use.
    pub fn authenticate(conn: &mut DbConn, secret: &str, now: NaiveDateTime) -> Result<Principal> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        let hash = sha256_hex(secret);
        let tok: Option<ApiToken> = api_tokens::table
            .filter(api_tokens::token_hash.eq(&hash))
            .filter(api_tokens::revoked_at.is_null())
            .select(ApiToken::as_select())
            .first(conn)
            .optional()?;
        let tok = tok.ok_or(Error::Unauthenticated)?;
        let principal = User::principal(conn, tok.user_id)?;
        if !principal.user.active {
            return Err(Error::Unauthenticated);
        }
        diesel::update(api_tokens::table.find(tok.id))
            .set(api_tokens::last_used_at.eq(Some(now)))
            .execute(conn)?;
        Ok(principal)
    }
}
