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
