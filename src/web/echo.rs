//! The echo receiver's endpoint (`/_echo/{name}`) and its pages (`/admin/echo`): see
//! `crate::echo` for what it keeps and why.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::page::{PageCtx, flash, redirect};
use crate::db;
use crate::delivery::ssrf::NetworkPolicy;
use crate::echo::{self, Echo, EchoRequest, Signature};
use crate::error::Error;
use crate::http::extract::{AdminUser, state};

#[derive(Template)]
#[template(path = "echo/index.html", blocks = ["content"])]
struct EchoIndex {
    ctx: PageCtx,
    on: bool,
    /// `http://host:port` as the browser reached this server.
    base: String,
    /// The allow-list lets Hookdesk reach 127.0.0.1.
    loopback_allowed: bool,
    names: Vec<(String, usize, chrono::NaiveDateTime)>,
}

struct Shown {
    r: EchoRequest,
    /// The request's headers as they may be shown (`EchoRequest::shown_headers`).
    headers: Vec<(String, String)>,
    signature: Signature,
}

#[derive(Template)]
#[template(path = "echo/show.html", blocks = ["content"])]
struct EchoShow {
    ctx: PageCtx,
    name: String,
    url: String,
    requests: Vec<Shown>,
}

/// `scheme://host[:port]` as the browser reached this server.
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn loopback_allowed(networks: &[String]) -> bool {
    NetworkPolicy::from_strings(networks).is_ok_and(|p| {
        p.check_ip("127.0.0.1", std::net::Ipv4Addr::LOCALHOST.into())
            .is_ok()
    })
}

fn echo_of(req: &HttpRequest) -> Result<std::sync::Arc<Echo>, Error> {
    state(req)?.echo.clone().ok_or_else(|| {
        Error::NotFound("the echo receiver (it is off: start with `hookdesk serve --demo`)".into())
    })
}

/// Any method: keeps the request and answers `200` with where to see it.
pub async fn echo_receive(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let name = path.into_inner();
    let echo = echo_of(&req)?;
    if !echo::valid_name(&name) {
        return Err(Error::NotFound(format!("echo receiver {name:?}")));
    }
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let id = echo.record(
        &name,
        db::now(),
        req.method().as_str(),
        &target,
        headers,
        &body,
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "received": true,
        "id": id,
        "see": format!("/admin/echo/{name}"),
    })))
}

pub async fn echo_index(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    crate::page_or_fragment!(
        &req,
        EchoIndex {
            ctx: PageCtx::new(&auth, &session, "connections"),
            on: st.echo.is_some(),
            base: base_url(&req),
            loopback_allowed: loopback_allowed(&st.config.allowed_networks),
            names: st.echo.as_ref().map(|e| e.names()).unwrap_or_default(),
        }
    )
}

pub async fn echo_show(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let name = path.into_inner();
    let echo = echo_of(&req)?;
    if !echo::valid_name(&name) {
        return Err(Error::NotFound(format!("echo receiver {name:?}")));
    }
    let st = state(&req)?;
    let requests = echo.requests(&name);
    let sb = st.secrets.clone();
    let n = name.clone();
    let requests = db::run(&st.pool, move |c| {
        let now = db::now();
        let secret = echo::secret_header_names(c)?;
        requests
            .into_iter()
            .map(|r| {
                let signature = echo::check_signature(c, &sb, &n, &r, now)?;
                let headers = r.shown_headers(&secret);
                Ok(Shown {
                    r,
                    headers,
                    signature,
                })
            })
            .collect::<crate::error::Result<Vec<_>>>()
    })
    .await?;
    crate::page_or_fragment!(
        &req,
        EchoShow {
            ctx: PageCtx::new(&auth, &session, "connections"),
            url: format!("{}/_echo/{name}", base_url(&req)),
            name,
            requests,
        }
    )
}

pub async fn echo_clear(
    req: HttpRequest,
    session: Session,
    AdminUser(_auth): AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let name = path.into_inner();
    echo_of(&req)?.clear(&name);
    flash(
        &session,
        "success",
        format!("Cleared what {name} received."),
    );
    Ok(redirect(&req, &format!("/admin/echo/{name}")))
}
