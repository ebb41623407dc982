//! `/api/v1/rules`: trigger rules for administrators' tokens, with the validation the
//! pages use (`rules::input::validate`). A GET's body can be sent back as a PUT; PATCH
//! takes any subset of it. Bodies are read strictly (`api::body`): JSON only, unknown
//! fields refused.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::body;
use crate::audit::Actor;
use crate::db;
use crate::error::Error;
use crate::http::extract::{ApiAdmin, client_ip, state};
use crate::rules::dry_run::DryRun;
use crate::rules::store::{self, Firings};
use crate::rules::{Rule, RuleInput, dry_run};
use crate::tickets::Ticket;

/// A rule as the API shows it: id, place in the order, firing counts, and every setting
/// under the names a create or update takes.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub position: i32,
    #[serde(flatten)]
    pub settings: RuleInput,
    pub firings: Firings,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn out(c: &mut crate::db::DbConn, r: &Rule) -> Result<RuleOut, Error> {
    Ok(RuleOut {
        id: r.id,
        position: r.position,
        settings: RuleInput::from_rule(r),
        firings: store::firings(c, r.id, crate::db::now())?,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn actor(p: &crate::auth::Principal, req: &HttpRequest) -> Actor {
    Actor::user(p, client_ip(req))
}

/// The object as a `RuleInput`; a field it does not know, or of the wrong shape, is a
/// 422 naming it.
fn parse_input(m: Map<String, Value>) -> Result<RuleInput, Error> {
    serde_json::from_value(Value::Object(m)).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .strip_prefix("unknown field `")
            .or_else(|| msg.strip_prefix("unknown variant `"))
            .and_then(|r| r.split('`').next())
            .unwrap_or("body");
        Error::invalid(field, msg.clone())
    })
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, description = "Every rule, in evaluation order", body = [RuleOut])),
    security(("bearer" = [])))]
pub async fn rules_list(req: HttpRequest, ApiAdmin(_p): ApiAdmin) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let all = db::run(&st.pool, |c| {
        let rules = store::list(c)?;
        rules
            .iter()
            .map(|r| out(c, r))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = RuleInput,
    responses((status = 201, body = RuleOut), (status = 400, description = "Not JSON"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "Validation failed; `error.fields` names each field")),
    security(("bearer" = [])))]
pub async fn rules_create(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    bytes: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let input = parse_input(body::object(&req, &bytes)?)?;
    let actor = actor(&p, &req);
    let r = db::run(&st.pool, move |c| {
        let r = store::create(c, &actor, &input)?;
        out(c, &r)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/rules/{}", r.id),
        ))
        .json(r))
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, body = RuleOut), (status = 404)),
    security(("bearer" = [])))]
pub async fn rules_get(
    req: HttpRequest,
    ApiAdmin(_p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let r = db::run(&st.pool, move |c| {
        let r = store::get(c, id)?;
        out(c, &r)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(put, path = "/api/v1/rules/{id}", tag = "rules", request_body = RuleInput,
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, body = RuleOut), (status = 404), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn rules_put(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let mut m = body::object(&req, &bytes)?;
    // What a GET returns may come back whole: its read-only parts are not settings.
    for k in ["id", "position", "firings", "created_at", "updated_at"] {
        m.remove(k);
    }
    let input = parse_input(m)?;
    let actor = actor(&p, &req);
    let r = db::run(&st.pool, move |c| {
        let r = store::update(c, &actor, id, &input)?;
        out(c, &r)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(patch, path = "/api/v1/rules/{id}", tag = "rules", request_body = Object,
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, body = RuleOut), (status = 404), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn rules_patch(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let changes = body::object(&req, &bytes)?;
    let actor = actor(&p, &req);
    let r = db::run(&st.pool, move |c| {
        let current = store::get(c, id)?;
        let m = body::patched(&RuleInput::from_rule(&current), changes, "rule setting")?;
        let r = store::update(c, &actor, id, &parse_input(m)?)?;
        out(c, &r)
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

#[utoipa::path(delete, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"), (status = 404)),
    security(("bearer" = [])))]
pub async fn rules_delete(
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

#[utoipa::path(post, path = "/api/v1/rules/{id}/clone", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 201, description = "The copy, disabled", body = RuleOut), (status = 404),
        (status = 409, description = "The rule no longer validates as it is")),
    security(("bearer" = [])))]
pub async fn rules_clone(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = actor(&p, &req);
    let r = db::run(&st.pool, move |c| {
        let r = store::clone(c, &actor, id)?;
        out(c, &r)
    })
    .await?;
    Ok(HttpResponse::Created().json(r))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Every rule's id, once, in the new evaluation order.
    pub order: Vec<i64>,
}

#[utoipa::path(put, path = "/api/v1/rules/order", tag = "rules", request_body = OrderBody,
    responses((status = 200, description = "Every rule, in the new order", body = [RuleOut]),
        (status = 422, description = "Not every rule exactly once")),
    security(("bearer" = [])))]
pub async fn rules_order(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    bytes: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let b: OrderBody = serde_json::from_value(Value::Object(body::object(&req, &bytes)?))
        .map_err(|e| Error::invalid("order", e.to_string()))?;
    let actor = actor(&p, &req);
    let all = db::run(&st.pool, move |c| {
        let rules = store::reorder(c, &actor, &b.order)?;
        rules
            .iter()
            .map(|r| out(c, r))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(all))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// Ticket id or display id (`IN164`).
    pub ticket: String,
    /// Event type, e.g. `ticket.updated`.
    pub event: String,
}

#[utoipa::path(post, path = "/api/v1/rules/{id}/test", tag = "rules", request_body = TestBody,
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, description = "What the rule would do; nothing is sent or changed", body = DryRun),
        (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn rules_test(
    req: HttpRequest,
    ApiAdmin(_p): ApiAdmin,
    path: web::Path<i64>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let b: TestBody = serde_json::from_value(Value::Object(body::object(&req, &bytes)?))
        .map_err(|e| Error::invalid("body", e.to_string()))?;
    let sb = st.secrets.clone();
    let r = db::run(&st.pool, move |c| {
        let rule = store::get(c, id)?;
        let ticket = Ticket::find(c, &b.ticket)?;
        dry_run::run(c, &sb, &rule, &ticket, b.event.trim(), chrono::Utc::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
