//! htmx helpers: is this an htmx request, and toasts sent through `HX-Trigger`.

use actix_web::HttpRequest;

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// `HX-Trigger` value that makes static/app.js show a toast.
pub fn toast_header(level: &str, message: &str) -> String {
    serde_json::json!({ "hookdesk:toast": { "level": level, "message": message } }).to_string()
}
