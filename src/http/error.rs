//! The one conversion from errors to responses: a JSON body for `/api/`, a toast for
//! htmx requests, a page otherwise. The policy on what users see is in `crate::error`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::Error;
use crate::web::page::PageCtx;

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Forbidden(_) | Error::Csrf(_) => StatusCode::FORBIDDEN,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            // No free pooled connection in time: overload (or the database is down),
            // which the client should retry, like a busy write lock.
            Error::Busy(_) | Error::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Only a fallback: `render_errors` replaces it with the right shape for the request.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(api_body(
            self.code(),
            &self.public_message(),
            None,
        ))
    }
}

fn api_body(
    code: &str,
    message: &str,
    fields: Option<&crate::error::FieldErrors>,
) -> serde_json::Value {
    let mut err = serde_json::json!({ "code": code, "message": message });
    if let Some(f) = fields {
        err["fields"] = serde_json::to_value(&f.0).unwrap_or_default();
    }
    serde_json::json!({ "error": err })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageCtx,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// What kind of client made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Api,
    Htmx,
    Page,
}

/// What error rendering needs to know of the request. Taken before the request goes
/// down the chain, because holding a clone of the `HttpRequest` would stop the router
/// from filling in its path parameters.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub kind: ClientKind,
    pub path: String,
    pub is_get: bool,
    pub path_and_query: String,
}

impl RequestInfo {
    pub fn of(req: &HttpRequest) -> Self {
        let kind = if req.path().starts_with("/api/") {
            ClientKind::Api
        } else if req.headers().contains_key("hx-request") {
            ClientKind::Htmx
        } else {
            ClientKind::Page
        };
        Self {
            kind,
            path: req.path().to_string(),
            is_get: req.method() == actix_web::http::Method::GET,
            path_and_query: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        }
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// Builds the response for `err` as `req`'s client expects it.
pub fn render(req: &RequestInfo, err: &actix_web::Error) -> HttpResponse {
    render_with_menu(req, err, None)
}

/// Like `render`, with the signed-in user's menu on an error page (a 403 or 404 is a
/// dead end without it).
fn render_with_menu(
    req: &RequestInfo,
    err: &actix_web::Error,
    ctx: Option<PageCtx>,
) -> HttpResponse {
    let kind = req.kind;
    let (status, code, message, fields) = match err.as_error::<Error>() {
        Some(app) => {
            if app.is_internal() {
                tracing::error!(path = %req.path, error = %app, "request failed");
            }
            let fields = match app {
                Error::Validation(f) => Some(f.clone()),
                _ => None,
            };
            (app.status_code(), app.code(), app.public_message(), fields)
        }
        // The session middleware wraps its store's errors in opaque 500s; a busy
        // database there is still load, not a fault.
        None if Error::is_busy_text(&err.to_string()) => {
            let busy = Error::Busy(String::new());
            (busy.status_code(), busy.code(), busy.public_message(), None)
        }
        None => {
            let status = err.as_response_error().status_code();
            let message = if status.is_server_error() {
                tracing::error!(path = %req.path, error = %err, "request failed");
                Error::Internal(String::new()).public_message()
            } else {
                err.to_string()
            };
            (status, code_for(status), message, None)
        }
    };

    if status == StatusCode::UNAUTHORIZED && kind != ClientKind::Api {
        let next = if req.is_get {
            req.path_and_query.as_str()
        } else {
            "/"
        };
        let location = format!("/login?next={}", urlencode(next));
        return match kind {
            ClientKind::Htmx => HttpResponse::Ok()
                .insert_header(("HX-Redirect", location))
                .finish(),
            _ => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish(),
        };
    }

    let mut resp = match kind {
        ClientKind::Api => {
            let mut b = HttpResponse::build(status);
            if status == StatusCode::UNAUTHORIZED {
                b.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            b.json(api_body(code, &message, fields.as_ref()))
        }
        ClientKind::Htmx => {
            let toast = super::htmx::toast_header("error", &message);
            HttpResponse::build(status)
                .insert_header(("HX-Trigger", toast))
                .insert_header(("HX-Reswap", "none"))
                .content_type("text/plain; charset=utf-8")
                .body(message)
        }
        ClientKind::Page => {
            let title = status.canonical_reason().unwrap_or("Error");
            let page = ErrorPage {
                ctx: ctx.unwrap_or_default(),
                status: status.as_u16(),
                title,
                message: &message,
            };
            match page.render() {
                Ok(html) => HttpResponse::build(status)
                    .content_type("text/html; charset=utf-8")
                    .body(html),
                Err(_) => HttpResponse::build(status).body(message),
            }
        }
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    resp
}

/// What a 503 (busy write lock, no pooled connection) asks the client to wait: the lock
/// is usually free again within a second.
const RETRY_AFTER_SECONDS: &str = "1";

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Outermost middleware: every error, from a handler or a middleware, leaves here in
/// the shape its client expects.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let info = RequestInfo::of(req.request());
    match next.call(req).await {
        Ok(res) => {
            if let Some(err) = res.response().error() {
                let ctx = res.request().extensions_mut().remove::<PageCtx>();
                let resp = render_with_menu(&info, err, ctx);
                Ok(res.into_response(resp))
            } else {
                Ok(res.map_into_boxed_body())
            }
        }
        Err(err) => {
            // A middleware failed before a response existed: hand the rendered page to
            // the server as the error's response.
            let resp = render(&info, &err);
            Err(actix_web::error::InternalError::from_response(err.to_string(), resp).into())
        }
    }
}

/// Inside the session middleware (the session is gone once it has answered): for a
/// page-shaped 403 or 404 of a signed-in user, leaves that user's menu in the request
/// for `render_errors`, so an error page is no dead end.
pub async fn error_menu(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_session::SessionExt;
    let kind = RequestInfo::of(req.request()).kind;
    let res = next.call(req).await?;
    let status = res.status();
    if kind == ClientKind::Page
        && matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
        && let Ok(auth) = super::extract::Authenticated::load(res.request().clone()).await
    {
        let ctx = PageCtx::for_error(&auth, &res.request().get_session());
        res.request().extensions_mut().insert(ctx);
    }
    Ok(res)
}

/// The default service: unknown paths are a 404 in the client's shape.
pub async fn not_found() -> Result<HttpResponse, Error> {
    Err(Error::NotFound("page".into()))
}
