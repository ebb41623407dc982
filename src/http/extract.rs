//! Typed extractors that make authorization part of a handler's signature: a handler
//! taking `AdminUser` cannot run for anyone but an active administrator.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::AppState;
use crate::auth::{Principal, User, sessions, tokens::ApiToken};
use crate::db;
use crate::error::Error;

type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// Session key holding the Unix time of login, for the absolute lifetime.
pub const KEY_AUTH_AT: &str = "auth_at";

pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("application state missing".into()))
}

/// Any signed-in, active user (page routes, cookie session).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub login_id: String,
}

/// A role a route or extractor demands; the checks and their messages live only here.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    Technician,
    Admin,
    ApiAdmin,
}

pub(crate) fn require(p: &Principal, need: Need) -> Result<(), Error> {
    let (ok, message) = match need {
        Need::Technician => (p.is_technician(), "This page is for technicians."),
        Need::Admin => (p.is_admin(), "This page is for administrators."),
        Need::ApiAdmin => (p.is_admin(), "administrator role required"),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Forbidden(message.into()))
    }
}

impl Authenticated {
    pub(crate) async fn load(req: HttpRequest) -> Result<Self, Error> {
        if let Some(a) = req.extensions().get::<Authenticated>() {
            return Ok(a.clone());
        }
        let session = req.get_session();
        let uid = session
            .get::<i64>(sessions::KEY_USER_ID)
            .ok()
            .flatten()
            .ok_or(Error::Unauthenticated)?;
        let login_id = session
            .get::<String>(sessions::KEY_LOGIN_ID)
            .ok()
            .flatten()
            .unwrap_or_default();
        let auth_at = session.get::<i64>(KEY_AUTH_AT).ok().flatten().unwrap_or(0);
        let st = state(&req)?;
        let age = chrono::Utc::now().timestamp() - auth_at;
        if age > st.config.session_absolute_minutes * 60 {
            session.purge();
            return Err(Error::Unauthenticated);
        }
        let principal = match db::run(&st.pool, move |c| User::principal(c, uid)).await {
            Ok(p) if p.user.active => p,
            Ok(_) | Err(Error::NotFound(_)) => {
                session.purge();
                return Err(Error::Unauthenticated);
            }
            Err(e) => return Err(e),
        };
        let a = Authenticated {
            principal,
            login_id,
        };
        req.extensions_mut().insert(a.clone());
        Ok(a)
    }
}

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = BoxFut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Authenticated::load(req).await?) })
    }
}

/// A user with the Technician or Administrator role.
#[derive(Debug, Clone)]
pub struct TechnicianUser(pub Authenticated);

impl FromRequest for TechnicianUser {
    type Error = actix_web::Error;
    type Future = BoxFut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let a = Authenticated::load(req).await?;
            require(&a.principal, Need::Technician)?;
            Ok(TechnicianUser(a))
        })
    }
}

/// A user with the Administrator role.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Authenticated);

impl FromRequest for AdminUser {
    type Error = actix_web::Error;
    type Future = BoxFut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let a = Authenticated::load(req).await?;
            require(&a.principal, Need::Admin)?;
            Ok(AdminUser(a))
        })
    }
}

/// A caller of `/api/v1` authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct ApiUser(pub Principal);

impl ApiUser {
    pub(crate) async fn load(req: HttpRequest) -> Result<Self, Error> {
        if let Some(a) = req.extensions().get::<ApiUser>() {
            return Ok(a.clone());
        }
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .ok_or(Error::Unauthenticated)?;
        let st = state(&req)?;
        let p = db::run(&st.pool, move |c| {
            ApiToken::authenticate(c, &token, db::now())
        })
        .await?;
        let a = ApiUser(p);
        req.extensions_mut().insert(a.clone());
        Ok(a)
    }
}

impl FromRequest for ApiUser {
    type Error = actix_web::Error;
    type Future = BoxFut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(ApiUser::load(req).await?) })
    }
}

/// An API caller whose user is an administrator.
#[derive(Debug, Clone)]
pub struct ApiAdmin(pub Principal);

impl FromRequest for ApiAdmin {
    type Error = actix_web::Error;
    type Future = BoxFut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ApiUser(p) = ApiUser::load(req).await?;
            require(&p, Need::ApiAdmin)?;
            Ok(ApiAdmin(p))
        })
    }
}

/// The peer address. Proxy headers are not trusted: they are the client's to forge.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}
