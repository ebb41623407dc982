//! `/api/v1/connections`: the same connections as the pages, same validation. Secrets are
//! write-only: responses say whether one is set (`auth_secret_set`, `value_set`, …),
//! never what it is — except the one response that generates a signing secret.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;

use crate::audit::Actor;
use crate::connections::{Connection, ConnectionInput, HeaderInput, SecretChange};
use crate::db;
use crate::error::Error;
use crate::http::extract::{ApiAdmin, client_ip, state};
use crate::secrets::Secret;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HeaderView {
    pub name: String,
    /// `null` for secret headers (ticked secret, or secret by name: `Authorization`,
    /// `Cookie`, any name with `token`, `secret`, `key`, `password`, …).
    pub value: Option<String>,
    pub secret: bool,
    pub value_set: bool,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: i64,
    pub name: String,
    pub app_type: String,
    pub environment: String,
    pub base_url: String,
    pub headers: Vec<HeaderView>,
    pub timeout_ms: i32,
    pub verify_tls: bool,
    pub auth_kind: String,
    pub auth_username: String,
    pub auth_domain: String,
    pub auth_header: String,
    pub auth_secret_set: bool,
    pub signing_secret_set: bool,
    pub previous_signing_secret_expires_at: Option<NaiveDateTime>,
    /// OAuth 2.0 client credentials (`auth_kind` `oauth2`; the client id is
    /// `auth_username`, the client secret `auth_secret`).
    pub oauth_token_url: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    pub oauth_resource: String,
    /// `client_secret_basic` or `client_secret_post`.
    pub oauth_client_auth: String,
    /// Mutual TLS: the client certificate chain (PEM), whether its key is stored (never
    /// the key), and what the certificate says.
    pub tls_client_cert: String,
    pub tls_client_key_set: bool,
    pub tls_client_cert_subject: Option<String>,
    pub tls_client_cert_issuer: Option<String>,
    pub tls_client_cert_expires_at: Option<NaiveDateTime>,
    /// PEM certificates trusted for this connection's server besides the system's.
    pub tls_ca_bundle: String,
    pub consecutive_failures: i32,
    /// The circuit breaker holds deliveries until then.
    pub paused_until: Option<NaiveDateTime>,
    pub gone_at: Option<NaiveDateTime>,
    /// Paused by an administrator (and by whom): deliveries are held until resumed.
    pub hold_since: Option<NaiveDateTime>,
    pub hold_by: String,
    /// Deliveries are held now (breaker open or paused).
    pub held: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        let cert = c.client_cert();
        Self {
            id: c.id,
            name: c.name.clone(),
            app_type: c.app_type.clone(),
            environment: c.environment.clone(),
            base_url: c.base_url.clone(),
            headers: c
                .stored_headers()
                .into_iter()
                .map(|h| HeaderView {
                    value_set: h.value.is_some(),
                    secret: h.is_secret(),
                    value: if h.is_secret() { None } else { h.value },
                    name: h.name,
                })
                .collect(),
            timeout_ms: c.timeout_ms,
            verify_tls: c.verify_tls,
            auth_kind: c.auth_kind.clone(),
            auth_username: c.auth_username.clone(),
            auth_domain: c.auth_domain.clone(),
            auth_header: c.auth_header.clone(),
            auth_secret_set: c.auth_secret_set(),
            signing_secret_set: c.signing_secret_set(),
            previous_signing_secret_expires_at: c
                .previous_signing_secret_sealed
                .as_ref()
                .and(c.previous_signing_expires_at),
            oauth_token_url: c.oauth_token_url.clone(),
            oauth_scope: c.oauth_scope.clone(),
            oauth_audience: c.oauth_audience.clone(),
            oauth_resource: c.oauth_resource.clone(),
            oauth_client_auth: c.oauth_client_auth.clone(),
            tls_client_cert: c.tls_client_cert.clone(),
            tls_client_key_set: c.tls_client_key_set(),
            tls_client_cert_subject: cert.as_ref().map(|i| i.subject.clone()),
            tls_client_cert_issuer: cert.as_ref().map(|i| i.issuer.clone()),
            tls_client_cert_expires_at: c.tls_cert_expires_at,
            tls_ca_bundle: c.tls_ca_bundle.clone(),
            consecutive_failures: c.consecutive_failures,
            paused_until: c.paused_until,
            gone_at: c.gone_at,
            hold_since: c.hold_since,
            hold_by: c.hold_by.clone(),
            held: c.is_held(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderBody {
    pub name: String,
    /// For a secret header, absent or `null` keeps the stored value.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

/// Create (absent fields take defaults) or update (absent fields keep their value).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    pub name: Option<String>,
    pub app_type: Option<String>,
    pub environment: Option<String>,
    pub base_url: Option<String>,
    /// Replaces the whole list when present.
    pub headers: Option<Vec<HeaderBody>>,
    pub timeout_ms: Option<i64>,
    pub verify_tls: Option<bool>,
    pub auth_kind: Option<String>,
    pub auth_username: Option<String>,
    pub auth_domain: Option<String>,
    pub auth_header: Option<String>,
    /// Password, token or API key value; write-only.
    pub auth_secret: Option<String>,
    #[serde(default)]
    pub auth_secret_clear: bool,
    /// `whsec_…`; write-only. To generate one, POST `…/{id}/signing-secret`.
    pub signing_secret: Option<String>,
    #[serde(default)]
    pub signing_secret_clear: bool,
    pub oauth_token_url: Option<String>,
    pub oauth_scope: Option<String>,
    pub oauth_audience: Option<String>,
    pub oauth_resource: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    pub oauth_client_auth: Option<String>,
    /// PEM client certificate chain; `""` removes the certificate and its key.
    pub tls_client_cert: Option<String>,
    /// PEM private key of the certificate; write-only.
    pub tls_client_key: Option<String>,
    #[serde(default)]
    pub tls_client_key_clear: bool,
    /// PEM certificates to trust for the server; `""` removes them.
    pub tls_ca_bundle: Option<String>,
    /// On an update that moves the base URL to another host: `true` lets the secret
    /// header values of the webhooks sending through this connection go there too.
    /// Without it such an update is refused (422 `move_webhook_secrets`, naming them).
    #[serde(default)]
    pub move_webhook_secrets: bool,
}

fn change(value: Option<String>, clear: bool) -> SecretChange {
    match (value, clear) {
        (_, true) => SecretChange::Clear,
        (Some(v), false) if !v.is_empty() => SecretChange::Set(Secret(v)),
        _ => SecretChange::Keep,
    }
}

impl ConnectionBody {
    fn apply(self, mut i: ConnectionInput) -> ConnectionInput {
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { i.$f = v; } )* };
        }
        take!(
            name,
            app_type,
            environment,
            base_url,
            verify_tls,
            auth_kind,
            auth_username,
            auth_domain,
            auth_header,
            oauth_token_url,
            oauth_scope,
            oauth_audience,
            oauth_resource,
            oauth_client_auth,
            tls_client_cert,
            tls_ca_bundle
        );
        if self.timeout_ms.is_some() {
            i.timeout_ms = self.timeout_ms;
        }
        if let Some(hs) = self.headers {
            i.headers = hs
                .into_iter()
                .map(|h| HeaderInput {
                    name: h.name,
                    value: h.value.unwrap_or_default(),
                    secret: h.secret,
                })
                .collect();
        }
        i.auth_secret = change(self.auth_secret, self.auth_secret_clear);
        i.signing_secret = change(self.signing_secret, self.signing_secret_clear);
        i.tls_client_key = change(self.tls_client_key, self.tls_client_key_clear);
        i.move_webhook_secrets = self.move_webhook_secrets;
        i
    }
}

