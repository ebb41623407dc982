//! `GET /api/v1/me`: who the token belongs to.

use actix_web::HttpResponse;

use crate::http::extract::ApiUser;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub integration: bool,
    pub roles: Vec<String>,
}

pub async fn me_get(ApiUser(p): ApiUser) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        id: p.user.id,
        username: p.user.username.clone(),
        display_name: p.user.display_name.clone(),
        email: p.user.email.clone(),
        integration: p.user.integration,
        roles: p.roles.clone(),
    })
}
