//! Administration of roles.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::auth::roles::{Role, RoleInput};
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};

#[derive(Template)]
#[template(path = "roles/list.html", blocks = ["content"])]
struct RolesList {
    ctx: PageCtx,
    roles: Vec<(Role, i64)>,
    /// The webhooks each role may fire, by role id.
    granted: std::collections::BTreeMap<i64, Vec<(i64, String)>>,
    form: RoleInput,
    errors: FieldErrors,
}

impl RolesList {
    fn granted_to(&self, role: &i64) -> &[(i64, String)] {
        self.granted.get(role).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[derive(Template)]
#[template(path = "roles/edit.html", blocks = ["content"])]
struct RoleEdit {
    ctx: PageCtx,
    role: Role,
    members: i64,
    form: RoleInput,
    errors: FieldErrors,
}

async fn list_page(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    form: RoleInput,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let st = state(req)?;
    let (roles, granted) = db::run(&st.pool, |c| {
        Ok((Role::list(c)?, crate::webhooks::store::granted_by_role(c)?))
    })
    .await?;
    let status = super::page::form_status(&errors);
    let mut resp = crate::page_or_fragment!(
        req,
        RolesList {
            ctx: PageCtx::new(auth, session, "roles"),
            roles,
            granted,
            form,
            errors,
        }
    )?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn roles_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    list_page(
        &req,
        &session,
        &auth,
        RoleInput::default(),
        FieldErrors::new(),
    )
    .await
}

pub async fn roles_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<RoleInput>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let input = form.into_inner();
    let i = input.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Role::create(c, &actor, &i)).await;
    match res {
        Ok(r) => {
            flash(&session, "success", format!("Role {} created.", r.name));
            Ok(redirect(&req, "/admin/roles"))
        }
        Err(Error::Validation(errs)) => list_page(&req, &session, &auth, input, errs).await,
        Err(e) => Err(e),
    }
}

pub async fn roles_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let (role, members) = db::run(&st.pool, move |c| {
        Ok((Role::get(c, id)?, Role::member_count(c, id)?))
    })
    .await?;
    let form = RoleInput {
        name: role.name.clone(),
        description: role.description.clone(),
    };
    crate::page_or_fragment!(
        &req,
        RoleEdit {
            ctx: PageCtx::new(&auth, &session, "roles"),
            role,
            members,
            form,
            errors: FieldErrors::new(),
        }
    )
}

pub async fn roles_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<RoleInput>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let input = form.into_inner();
    let i = input.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Role::update(c, &actor, id, &i)).await;
    match res {
        Ok(r) => {
            flash(&session, "success", format!("Role {} saved.", r.name));
            Ok(redirect(&req, "/admin/roles"))
        }
        Err(Error::Validation(errors)) => {
            let (role, members) = db::run(&st.pool, move |c| {
                Ok((Role::get(c, id)?, Role::member_count(c, id)?))
            })
            .await?;
            let mut resp = crate::page_or_fragment!(
                &req,
                RoleEdit {
                    ctx: PageCtx::new(&auth, &session, "roles"),
                    role,
                    members,
                    form: input,
                    errors,
                }
            )?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

pub async fn roles_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Role::delete(c, &actor, id)).await;
    match res {
        Ok(r) => {
            flash(&session, "success", format!("Role {} deleted.", r.name));
            Ok(redirect(&req, "/admin/roles"))
        }
        Err(Error::Conflict(msg)) => {
            flash(&session, "error", msg);
            Ok(redirect(&req, "/admin/roles"))
        }
        Err(e) => Err(e),
    }
}
