//! Alert policy pages: the default (`/admin/alerts`) and one connection's
//! (`/admin/connections/{id}/alerts`), one form for both.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{HtmlForm, checked};
use super::page::{PageCtx, flash, redirect};
use crate::alerts::{ConnectionPolicy, Policy, policy};
use crate::audit::Actor;
use crate::connections::Connection;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};
use crate::tickets::{PRIORITIES, TicketType};

#[derive(Template)]
#[template(path = "alerts/policy.html", blocks = ["content"])]
struct PolicyPage {
    ctx: PageCtx,
    /// `None`: the default policy.
    connection: Option<Connection>,
    follows_default: bool,
    default_summary: String,
    p: Policy,
    errors: FieldErrors,
    types: [TicketType; 4],
    priorities: [(&'static str, &'static str); 4],
}

impl PolicyPage {
    fn err(&self, f: &str) -> Option<&str> {
        self.errors.get(f)
    }
    fn action(&self) -> String {
        match &self.connection {
            Some(c) => format!("/admin/connections/{}/alerts", c.id),
            None => "/admin/alerts".into(),
        }
    }
}

/// The form as sent: numbers as text so a bad one is a field error, checkboxes present
/// or absent.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    /// `default` or `own` (a connection's page only).
    follows: String,
    enabled: Option<String>,
    on_breaker_open: Option<String>,
    on_gone: Option<String>,
    failed_threshold: String,
    failed_window_minutes: String,
    ticket_type: String,
    priority: String,
    group: String,
    assignee: String,
    auto_resolve: Option<String>,
    note_every_minutes: String,
}

impl PolicyForm {
    fn to_policy(&self, errs: &mut FieldErrors) -> Policy {
        let mut num = |field: &str, v: &str| -> u32 {
            v.trim().parse().unwrap_or_else(|_| {
                errs.add(field, "must be a whole number");
                0
            })
        };
        Policy {
            enabled: checked(&self.enabled),
            on_breaker_open: checked(&self.on_breaker_open),
            on_gone: checked(&self.on_gone),
            failed_threshold: num("failed_threshold", &self.failed_threshold),
            failed_window_minutes: num("failed_window_minutes", &self.failed_window_minutes),
            ticket_type: self.ticket_type.clone(),
            priority: self.priority.clone(),
            group: self.group.clone(),
            assignee: self.assignee.clone(),
            auto_resolve: checked(&self.auto_resolve),
            note_every_minutes: num("note_every_minutes", &self.note_every_minutes),
        }
    }
}

async fn render(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    connection: Option<Connection>,
    follows_default: bool,
    p: Policy,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let st = state(req)?;
    let default = db::run(&st.pool, policy::default_policy).await?;
    let status = super::page::form_status(&errors);
    // The defaults are an administration page; a connection's own policy is part of it.
    let nav = if connection.is_some() {
        "connections"
    } else {
        "alerts"
    };
    let mut resp = crate::page_or_fragment!(
        req,
        PolicyPage {
            ctx: PageCtx::new(auth, session, nav),
            connection,
            follows_default,
            default_summary: default.summary(),
            p,
            errors,
            types: TicketType::ALL,
            priorities: PRIORITIES,
        }
    )?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn alerts_default_show(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let p = db::run(&state(&req)?.pool, policy::default_policy).await?;
    render(&req, &session, &auth, None, false, p, FieldErrors::new()).await
}

pub async fn alerts_default_save(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<PolicyForm>,
) -> Result<HttpResponse, Error> {
    let form = form.into_inner();
    let mut errs = FieldErrors::new();
    let p = form.to_policy(&mut errs);
    if !errs.is_empty() {
        return render(&req, &session, &auth, None, false, p, errs).await;
    }
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let keep = p.clone();
    match db::run(&state(&req)?.pool, move |c| {
        policy::put_default(c, &actor, p)
    })
    .await
    {
        Ok(p) => {
            flash(
                &session,
                "success",
                format!("Default alert policy saved: {}.", p.summary()),
            );
            Ok(redirect(&req, "/admin/alerts"))
        }
        Err(Error::Validation(errs)) => {
            render(&req, &session, &auth, None, false, keep, errs).await
        }
        Err(e) => Err(e),
    }
}

pub async fn connection_alerts_show(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let (c, cp) = db::run(&state(&req)?.pool, move |db| {
        let c = Connection::get(db, id)?;
        let cp = policy::of_connection(db, &c)?;
        Ok::<_, Error>((c, cp))
    })
    .await?;
    let p = cp.policy.unwrap_or_default();
    render(
        &req,
        &session,
        &auth,
        Some(c),
        cp.follows_default,
        p,
        FieldErrors::new(),
    )
    .await
}

pub async fn connection_alerts_save(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<PolicyForm>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    let form = form.into_inner();
    let follows_default = form.follows != "own";
    let mut errs = FieldErrors::new();
    let p = form.to_policy(&mut errs);
    let st = state(&req)?;
    let c = db::run(&st.pool, move |db| Connection::get(db, id)).await?;
    if !errs.is_empty() && !follows_default {
        return render(&req, &session, &auth, Some(c), follows_default, p, errs).await;
    }
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let choice = ConnectionPolicy {
        follows_default,
        policy: (!follows_default).then(|| p.clone()),
    };
    match db::run(&st.pool, move |db| {
        policy::put_for_connection(db, &actor, id, choice)
    })
    .await
    {
        Ok(_) => {
            flash(
                &session,
                "success",
                format!("Alert policy of connection {} saved.", c.name),
            );
            Ok(redirect(&req, &format!("/admin/connections/{id}")))
        }
        Err(Error::Validation(errs)) => {
            render(&req, &session, &auth, Some(c), follows_default, p, errs).await
        }
        Err(e) => Err(e),
    }
}
