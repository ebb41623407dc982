//! CSRF and origin checks for every state-changing request.
//!
//! A request other than GET/HEAD/OPTIONS is refused (403) when its `Origin` is another
//! host or `Sec-Fetch-Site` says it came from another site, and when it lacks the
//! session's CSRF token, given as the `X-CSRF-Token` header (htmx sends it on every
//! request, see static/app.js) or the `csrf_token` form field.
//!
//! `/api/` requests are exempt from the token (not from the origin check): the API
//! authenticates only by bearer token, never by cookie, so a forged cross-site request
//! carries no credentials.

use actix_session::{Session, SessionExt};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use subtle::ConstantTimeEq;

use crate::error::Error;

pub const SESSION_KEY: &str = "csrf";
pub const HEADER: &str = "x-csrf-token";
pub const FORM_FIELD: &str = "csrf_token";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(SESSION_KEY) {
        return t;
    }
    rotate(session)
}

/// A fresh token (at login, so a token seen before login is useless after).
pub fn rotate(session: &Session) -> String {
    let t = crate::auth::random_token(32);
    // Serialising a String cannot fail.
    let _ = session.insert(SESSION_KEY, &t);
    t
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why the request looks cross-site, if it does.
fn cross_site_reason(req: &ServiceRequest) -> Option<&'static str> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Some("the browser reports a cross-site request");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_string(),
        });
        if origin_host.as_deref() != Some(host) || host.is_empty() {
            return Some("the request's Origin is another site");
        }
    }
    None
}

/// Refusals are returned as error responses (not `Err`), so the outer middleware
/// (error rendering, security headers) treats them like any handler error.
pub async fn guard<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if is_safe(req.method()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if let Some(reason) = cross_site_reason(&req) {
        let e = Error::Csrf(format!("Request refused: {reason}."));
        return Ok(req.error_response(e).map_into_right_body());
    }
    // The API authenticates by bearer token, and the echo receiver is posted to by
    // machines (Hookdesk's own sender), never by a form of this site.
    if req.path().starts_with("/api/") || req.path().starts_with("/_echo/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let expected = req.get_session().get::<String>(SESSION_KEY).ok().flatten();
    let mut provided = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if provided.is_none() && is_form {
        // Read the form to find the token, then put the body back for the handler.
        let body = req.extract::<Bytes>().await?;
        provided = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == FORM_FIELD)
            .map(|(_, v)| v.into_owned());
        req.set_payload(Payload::from(body));
    }
    let valid = match (expected, provided) {
        (Some(e), Some(p)) => bool::from(e.as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    };
    if !valid {
        let e = Error::Csrf(
            "Request refused: the form's security token is missing or expired. Reload the page and try again."
                .into(),
        );
        return Ok(req.error_response(e).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
