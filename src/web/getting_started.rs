//! The dashboard's first-run actions: dismiss the getting-started checklist, load the
//! demo data into an empty installation.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse};

use super::page::{flash, redirect};
use crate::audit::Actor;
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, client_ip, state};

pub async fn getting_started_dismiss(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let actor = Actor::user(&auth.principal, client_ip(&req));
    db::run(&state(&req)?.pool, move |c| {
        crate::getting_started::dismiss(c, &actor)
    })
    .await?;
    flash(
        &session,
        "success",
        "The getting-started checklist is hidden.",
    );
    Ok(redirect(&req, "/"))
}

/// `hookdesk demo` from the dashboard: refused (as by the command) once tickets exist.
pub async fn demo_load(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let s = match db::run(&state(&req)?.pool, move |c| {
        crate::tickets::demo::fill(c, &actor)
    })
    .await
    {
        Ok(s) => s,
        Err(Error::Conflict(m)) => {
            flash(&session, "error", m);
            return Ok(redirect(&req, "/"));
        }
        Err(e) => return Err(e),
    };
    let who = match s.password {
        Some(pw) => format!(
            "Technician {} can sign in with the password {pw} (shown only this once).",
            s.technician
        ),
        None => format!("Technician {} already existed.", s.technician),
    };
    flash(
        &session,
        "success",
        format!(
            "Demo data added: {} form(s), {} ticket(s). {who}",
            s.forms, s.tickets
        ),
    );
    Ok(redirect(&req, "/"))
}
