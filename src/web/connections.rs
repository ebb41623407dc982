//! Administration of remote application connections: list, create, edit, clone, delete,
//! and generating the signing secret. Secrets are write-only here: the form shows
//! whether one is stored, never its value.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{HtmlForm, checked};
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::connections::{
    AppType, AuthKind, Connection, ConnectionInput, Environment, HeaderInput, OAuthClientAuth,
    SecretChange,
};
use crate::db;
use crate::delivery::redact::is_secret_header;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};

/// Empty header rows offered below the stored ones.
const SPARE_HEADER_ROWS: usize = 3;

#[derive(Template)]
#[template(path = "connections/list.html", blocks = ["content"])]
struct ConnectionsList {
    ctx: PageCtx,
    connections: Vec<Connection>,
    /// For flagging client certificates close to expiry.
    now: chrono::NaiveDateTime,
    warn_days: i64,
}

/// The stored client certificate as the form shows it.
struct CertNotice {
    info: crate::connections::credentials::CertInfo,
    days_left: i64,
    expiring: bool,
}

/// One form for create, edit and clone.
#[derive(Template)]
#[template(path = "connections/form.html", blocks = ["content"])]
struct ConnectionFormPage {
    ctx: PageCtx,
    /// The stored connection when editing.
    conn: Option<Connection>,
    /// Its delivery health, when editing.
    health: Option<super::connection_health::HealthCard>,
    form: ConnectionForm,
    rows: Vec<HeaderRow>,
    errors: FieldErrors,
    /// Name of the connection this form copies.
    copy_of: Option<String>,
    /// A just-generated signing secret, shown on this response only.
    new_signing_secret: Option<String>,
    app_types: &'static [AppType],
    environments: &'static [Environment],
    auth_kinds: &'static [AuthKind],
    client_auths: &'static [OAuthClientAuth],
    cert: Option<CertNotice>,
}

/// A header row of the form. Secret values are never put back into the page.
struct HeaderRow {
    index: usize,
    name: String,
    value: String,
    secret: bool,
    stored: bool,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    app_type: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    verify_tls: Option<String>,
    #[serde(default)]
    auth_kind: String,
    #[serde(default)]
    auth_username: String,
    #[serde(default)]
    auth_domain: String,
    #[serde(default)]
    auth_header: String,
    #[serde(default)]
    auth_secret: String,
    #[serde(default)]
    auth_secret_clear: Option<String>,
    #[serde(default)]
    signing_secret: String,
    #[serde(default)]
    signing_secret_clear: Option<String>,
    #[serde(default)]
    oauth_token_url: String,
    #[serde(default)]
    oauth_scope: String,
    #[serde(default)]
    oauth_audience: String,
    #[serde(default)]
    oauth_resource: String,
    #[serde(default)]
    oauth_client_auth: String,
    #[serde(default)]
    tls_client_cert: String,
    #[serde(default)]
    tls_client_key: String,
    #[serde(default)]
    tls_client_key_clear: Option<String>,
    #[serde(default)]
    tls_ca_bundle: String,
    /// Ticked to let the webhooks' secret headers follow the connection to a new host.
    #[serde(default)]
    move_webhook_secrets: Option<String>,
    #[serde(default)]
    header_name: Vec<String>,
    #[serde(default)]
    header_value: Vec<String>,
    /// Indices of the rows whose "secret" box is ticked.
    #[serde(default)]
    header_secret: Vec<String>,
}

impl ConnectionForm {
    fn from_input(i: &ConnectionInput) -> Self {
        Self {
            name: i.name.clone(),
            app_type: i.app_type.clone(),
            environment: i.environment.clone(),
            base_url: i.base_url.clone(),
            timeout_ms: i.timeout_ms.map(|t| t.to_string()).unwrap_or_default(),
            verify_tls: i.verify_tls.then(|| "on".into()),
            auth_kind: i.auth_kind.clone(),
            auth_username: i.auth_username.clone(),
            auth_domain: i.auth_domain.clone(),
            auth_header: i.auth_header.clone(),
            oauth_token_url: i.oauth_token_url.clone(),
            oauth_scope: i.oauth_scope.clone(),
            oauth_audience: i.oauth_audience.clone(),
            oauth_resource: i.oauth_resource.clone(),
            oauth_client_auth: i.oauth_client_auth.clone(),
            tls_client_cert: i.tls_client_cert.clone(),
            tls_ca_bundle: i.tls_ca_bundle.clone(),
            header_name: i.headers.iter().map(|h| h.name.clone()).collect(),
            header_value: i
                .headers
                .iter()
                .map(|h| {
                    if h.secret {
                        String::new()
                    } else {
                        h.value.clone()
                    }
                })
                .collect(),
            header_secret: i
                .headers
                .iter()
                .enumerate()
                .filter(|(_, h)| h.secret)
                .map(|(n, _)| n.to_string())
                .collect(),
            ..Default::default()
        }
    }

