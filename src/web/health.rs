//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpRequest, HttpResponse};
use diesel::RunQueryDsl;

use crate::db;
use crate::error::Error;
use crate::http::extract::state;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
pub async fn readyz(req: HttpRequest) -> HttpResponse {
    let ready = match state(&req) {
        Ok(st) => db::run(&st.pool, |c| {
            diesel::sql_query("SELECT 1")
                .execute(c)
                .map_err(Error::from)
        })
        .await
        .is_ok(),
        Err(_) => false,
    };
    if ready {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "database": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "database": "unreachable" }))
    }
}

/// Prometheus metrics (`crate::metrics`). Open unless `metrics_token` is configured;
/// then only `Authorization: Bearer <token>`, compared in constant time.
pub async fn metrics(req: HttpRequest) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    if let Some(want) = &st.config.metrics_token {
        use subtle::ConstantTimeEq;
        let got = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(got.as_bytes().ct_eq(want.0.as_bytes())) {
            return Ok(HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .body("metrics need the configured bearer token\n"));
        }
    }
    let text = db::run(&st.pool, |c| crate::metrics::render(c, db::now())).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
