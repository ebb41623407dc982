//! Static files compiled into the binary, so `hookdesk` works from any directory.
//! File names carry a version, so they may be cached for a year.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::Error;

pub const HTMX_PATH: &str = "/static/vendor/htmx-2.0.11.min.js";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "vendor/htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
];

/// The browser's tab icon, at the path browsers look for it.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(&include_bytes!("../../static/favicon.svg")[..])
}

pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, Error> {
    let path = path.into_inner();
    let a = ASSETS
        .iter()
        .find(|a| a.path == path)
        .ok_or_else(|| Error::NotFound("file".into()))?;
    // Our own files change with releases; only the versioned vendor file is immutable.
    let cache = if a.path.starts_with("vendor/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    Ok(HttpResponse::Ok()
        .content_type(a.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(a.body))
}
