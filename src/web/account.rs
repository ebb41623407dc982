//! "My account": change one's own password, manage one's API tokens.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::auth::User;
use crate::auth::tokens::ApiToken;
use crate::auth::users::PasswordChange;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{Authenticated, client_ip, state};

#[derive(Template)]
#[template(path = "account/page.html", blocks = ["content"])]
struct AccountPage {
    ctx: PageCtx,
    user: User,
    roles: Vec<String>,
    tokens: Vec<ApiToken>,
    new_token: Option<String>,
    errors: FieldErrors,
}

async fn page(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    new_token: Option<String>,
    errors: FieldErrors,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, Error> {
    let st = state(req)?;
    let uid = auth.principal.user.id;
    let tokens = db::run(&st.pool, move |c| ApiToken::list_for_user(c, uid)).await?;
    let tpl = AccountPage {
        ctx: PageCtx::new(auth, session, "account"),
        user: auth.principal.user.clone(),
        roles: auth.principal.roles.clone(),
        tokens,
        new_token,
        errors,
    };
    let mut resp = crate::page_or_fragment!(req, tpl)?;
    *resp.status_mut() = status;
    // A page that may show a new token once must not be kept by any cache.
    resp.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

pub async fn account_show(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
) -> Result<HttpResponse, Error> {
    page(
        &req,
        &session,
        &auth,
        None,
        FieldErrors::new(),
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn account_password(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
    form: HtmlForm<PasswordChange>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let ch = form.into_inner();
    let uid = auth.principal.user.id;
    let login = auth.login_id.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| {
        User::change_own_password(c, &actor, uid, &ch, &login)
    })
    .await;
    match res {
        Ok(()) => {
            session.renew();
            flash(
                &session,
                "success",
                "Password changed. Your other sessions have been signed out.",
            );
            Ok(redirect(&req, "/account"))
        }
        Err(Error::Validation(errs)) => {
            page(
                &req,
                &session,
                &auth,
                None,
                errs,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn token_create(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
    form: HtmlForm<TokenForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let uid = auth.principal.user.id;
    let name = form.into_inner().name;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let created = db::run(&st.pool, move |c| ApiToken::create(c, &actor, uid, &name)).await;
    match created {
        Ok((_, secret)) => {
            page(
                &req,
                &session,
                &auth,
                Some(secret),
                FieldErrors::new(),
                actix_web::http::StatusCode::OK,
            )
            .await
        }
        Err(Error::Validation(errs)) => {
            page(
                &req,
                &session,
                &auth,
                None,
                errs,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn token_revoke(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let uid = auth.principal.user.id;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let tok = db::run(&st.pool, move |c| ApiToken::revoke(c, &actor, uid, id)).await?;
    flash(
        &session,
        "success",
        format!("Token “{}” revoked.", tok.name),
    );
    Ok(redirect(&req, "/account"))
}
