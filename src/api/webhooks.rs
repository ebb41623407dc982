//! `/api/v1/webhooks`: webhook definitions for administrators' tokens, with the same
//! validation as the pages (errors as `{"error": {"code", "message", "fields"}}`).
//! A GET's body can be sent back as a PUT unchanged (secret header values read back as
//! `••••` and keep their stored value); PATCH takes any subset of it.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde_json::Value;

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

/// A JSON body that does not fit the shape is a 400 with serde's message, which names
/// the field.
fn parse_input(v: Value) -> Result<WebhookInput, Error> {
    serde_json::from_value(v).map_err(|e| Error::BadRequest(format!("invalid webhook JSON: {e}")))
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
    responses((status = 201, body = WebhookOut), (status = 422, description = "Validation failed; `fields` says where")),
    security(("bearer" = [])))]
pub async fn webhooks_create(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    body: web::Json<Value>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let input = parse_input(body.into_inner())?;
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
    responses((status = 200, body = WebhookOut), (status = 404, description = "No such webhook"), (status = 422, description = "Validation failed")),
    security(("bearer" = [])))]
pub async fn webhooks_put(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let input = parse_input(body.into_inner())?;
    let actor = actor(&p, &req);
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| store::update(c, &sb, &actor, id, &input)).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&w)))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    request_body(content = Object, description = "Any subset of the webhook's settings"),
    responses((status = 200, body = WebhookOut), (status = 404, description = "No such webhook"), (status = 422, description = "Validation failed")),
    security(("bearer" = [])))]
pub async fn webhooks_patch(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let Value::Object(changes) = body.into_inner() else {
        return Err(Error::BadRequest(
            "a PATCH body is a JSON object of settings".into(),
        ));
    };
    let actor = actor(&p, &req);
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| {
        let current = store::get(c, id)?;
        let mut v = serde_json::to_value(WebhookInput::from_webhook(&current))
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(obj) = v.as_object_mut() {
            for (k, val) in changes {
                if !obj.contains_key(&k) {
                    return Err(Error::invalid(&k, "is not a webhook setting"));
                }
                obj.insert(k, val);
            }
        }
        let input = parse_input(v)?;
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
