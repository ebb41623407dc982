//! `POST /admin/connections/{id}/resume`: an administrator closes a connection's circuit
//! breaker (and clears its 410 flag) so deliveries flow again at once.

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
    let c = db::run(&st.pool, move |c| Connection::resume(c, &actor, id)).await?;
    st.delivery_waker.wake();
    flash(
        &session,
        "success",
        format!("Connection {} resumed: deliveries flow again.", c.name),
    );
    Ok(redirect(&req, &format!("/admin/connections/{id}")))
}
