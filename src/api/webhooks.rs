//! `/api/v1/webhooks`: webhook definitions for administrators' tokens, with the same
//! validation as the pages (errors as `{"error": {"code", "message", "fields"}}`).
//! A GET's body can be sent back as a PUT unchanged (secret header values read back as
//! `••••` and keep their stored value); PATCH takes any subset of it. Bodies are read
//! strictly (`api::body`): JSON only, and a key the webhook does not have, at any depth,
//! is a 422 naming its path (`retry_schedul`, `parameters.0.lable`, `preset.txt`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::body;
use crate::audit::Actor;
use crate::db;
use crate::error::Error;
use crate::http::extract::{ApiAdmin, client_ip, state};
use crate::webhooks::{Webhook, WebhookInput, store};

/// A webhook as the API shows it: its id and times, and every setting under the same
/// names a create or update takes.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookOut {
    pub id: i64,
    #[serde(flatten)]
    pub settings: WebhookInput,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<&Webhook> for WebhookOut {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id,
            settings: WebhookInput::from_webhook(w),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

fn actor(p: &crate::auth::Principal, req: &HttpRequest) -> Actor {
    Actor::user(p, client_ip(req))
}

/// The largest webhook body read. More than `body::MAX_BYTES`, the limit the JSON
/// extractor gave these endpoints before they read raw bytes: a definition may hold
/// several templates of up to `limits::TEMPLATE` characters each, and a valid one must
/// reach the length checks (a 422 beside its field) rather than stop at a 413.
const MAX_BYTES: usize = 1024 * 1024;

/// The body, up to [`MAX_BYTES`] (413 beyond).
async fn read(payload: web::Payload) -> actix_web::Result<web::Bytes> {
    payload
        .to_bytes_limited(MAX_BYTES)
        .await
        .map_err(actix_web::error::ErrorPayloadTooLarge)?
}

/// The keys a GET shows that are not settings: a GET's body sent back as a PUT drops them.
const READ_ONLY: [&str; 3] = ["id", "created_at", "updated_at"];

/// The object as a `WebhookInput`. A key it does not have, at any depth, is a 422 naming
/// its path; a value of the wrong shape is a 400 with serde's message.
///
/// The structs stay lenient (`#[serde(default)]`, unknown keys ignored) because the
/// stored preset and the page's form fields are read through them too, and rows saved
/// in an older shape must keep loading; so the API checks its keys here instead.
fn parse_input(m: Map<String, Value>) -> Result<WebhookInput, Error> {
    let sent = Value::Object(m);
    let input: WebhookInput = serde_json::from_value(sent.clone()).map_err(|e| {
        let msg = e.to_string();
        // A struct that already refuses unknown keys (a condition row) names only the
        // key, not where it was.
        match msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            Some(k) => {
                let at = nested_path_of(&sent, k).unwrap_or_else(|| k.to_string());
                Error::invalid(&at, msg.clone())
            }
            None => Error::BadRequest(format!("invalid webhook JSON: {msg}")),
        }
    })?;
    // Every field serialises, so a key sent but missing from the input read back is one
    // serde skipped: unknown, whatever its depth.
    let kept = serde_json::to_value(&input).map_err(|e| Error::Internal(e.to_string()))?;
    match dropped(&sent, &kept, "") {
        Some(path) => Err(Error::invalid(&path, "is not a webhook setting")),
        None => Ok(input),
    }
}

/// The dotted path of the first object key in `sent` that `kept` does not have.
fn dropped(sent: &Value, kept: &Value, path: &str) -> Option<String> {
    let at = |k: &str| body::child_path(path, k);
    match (sent, kept) {
        (Value::Object(s), Value::Object(k)) => s.iter().find_map(|(key, v)| match k.get(key) {
            None => Some(at(key)),
            Some(kv) => dropped(v, kv, &at(key)),
        }),
        (Value::Array(s), Value::Array(k)) => s
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (sv, kv))| dropped(sv, kv, &at(&i.to_string()))),
        _ => None,
    }
}

/// The dotted path of the first key `key` below the top level of `v`: the top-level
/// struct takes unknown keys (`dropped` names those), so serde's refusal is nested.
fn nested_path_of(v: &Value, key: &str) -> Option<String> {
    fn walk(v: &Value, key: &str, path: &str, depth: usize) -> Option<String> {
        let at = |k: &str| body::child_path(path, k);
        match v {
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                if depth > 0 && k == key {
                    Some(at(k))
                } else {
                    walk(v, key, &at(k), depth + 1)
                }
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, key, &at(&i.to_string()), depth + 1)),
            _ => None,
        }
    }
    walk(v, key, "", 0)
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every webhook, by name", body = [WebhookOut])),
    security(("bearer" = [])))]
pub async fn webhooks_list(
    req: HttpRequest,
    ApiAdmin(_p): ApiAdmin,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let all = db::run(&st.pool, store::list).await?;
    let out: Vec<WebhookOut> = all.iter().map(WebhookOut::from).collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookOut), (status = 404, description = "No such webhook")),
    security(("bearer" = [])))]
pub async fn webhooks_get(
    req: HttpRequest,
    ApiAdmin(_p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let w = db::run(&st.pool, move |c| store::get(c, id)).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&w)))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = WebhookInput,
    responses((status = 201, body = WebhookOut), (status = 400, description = "Not JSON, or a value of the wrong shape"),
        (status = 413, description = "Over 1 MiB"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "Validation failed or an unknown key; `fields` says where")),
    security(("bearer" = [])))]
pub async fn webhooks_create(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let st = state(&req)?;
    let input = parse_input(body::object(&req, &read(payload).await?)?)?;
    let actor = actor(&p, &req);
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| store::create(c, &sb, &actor, &input)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", w.id)))
        .json(WebhookOut::from(&w)))
}

#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    request_body = WebhookInput,
    responses((status = 200, body = WebhookOut), (status = 400, description = "Not JSON"),
        (status = 404, description = "No such webhook"), (status = 413, description = "Over 1 MiB"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "Validation failed or an unknown key")),
    security(("bearer" = [])))]
pub async fn webhooks_put(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let st = state(&req)?;
    let id = path.into_inner();
    let mut m = body::object(&req, &read(payload).await?)?;
    // What a GET returns may come back whole: its read-only parts are not settings.
    for k in READ_ONLY {
        m.remove(k);
    }
    let input = parse_input(m)?;
    let actor = actor(&p, &req);
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| store::update(c, &sb, &actor, id, &input)).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&w)))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    request_body(content = Object, description = "Any subset of the webhook's settings"),
    responses((status = 200, body = WebhookOut), (status = 400, description = "Not JSON"),
        (status = 404, description = "No such webhook"), (status = 413, description = "Over 1 MiB"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "Validation failed or an unknown key")),
    security(("bearer" = [])))]
pub async fn webhooks_patch(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let st = state(&req)?;
    let id = path.into_inner();
    let changes = body::object(&req, &read(payload).await?)?;
    let actor = actor(&p, &req);
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| {
        let current = store::get(c, id)?;
        let m = body::patched(
            &WebhookInput::from_webhook(&current),
            changes,
            "webhook setting",
        )?;
        // A changed value is checked whole, so an unknown key inside it is refused too.
        let input = parse_input(m)?;
        store::update(c, &sb, &actor, id, &input)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&w)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such webhook")),
    security(("bearer" = [])))]
pub async fn webhooks_delete(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = actor(&p, &req);
    db::run(&st.pool, move |c| store::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
