//! Firing webhooks from the ticket page: the Actions menu and buttons, the dialog that
//! prompts for the webhook's parameters (with "Show request"), firing, and the live
//! status of what was fired. The rules and checks are `firing::manual`'s; this parses
//! and renders. Without htmx the dialog is a page of its own and firing redirects back
//! to the ticket.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, flash, html, redirect};
use crate::audit::Actor;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::firing::manual::{self, FireRequest, Offer, Preview};
use crate::firing::progress::{self, Progress};
use crate::http::extract::{Authenticated, TechnicianUser, client_ip, state};
use crate::http::htmx::is_htmx;
use crate::ids::{DeliveryId, TicketId, WebhookId};
use crate::tickets::TicketKey;
use crate::tickets::history_view::HistoryView;

/// How many deliveries the ticket's "Recent deliveries" panel lists.
pub const RECENT: i64 = 10;

/// The form key prefix of a parameter's value: `param.<name>`.
const PARAM_PREFIX: &str = "param.";

/// What the ticket page shows of firing: the webhooks the user may fire there, and the
/// latest deliveries fired by hand.
pub struct Panels {
    pub actions: Vec<Offer>,
    pub deliveries: Vec<Progress>,
}

pub async fn panels(req: &HttpRequest, auth: &Authenticated, id: i64) -> Result<Panels, Error> {
    let st = state(req)?;
    let p = auth.principal.clone();
    db::run(&st.pool, move |c| {
        Ok(Panels {
            actions: manual::offered(c, &p, TicketId(id), chrono::Utc::now())?,
            deliveries: progress::recent(c, TicketId(id), RECENT)?,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "tickets/_fire_dialog.html")]
struct FireDialog {
    csrf: String,
    ticket_id: i64,
    offer: Offer,
    in_dialog: bool,
}

#[derive(Template)]
#[template(path = "tickets/fire.html")]
struct FirePage {
    ctx: PageCtx,
    csrf: String,
    ticket_id: i64,
    display_id: String,
    offer: Offer,
    in_dialog: bool,
}

/// `GET /tickets/{id}/webhooks/{webhook}/fire`: the prompt, in the ticket page's dialog
/// (htmx) or as a page of its own.
pub async fn ticket_webhooks_dialog(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, webhook) = path.into_inner();
    let p = auth.principal.clone();
    let (offer, display_id) = db::run(&st.pool, move |c| {
        let offer = manual::offer(c, &p, TicketId(id), WebhookId(webhook), chrono::Utc::now())?;
        Ok((offer, crate::tickets::Ticket::get(c, id)?.display_id))
    })
    .await?;
    let ctx = PageCtx::new(&auth, &session, "tickets");
    if is_htmx(&req) {
        return html(
            FireDialog {
                csrf: ctx.csrf,
                ticket_id: id,
                offer,
                in_dialog: true,
            }
            .render(),
        );
    }
    html(
        FirePage {
            csrf: ctx.csrf.clone(),
            ctx,
            ticket_id: id,
            display_id,
            offer,
            in_dialog: false,
        }
        .render(),
    )
}

/// The parameter values of a posted prompt. Any other field is refused: a misspelt
/// parameter must not quietly fall back to its default. A browser sends a textarea's
/// line breaks as CRLF; the webhook gets them as typed.
fn prompt_values(
    pairs: Vec<(String, String)>,
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let mut out = std::collections::BTreeMap::new();
    let mut errs = FieldErrors::new();
    for (k, v) in pairs {
        if k == crate::http::csrf::FORM_FIELD {
            continue;
        }
        match k.strip_prefix(PARAM_PREFIX) {
            Some(name) => {
                out.insert(name.to_string(), v.replace("\r\n", "\n"));
            }
            None => errs.add(&k, format!("unknown field `{k}`")),
        }
    }
    errs.into_result()?;
    Ok(out)
}

#[derive(Template)]
#[template(path = "tickets/_fire_preview.html")]
struct PreviewFragment {
    preview: Option<Preview>,
    error: String,
}

/// `POST /tickets/{id}/webhooks/{webhook}/preview`: "Show request" — the exact request
/// firing would queue now, rendered and never queued.
pub async fn ticket_webhooks_preview(
    req: HttpRequest,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64)>,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, webhook) = path.into_inner();
    let params = prompt_values(form.into_inner())?;
    let p = auth.principal.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let sb = st.secrets.clone();
    let schedule = st.config.retry_schedule.clone();
    let outcome = db::run(&st.pool, move |c| {
        let r = FireRequest {
            principal: &p,
            audit: &actor,
            ticket: TicketKey::Id(TicketId(id)),
            webhook: WebhookId(webhook),
            params: &params,
        };
        manual::preview(c, &sb, &schedule, &r, chrono::Utc::now())
    })
    .await;
    let frag = match outcome {
        Ok(preview) => PreviewFragment {
            preview: Some(preview),
            error: String::new(),
        },
        // What the user can fix is shown in place; not being allowed is an error.
        Err(e @ (Error::Validation(_) | Error::BadRequest(_))) => PreviewFragment {
            preview: None,
            error: refusal_text(&e),
        },
        Err(e) => return Err(e),
    };
    html(frag.render())
}

