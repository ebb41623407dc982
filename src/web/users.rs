//! Administration of users: list, create, edit roles, deactivate, reset password.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{HtmlForm, checked};
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::auth::User;
use crate::auth::roles::Role;
use crate::auth::users::{NewUserInput, UserChanges};
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, client_ip, state};

#[derive(Template)]
#[template(path = "users/list.html", blocks = ["content"])]
struct UsersList {
    ctx: PageCtx,
    users: Vec<(User, Vec<String>)>,
}

/// One form for create (`user` is None) and edit.
#[derive(Template)]
#[template(path = "users/form.html", blocks = ["content"])]
struct UserFormPage {
    ctx: PageCtx,
    user: Option<User>,
    form: UserFormData,
    all_roles: Vec<String>,
    errors: FieldErrors,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UserFormData {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    integration: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl UserFormData {
    fn has_role(&self, r: &str) -> bool {
        self.roles.iter().any(|x| x == r)
    }
    fn is_integration(&self) -> bool {
        checked(&self.integration)
    }
}

async fn role_names(req: &HttpRequest) -> Result<Vec<String>, Error> {
    let st = state(req)?;
    let roles = db::run(&st.pool, Role::list).await?;
    Ok(roles.into_iter().map(|(r, _)| r.name).collect())
}

pub async fn users_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let users = db::run(&st.pool, User::list).await?;
    crate::page_or_fragment!(
        &req,
        UsersList {
            ctx: PageCtx::new(&auth, &session, "users"),
            users,
        }
    )
}

async fn form_page(
    req: &HttpRequest,
    session: &Session,
    auth: &crate::http::extract::Authenticated,
    user: Option<User>,
    form: UserFormData,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let status = super::page::form_status(&errors);
    let mut resp = crate::page_or_fragment!(
        req,
        UserFormPage {
            ctx: PageCtx::new(auth, session, "users"),
            user,
            form,
            all_roles: role_names(req).await?,
            errors,
        }
    )?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn users_new(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let form = UserFormData {
        roles: vec![crate::auth::TECHNICIAN.into()],
        ..Default::default()
    };
    form_page(&req, &session, &auth, None, form, FieldErrors::new()).await
}

pub async fn users_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<UserFormData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let input = NewUserInput {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        integration: form.is_integration(),
        roles: form.roles.clone(),
    };
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| User::create(c, &actor, &input)).await;
    match res {
        Ok(u) => {
            flash(&session, "success", format!("User {} created.", u.username));
            Ok(redirect(&req, "/admin/users"))
        }
        Err(Error::Validation(errs)) => {
            let form = UserFormData {
                password: String::new(),
                ..form
            };
            form_page(&req, &session, &auth, None, form, errs).await
        }
        Err(e) => Err(e),
    }
}

pub async fn users_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let p = db::run(&st.pool, move |c| User::principal(c, id)).await?;
    let form = UserFormData {
        username: p.user.username.clone(),
        display_name: p.user.display_name.clone(),
        email: p.user.email.clone(),
        password: String::new(),
        integration: p.user.integration.then(|| "on".into()),
        roles: p.roles.clone(),
    };
    form_page(
        &req,
        &session,
        &auth,
        Some(p.user),
        form,
        FieldErrors::new(),
    )
    .await
}

pub async fn users_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<UserFormData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let ch = UserChanges {
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        integration: form.is_integration(),
        roles: form.roles.clone(),
    };
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| User::update(c, &actor, id, &ch)).await;
    match res {
        Ok(u) => {
            flash(&session, "success", format!("User {} saved.", u.username));
            Ok(redirect(&req, "/admin/users"))
        }
        Err(Error::Validation(errs)) => {
            let user = db::run(&st.pool, move |c| User::get(c, id)).await?;
            form_page(&req, &session, &auth, Some(user), form, errs).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ActiveForm {
    active: bool,
}

pub async fn users_set_active(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<ActiveForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let active = form.into_inner().active;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let u = db::run(&st.pool, move |c| User::set_active(c, &actor, id, active)).await?;
    let msg = if active {
        format!("User {} activated.", u.username)
    } else {
        format!("User {} deactivated and signed out.", u.username)
    };
    flash(&session, "success", msg);
    Ok(redirect(&req, &format!("/admin/users/{id}")))
}

#[derive(Debug, serde::Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

pub async fn users_reset_password(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<ResetForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let pw = form.into_inner().password;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| User::reset_password(c, &actor, id, &pw)).await;
    match res {
        Ok(u) => {
            flash(
                &session,
                "success",
                format!(
                    "Password of {} reset; their sessions were ended.",
                    u.username
                ),
            );
            Ok(redirect(&req, &format!("/admin/users/{id}")))
        }
        Err(Error::Validation(errs)) => {
            let p = db::run(&st.pool, move |c| User::principal(c, id)).await?;
            let form = UserFormData {
                username: p.user.username.clone(),
                display_name: p.user.display_name.clone(),
                email: p.user.email.clone(),
                password: String::new(),
                integration: p.user.integration.then(|| "on".into()),
                roles: p.roles.clone(),
            };
            form_page(&req, &session, &auth, Some(p.user), form, errs).await
        }
        Err(e) => Err(e),
    }
}
