//! Users and their role assignments.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Principal, password};
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{roles, user_roles, users};
use crate::error::{Error, FieldErrors, Result};

#[derive(Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
    pub integration: bool,
    #[serde(skip)]
    pub failed_logins: i32,
    #[serde(skip)]
    pub first_failed_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub locked_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Hookdesk's own built-in user (alert tickets): cannot sign in or be changed.
    pub system: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("active", &self.active)
            .field("integration", &self.integration)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// What an administrator (or the CLI) gives to create a user.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct NewUserInput {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
    pub integration: bool,
    pub roles: Vec<String>,
}

/// Editable profile fields.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct UserChanges {
    pub display_name: String,
    pub email: String,
    pub integration: bool,
    pub roles: Vec<String>,
}

/// What a user gives to change their own password. No `Debug`: it holds passwords.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    pub confirm_password: String,
}

pub fn normalize_username(s: &str) -> String {
    s.trim().to_lowercase()
}

fn validate_username(errs: &mut FieldErrors, username: &str) {
    if username.is_empty() {
        errs.add("username", "is required");
    } else if let Some(m) = crate::limits::too_long(username, 64) {
        errs.add("username", m);
    } else if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        errs.add(
            "username",
            "may hold only letters, digits, '.', '_', '-' and '@'",
        );
    }
}

fn validate_profile(errs: &mut FieldErrors, display_name: &str, email: &str) {
    if display_name.trim().is_empty() {
        errs.add("display_name", "is required");
    } else {
        crate::limits::check(errs, "display_name", display_name, 120);
    }
    let email = email.trim();
    if crate::limits::check(errs, "email", email, 254)
        && !email.is_empty()
        && (!email.contains('@') || email.contains(char::is_whitespace))
    {
        errs.add("email", "is not an email address");
    }
}

impl User {
    pub fn get(conn: &mut DbConn, id: i64) -> Result<User> {
        users::table
            .find(id)
            .select(User::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("user".into()))
    }

    /// The users with these ids that exist, in no particular order (one statement).
    pub fn get_many(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(users::table
            .filter(users::id.eq_any(ids))
            .select(User::as_select())
            .load(conn)?)
    }

    pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<User>> {
        Ok(users::table
            .filter(users::username.eq(normalize_username(username)))
            .select(User::as_select())
            .get_result(conn)
            .optional()?)
    }

    pub fn list(conn: &mut DbConn) -> Result<Vec<(User, Vec<String>)>> {
        let all: Vec<User> = users::table
            .order(users::username.asc())
            .select(User::as_select())
            .load(conn)?;
        let links: Vec<(i64, String)> = user_roles::table
            .inner_join(roles::table)
            .select((user_roles::user_id, roles::name))
            .order(roles::name.asc())
            .load(conn)?;
        Ok(all
            .into_iter()
            .map(|u| {
                let r = links
                    .iter()
                    .filter(|(uid, _)| *uid == u.id)
                    .map(|(_, n)| n.clone())
                    .collect();
                (u, r)
            })
            .collect())
    }

    pub fn role_names(conn: &mut DbConn, user_id: i64) -> Result<Vec<String>> {
        Ok(user_roles::table
            .inner_join(roles::table)
            .filter(user_roles::user_id.eq(user_id))
            .select(roles::name)
            .order(roles::name.asc())
            .load(conn)?)
    }

    /// The user with their role names, in one statement (every API call and page asks).
    pub fn principal(conn: &mut DbConn, id: i64) -> Result<Principal> {
        let rows: Vec<(User, Option<String>)> = users::table
            .left_join(user_roles::table.inner_join(roles::table))
            .filter(users::id.eq(id))
            .select((User::as_select(), roles::name.nullable()))
            .load(conn)?;
        Principal::from_rows(rows).ok_or_else(|| Error::NotFound("user".into()))
    }

    pub fn count(conn: &mut DbConn) -> Result<i64> {
        // People only: Hookdesk's system user is not one.
        Ok(users::table
            .filter(users::system.eq(false))
            .count()
            .get_result(conn)?)
    }

    /// Validates, hashes and inserts, with roles and the audit row, in one transaction.
    pub fn create(conn: &mut DbConn, actor: &Actor, input: &NewUserInput) -> Result<User> {
        let detail = format!("roles: {}", input.roles.join(", "));
        User::create_audited(conn, actor, input, &detail)
    }

