//! `GET /api/v1/deliveries/{id}` (with its attempts): administrators' tokens, and the
//! token of the user who fired the delivery by hand (it is the `status_url` the fire
//! endpoint answers with). `POST …/replay`, `POST …/cancel`: administrators only.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit;
use crate::db;
use crate::delivery::queue::{Delivery, DeliveryId};
use crate::delivery::records::AttemptRecord;
use crate::error::{Error, Result};
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

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries", params(("id" = i64, Path)),
    responses((status = 200, description = "The delivery, its request (secrets redacted) and every attempt"),
        (status = 403, description = "Neither an administrator nor the user who fired it"), (status = 404)),
    security(("bearer" = [])))]
pub async fn deliveries_get(
    ApiUser(p): ApiUser,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let v = db::run(&state(&req)?.pool, move |c| view(c, id)).await?;
    if !p.is_admin() && v.delivery.actor_id != Some(p.user.id) {
        return Err(Error::Forbidden(
            "only administrators and the user who fired a delivery may read it".into(),
        ));
    }
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