/// The body of a create or update, read by `api::body`'s rules (a JSON object, sent as
/// `application/json`).
fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<ConnectionBody, Error> {
    super::body::parse(req, body)
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    responses((status = 200, body = [ConnectionView]), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn connections_list(req: HttpRequest, _a: ApiAdmin) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let list = db::run(&st.pool, Connection::list).await?;
    let views: Vec<ConnectionView> = list.iter().map(ConnectionView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionView), (status = 404)), security(("bearer" = [])))]
pub async fn connections_get(
    req: HttpRequest,
    _a: ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let c = db::run(&st.pool, move |c| Connection::get(c, id)).await?;
    Ok(HttpResponse::Ok().json(ConnectionView::from(&c)))
}

#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = ConnectionBody,
    responses((status = 201, body = ConnectionView), (status = 422, description = "Validation errors by field")), security(("bearer" = [])))]
pub async fn connections_create(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let input = parse_body(&req, &body)?.apply(ConnectionInput::default());
    let sb = st.secrets.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let c = db::run(&st.pool, move |c| {
        Connection::create(c, &sb, &actor, &input)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/connections/{}", c.id)))
        .json(ConnectionView::from(&c)))
}

/// PATCH (and POST, for clients without PATCH): absent fields keep their value.
#[utoipa::path(patch, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = i64, Path)), request_body = ConnectionBody,
    responses((status = 200, body = ConnectionView), (status = 422, description = "Validation errors by field")), security(("bearer" = [])))]
pub async fn connections_update(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let patch = parse_body(&req, &body)?;
    let sb = st.secrets.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let c = db::run(&st.pool, move |c| {
        let current = Connection::get(c, id)?;
        let input = patch.apply(ConnectionInput::from_connection(&current));
        Connection::update(c, &sb, &actor, id, &input)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ConnectionView::from(&c)))
}

#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "Used by webhooks")), security(("bearer" = [])))]
pub async fn connections_delete(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&p, client_ip(&req));
    db::run(&st.pool, move |c| Connection::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the previous secret keeps signing (0–168 hours, default 24).
    pub grace_hours: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SigningSecretView {
    /// Shown in this response only.
    pub signing_secret: String,
    pub connection: ConnectionView,
}

/// Generates or rotates the signing secret; the only response that carries a secret.
#[utoipa::path(post, path = "/api/v1/connections/{id}/signing-secret", tag = "connections", params(("id" = i64, Path)), request_body = RotateBody,
    responses((status = 200, body = SigningSecretView, description = "The new secret, shown this once")), security(("bearer" = [])))]
pub async fn connections_signing_secret(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let grace = super::body::parse_or_default::<RotateBody>(&req, &body)?
        .grace_hours
        .unwrap_or(24);
    let sb = st.secrets.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let (c, secret) = db::run(&st.pool, move |c| {
        Connection::rotate_signing_secret(c, &sb, &actor, id, grace, db::now())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SigningSecretView {
            signing_secret: secret.expose().to_string(),
            connection: ConnectionView::from(&c),
        }))
}

/// `POST /api/v1/connections/{id}` is an alias of PATCH for clients that cannot send PATCH.
#[utoipa::path(post, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = i64, Path)), request_body = ConnectionBody,
    responses((status = 200, body = ConnectionView)), security(("bearer" = [])))]
#[expect(
    dead_code,
    reason = "documents the POST alias in the OpenAPI document only"
)]
pub(crate) fn connections_update_post_doc() {}