    fn create_audited(
        conn: &mut DbConn,
        actor: &Actor,
        input: &NewUserInput,
        detail: &str,
    ) -> Result<User> {
        let username = normalize_username(&input.username);
        let mut errs = FieldErrors::new();
        validate_username(&mut errs, &username);
        validate_profile(&mut errs, &input.display_name, &input.email);
        if let Err(Error::Validation(p)) = password::validate(&input.password) {
            errs.0.extend(p.0);
        }
        resolve_roles(conn, &input.roles, &mut errs)?;
        if errs.is_empty() && User::find_by_username(conn, &username)?.is_some() {
            errs.add("username", "is already taken");
        }
        errs.into_result()?;
        // Hashed before the write lock is taken: argon2 is slow on purpose.
        let hash = password::hash(&input.password)?;
        let now = crate::db::now();
        crate::db::write(conn, |conn| {
            // Checked again in the write transaction: another request may have taken
            // the name or deleted a role while the password was being hashed (SQLite
            // holds the write lock here; PostgreSQL also relies on the unique index).
            let mut errs = FieldErrors::new();
            let role_ids = resolve_roles(conn, &input.roles, &mut errs)?;
            if User::find_by_username(conn, &username)?.is_some() {
                errs.add("username", "is already taken");
            }
            errs.into_result()?;
            diesel::insert_into(users::table)
                .values((
                    users::username.eq(&username),
                    users::display_name.eq(input.display_name.trim()),
                    users::email.eq(input.email.trim()),
                    users::password_hash.eq(&hash),
                    users::active.eq(true),
                    users::integration.eq(input.integration),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(|e| match e {
                    // PostgreSQL: a create committed by another request after our check
                    // (read committed does not see it before) meets the unique index.
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => Error::invalid("username", "is already taken"),
                    e => e.into(),
                })?;
            let user = User::find_by_username(conn, &username)?
                .ok_or_else(|| Error::Internal("inserted user vanished".into()))?;
            set_role_ids(conn, user.id, &role_ids)?;
            audit::record(
                conn,
                actor,
                "user.create",
                &user.username,
                audit::SUCCESS,
                detail,
            )?;
            Ok(user)
        })
    }

    /// Saves profile and roles with the audit row. Taking the last active administrator's
    /// role away is refused, and the refusal audited.
    pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, ch: &UserChanges) -> Result<User> {
        let res = User::update_in(conn, actor, id, ch);
        audit::record_refusal(conn, actor, "user.update", &format!("user #{id}"), &res)?;
        res
    }

    fn update_in(conn: &mut DbConn, actor: &Actor, id: i64, ch: &UserChanges) -> Result<User> {
        super::system_user::refuse_change(conn, id)?;
        let mut errs = FieldErrors::new();
        validate_profile(&mut errs, &ch.display_name, &ch.email);
        let role_ids = resolve_roles(conn, &ch.roles, &mut errs)?;
        errs.into_result()?;
        crate::db::write(conn, |conn| {
            let before = User::get(conn, id)?;
            diesel::update(users::table.find(id))
                .set((
                    users::display_name.eq(ch.display_name.trim()),
                    users::email.eq(ch.email.trim()),
                    users::integration.eq(ch.integration),
                    users::updated_at.eq(crate::db::now()),
                ))
                .execute(conn)?;
            let was_admin = User::role_names(conn, id)?
                .iter()
                .any(|r| r == super::ADMINISTRATOR);
            set_role_ids(conn, id, &role_ids)?;
            let is_admin = ch.roles.iter().any(|r| r == super::ADMINISTRATOR);
            if was_admin && !is_admin && before.active {
                ensure_an_admin_remains(conn)?;
            }
            let u = User::get(conn, id)?;
            let detail = format!(
                "roles: {}; integration: {}",
                ch.roles.join(", "),
                ch.integration
            );
            audit::record(
                conn,
                actor,
                "user.update",
                &u.username,
                audit::SUCCESS,
                &detail,
            )?;
            Ok(u)
        })
    }

    /// Activating or deactivating (which signs the user out everywhere), with the audit
    /// row. Deactivating the last active administrator is refused, and the refusal
    /// audited.
    pub fn set_active(conn: &mut DbConn, actor: &Actor, id: i64, active: bool) -> Result<User> {
        let action = if active {
            "user.activate"
        } else {
            "user.deactivate"
        };
        let res = crate::db::write(conn, |conn| {
            super::system_user::refuse_change(conn, id)?;
            diesel::update(users::table.find(id))
                .set((
                    users::active.eq(active),
                    users::updated_at.eq(crate::db::now()),
                ))
                .execute(conn)?;
            if !active {
                ensure_an_admin_remains(conn)?;
                super::sessions::end_all_for_user(conn, id)?;
            }
            let u = User::get(conn, id)?;
            audit::record(conn, actor, action, &u.username, audit::SUCCESS, "")?;
            Ok(u)
        });
        audit::record_refusal(conn, actor, action, &format!("user #{id}"), &res)?;
        res
    }

    /// An administrator (or the CLI) sets a user's password: clears any lockout, ends
    /// every session of theirs, and writes the audit row.
    pub fn reset_password(
        conn: &mut DbConn,
        actor: &Actor,
        id: i64,
        new_password: &str,
    ) -> Result<User> {
        let hash = password::hash(new_password)?;
        crate::db::write(conn, |c| {
            super::system_user::refuse_change(c, id)?;
            let u = User::get(c, id)?;
            store_password(c, id, &hash, None)?;
            audit::record(
                c,
                actor,
                "user.password_reset",
                &u.username,
                audit::SUCCESS,
                "",
            )?;
            Ok(u)
        })
    }

    /// A user changes their own password: the current one must be right and the new one
    /// typed twice. Ends their sessions except `keep_login` (the one making the change).
    pub fn change_own_password(
        conn: &mut DbConn,
        actor: &Actor,
        id: i64,
        ch: &PasswordChange,
        keep_login: &str,
    ) -> Result<()> {
        let user = User::get(conn, id)?;
        let mut errs = FieldErrors::new();
        if !password::verify(&ch.current_password, &user.password_hash) {
            errs.add("current_password", "is not your current password");
        }
        if ch.new_password != ch.confirm_password {
            errs.add("confirm_password", "does not match the new password");
        }
        if let Err(Error::Validation(p)) = password::validate(&ch.new_password) {
            for e in p.0 {
                errs.add("new_password", e.message);
            }
        }
        errs.into_result()?;
        let hash = password::hash(&ch.new_password)?;
        crate::db::write(conn, |c| {
            store_password(c, id, &hash, Some(keep_login))?;
            audit::record(
                c,
                actor,
                "user.password_change",
                &user.username,
                audit::SUCCESS,
                "own password",
            )
        })
    }
}

/// Stores a password hash and clears any lockout; ends the user's sessions except
/// `keep_login`. Runs inside the caller's write.
fn store_password(conn: &mut DbConn, id: i64, hash: &str, keep_login: Option<&str>) -> Result<()> {
    let n = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::failed_logins.eq(0),
            users::first_failed_at.eq(None::<NaiveDateTime>),
            users::locked_until.eq(None::<NaiveDateTime>),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("user".into()));
    }
    match keep_login {
        Some(login) => super::sessions::end_others_for_user(conn, id, login)?,
        None => super::sessions::end_all_for_user(conn, id)?,
    };
    Ok(())
}

