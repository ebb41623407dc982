//! Integration health over the API: alert policies (the default and per connection),
//! and pausing, resuming and discarding a connection's held deliveries. The same
//! domain functions as the pages, the same audit rows.

use actix_web::{HttpRequest, HttpResponse, web};

use super::body::parse_or_default;
use super::connections::ConnectionView;
use crate::alerts::{ConnectionPolicy, Policy, policy};
use crate::audit::Actor;
use crate::connections::Connection;
use crate::db;
use crate::error::Error;
use crate::http::extract::{ApiAdmin, client_ip, state};

#[utoipa::path(get, path = "/api/v1/alerts/default", tag = "alerts",
    responses((status = 200, body = Policy)), security(("bearer" = [])))]
pub async fn alerts_default_get(req: HttpRequest, _a: ApiAdmin) -> Result<HttpResponse, Error> {
    let p = db::run(&state(&req)?.pool, policy::default_policy).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Replaces the default policy; omitted fields take the built-in defaults.
#[utoipa::path(put, path = "/api/v1/alerts/default", tag = "alerts", request_body = Policy,
    responses((status = 200, body = Policy), (status = 422, description = "Validation errors by field")),
    security(("bearer" = [])))]
pub async fn alerts_default_put(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let input: Policy = parse_or_default(&req, &body)?;
    let actor = Actor::user(&p, client_ip(&req));
    let saved = db::run(&state(&req)?.pool, move |c| {
        policy::put_default(c, &actor, input)
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}/alerts", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionPolicy), (status = 404)), security(("bearer" = [])))]
pub async fn connection_alerts_get(
    req: HttpRequest,
    _a: ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let cp = db::run(&state(&req)?.pool, move |c| {
        let conn = Connection::get(c, id)?;
        policy::of_connection(c, &conn)
    })
    .await?;
    Ok(HttpResponse::Ok().json(cp))
}

/// `{"follows_default": true}`, or `{"follows_default": false, "policy": {…}}`.
#[utoipa::path(put, path = "/api/v1/connections/{id}/alerts", tag = "alerts", params(("id" = i64, Path)),
    request_body = ConnectionPolicy,
    responses((status = 200, body = ConnectionPolicy), (status = 404), (status = 422, description = "Validation errors by field")),
    security(("bearer" = [])))]
pub async fn connection_alerts_put(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let choice: ConnectionPolicy = parse_or_default(&req, &body)?;
    let actor = Actor::user(&p, client_ip(&req));
    let saved = db::run(&state(&req)?.pool, move |c| {
        policy::put_for_connection(c, &actor, id, choice)
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Holds the connection's deliveries until it is resumed.
#[utoipa::path(post, path = "/api/v1/connections/{id}/pause", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionView), (status = 404), (status = 409, description = "Already paused")),
    security(("bearer" = [])))]
pub async fn connections_pause(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let actor = Actor::user(&p, client_ip(&req));
    let c = db::run(&state(&req)?.pool, move |c| {
        Connection::pause(c, &actor, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ConnectionView::from(&c)))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Resumed {
    pub connection: ConnectionView,
    /// Deliveries that were waiting and leave now, oldest first.
    pub released: usize,
}

/// Closes the breaker, lifts a pause, clears the 410 flag: held deliveries leave now.
#[utoipa::path(post, path = "/api/v1/connections/{id}/resume", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = Resumed), (status = 404)), security(("bearer" = [])))]
pub async fn connections_resume(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&p, client_ip(&req));
    let (c, released) = db::run(&st.pool, move |c| Connection::resume(c, &actor, id)).await?;
    st.delivery_waker.wake();
    Ok(HttpResponse::Ok().json(Resumed {
        connection: ConnectionView::from(&c),
        released,
    }))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Discarded {
    /// Held deliveries cancelled.
    pub discarded: usize,
}

/// Cancels the held deliveries of a paused connection (audited).
#[utoipa::path(post, path = "/api/v1/connections/{id}/discard-held", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = Discarded), (status = 404), (status = 409, description = "The connection is not paused")),
    security(("bearer" = [])))]
pub async fn connections_discard_held(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let actor = Actor::user(&p, client_ip(&req));
    let discarded = db::run(&state(&req)?.pool, move |c| {
        Connection::discard_held(c, &actor, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Discarded { discarded }))
}
