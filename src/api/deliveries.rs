//! The execution log over the API, for administrators' tokens: `GET /api/v1/deliveries`
//! (the log's filters and cursor), `…/export.jsonl` (everything a filter selects,
//! streamed), `GET …/{key}` by number or `webhook-id` (`msg_…`) with its attempts,
//! `GET …/{id}/attempts`, `POST …/replay`, `POST …/cancel`. A delivery and its
//! attempts may also be read by the user who fired it by hand (it is the `status_url`
//! the fire endpoint answers with).

use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit;
use crate::db;
use crate::delivery::queue::{Delivery, DeliveryId};
use crate::delivery::records::AttemptRecord;
use crate::error::{Error, Result};
use crate::execution_log::{LogQuery, Page, export, page};
use crate::firing;
use crate::http::extract::{ApiAdmin, ApiUser, state};

#[derive(serde::Serialize)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub headers: Vec<(String, String)>,
    pub attempts: Vec<AttemptView>,
}

#[derive(serde::Serialize)]
pub struct AttemptView {
    #[serde(flatten)]
    pub attempt: AttemptRecord,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
}

fn view(conn: &mut db::DbConn, id: i64) -> Result<DeliveryView> {
    let delivery = Delivery::get(conn, id)?;
    view_of(conn, delivery)
}

fn view_of(conn: &mut db::DbConn, delivery: Delivery) -> Result<DeliveryView> {
    let id = delivery.id;
    let attempts = AttemptRecord::for_delivery(conn, id)?
        .into_iter()
        .map(|a| AttemptView {
            request_headers: a.request_header_list(),
            response_headers: a.response_header_list(),
            attempt: a,
        })
        .collect();
    Ok(DeliveryView {
        headers: delivery.header_list(),
        delivery,
        attempts,
    })
}

/// A delivery by number or by `webhook-id`.
fn find(conn: &mut db::DbConn, key: &str) -> Result<Delivery> {
    match key.trim().parse::<i64>() {
        Ok(id) => Delivery::get(conn, id),
        Err(_) => Delivery::find_by_uid(conn, key.trim())?
            .ok_or_else(|| Error::NotFound(format!("delivery {key}"))),
    }
}

/// Administrators read every delivery; others only those they fired by hand.
fn may_read(p: &crate::auth::Principal, d: &Delivery) -> Result<()> {
    if p.is_admin() || d.actor_id == Some(p.user.id) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only administrators and the user who fired a delivery may read it".into(),
        ))
    }
}

/// The log's filters from the query string (`status` may repeat).
fn filters(req: &HttpRequest) -> Result<LogQuery> {
    serde_html_form::from_str(req.query_string())
        .map_err(|e| Error::BadRequest(format!("the filters are not readable: {e}")))
}

#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries", params(LogQuery),
    responses((status = 200, description = "Deliveries newest first, one keyset page", body = Page),
        (status = 400, description = "An unreadable query string"), (status = 422, description = "A filter with a bad value")),
    security(("bearer" = [])))]
pub async fn deliveries_list(_admin: ApiAdmin, req: HttpRequest) -> Result<HttpResponse> {
    let f = filters(&req)?.check(db::now())?;
    let p = db::run(&state(&req)?.pool, move |c| page(c, &f)).await?;
    Ok(HttpResponse::Ok().json(p))
}

#[utoipa::path(get, path = "/api/v1/deliveries/export.jsonl", tag = "deliveries", params(LogQuery),
    responses((status = 200, description = "Every delivery the filters select, one JSON object per line, newest first, streamed", content_type = "application/x-ndjson")),
    security(("bearer" = [])))]
pub async fn deliveries_export(_admin: ApiAdmin, req: HttpRequest) -> Result<HttpResponse> {
    let f = filters(&req)?.check(db::now())?;
    let pool = state(&req)?.pool.clone();
    let body = crate::http::export::stream(pool, f, |rows, _| export::jsonl_chunk(rows));
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{key}", tag = "deliveries",
    params(("key" = String, Path, description = "Delivery number or webhook-id (`msg_…`)")),
    responses((status = 200, description = "The delivery, its request (secrets redacted) and every attempt"),
        (status = 403, description = "Neither an administrator nor the user who fired it"), (status = 404)),
    security(("bearer" = [])))]
pub async fn deliveries_get(
    ApiUser(p): ApiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let key = path.into_inner();
    let v = db::run(&state(&req)?.pool, move |c| {
        let d = find(c, &key)?;
        may_read(&p, &d)?;
        view_of(c, d)
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{key}/attempts", tag = "deliveries",
    params(("key" = String, Path, description = "Delivery number or webhook-id (`msg_…`)")),
    responses((status = 200, description = "Every attempt, first to last (secrets redacted)"),
        (status = 403, description = "Neither an administrator nor the user who fired it"), (status = 404)),
    security(("bearer" = [])))]
pub async fn deliveries_attempts(
    ApiUser(p): ApiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let key = path.into_inner();
    let v = db::run(&state(&req)?.pool, move |c| {
        let d = find(c, &key)?;
        may_read(&p, &d)?;
        Ok(view_of(c, d)?.attempts)
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/replay", tag = "deliveries", params(("id" = i64, Path)),
    responses((status = 201, description = "A new delivery of the original request, linked to it; its retries follow the current retry policy of the webhook it came from (the global policy when it has none)"), (status = 404)),
    security(("bearer" = [])))]
pub async fn deliveries_replay(
    ApiAdmin(p): ApiAdmin,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let st = state(&req)?;
    let global = st.config.retry_schedule.clone();
    let actor = audit::Actor::user(&p, crate::http::extract::client_ip(&req));
    let v = db::run(&st.pool, move |c| {
        let new = firing::replay(c, &actor, DeliveryId(id), &global, db::now())?;
        view(c, new.0)
    })
    .await?;
    st.delivery_waker.wake();
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/cancel", tag = "deliveries", params(("id" = i64, Path)),
    responses((status = 200, description = "The delivery, now cancelled"), (status = 404), (status = 409, description = "Not pending")),
    security(("bearer" = [])))]
pub async fn deliveries_cancel(
    ApiAdmin(p): ApiAdmin,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let st = state(&req)?;
    let actor = audit::Actor::user(&p, crate::http::extract::client_ip(&req));
    let v = db::run(&st.pool, move |c| {
        firing::cancel(c, &actor, DeliveryId(id), db::now())?;
        view(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}
