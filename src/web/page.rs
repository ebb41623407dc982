//! What every page needs from the request (signed-in user, CSRF token, flash messages)
//! and the helpers that turn a template into a response.

use actix_session::Session;
use actix_web::HttpResponse;

use crate::error::Error;
use crate::http::csrf;
use crate::http::extract::Authenticated;

const FLASH_KEY: &str = "flash";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub level: String,
    pub message: String,
}

/// Queues a message for the next page this session renders.
pub fn flash(session: &Session, level: &str, message: impl Into<String>) {
    let mut all: Vec<Flash> = session.get(FLASH_KEY).ok().flatten().unwrap_or_default();
    all.push(Flash {
        level: level.into(),
        message: message.into(),
    });
    let _ = session.insert(FLASH_KEY, all);
}

/// The base template's data.
#[derive(Debug, Clone, Default)]
pub struct PageCtx {
    pub username: Option<String>,
    pub display_name: String,
    pub is_admin: bool,
    pub is_technician: bool,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    /// Which navigation entry is current.
    pub nav: &'static str,
}

impl PageCtx {
    pub fn new(auth: &Authenticated, session: &Session, nav: &'static str) -> Self {
        let p = &auth.principal;
        Self {
            username: Some(p.user.username.clone()),
            display_name: p.user.display_name.clone(),
            is_admin: p.is_admin(),
            is_technician: p.is_technician(),
            csrf: csrf::token(session),
            flashes: take_flashes(session),
            nav,
        }
    }

    /// An error page's menu: the signed-in user's, without taking the flash messages
    /// (the page that follows shows them).
    pub fn for_error(auth: &Authenticated, session: &Session) -> Self {
        let p = &auth.principal;
        Self {
            username: Some(p.user.username.clone()),
            display_name: p.user.display_name.clone(),
            is_admin: p.is_admin(),
            is_technician: p.is_technician(),
            csrf: csrf::token(session),
            flashes: Vec::new(),
            nav: "",
        }
    }

    /// The menu group the current page belongs to (its summary is marked).
    pub fn nav_group(&self) -> &'static str {
        match self.nav {
            "connections" | "webhooks" | "rules" | "forms" => "configuration",
            "users" | "roles" | "alerts" | "audit" => "administration",
            _ => "",
        }
    }

    /// For pages shown before login.
    pub fn anonymous(session: &Session) -> Self {
        Self {
            csrf: csrf::token(session),
            flashes: take_flashes(session),
            ..Default::default()
        }
    }
}

fn take_flashes(session: &Session) -> Vec<Flash> {
    session
        .remove_as::<Vec<Flash>>(FLASH_KEY)
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// An HTML response from a rendered template.
pub fn html(rendered: askama::Result<String>) -> Result<HttpResponse, Error> {
    let body = rendered.map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// The answer of a filtered list page (tickets, audit log, execution log): a filter
/// form's htmx request (it names an `hx-target`) gets only the results, with
/// `HX-Push-Url` so the URL keeps the filters for reloads, bookmarks and the back button;
/// other htmx navigation gets the page's content block; a browser the whole page. Each
/// view is rendered only when it is the one asked for.
pub fn filtered_list(
    req: &actix_web::HttpRequest,
    results: impl FnOnce() -> askama::Result<String>,
    content: impl FnOnce() -> askama::Result<String>,
    page: impl FnOnce() -> askama::Result<String>,
) -> Result<HttpResponse, Error> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    if !crate::http::htmx::is_htmx(req) {
        return html(page());
    }
    if !req.headers().contains_key("hx-target") {
        return html(content());
    }
    let mut resp = html(results())?;
    if let Some(url) = req.uri().path_and_query()
        && let Ok(v) = HeaderValue::from_str(url.as_str())
    {
        resp.headers_mut()
            .insert(HeaderName::from_static("hx-push-url"), v);
    }
    Ok(resp)
}

/// A 303 to `location`, the answer to a successful form post (or `HX-Redirect` for htmx).
pub fn redirect(req: &actix_web::HttpRequest, location: &str) -> HttpResponse {
    if crate::http::htmx::is_htmx(req) {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, location))
            .finish()
    }
}

/// Renders the full page, or only its `content` block for htmx requests: one handler,
/// both shapes, so deep links and reloads always work.
#[macro_export]
macro_rules! page_or_fragment {
    ($req:expr, $tpl:expr) => {{
        let tpl = $tpl;
        if $crate::http::htmx::is_htmx($req) {
            $crate::web::page::html(askama::Template::render(&tpl.as_content()))
        } else {
            $crate::web::page::html(askama::Template::render(&tpl))
        }
    }};
}

/// A form page answers 200, or 422 when it shows validation errors.
pub fn form_status(errors: &crate::error::FieldErrors) -> actix_web::http::StatusCode {
    if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    }
}