#[derive(Template)]
#[template(path = "tickets/_fired.html")]
struct Fired {
    ticket_id: i64,
    webhook_name: String,
    p: Progress,
    deliveries: Vec<Progress>,
    history: Vec<HistoryView>,
}

/// `POST /tickets/{id}/webhooks/{webhook}/fire`: queues the delivery. htmx gets the
/// dialog showing the delivery's live status, with the ticket's "Recent deliveries"
/// and history out of band; a browser without it is sent back to the ticket.
pub async fn ticket_webhooks_fire(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64)>,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, webhook) = path.into_inner();
    let params = prompt_values(form.into_inner())?;
    let p = auth.principal.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let sb = st.secrets.clone();
    let schedule = st.config.retry_schedule.clone();
    let delivery = db::run(&st.pool, move |c| {
        let r = FireRequest {
            principal: &p,
            audit: &actor,
            ticket: TicketKey::Id(TicketId(id)),
            webhook: WebhookId(webhook),
            params: &params,
        };
        Ok(manual::fire(c, &sb, &schedule, &r, chrono::Utc::now())?.id)
    })
    .await?;
    st.delivery_waker.wake();

    if !is_htmx(&req) {
        flash(
            &session,
            "success",
            "Webhook fired: the delivery is queued.",
        );
        return Ok(redirect(&req, &format!("/tickets/{id}#deliveries")));
    }
    let fired = db::run(&st.pool, move |c| {
        let p = progress::of_ticket(c, TicketId(id), delivery)?;
        Ok(Fired {
            ticket_id: id,
            webhook_name: p.webhook_name.clone(),
            p,
            deliveries: progress::recent(c, TicketId(id), RECENT)?,
            history: crate::tickets::history_view::for_people(c, id)?,
        })
    })
    .await?;
    html(fired.render())
}

#[derive(Template)]
#[template(path = "tickets/_delivery_status.html")]
struct DeliveryStatus {
    ticket_id: i64,
    p: Progress,
}

/// `GET /tickets/{id}/deliveries/{delivery}`: the live status of a delivery fired by
/// hand on this ticket. While it is not settled the fragment asks for itself again
/// every second; once settled it stops.
pub async fn ticket_deliveries_status(
    req: HttpRequest,
    _tech: TechnicianUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, delivery) = path.into_inner();
    let p = db::run(&st.pool, move |c| {
        progress::of_ticket(c, TicketId(id), DeliveryId(delivery))
    })
    .await?;
    html(DeliveryStatus { ticket_id: id, p }.render())
}

fn refusal_text(e: &Error) -> String {
    match e {
        Error::Validation(f) => {
            f.0.iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        }
        other => other.public_message(),
    }
}
