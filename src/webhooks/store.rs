//! Reading and writing webhook definitions. A save validates everything, then writes the
//! row, replaces its child rows and records the audit entry in ONE transaction, so a
//! failure anywhere leaves the previous definition untouched.

use diesel::prelude::*;

use super::input::{Valid, WebhookInput, prepare};
use super::model::*;
use super::presets::{Preset, PresetKind};
use crate::audit::{self, Actor};
use crate::conditions::{Condition, MatchMode, Operator};
use crate::db::DbConn;
use crate::db::schema::{
    connections, roles, webhook_conditions, webhook_parameters, webhook_response_actions,
    webhook_response_fields, webhook_roles, webhooks,
};
use crate::error::{Error, Result};
use crate::secrets::SecretBox;

pub fn name_taken(conn: &mut DbConn, name: &str, except: Option<i64>) -> Result<bool> {
    let mut q = webhooks::table.filter(webhooks::name.eq(name)).into_boxed();
    if let Some(id) = except {
        q = q.filter(webhooks::id.ne(id));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

pub fn connection_exists(conn: &mut DbConn, id: i64) -> Result<bool> {
    Ok(connections::table
        .find(id)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

pub fn role_id(conn: &mut DbConn, name: &str) -> Result<Option<i64>> {
    Ok(roles::table
        .filter(roles::name.eq(name))
        .select(roles::id)
        .get_result(conn)
        .optional()?)
}

/// Names of the webhooks that send through connection `id` (as main or test connection),
/// so a connection in use is not deleted from under them.
pub fn users_of_connection(conn: &mut DbConn, id: i64) -> Result<Vec<String>> {
    Ok(webhooks::table
        .filter(
            webhooks::connection_id
                .eq(id)
                .or(webhooks::test_connection_id.eq(id)),
        )
        .select(webhooks::name)
        .order(webhooks::name.asc())
        .load(conn)?)
}

/// All webhook rows by name, for lists (children are not loaded).
pub fn list_rows(conn: &mut DbConn) -> Result<Vec<WebhookRow>> {
    Ok(webhooks::table
        .order(webhooks::name.asc())
        .select(WebhookRow::as_select())
        .load(conn)?)
}

/// Every webhook with its child rows.
pub fn list(conn: &mut DbConn) -> Result<Vec<Webhook>> {
    let rows = list_rows(conn)?;
    rows.into_iter().map(|r| assemble(conn, r)).collect()
}

/// The webhooks that can fire at all (status Enabled or Test), by name, with their child
/// rows: what the ticket page's Actions menu chooses from.
pub fn list_not_disabled(conn: &mut DbConn) -> Result<Vec<Webhook>> {
    let rows: Vec<WebhookRow> = webhooks::table
        .filter(webhooks::status.ne(Status::Disabled.code()))
        .order(webhooks::name.asc())
        .select(WebhookRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| assemble(conn, r)).collect()
}

/// Webhook names by id (a deleted webhook is simply missing).
pub fn names(conn: &mut DbConn, ids: &[i64]) -> Result<std::collections::BTreeMap<i64, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(webhooks::table
        .filter(webhooks::id.eq_any(ids))
        .select((webhooks::id, webhooks::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// The webhooks each role may fire from a ticket, `(id, name)` by name, by role id.
pub fn granted_by_role(
    conn: &mut DbConn,
) -> Result<std::collections::BTreeMap<i64, Vec<(i64, String)>>> {
    let rows: Vec<(i64, i64, String)> = webhook_roles::table
        .inner_join(webhooks::table)
        .order(webhooks::name.asc())
        .select((webhook_roles::role_id, webhooks::id, webhooks::name))
        .load(conn)?;
    let mut out: std::collections::BTreeMap<i64, Vec<(i64, String)>> = Default::default();
    for (role, id, name) in rows {
        out.entry(role).or_default().push((id, name));
    }
    Ok(out)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Webhook> {
    let row = webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound("webhook".into()))?;
    assemble(conn, row)
}

fn assemble(conn: &mut DbConn, r: WebhookRow) -> Result<Webhook> {
    let parameters = webhook_parameters::table
        .filter(webhook_parameters::webhook_id.eq(r.id))
        .order(webhook_parameters::position.asc())
        .select(ParameterRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|p| Parameter {
            name: p.name,
            label: p.label,
            default_template: p.default_template,
            read_only: p.read_only,
            multi_line: p.multi_line,
        })
        .collect();
    let response_fields = webhook_response_fields::table
        .filter(webhook_response_fields::webhook_id.eq(r.id))
        .order(webhook_response_fields::position.asc())
        .select(ResponseFieldRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|f| ResponseField {
            path: f.path,
            target: f.target,
        })
        .collect();
    let response_actions = webhook_response_actions::table
        .filter(webhook_response_actions::webhook_id.eq(r.id))
        .order(webhook_response_actions::position.asc())
        .select(ResponseActionRow::as_select())
        .load(conn)?
        .into_iter()
        .filter_map(|a| {
            Some(ResponseAction {
                kind: ActionKind::parse(&a.kind)?,
                target: a.target,
                value_template: a.value_template,
            })
        })
        .collect();
    let conditions = webhook_conditions::table
        .filter(webhook_conditions::webhook_id.eq(r.id))
        .order(webhook_conditions::position.asc())
        .select(ConditionRow::as_select())
        .load(conn)?
        .into_iter()
        .filter_map(|c| {
            Some(Condition {
                field: c.field,
                operator: Operator::parse(&c.operator)?,
                value: c.value,
            })
        })
        .collect();
    let role_names: Vec<String> = webhook_roles::table
        .inner_join(roles::table)
        .filter(webhook_roles::webhook_id.eq(r.id))
        .select(roles::name)
        .order(roles::name.asc())
        .load(conn)?;
    // The stored JSON holds the preset's fields; a row that no longer parses (an older
    // shape) falls back to the preset's defaults rather than failing the whole page.
    let preset = serde_json::from_str::<Preset>(&r.preset_fields).unwrap_or_else(|_| {
        Preset::new(PresetKind::parse(&r.preset).unwrap_or(PresetKind::Generic))
    });
    let retry_schedule = r
        .retry_schedule
        .as_deref()
        .and_then(|s| super::input::parse_schedule(s).ok().flatten());
    Ok(Webhook {
        id: r.id,
        status: Status::parse(&r.status).unwrap_or(Status::Disabled),
        ticket_types: r
            .ticket_types
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        method: Method::parse(&r.method).unwrap_or(Method::Post),
        request_content_type: RequestType::parse(&r.request_content_type)
            .unwrap_or(RequestType::Json),
        response_content_type: ResponseType::parse(&r.response_content_type)
            .unwrap_or(ResponseType::Json),
        payload_mode: PayloadMode::parse(&r.payload_mode).unwrap_or(PayloadMode::Custom),
        condition_match: MatchMode::parse(&r.condition_match).unwrap_or_default(),
        batch_mode: BatchMode::parse(&r.batch_mode).unwrap_or(BatchMode::None),
        name: r.name,
        description: r.description,
        connection_id: r.connection_id,
        test_connection_id: r.test_connection_id,
        url: r.url,
        url_encoded: r.url_encoded,
        headers: r.headers,
        sealed_headers: r.sealed_headers,
        run_rules_after_response: r.run_rules_after_response,
        action_description: r.action_description,
        show_as_button: r.show_as_button,
        preset,
        body_template: r.body_template,
        send_ids: r.send_ids,
        conditions,
        batch_wait_seconds: r.batch_wait_seconds,
        batch_max_items: r.batch_max_items,
        keep_order: r.keep_order,
        retry_max_attempts: r.retry_max_attempts,
        retry_schedule,
        parameters,
        response_fields,
        response_actions,
        roles: role_names,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// A unique-name race lost between the check and the insert is still a field error.
fn map_unique(e: diesel::result::Error) -> Error {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => Error::invalid("name", "is already taken by another webhook"),
        other => other.into(),
    }
}

macro_rules! row_values {
    ($v:expr) => {{
        let v: &Valid = $v;
        (
            webhooks::name.eq(v.name.clone()),
            webhooks::description.eq(v.description.clone()),
            webhooks::status.eq(v.status.code()),
            webhooks::ticket_types.eq(v
                .ticket_types
                .iter()
                .map(|t| t.code())
                .collect::<Vec<_>>()
                .join(",")),
            webhooks::connection_id.eq(v.connection_id),
            webhooks::test_connection_id.eq(v.test_connection_id),
            webhooks::url.eq(v.url.clone()),
            webhooks::url_encoded.eq(v.url_encoded),
            webhooks::method.eq(v.method.code()),
            webhooks::request_content_type.eq(v.request_content_type.code()),
            webhooks::headers.eq(v.headers.clone()),
            webhooks::response_content_type.eq(v.response_content_type.code()),
            webhooks::run_rules_after_response.eq(v.run_rules_after_response),
            webhooks::action_description.eq(v.action_description.clone()),
            webhooks::show_as_button.eq(v.show_as_button),
            (
                webhooks::preset.eq(v.preset.kind().as_str()),
                webhooks::preset_fields
                    .eq(serde_json::to_string(&v.preset).unwrap_or_else(|_| "{}".into())),
                webhooks::payload_mode.eq(v.payload_mode.code()),
                webhooks::body_template.eq(v.body_template.clone()),
                webhooks::send_ids.eq(v.send_ids),
                webhooks::condition_match.eq(v.condition_match.code()),
                webhooks::batch_mode.eq(v.batch_mode.code()),
                webhooks::batch_wait_seconds.eq(v.batch_wait_seconds),
                webhooks::batch_max_items.eq(v.batch_max_items),
                webhooks::keep_order.eq(v.keep_order),
                webhooks::retry_max_attempts.eq(v.retry_max_attempts),
                webhooks::retry_schedule.eq(v
                    .retry_schedule
                    .as_ref()
                    .map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(","))),
                webhooks::sealed_headers.eq(v.sealed_headers.clone()),
            ),
        )
    }};
}

/// Deleted explicitly, not only by ON DELETE CASCADE: the cascade needs SQLite's
/// foreign_keys pragma, which a connection opened by hand may lack. Every write of a
/// definition passes here (create and update rewrite the children), so here is where
/// the cached definitions are marked stale (`cache`, invariant 1).
fn delete_children(conn: &mut DbConn, id: i64) -> Result<()> {
    super::cache::bump(conn)?;
    diesel::delete(webhook_parameters::table.filter(webhook_parameters::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(
        webhook_response_fields::table.filter(webhook_response_fields::webhook_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        webhook_response_actions::table.filter(webhook_response_actions::webhook_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(webhook_conditions::table.filter(webhook_conditions::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_roles::table.filter(webhook_roles::webhook_id.eq(id))).execute(conn)?;
    Ok(())
}

fn write_children(conn: &mut DbConn, id: i64, v: &Valid) -> Result<()> {
    delete_children(conn, id)?;
    // One insert per row: MultiConnection cannot batch-insert a Vec.
    for (i, p) in v.parameters.iter().enumerate() {
        diesel::insert_into(webhook_parameters::table)
            .values((
                webhook_parameters::webhook_id.eq(id),
                webhook_parameters::position.eq(i as i32),
                webhook_parameters::name.eq(&p.name),
                webhook_parameters::label.eq(&p.label),
                webhook_parameters::default_template.eq(&p.default_template),
                webhook_parameters::read_only.eq(p.read_only),
                webhook_parameters::multi_line.eq(p.multi_line),
            ))
            .execute(conn)?;
    }
    for (i, f) in v.response_fields.iter().enumerate() {
        diesel::insert_into(webhook_response_fields::table)
            .values((
                webhook_response_fields::webhook_id.eq(id),
                webhook_response_fields::position.eq(i as i32),
                webhook_response_fields::path.eq(&f.path),
                webhook_response_fields::target.eq(&f.target),
            ))
            .execute(conn)?;
    }
    for (i, a) in v.response_actions.iter().enumerate() {
        diesel::insert_into(webhook_response_actions::table)
            .values((
                webhook_response_actions::webhook_id.eq(id),
                webhook_response_actions::position.eq(i as i32),
                webhook_response_actions::kind.eq(a.kind.code()),
                webhook_response_actions::target.eq(&a.target),
                webhook_response_actions::value_template.eq(&a.value_template),
            ))
            .execute(conn)?;
    }
    for (i, c) in v.conditions.iter().enumerate() {
        diesel::insert_into(webhook_conditions::table)
            .values((
                webhook_conditions::webhook_id.eq(id),
                webhook_conditions::position.eq(i as i32),
                webhook_conditions::field.eq(&c.field),
                webhook_conditions::operator.eq(c.operator.code()),
                webhook_conditions::value.eq(&c.value),
            ))
            .execute(conn)?;
    }
    for (role_id, _) in &v.roles {
        diesel::insert_into(webhook_roles::table)
            .values((
                webhook_roles::webhook_id.eq(id),
                webhook_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Validates and creates a webhook (secret header values sealed), with its audit entry.
pub fn create(
    conn: &mut DbConn,
    sb: &SecretBox,
    actor: &Actor,
    input: &WebhookInput,
) -> Result<Webhook> {
    crate::db::write(conn, |c| create_in(c, sb, actor, input, None))
}

/// `create` inside a transaction the caller holds; `original` is the webhook a copy
/// takes its secret header values from.
fn create_in(
    c: &mut DbConn,
    sb: &SecretBox,
    actor: &Actor,
    input: &WebhookInput,
    original: Option<&Webhook>,
) -> Result<Webhook> {
    let v = prepare(c, sb, input, None, original)?;
    let now = crate::db::now();
    let id: i64 = diesel::insert_into(webhooks::table)
        .values((
            row_values!(&v),
            webhooks::created_at.eq(now),
            webhooks::updated_at.eq(now),
        ))
        .returning(webhooks::id)
        .get_result(c)
        .map_err(map_unique)?;
    write_children(c, id, &v)?;
    let detail = format!(
        "status: {}; method: {}; connection: {}; roles: {}",
        v.status.code(),
        v.method.code(),
        v.connection_id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "none".into()),
        v.roles
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    audit::record(c, actor, "webhook.create", &v.name, audit::SUCCESS, &detail)?;
    get(c, id)
}

/// Validates and replaces a webhook's whole definition, with its audit entry naming the
/// settings that changed. A secret header value sent blank or redacted keeps its own.
pub fn update(
    conn: &mut DbConn,
    sb: &SecretBox,
    actor: &Actor,
    id: i64,
    input: &WebhookInput,
) -> Result<Webhook> {
    crate::db::write(conn, |c| {
        let old = get(c, id)?;
        let v = prepare(c, sb, input, Some(id), Some(&old))?;
        diesel::update(webhooks::table.find(id))
            .set((row_values!(&v), webhooks::updated_at.eq(crate::db::now())))
            .execute(c)
            .map_err(map_unique)?;
        write_children(c, id, &v)?;
        let new = get(c, id)?;
        let detail = changed_settings(&old, &new);
        audit::record(
            c,
            actor,
            "webhook.update",
            &new.name,
            audit::SUCCESS,
            &detail,
        )?;
        Ok(new)
    })
}

/// "changed: a, b" — names only: header values and templates may be long or sensitive.
fn changed_settings(old: &Webhook, new: &Webhook) -> String {
    let a = serde_json::to_value(WebhookInput::from_webhook(old)).unwrap_or_default();
    let b = serde_json::to_value(WebhookInput::from_webhook(new)).unwrap_or_default();
    let mut changed = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, v) in b {
            if a.get(k) != Some(v) {
                changed.push(k.as_str());
            }
        }
    }
    // A new secret value reads the same (`••••`); an unchanged one keeps its ciphertext.
    if old.sealed_headers != new.sealed_headers && !changed.contains(&"headers") {
        changed.push("headers");
    }
    if changed.is_empty() {
        "no changes".into()
    } else {
        format!("changed: {}", changed.join(", "))
    }
}

pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Webhook> {
    crate::db::write(conn, |c| {
        let w = get(c, id)?;
        delete_children(c, id)?;
        diesel::delete(webhooks::table.find(id)).execute(c)?;
        audit::record(c, actor, "webhook.delete", &w.name, audit::SUCCESS, "")?;
        Ok(w)
    })
}

/// A free name for a copy: "X (copy)", then "X (copy 2)", …
pub fn copy_name(conn: &mut DbConn, name: &str) -> Result<String> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            format!("{name} (copy)")
        } else {
            format!("{name} (copy {n})")
        };
        if !name_taken(conn, &candidate, None)? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict("no free name for the copy".into()))
}

/// Copies a webhook whole (secret header values too) under a new name. The copy starts
/// Disabled so it sends nothing until someone has looked at it.
pub fn clone(conn: &mut DbConn, sb: &SecretBox, actor: &Actor, id: i64) -> Result<Webhook> {
    crate::db::write(conn, |c| {
        let w = get(c, id)?;
        let mut input = WebhookInput::from_webhook(&w);
        input.name = copy_name(c, &w.name)?;
        input.status = Status::Disabled.code().into();
        let copy = create_in(c, sb, actor, &input, Some(&w)).map_err(|e| match e {
            // The original no longer validates (e.g. a form field it used was removed):
            // say so rather than pointing at fields of a page the user is not on.
            Error::Validation(f) => Error::Conflict(format!(
                "`{}` cannot be copied until it is fixed: {}",
                w.name, f
            )),
            other => other,
        })?;
        audit::record(
            c,
            actor,
            "webhook.clone",
            &copy.name,
            audit::SUCCESS,
            &format!("copied from {}", w.name),
        )?;
        Ok(copy)
    })
}

/// Re-encrypts the sealed header values of every webhook with `reseal` (used by rekey,
/// inside its transaction). Returns how many values were resealed.
pub fn reseal_all(conn: &mut DbConn, reseal: &dyn Fn(&str) -> Result<String>) -> Result<usize> {
    let rows: Vec<(i64, Option<String>)> = webhooks::table
        .filter(webhooks::sealed_headers.is_not_null())
        .select((webhooks::id, webhooks::sealed_headers))
        .load(conn)?;
    let mut count = 0;
    for (id, sealed) in rows {
        let Some(sealed) = sealed else { continue };
        let (text, n) = super::secret_headers::reseal(&sealed, reseal)?;
        count += n;
        diesel::update(webhooks::table.find(id))
            .set(webhooks::sealed_headers.eq(text))
            .execute(conn)?;
    }
    super::cache::bump(conn)?;
    Ok(count)
}
