//! Roles: two built in, the rest created by administrators and granted by webhooks.

use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::{roles, user_roles, users};
use crate::error::{Error, FieldErrors, Result};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = roles)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub builtin: bool,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RoleInput {
    pub name: String,
    pub description: String,
}

fn validate(input: &RoleInput) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let name = input.name.trim();
    if name.is_empty() {
        errs.add("name", "is required");
    } else {
        crate::limits::check(&mut errs, "name", name, 60);
    }
    crate::limits::check(&mut errs, "description", &input.description, 500);
    errs
}

impl Role {
    pub fn list(conn: &mut DbConn) -> Result<Vec<(Role, i64)>> {
        let all: Vec<Role> = roles::table
            .order((roles::builtin.desc(), roles::name.asc()))
            .select(Role::as_select())
            .load(conn)?;
        let mut out = Vec::with_capacity(all.len());
        for r in all {
            let n = Role::member_count(conn, r.id)?;
            out.push((r, n));
        }
        Ok(out)
    }

    pub fn get(conn: &mut DbConn, id: i64) -> Result<Role> {
        roles::table
            .find(id)
            .select(Role::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound("role".into()))
    }

    pub fn member_count(conn: &mut DbConn, id: i64) -> Result<i64> {
        Ok(user_roles::table
            .filter(user_roles::role_id.eq(id))
            .count()
            .get_result(conn)?)
    }

    fn name_taken(conn: &mut DbConn, name: &str, except: Option<i64>) -> Result<bool> {
        let mut q = roles::table.filter(roles::name.eq(name)).into_boxed();
        if let Some(id) = except {
            q = q.filter(roles::id.ne(id));
        }
        Ok(q.count().get_result::<i64>(conn)? > 0)
    }

    pub fn create(conn: &mut DbConn, actor: &Actor, input: &RoleInput) -> Result<Role> {
        crate::db::write(conn, |c| {
            let r = Role::create_in(c, input)?;
            audit::record(c, actor, "role.create", &r.name, audit::SUCCESS, "")?;
            Ok(r)
        })
    }

    fn create_in(conn: &mut DbConn, input: &RoleInput) -> Result<Role> {
        let mut errs = validate(input);
        let name = input.name.trim();
        if errs.is_empty() && Role::name_taken(conn, name, None)? {
            errs.add("name", "is already taken");
        }
        errs.into_result()?;
        diesel::insert_into(roles::table)
            .values((
                roles::name.eq(name),
                roles::description.eq(input.description.trim()),
                roles::builtin.eq(false),
            ))
            .execute(conn)?;
        Ok(roles::table
            .filter(roles::name.eq(name))
            .select(Role::as_select())
            .get_result(conn)?)
    }

    /// Renames and re-describes. Built-in roles keep their names.
    pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, input: &RoleInput) -> Result<Role> {
        crate::db::write(conn, |c| {
            let before = Role::get(c, id)?;
            let r = Role::update_in(c, &before, input)?;
            let detail = if before.name != r.name {
                format!("renamed from {}", before.name)
            } else {
                String::new()
            };
            audit::record(c, actor, "role.update", &r.name, audit::SUCCESS, &detail)?;
            Ok(r)
        })
    }

    fn update_in(conn: &mut DbConn, role: &Role, input: &RoleInput) -> Result<Role> {
        let id = role.id;
        let mut errs = validate(input);
        let name = input.name.trim();
        if role.builtin && name != role.name {
            errs.add("name", "a built-in role cannot be renamed");
        }
        if errs.is_empty() && Role::name_taken(conn, name, Some(id))? {
            errs.add("name", "is already taken");
        }
        errs.into_result()?;
        diesel::update(roles::table.find(id))
            .set((
                roles::name.eq(name),
                roles::description.eq(input.description.trim()),
            ))
            .execute(conn)?;
        // A webhook carries the names of the roles it grants.
        crate::webhooks::cache::bump(conn)?;
        Role::get(conn, id)
    }

    /// Deletes an unused custom role. A role held by users is refused with their names.
    /// A refusal is audited too (someone tried).
    pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Role> {
        let res = crate::db::write(conn, |c| {
            let r = Role::delete_in(c, id)?;
            audit::record(c, actor, "role.delete", &r.name, audit::SUCCESS, "")?;
            Ok(r)
        });
        audit::record_refusal(conn, actor, "role.delete", &format!("role #{id}"), &res)?;
        res
    }

    fn delete_in(conn: &mut DbConn, id: i64) -> Result<Role> {
        let role = Role::get(conn, id)?;
        if role.builtin {
            return Err(Error::Conflict(format!(
                "`{}` is built in and cannot be deleted",
                role.name
            )));
        }
        let holders: Vec<String> = user_roles::table
            .inner_join(users::table)
            .filter(user_roles::role_id.eq(id))
            .select(users::username)
            .order(users::username.asc())
            .load(conn)?;
        if !holders.is_empty() {
            return Err(Error::Conflict(format!(
                "role `{}` is held by {} user(s): {}. Remove it from them first.",
                role.name,
                holders.len(),
                holders.join(", ")
            )));
        }
        diesel::delete(roles::table.find(id)).execute(conn)?;
        crate::webhooks::cache::bump(conn)?;
        Ok(role)
    }
}