    fn headers(&self) -> Vec<HeaderInput> {
        self.header_name
            .iter()
            .enumerate()
            .map(|(n, name)| HeaderInput {
                name: name.clone(),
                value: self.header_value.get(n).cloned().unwrap_or_default(),
                secret: self.header_secret.iter().any(|s| *s == n.to_string()),
            })
            .collect()
    }

    fn to_input(&self) -> ConnectionInput {
        ConnectionInput {
            name: self.name.clone(),
            app_type: self.app_type.clone(),
            environment: self.environment.clone(),
            base_url: self.base_url.clone(),
            headers: self.headers(),
            timeout_ms: self.timeout_ms.trim().parse().ok(),
            verify_tls: checked(&self.verify_tls),
            auth_kind: self.auth_kind.clone(),
            auth_username: self.auth_username.clone(),
            auth_domain: self.auth_domain.clone(),
            auth_header: self.auth_header.clone(),
            auth_secret: SecretChange::from_form(
                &self.auth_secret,
                checked(&self.auth_secret_clear),
            ),
            signing_secret: SecretChange::from_form(
                &self.signing_secret,
                checked(&self.signing_secret_clear),
            ),
            oauth_token_url: self.oauth_token_url.clone(),
            oauth_scope: self.oauth_scope.clone(),
            oauth_audience: self.oauth_audience.clone(),
            oauth_resource: self.oauth_resource.clone(),
            oauth_client_auth: self.oauth_client_auth.clone(),
            tls_client_cert: self.tls_client_cert.clone(),
            tls_client_key: SecretChange::from_form(
                &self.tls_client_key,
                checked(&self.tls_client_key_clear),
            ),
            tls_ca_bundle: self.tls_ca_bundle.clone(),
            move_webhook_secrets: checked(&self.move_webhook_secrets),
        }
    }

    /// The form as re-shown after an error: every secret the user typed is dropped.
    fn without_secrets(self) -> Self {
        let headers = self.headers();
        Self {
            auth_secret: String::new(),
            signing_secret: String::new(),
            tls_client_key: String::new(),
            header_value: headers
                .iter()
                .map(|h| {
                    if h.secret {
                        String::new()
                    } else {
                        h.value.clone()
                    }
                })
                .collect(),
            ..self
        }
    }

    fn verify_tls_on(&self) -> bool {
        checked(&self.verify_tls)
    }
    fn move_webhook_secrets_on(&self) -> bool {
        checked(&self.move_webhook_secrets)
    }
    fn is_app_type(&self, a: &AppType) -> bool {
        AppType::parse(&self.app_type) == Some(*a)
    }
    fn is_environment(&self, e: &Environment) -> bool {
        Environment::parse(&self.environment) == Some(*e)
    }
    fn is_auth_kind(&self, k: &AuthKind) -> bool {
        AuthKind::parse(&self.auth_kind) == Some(*k)
    }
    fn is_client_auth(&self, k: &OAuthClientAuth) -> bool {
        OAuthClientAuth::parse(&self.oauth_client_auth).unwrap_or(OAuthClientAuth::Basic) == *k
    }
}

fn header_rows(form: &ConnectionForm, stored: Option<&Connection>) -> Vec<HeaderRow> {
    let stored = stored.map(Connection::stored_headers).unwrap_or_default();
    let mut rows: Vec<HeaderRow> = form
        .headers()
        .into_iter()
        .filter(|h| !h.name.trim().is_empty())
        .map(|h| {
            let secret = h.secret || is_secret_header(&h.name);
            HeaderRow {
                stored: secret
                    && stored.iter().any(|s| {
                        s.is_secret()
                            && s.value.is_some()
                            && s.name.eq_ignore_ascii_case(h.name.trim())
                    }),
                value: if secret { String::new() } else { h.value },
                name: h.name,
                secret,
                index: 0,
            }
        })
        .collect();
    for _ in 0..SPARE_HEADER_ROWS {
        rows.push(HeaderRow {
            index: 0,
            name: String::new(),
            value: String::new(),
            secret: false,
            stored: false,
        });
    }
    for (n, r) in rows.iter_mut().enumerate() {
        r.index = n;
    }
    rows
}

fn warn_days(st: &crate::http::state::AppState) -> i64 {
    i64::try_from(st.config.cert_expiry_warning_days).unwrap_or(i64::MAX)
}

pub async fn connections_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let connections = db::run(&st.pool, Connection::list).await?;
    crate::page_or_fragment!(
        &req,
        ConnectionsList {
            ctx: PageCtx::new(&auth, &session, "connections"),
            connections,
            now: crate::db::now(),
            warn_days: warn_days(&st),
        }
    )
}

struct FormArgs {
    conn: Option<Connection>,
    form: ConnectionForm,
    errors: FieldErrors,
    copy_of: Option<String>,
    new_signing_secret: Option<String>,
}

