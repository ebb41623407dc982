//! An administrator's hands on a connection's delivery health: resume (close the
//! breaker, lift a pause, clear the 410 flag: held deliveries leave at once), pause
//! (hold deliveries), and discard what is held.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};

use super::page::{flash, redirect};
use crate::audit::Actor;
use crate::connections::Connection;
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, client_ip, state};

pub async fn connections_resume(
    AdminUser(auth): AdminUser,
    req: HttpRequest,
    session: Session,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let (c, n) = db::run(&st.pool, move |c| Connection::resume(c, &actor, id)).await?;
    st.delivery_waker.wake();
    flash(
        &session,
        "success",
        format!(
            "Connection {} resumed: deliveries flow again ({n} waiting {} now).",
            c.name,
            if n == 1 { "leaves" } else { "leave" }
        ),
    );
    Ok(redirect(&req, &format!("/admin/connections/{id}")))
}

pub async fn connections_pause(
    AdminUser(auth): AdminUser,
    req: HttpRequest,
    session: Session,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let c = db::run(&st.pool, move |c| Connection::pause(c, &actor, id)).await?;
    flash(
        &session,
        "success",
        format!(
            "Connection {} paused: its deliveries are held until you resume it.",
            c.name
        ),
    );
    Ok(redirect(&req, &format!("/admin/connections/{id}")))
}

pub async fn connections_discard_held(
    AdminUser(auth): AdminUser,
    req: HttpRequest,
    session: Session,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let n = db::run(&st.pool, move |c| Connection::discard_held(c, &actor, id)).await?;
    flash(
        &session,
        "success",
        format!(
            "{n} held deliver{} discarded (cancelled; they stay in the execution log).",
            if n == 1 { "y" } else { "ies" }
        ),
    );
    Ok(redirect(&req, &format!("/admin/connections/{id}")))
}

/// The "Delivery health" card of a connection's page: breaker state, what waits, and
/// the alert policy with its open ticket.
pub struct HealthCard {
    pub waiting: i64,
    pub held: bool,
    pub alerts: String,
    pub follows_default: bool,
    /// The open alert ticket: id and display id.
    pub alert_ticket: Option<(i64, String)>,
}

impl HealthCard {
    pub fn load(conn: &mut crate::db::DbConn, c: &Connection) -> Result<HealthCard, Error> {
        let p = crate::alerts::policy::effective(conn, c)?;
        let alert_ticket = match c.alert_ticket_id {
            Some(t) if c.alert_raised_at.is_some() => crate::tickets::Ticket::get(conn, t)
                .ok()
                .filter(|t| t.status != "Resolved" && t.status != "Closed")
                .map(|t| (t.id, t.display_id)),
            _ => None,
        };
        Ok(HealthCard {
            waiting: Connection::waiting(conn, c.id)?,
            held: c.is_held(),
            alerts: p.summary(),
            follows_default: c.alert_policy.is_none(),
            alert_ticket,
        })
    }
}