fn resolve_roles(conn: &mut DbConn, names: &[String], errs: &mut FieldErrors) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for name in names {
        let id: Option<i64> = roles::table
            .filter(roles::name.eq(name))
            .select(roles::id)
            .get_result(conn)
            .optional()?;
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => errs.add("roles", format!("unknown role `{name}`")),
        }
    }
    Ok(ids)
}

fn set_role_ids(conn: &mut DbConn, user_id: i64, role_ids: &[i64]) -> Result<()> {
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id))).execute(conn)?;
    for rid in role_ids {
        diesel::insert_into(user_roles::table)
            .values((user_roles::user_id.eq(user_id), user_roles::role_id.eq(rid)))
            .execute(conn)?;
    }
    Ok(())
}

/// Refuses (and so rolls back) a change that leaves no active administrator.
fn ensure_an_admin_remains(conn: &mut DbConn) -> Result<()> {
    let n: i64 = users::table
        .inner_join(user_roles::table.inner_join(roles::table))
        .filter(roles::name.eq(super::ADMINISTRATOR))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?;
    if n == 0 {
        return Err(Error::Conflict(
            "at least one active administrator must remain".into(),
        ));
    }
    Ok(())
}

/// On an empty database, creates `admin` with the Administrator role. Returns the
/// password when it was generated (to be printed once), `None` when it came from the
/// environment or users already exist.
pub fn ensure_first_admin(
    conn: &mut DbConn,
    configured_password: Option<&str>,
) -> Result<Option<String>> {
    if User::count(conn)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match configured_password {
        Some(p) if !p.is_empty() => (p.to_string(), false),
        _ => (password::generate(), true),
    };
    User::create_audited(
        conn,
        &Actor::system("system"),
        &NewUserInput {
            username: "admin".into(),
            display_name: "Administrator".into(),
            email: String::new(),
            password: password.clone(),
            integration: false,
            roles: vec![super::ADMINISTRATOR.into()],
        },
        "first-start administrator",
    )?;
    Ok(generated.then_some(password))
}
