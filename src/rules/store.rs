//! Rules in the database: read, create, update, clone, enable/disable, reorder and
//! delete, each one transaction with its audit row. Every change also bumps the rules
//! version ([`VERSION_SETTING`]) in that transaction, which is how the engine's cache in
//! every process sharing the database learns that it must reload.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::input::{RuleInput, Valid, validate};
use super::{Action, Rule};
use crate::audit::{self, Actor};
use crate::conditions::{Condition, MatchMode};
use crate::db::DbConn;
use crate::db::schema::{rule_firings, rules, users};
use crate::error::{Error, Result};

/// The `settings` row whose value changes with every change to any rule.
pub const VERSION_SETTING: &str = "rules.version";

/// How long firing times are kept (the list shows the last 24 hours and the last time).
const FIRINGS_KEPT_DAYS: i64 = 30;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rules)]
struct RuleRow {
    id: i64,
    name: String,
    description: String,
    enabled: bool,
    position: i32,
    events: String,
    condition_match: String,
    conditions: String,
    actions: String,
    stop_processing: bool,
    ignore_integration: bool,
    ignored_users: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, id: i64, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("rule {id}: stored {what}: {e}")))
}

fn to_rule(conn: &mut DbConn, r: RuleRow) -> Result<Rule> {
    let ids: Vec<i64> = parse("ignored users", r.id, &r.ignored_users)?;
    let names: Vec<String> = if ids.is_empty() {
        Vec::new()
    } else {
        users::table
            .filter(users::id.eq_any(&ids))
            .order(users::username.asc())
            .select(users::username)
            .load(conn)?
    };
    Ok(Rule {
        id: r.id,
        events: parse("events", r.id, &r.events)?,
        condition_match: MatchMode::parse(&r.condition_match).unwrap_or_default(),
        conditions: parse::<Vec<Condition>>("conditions", r.id, &r.conditions)?,
        actions: parse::<Vec<Action>>("actions", r.id, &r.actions)?,
        name: r.name,
        description: r.description,
        enabled: r.enabled,
        position: r.position,
        stop_processing: r.stop_processing,
        ignore_integration: r.ignore_integration,
        ignored_users: names,
        ignored_user_ids: ids,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// Every rule in evaluation order.
pub fn list(conn: &mut DbConn) -> Result<Vec<Rule>> {
    let rows: Vec<RuleRow> = rules::table
        .order((rules::position.asc(), rules::id.asc()))
        .select(RuleRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| to_rule(conn, r)).collect()
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Rule> {
    let row = rules::table
        .find(id)
        .select(RuleRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("rule {id}")))?;
    to_rule(conn, row)
}

pub fn name_taken(conn: &mut DbConn, name: &str, except: Option<i64>) -> Result<bool> {
    let mut q = rules::table
        .filter(rules::name.eq(name.trim()))
        .select(rules::id)
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(rules::id.ne(id));
    }
    Ok(q.first::<i64>(conn).optional()?.is_some())
}

/// The current rules version (see [`VERSION_SETTING`]); empty before any change.
pub fn version(conn: &mut DbConn) -> Result<String> {
    Ok(crate::db::settings::get(conn, VERSION_SETTING)?.unwrap_or_default())
}

fn bump_version(c: &mut DbConn) -> Result<()> {
    crate::db::settings::put(c, VERSION_SETTING, &uuid::Uuid::now_v7().to_string())
}

fn map_unique(e: diesel::result::Error) -> Error {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => Error::invalid("name", "is already taken by another rule"),
        other => other.into(),
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// "events: …; actions: execute webhook, add note" for the audit log: kinds only, as
/// templates may be long.
fn summary(v: &Valid) -> String {
    format!(
        "enabled: {}; events: {}; conditions: {}; actions: {}",
        v.enabled,
        v.events.join(", "),
        v.conditions.len(),
        v.actions
            .iter()
            .map(Action::kind_label)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Validates and creates a rule at the end of the order.
pub fn create(conn: &mut DbConn, actor: &Actor, input: &RuleInput) -> Result<Rule> {
    crate::db::write(conn, |c| create_in(c, actor, input, "rule.create"))
}

fn create_in(c: &mut DbConn, actor: &Actor, input: &RuleInput, action: &str) -> Result<Rule> {
    let v = validate(c, input, None)?;
    let last: Option<i32> = rules::table
        .select(diesel::dsl::max(rules::position))
        .first(c)?;
    let now = crate::db::now();
    let id: i64 = diesel::insert_into(rules::table)
        .values((
            rules::name.eq(&v.name),
            rules::description.eq(&v.description),
            rules::enabled.eq(v.enabled),
            rules::position.eq(last.unwrap_or(0) + 1),
            rules::events.eq(json(&v.events)),
            rules::condition_match.eq(v.condition_match.code()),
            rules::conditions.eq(json(&v.conditions)),
            rules::actions.eq(json(&v.actions)),
            rules::stop_processing.eq(v.stop_processing),
            rules::ignore_integration.eq(v.ignore_integration),
            rules::ignored_users.eq(json(&v.ignored_user_ids)),
            rules::created_at.eq(now),
            rules::updated_at.eq(now),
        ))
        .returning(rules::id)
        .get_result(c)
        .map_err(map_unique)?;
    bump_version(c)?;
    audit::record(c, actor, action, &v.name, audit::SUCCESS, &summary(&v))?;
    get(c, id)
}

/// Validates and replaces a rule's definition (its place in the order stays).
pub fn update(conn: &mut DbConn, actor: &Actor, id: i64, input: &RuleInput) -> Result<Rule> {
    crate::db::write(conn, |c| {
        let old = get(c, id)?;
        let v = validate(c, input, Some(id))?;
        diesel::update(rules::table.find(id))
            .set((
                rules::name.eq(&v.name),
                rules::description.eq(&v.description),
                rules::enabled.eq(v.enabled),
                rules::events.eq(json(&v.events)),
                rules::condition_match.eq(v.condition_match.code()),
                rules::conditions.eq(json(&v.conditions)),
                rules::actions.eq(json(&v.actions)),
                rules::stop_processing.eq(v.stop_processing),
                rules::ignore_integration.eq(v.ignore_integration),
                rules::ignored_users.eq(json(&v.ignored_user_ids)),
                rules::updated_at.eq(crate::db::now()),
            ))
            .execute(c)
            .map_err(map_unique)?;
        bump_version(c)?;
        let detail = if old.name == v.name {
            summary(&v)
        } else {
            format!("renamed from “{}”; {}", old.name, summary(&v))
        };
        audit::record(c, actor, "rule.update", &v.name, audit::SUCCESS, &detail)?;
        get(c, id)
    })
}

/// Turns a rule on or off.
pub fn set_enabled(conn: &mut DbConn, actor: &Actor, id: i64, enabled: bool) -> Result<Rule> {
    crate::db::write(conn, |c| {
        let r = get(c, id)?;
        diesel::update(rules::table.find(id))
            .set((
                rules::enabled.eq(enabled),
                rules::updated_at.eq(crate::db::now()),
            ))
            .execute(c)?;
        bump_version(c)?;
        let action = if enabled {
            "rule.enable"
        } else {
            "rule.disable"
        };
        audit::record(c, actor, action, &r.name, audit::SUCCESS, "")?;
        get(c, id)
    })
}

/// Copies a rule under a free name, disabled (it acts on nothing until looked at).
pub fn clone(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Rule> {
    crate::db::write(conn, |c| {
        let r = get(c, id)?;
        let mut input = RuleInput::from_rule(&r);
        input.enabled = false;
        input.name = copy_name(c, &r.name)?;
        create_in(c, actor, &input, "rule.clone").map_err(|e| match e {
            // The original no longer validates (a webhook it ran was deleted, …).
            Error::Validation(f) => Error::Conflict(format!(
                "“{}” cannot be copied as it is: {f}; edit it first",
                r.name
            )),
            e => e,
        })
    })
}

/// A free name for a copy: "X (copy)", then "X (copy 2)", …
fn copy_name(c: &mut DbConn, name: &str) -> Result<String> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            format!("{name} (copy)")
        } else {
            format!("{name} (copy {n})")
        };
        if candidate.chars().count() <= crate::limits::NAME && !name_taken(c, &candidate, None)? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict("no free name for the copy".into()))
}

/// Moves a rule one place up (earlier) or down in the evaluation order.
pub fn move_by(conn: &mut DbConn, actor: &Actor, id: i64, up: bool) -> Result<Vec<Rule>> {
    crate::db::write(conn, |c| {
        let mut ids: Vec<i64> = rules::table
            .order((rules::position.asc(), rules::id.asc()))
            .select(rules::id)
            .load(c)?;
        let Some(i) = ids.iter().position(|x| *x == id) else {
            return Err(Error::NotFound(format!("rule {id}")));
        };
        let j = if up { i.checked_sub(1) } else { Some(i + 1) };
        if let Some(j) = j.filter(|j| *j < ids.len()) {
            ids.swap(i, j);
        }
        renumber(c, &ids)?;
        let r = get(c, id)?;
        let detail = format!(
            "now {} of {}",
            ids.iter().position(|x| *x == id).unwrap_or(0) + 1,
            ids.len()
        );
        audit::record(c, actor, "rule.move", &r.name, audit::SUCCESS, &detail)?;
        list(c)
    })
}

/// Puts the rules in the given order (every rule, each once).
pub fn reorder(conn: &mut DbConn, actor: &Actor, order: &[i64]) -> Result<Vec<Rule>> {
    crate::db::write(conn, |c| {
        let mut ids: Vec<i64> = rules::table.select(rules::id).load(c)?;
        let mut given = order.to_vec();
        ids.sort_unstable();
        given.sort_unstable();
        if ids != given {
            return Err(Error::invalid("order", "list every rule's id exactly once"));
        }
        renumber(c, order)?;
        audit::record(c, actor, "rule.reorder", "rules", audit::SUCCESS, "")?;
        list(c)
    })
}

fn renumber(c: &mut DbConn, ids: &[i64]) -> Result<()> {
    for (n, id) in ids.iter().enumerate() {
        let pos = i32::try_from(n + 1).unwrap_or(i32::MAX);
        diesel::update(rules::table.find(id))
            .set(rules::position.eq(pos))
            .execute(c)?;
    }
    bump_version(c)
}

pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Rule> {
    crate::db::write(conn, |c| {
        let r = get(c, id)?;
        diesel::delete(rule_firings::table.filter(rule_firings::rule_id.eq(id))).execute(c)?;
        diesel::delete(rules::table.find(id)).execute(c)?;
        bump_version(c)?;
        audit::record(c, actor, "rule.delete", &r.name, audit::SUCCESS, "")?;
        Ok(r)
    })
}

/// Notes that `rule` matched an event (inside the event's transaction). Insert-only, so
/// a rule that matches on every change never makes concurrent changes wait on one row.
pub fn record_firing(c: &mut DbConn, rule: i64, now: NaiveDateTime) -> Result<()> {
    diesel::insert_into(rule_firings::table)
        .values((
            rule_firings::rule_id.eq(rule),
            rule_firings::fired_at.eq(now),
        ))
        .execute(c)?;
    // Old rows of this rule go now and then as new ones come (about one firing in 64):
    // the counts read only the last day, so old rows cost nothing but space, and a
    // delete on every firing was one more statement under the write lock.
    if rand::random::<u8>() >= 4 {
        return Ok(());
    }
    diesel::delete(
        rule_firings::table
            .filter(rule_firings::rule_id.eq(rule))
            .filter(rule_firings::fired_at.lt(now - Duration::days(FIRINGS_KEPT_DAYS))),
    )
    .execute(c)?;
    Ok(())
}

/// When a rule last fired and how often in the 24 hours before `now`.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Firings {
    pub last_fired_at: Option<NaiveDateTime>,
    pub last_24h: i64,
}

pub fn firings(conn: &mut DbConn, rule: i64, now: NaiveDateTime) -> Result<Firings> {
    let last: Option<NaiveDateTime> = rule_firings::table
        .filter(rule_firings::rule_id.eq(rule))
        .select(diesel::dsl::max(rule_firings::fired_at))
        .first(conn)?;
    let n: i64 = rule_firings::table
        .filter(rule_firings::rule_id.eq(rule))
        .filter(rule_firings::fired_at.ge(now - Duration::hours(24)))
        .count()
        .get_result(conn)?;
    Ok(Firings {
        last_fired_at: last,
        last_24h: n,
    })
}

/// The rules that run `webhook` (for its page and for refusing to delete it unseen).
pub fn using_webhook(conn: &mut DbConn, webhook: i64) -> Result<Vec<String>> {
    Ok(list(conn)?
        .into_iter()
        .filter(|r| {
            r.actions.iter().any(
                |a| matches!(a, Action::ExecuteWebhook { webhook_id, .. } if *webhook_id == webhook),
            )
        })
        .map(|r| r.name)
        .collect())
}
