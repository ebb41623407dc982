//! Sign in and sign out.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, html, redirect};
use crate::auth::login::{self, LoginPolicy, LoginResult};
use crate::auth::{random_token, sessions};
use crate::db;
use crate::error::Error;
use crate::http::extract::{Authenticated, KEY_AUTH_AT, client_ip, state};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after login, never another host.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next.to_string()
    } else {
        "/".to_string()
    }
}

pub async fn login_page(
    req: HttpRequest,
    session: Session,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    if Authenticated::extract_opt(&req).await.is_some() {
        return Ok(redirect(&req, &safe_next(&q.next)));
    }
    html(
        LoginPage {
            ctx: PageCtx::anonymous(&session),
            next: safe_next(&q.next),
            username: String::new(),
            error: None,
        }
        .render(),
    )
}

pub async fn login_submit(
    req: HttpRequest,
    session: Session,
    form: HtmlForm<LoginForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let policy = LoginPolicy::from_config(&st.config);
    let dummy = st.dummy_hash.clone();
    let ip = client_ip(&req);
    let (username, password) = (form.username.clone(), form.password);
    let result = db::run(&st.pool, move |c| {
        login::attempt(c, &username, &password, &policy, &dummy, &ip, db::now())
    })
    .await?;
    match result {
        LoginResult::Success(p) => {
            // A new session id at login: a key planted before login is worth nothing after.
            session.renew();
            let insert = |k: &str, v: serde_json::Value| {
                session
                    .insert(k, v)
                    .map_err(|e| Error::Internal(format!("session: {e}")))
            };
            insert(sessions::KEY_USER_ID, p.user.id.into())?;
            insert(sessions::KEY_LOGIN_ID, random_token(16).into())?;
            insert(KEY_AUTH_AT, chrono::Utc::now().timestamp().into())?;
            crate::http::csrf::rotate(&session);
            Ok(redirect(&req, &safe_next(&form.next)))
        }
        LoginResult::Failed(_) => {
            let page = LoginPage {
                ctx: PageCtx::anonymous(&session),
                next: safe_next(&form.next),
                username: form.username,
                error: Some(login::FAILED_MESSAGE.into()),
            };
            let body = page
                .render()
                .map_err(|e| Error::Internal(format!("template: {e}")))?;
            Ok(HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(body))
        }
    }
}

/// Signs out here and everywhere else this user is signed in.
pub async fn logout(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let uid = auth.principal.user.id;
    db::run(&st.pool, move |c| sessions::end_all_for_user(c, uid)).await?;
    session.purge();
    Ok(redirect(&req, "/login"))
}

impl Authenticated {
    /// The signed-in user, or `None` for an anonymous visitor.
    pub async fn extract_opt(req: &HttpRequest) -> Option<Authenticated> {
        use actix_web::FromRequest;
        Authenticated::extract(req).await.ok()
    }
}
