//! `POST /api/v1/webhooks/{id}/test` and `POST /api/v1/connections/{id}/test`: the
//! test-send and "Test connection" of the pages, for administrators' tokens. Both answer
//! 200 with the outcome whether or not the receiver accepted the request (`succeeded`);
//! an error status means nothing was sent.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit::Actor;
use crate::db;
use crate::delivery::direct::TestReport;
use crate::error::Error;
use crate::http::extract::{ApiAdmin, client_ip, state};

#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookTestBody {
    /// A ticket's display id (`IN12`) or id; empty or absent: the built-in sample ticket.
    pub ticket: String,
    /// Parameter values by name; parameters left out take their default.
    pub params: BTreeMap<String, String>,
    /// Send through the webhook's test connection.
    pub use_test_connection: bool,
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = i64, Path)),
    request_body(content = WebhookTestBody, description = "Optional (an empty body tests with the sample ticket): ticket, parameters, connection. Unknown fields are refused."),
    responses((status = 200, description = "What was sent and what came back (recorded as a delivery with trigger `test`)", body = TestReport),
        (status = 400, description = "The body is not a JSON object"),
        (status = 404, description = "No such webhook or ticket"),
        (status = 413, description = "The body is larger than 256 KiB"),
        (status = 415, description = "The body is not `application/json`"),
        (status = 422, description = "An unknown or mistyped field (`error.fields` names it), or the request cannot be built")),
    security(("bearer" = [])))]
pub async fn webhooks_test(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let body: WebhookTestBody = super::body::parse_or_default(&req, &body)?;
    let w = db::run(&st.pool, move |c| crate::webhooks::store::get(c, id)).await?;
    let ask = crate::firing::test_send::TestSendRequest {
        ticket: body.ticket,
        params: body.params,
        use_test_connection: body.use_test_connection,
        actor_name: p.user.display_name.clone(),
    };
    let report = crate::firing::test_send::run(
        &st.direct,
        w,
        Some(id),
        ask,
        Actor::user(&p, client_ip(&req)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[utoipa::path(post, path = "/api/v1/connections/{id}/test", tag = "connections", params(("id" = i64, Path)),
    responses((status = 200, description = "What was sent (GET of the base URL) and what came back", body = TestReport),
        (status = 404, description = "No such connection")),
    security(("bearer" = [])))]
pub async fn connections_test(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let report = crate::connections::testing::run(
        &st.direct,
        path.into_inner(),
        Actor::user(&p, client_ip(&req)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
