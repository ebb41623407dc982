//! `GET /api/v1/tickets/{key}/webhooks`: the webhooks the token's user may fire on the
//! ticket; `POST /api/v1/tickets/{key}/webhooks/{webhook}/fire`: fire one. The ticket
//! page's Actions, with the same checks (`firing::manual`): the user's roles, the
//! webhook's status, ticket types and "Select tickets", and the parameters.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit::Actor;
use crate::db;
use crate::error::Error;
use crate::firing::manual::{self, FireRequest, Offer};
use crate::http::extract::{ApiUser, client_ip, state};
use crate::ids::{TicketId, WebhookId};
use crate::tickets::{Ticket, TicketKey};

/// Body of fire. Unknown fields are refused; an empty body fires with the defaults.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FireBody {
    /// Parameter values by name; parameters left out take their default. An unknown
    /// name is refused, and so is a read-only parameter given any value but its default.
    pub params: BTreeMap<String, String>,
}

/// The answer to fire: the delivery is queued; follow it at `status_url`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FireAccepted {
    pub delivery_id: i64,
    /// The stable id sent as `webhook-id` with every attempt.
    pub uid: String,
    /// `/api/v1/deliveries/{id}`: its status and attempts.
    pub status_url: String,
}

#[utoipa::path(get, path = "/api/v1/tickets/{key}/webhooks", tag = "tickets",
    params(("key" = String, Path, description = "Display id (`IN12`) or id")),
    responses((status = 200, description = "The webhooks the token's user may fire on this ticket now (a role of theirs is granted; the webhook is enabled or in test, acts on the ticket's type and its conditions are met), with their parameters' defaults rendered for the ticket", body = Vec<Offer>),
        (status = 404, description = "No such ticket")),
    security(("bearer" = [])))]
pub async fn ticket_webhooks_list(
    req: HttpRequest,
    ApiUser(p): ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let key = path.into_inner();
    let offers = db::run(&state(&req)?.pool, move |c| {
        let t = Ticket::find(c, &key)?;
        manual::offered(c, &p, TicketId(t.id), chrono::Utc::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(offers))
}

#[utoipa::path(post, path = "/api/v1/tickets/{key}/webhooks/{webhook}/fire", tag = "tickets",
    params(("key" = String, Path, description = "Display id (`IN12`) or id"), ("webhook" = i64, Path, description = "The webhook's id")),
    request_body(content = FireBody, description = "Optional: `{\"params\": {name: value}}`. Unknown fields are refused."),
    responses((status = 202, description = "Queued (trigger `manual`); the ticket's history has the action description", body = FireAccepted),
        (status = 400, description = "The body is not a JSON object"),
        (status = 403, description = "None of the user's roles may fire this webhook"),
        (status = 404, description = "No such ticket or webhook"),
        (status = 415, description = "The body is not `application/json`"),
        (status = 422, description = "The webhook is disabled, does not act on this ticket's type, or the ticket does not meet its conditions (`error.fields` names `webhook`); or an unknown parameter, or a changed read-only one (`params.<name>`); or an unknown body field")),
    security(("bearer" = [])))]
pub async fn ticket_webhooks_fire(
    req: HttpRequest,
    ApiUser(p): ApiUser,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (key, webhook) = path.into_inner();
    let body: FireBody = super::body::parse_or_default(&req, &body)?;
    let actor = Actor::user(&p, client_ip(&req));
    let sb = st.secrets.clone();
    let schedule = st.config.retry_schedule.clone();
    let d = db::run(&st.pool, move |c| {
        let r = FireRequest {
            principal: &p,
            audit: &actor,
            ticket: TicketKey::Typed(&key),
            webhook: WebhookId(webhook),
            params: &body.params,
        };
        // The answer is made from what was written: no read of the new row.
        manual::fire(c, &sb, &schedule, &r, chrono::Utc::now())
    })
    .await?;
    st.delivery_waker.wake();
    let status_url = format!("/api/v1/deliveries/{}", d.id.0);
    Ok(HttpResponse::Accepted()
        .insert_header((actix_web::http::header::LOCATION, status_url.clone()))
        .json(FireAccepted {
            status_url,
            delivery_id: d.id.0,
            uid: d.uid,
        }))
}