async fn form_page(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    a: FormArgs,
) -> Result<HttpResponse, Error> {
    let status = super::page::form_status(&a.errors);
    let now = crate::db::now();
    let days = warn_days(&*state(req)?);
    let cert = a
        .conn
        .as_ref()
        .and_then(Connection::client_cert)
        .map(|info| CertNotice {
            days_left: info.days_left(now),
            expiring: info.days_left(now) <= days,
            info,
        });
    let health = match a.conn.clone() {
        Some(c) => Some(
            db::run(&state(req)?.pool, move |db| {
                super::connection_health::HealthCard::load(db, &c)
            })
            .await?,
        ),
        None => None,
    };
    let mut resp = crate::page_or_fragment!(
        req,
        ConnectionFormPage {
            ctx: PageCtx::new(auth, session, "connections"),
            health,
            rows: header_rows(&a.form, a.conn.as_ref()),
            conn: a.conn,
            form: a.form,
            errors: a.errors,
            copy_of: a.copy_of,
            new_signing_secret: a.new_signing_secret,
            app_types: AppType::ALL,
            environments: Environment::ALL,
            auth_kinds: AuthKind::ALL,
            client_auths: OAuthClientAuth::ALL,
            cert,
        }
    )?;
    *resp.status_mut() = status;
    // A page that may hold a just-generated secret must not be cached anywhere.
    resp.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

fn blank(conn: Option<Connection>, form: ConnectionForm) -> FormArgs {
    FormArgs {
        conn,
        form,
        errors: FieldErrors::new(),
        copy_of: None,
        new_signing_secret: None,
    }
}

pub async fn connections_new(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let form = ConnectionForm::from_input(&ConnectionInput::default());
    form_page(&req, &session, &auth, blank(None, form)).await
}

pub async fn connections_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<ConnectionForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let input = form.to_input();
    let sb = st.secrets.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| {
        Connection::create(c, &sb, &actor, &input)
    })
    .await;
    match res {
        Ok(conn) => {
            flash(
                &session,
                "success",
                format!("Connection {} created.", conn.name),
            );
            Ok(redirect(&req, &format!("/admin/connections/{}", conn.id)))
        }
        Err(Error::Validation(errors)) => {
            let args = FormArgs {
                errors,
                ..blank(None, form.without_secrets())
            };
            form_page(&req, &session, &auth, args).await
        }
        Err(e) => Err(e),
    }
}

pub async fn connections_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let conn = db::run(&st.pool, move |c| Connection::get(c, id)).await?;
    let form = ConnectionForm::from_input(&ConnectionInput::from_connection(&conn));
    form_page(&req, &session, &auth, blank(Some(conn), form)).await
}

pub async fn connections_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<ConnectionForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let input = form.to_input();
    let sb = st.secrets.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| {
        Connection::update(c, &sb, &actor, id, &input)
    })
    .await;
    match res {
        Ok(conn) => {
            flash(
                &session,
                "success",
                format!("Connection {} saved.", conn.name),
            );
            Ok(redirect(&req, &format!("/admin/connections/{id}")))
        }
        Err(Error::Validation(errors)) => {
            let conn = db::run(&st.pool, move |c| Connection::get(c, id)).await?;
            let args = FormArgs {
                errors,
                ..blank(Some(conn), form.without_secrets())
            };
            form_page(&req, &session, &auth, args).await
        }
        Err(e) => Err(e),
    }
}

/// "Clone": the create form filled from an existing connection, secrets left out.
pub async fn connections_clone(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let (src, name) = db::run(&st.pool, move |c| {
        let src = Connection::get(c, id)?;
        let name = Connection::copy_name(c, &src.name)?;
        Ok((src, name))
    })
    .await?;
    let form = ConnectionForm::from_input(&ConnectionInput::for_copy(&src, name));
    let args = FormArgs {
        copy_of: Some(src.name),
        ..blank(None, form)
    };
    form_page(&req, &session, &auth, args).await
}

pub async fn connections_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Connection::delete(c, &actor, id)).await;
    match res {
        Ok(conn) => {
            flash(
                &session,
                "success",
                format!("Connection {} deleted.", conn.name),
            );
            Ok(redirect(&req, "/admin/connections"))
        }
        Err(Error::Conflict(msg)) => {
            flash(&session, "error", msg);
            Ok(redirect(&req, &format!("/admin/connections/{id}")))
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    grace_hours: String,
}

/// Generates (or rotates) the signing secret and shows it on this response only.
pub async fn connections_signing_secret(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<RotateForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    // Empty (the first generation shows no grace field) takes the default; text that
    // is not a number is refused, not taken as the default.
    let grace = match form.into_inner().grace_hours.trim() {
        "" => 24,
        text => text
            .parse::<i64>()
            .map_err(|_| Error::invalid("grace_hours", "A whole number of hours, 0 to 168."))?,
    };
    let sb = st.secrets.clone();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let (conn, secret) = db::run(&st.pool, move |c| {
        Connection::rotate_signing_secret(c, &sb, &actor, id, grace, db::now())
    })
    .await?;
    let form = ConnectionForm::from_input(&ConnectionInput::from_connection(&conn));
    let args = FormArgs {
        new_signing_secret: Some(secret.expose().to_string()),
        ..blank(Some(conn), form)
    };
    form_page(&req, &session, &auth, args).await
}
