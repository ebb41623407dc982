//! Remote application connections: where webhook requests go and how they authenticate.
//! Every secret a connection holds is sealed by `secrets::SecretBox` before it is stored;
//! the model only ever carries ciphertext, and the two accessors the sender uses
//! (`resolved_auth`, `active_signing_secrets`) hand clear values out inside `Secret`.

pub mod credentials;
pub mod hold;
pub mod input;
pub mod kinds;
pub mod signing;
pub mod testing;

use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use input::{ConnectionInput, HeaderInput, SecretChange};
pub use kinds::{AppType, AuthKind, Environment, OAuthClientAuth};

use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::db::schema::connections;
use crate::error::{Error, FieldErrors, Result};
use crate::secrets::{Secret, SecretBox};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct Connection {
    pub id: i64,
    pub name: String,
    pub app_type: String,
    pub environment: String,
    pub base_url: String,
    /// JSON array of `StoredHeader`; secret values sealed.
    pub headers: String,
    pub timeout_ms: i32,
    pub verify_tls: bool,
    pub auth_kind: String,
    pub auth_username: String,
    pub auth_domain: String,
    pub auth_header: String,
    pub auth_secret_sealed: Option<String>,
    pub signing_secret_sealed: Option<String>,
    pub previous_signing_secret_sealed: Option<String>,
    pub previous_signing_expires_at: Option<NaiveDateTime>,
    /// For the delivery engine: failures in a row, pause and "410 Gone" markers.
    pub consecutive_failures: i32,
    pub paused_until: Option<NaiveDateTime>,
    pub gone_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Paused by an administrator (and by whom): deliveries are held until resumed.
    pub hold_since: Option<NaiveDateTime>,
    pub hold_by: String,
    /// When the current run of failures began.
    pub failing_since: Option<NaiveDateTime>,
    /// The alert policy (JSON, `alerts::Policy`); `None` follows the default.
    pub alert_policy: Option<String>,
    /// The alert ticket, when it was last raised or noted, and whether an alert is
    /// raised now (see `alerts`).
    pub alert_ticket_id: Option<i64>,
    pub alert_noted_at: Option<NaiveDateTime>,
    pub alert_raised_at: Option<NaiveDateTime>,
    /// OAuth 2.0 client credentials (auth kind `oauth2`; the client id is
    /// `auth_username`, the client secret `auth_secret_sealed`).
    pub oauth_token_url: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    pub oauth_resource: String,
    pub oauth_client_auth: String,
    /// Mutual TLS: the client certificate chain (PEM, public), its key (sealed), a CA
    /// bundle to trust for the server (PEM), and the certificate's expiry.
    pub tls_client_cert: String,
    pub tls_client_key_sealed: Option<String>,
    pub tls_ca_bundle: String,
    pub tls_cert_expires_at: Option<NaiveDateTime>,
}

/// One default header as stored. `value` is sealed when `secret`; a secret header whose
/// value was never entered (e.g. in a clone) has `None`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredHeader {
    pub name: String,
    pub value: Option<String>,
    pub secret: bool,
}

impl StoredHeader {
    /// Whether the value is hidden wherever it is shown: ticked secret, or secret by its
    /// name (`delivery::redact`). A header saved before the name rule existed may be
    /// secret by name yet stored in clear (`secret` false); it is hidden all the same.
    pub fn is_secret(&self) -> bool {
        self.secret || crate::delivery::redact::is_secret_header(&self.name)
    }
}

/// A header with its clear value, for the sender only.
#[derive(Debug, Clone)]
pub struct ResolvedHeader {
    pub name: String,
    pub value: Secret,
    pub secret: bool,
}

/// Authentication with the secret decrypted, for the sender only: the sending side's
/// own type, so a connection's credentials reach the sender without a second copy.
pub use crate::delivery::Auth;

/// The columns an insert or update writes (everything but ids, counters and times).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = connections, treat_none_as_null = true)]
pub struct ConnectionRow {
    pub name: String,
    pub app_type: String,
    pub environment: String,
    pub base_url: String,
    pub headers: String,
    pub timeout_ms: i32,
    pub verify_tls: bool,
    pub auth_kind: String,
    pub auth_username: String,
    pub auth_domain: String,
    pub auth_header: String,
    pub auth_secret_sealed: Option<String>,
    pub signing_secret_sealed: Option<String>,
    pub previous_signing_secret_sealed: Option<String>,
    pub previous_signing_expires_at: Option<NaiveDateTime>,
    pub oauth_token_url: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    pub oauth_resource: String,
    pub oauth_client_auth: String,
    pub tls_client_cert: String,
    pub tls_client_key_sealed: Option<String>,
    pub tls_ca_bundle: String,
    pub tls_cert_expires_at: Option<NaiveDateTime>,
}

impl Connection {
    pub fn app_type(&self) -> AppType {
        AppType::parse(&self.app_type).unwrap_or(AppType::Generic)
    }
    pub fn environment(&self) -> Environment {
        Environment::parse(&self.environment).unwrap_or(Environment::Production)
    }
    pub fn auth_kind(&self) -> AuthKind {
        AuthKind::parse(&self.auth_kind).unwrap_or(AuthKind::None)
    }
    pub fn oauth_client_auth(&self) -> OAuthClientAuth {
        OAuthClientAuth::parse(&self.oauth_client_auth).unwrap_or(OAuthClientAuth::Basic)
    }
    pub fn tls_client_key_set(&self) -> bool {
        self.tls_client_key_sealed.is_some()
    }
    /// The client certificate's subject, issuer and validity, when one is stored.
    pub fn client_cert(&self) -> Option<credentials::CertInfo> {
        credentials::describe_first(&self.tls_client_cert).ok()
    }
    /// The client certificate expires within `days` (or has expired) at `now`.
    pub fn cert_expiring(&self, now: NaiveDateTime, days: i64) -> bool {
        self.tls_cert_expires_at
            .is_some_and(|at| at - now <= chrono::Duration::days(days))
    }
    pub fn auth_secret_set(&self) -> bool {
        self.auth_secret_sealed.is_some()
    }
    pub fn signing_secret_set(&self) -> bool {
        self.signing_secret_sealed.is_some()
    }
    /// The stored headers (secret values still sealed).
    pub fn stored_headers(&self) -> Vec<StoredHeader> {
        serde_json::from_str(&self.headers).unwrap_or_default()
    }
    /// The host of the base URL with placeholders replaced, lower-cased.
    pub fn host(&self) -> Option<String> {
        input::url_host(&self.base_url)
    }

    /// The authentication with its secret decrypted.
    pub fn resolved_auth(&self, sb: &SecretBox) -> Result<Auth> {
        let secret = || -> Result<Secret> {
            match &self.auth_secret_sealed {
                Some(s) => sb.open(s),
                None => Ok(Secret(String::new())),
            }
        };
        Ok(match self.auth_kind() {
            AuthKind::None => Auth::None,
            AuthKind::Basic => Auth::Basic {
                user: self.auth_username.clone(),
                password: secret()?,
            },
            AuthKind::Bearer => Auth::Bearer { token: secret()? },
            AuthKind::ApiKey => Auth::ApiKey {
                header: self.auth_header.clone(),
                value: secret()?,
            },
            AuthKind::Ntlm => Auth::Ntlm {
                user: self.auth_username.clone(),
                password: secret()?,
                domain: self.auth_domain.clone(),
            },
            AuthKind::OAuth2 => Auth::OAuth2(std::sync::Arc::new(crate::delivery::OAuthClient {
                token_url: self.oauth_token_url.clone(),
                client_id: self.auth_username.clone(),
                client_secret: secret()?,
                scope: self.oauth_scope.clone(),
                audience: self.oauth_audience.clone(),
                resource: self.oauth_resource.clone(),
                client_auth: self.oauth_client_auth().for_sender(),
            })),
        })
    }

    /// The client certificate with its key decrypted, and the CA bundle; `None` when
    /// the connection has neither.
    pub fn resolved_tls(&self, sb: &SecretBox) -> Result<Option<crate::delivery::ClientTls>> {
        let key = match &self.tls_client_key_sealed {
            Some(k) => sb.open(k)?,
            None => Secret(String::new()),
        };
        let tls = crate::delivery::ClientTls {
            cert_pem: if key.expose().is_empty() {
                String::new()
            } else {
                self.tls_client_cert.clone()
            },
            key_pem: key,
            ca_pem: self.tls_ca_bundle.clone(),
        };
        Ok((!tls.is_empty()).then_some(tls))
    }

    /// Default headers with clear values; secret headers without a value are left out.
    pub fn resolved_headers(&self, sb: &SecretBox) -> Result<Vec<ResolvedHeader>> {
        let mut out = Vec::new();
        for h in self.stored_headers() {
            let secret = h.is_secret();
            let value = match (h.secret, h.value) {
                (true, Some(v)) => sb.open(&v)?,
                (true, None) => continue,
                (false, v) => Secret(v.unwrap_or_default()),
            };
            out.push(ResolvedHeader {
                name: h.name,
                value,
                secret,
            });
        }
        Ok(out)
    }

    pub fn list(conn: &mut DbConn) -> Result<Vec<Connection>> {
        Ok(connections::table
            .order(connections::name.asc())
            .select(Connection::as_select())
            .load(conn)?)
    }

    pub fn get(conn: &mut DbConn, id: i64) -> Result<Connection> {
        connections::table
            .find(id)
            .select(Connection::as_select())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("connection #{id}")))
    }

    /// Connections whose client certificate expires before `now + days` (or has
    /// expired), soonest first: the dashboard's warning.
    pub fn certs_expiring(
        conn: &mut DbConn,
        now: NaiveDateTime,
        days: i64,
    ) -> Result<Vec<Connection>> {
        Ok(connections::table
            .filter(connections::tls_client_key_sealed.is_not_null())
            .filter(connections::tls_cert_expires_at.le(now + chrono::Duration::days(days)))
            .order(connections::tls_cert_expires_at.asc())
            .select(Connection::as_select())
            .load(conn)?)
    }

    pub fn find_by_name(conn: &mut DbConn, name: &str) -> Result<Option<Connection>> {
        Ok(connections::table
            .filter(connections::name.eq(name))
            .select(Connection::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Validates `input` and stores a new connection with its audit row; nothing is
    /// written on error.
    pub fn create(
        conn: &mut DbConn,
        sb: &SecretBox,
        actor: &Actor,
        input: &ConnectionInput,
    ) -> Result<Connection> {
        crate::db::write(conn, |c| {
            let row = input.prepare(None, sb)?;
            ensure_unique_name(c, &row.name, None)?;
            let now = crate::db::now();
            let id: i64 = diesel::insert_into(connections::table)
                .values((
                    &row,
                    connections::created_at.eq(now),
                    connections::updated_at.eq(now),
                ))
                .returning(connections::id)
                .get_result(c)?;
            let new = Connection::get(c, id)?;
            let detail = change_summary(None, &new);
            audit::record(
                c,
                actor,
                "connection.create",
                &new.name,
                audit::SUCCESS,
                &detail,
            )?;
            Ok(new)
        })
    }

    /// Validates `input` against the stored connection (blank secrets keep theirs) and
    /// saves it, with an audit row naming what changed.
    pub fn update(
        conn: &mut DbConn,
        sb: &SecretBox,
        actor: &Actor,
        id: i64,
        input: &ConnectionInput,
    ) -> Result<Connection> {
        crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            // The connection's own secrets are asked for again if its host changes
            // (`prepare`); its webhooks' secret headers go along only when confirmed.
            // Both are reported at once, so one more submit settles them.
            let moved = if input.move_webhook_secrets {
                Vec::new()
            } else {
                let new_base = input.base_url.trim();
                crate::webhooks::request::secrets_moved_by(c, id, &old.base_url, new_base)?
            };
            let mut errs = match input.prepare(Some(&old), sb) {
                Ok(row) if moved.is_empty() => Ok(row),
                Ok(_) => Err(FieldErrors::new()),
                Err(Error::Validation(errs)) => Err(errs),
                Err(e) => return Err(e),
            };
            if let (Err(errs), false) = (&mut errs, moved.is_empty()) {
                errs.add(
                    "move_webhook_secrets",
                    format!(
                        "The host changed, and the secret headers of {} would go to it: confirm that they may, or edit those webhooks first.",
                        named_list(&moved)
                    ),
                );
            }
            let row = errs.map_err(Error::Validation)?;
            ensure_unique_name(c, &row.name, Some(id))?;
            diesel::update(connections::table.find(id))
                .set((&row, connections::updated_at.eq(crate::db::now())))
                .execute(c)?;
            let new = Connection::get(c, id)?;
            let detail = change_summary(Some(&old), &new);
            audit::record(
                c,
                actor,
                "connection.update",
                &new.name,
                audit::SUCCESS,
                &detail,
            )?;
            Ok(new)
        })
    }

    /// Deletes a connection no webhook uses, with its audit row; otherwise a conflict
    /// naming the webhooks, audited as a failure.
    pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Connection> {
        let res = Connection::delete_in(conn, actor, id);
        let target = format!("connection #{id}");
        audit::record_refusal(conn, actor, "connection.delete", &target, &res)?;
        res
    }

    fn delete_in(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<Connection> {
        crate::db::write(conn, |c| {
            let old = Connection::get(c, id)?;
            let users = users_of(c, id)?;
            if !users.is_empty() {
                return Err(Error::Conflict(format!(
                    "Connection {} is used by these webhooks: {}. Point them elsewhere first.",
                    old.name,
                    users.join(", ")
                )));
            }
            diesel::delete(connections::table.find(id)).execute(c)?;
            audit::record(c, actor, "connection.delete", &old.name, audit::SUCCESS, "")?;
            Ok(old)
        })
    }

    /// A name for a copy that no connection has yet: "Copy of X", "Copy of X (2)", …
    pub fn copy_name(conn: &mut DbConn, name: &str) -> Result<String> {
        let base = format!("Copy of {name}");
        let mut candidate = base.clone();
        let mut n = 2;
        while Connection::find_by_name(conn, &candidate)?.is_some() {
            candidate = format!("{base} ({n})");
            n += 1;
        }
        Ok(candidate)
    }

    /// Re-encrypts every sealed value of every connection with `reseal` (used by rekey,
    /// inside its transaction). Returns how many values were resealed.
    pub fn reseal_all(conn: &mut DbConn, reseal: &dyn Fn(&str) -> Result<String>) -> Result<usize> {
        let mut count = 0;
        for c in Connection::list(conn)? {
            let mut one = |v: &Option<String>| -> Result<Option<String>> {
                v.as_deref()
                    .map(|s| {
                        count += 1;
                        reseal(s)
                    })
                    .transpose()
            };
            let auth = one(&c.auth_secret_sealed)?;
            let signing = one(&c.signing_secret_sealed)?;
            let previous = one(&c.previous_signing_secret_sealed)?;
            let tls_key = one(&c.tls_client_key_sealed)?;
            let mut headers = c.stored_headers();
            for h in headers.iter_mut().filter(|h| h.secret) {
                h.value = one(&h.value)?;
            }
            let headers = serde_json::to_string(&headers)
                .map_err(|e| Error::Internal(format!("headers: {e}")))?;
            diesel::update(connections::table.find(c.id))
                .set((
                    connections::auth_secret_sealed.eq(auth),
                    connections::signing_secret_sealed.eq(signing),
                    connections::previous_signing_secret_sealed.eq(previous),
                    connections::tls_client_key_sealed.eq(tls_key),
                    connections::headers.eq(headers),
                ))
                .execute(conn)?;
        }
        Ok(count)
    }
}

fn ensure_unique_name(conn: &mut DbConn, name: &str, except: Option<i64>) -> Result<()> {
    match Connection::find_by_name(conn, name)? {
        Some(other) if Some(other.id) != except => Err(Error::invalid(
            "name",
            "Another connection already has this name.",
        )),
        _ => Ok(()),
    }
}

/// Names of the webhooks that send through connection `id` (as their connection or
/// their test connection). Deleting a connection is refused while this is non-empty.
///
/// This is the single place that knows which tables refer to connections: webhooks
/// (whose foreign keys refuse the delete as a second line of defence).
pub fn users_of(conn: &mut DbConn, id: i64) -> Result<Vec<String>> {
    crate::webhooks::store::users_of_connection(conn, id)
}

/// Webhook names for a message: webhook “A”, webhook “B” and webhook “C”.
fn named_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("webhook “{n}”")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// What an audit row says about a save: the fields that changed, by name only (secret
/// values never, and not even their ciphertext).
pub fn change_summary(old: Option<&Connection>, new: &Connection) -> String {
    let Some(old) = old else {
        return format!(
            "type {}; environment {}; auth {}; TLS verification {}",
            new.app_type,
            new.environment,
            new.auth_kind,
            if new.verify_tls { "on" } else { "off" }
        );
    };
    let pairs: [(&str, bool); 21] = [
        ("name", old.name != new.name),
        ("app_type", old.app_type != new.app_type),
        ("environment", old.environment != new.environment),
        ("base_url", old.base_url != new.base_url),
        ("headers", old.headers != new.headers),
        ("timeout_ms", old.timeout_ms != new.timeout_ms),
        ("verify_tls", old.verify_tls != new.verify_tls),
        ("auth_kind", old.auth_kind != new.auth_kind),
        ("auth_username", old.auth_username != new.auth_username),
        ("auth_domain", old.auth_domain != new.auth_domain),
        ("auth_header", old.auth_header != new.auth_header),
        (
            "auth_secret",
            old.auth_secret_sealed != new.auth_secret_sealed,
        ),
        (
            "signing_secret",
            old.signing_secret_sealed != new.signing_secret_sealed,
        ),
        (
            "oauth_token_url",
            old.oauth_token_url != new.oauth_token_url,
        ),
        ("oauth_scope", old.oauth_scope != new.oauth_scope),
        ("oauth_audience", old.oauth_audience != new.oauth_audience),
        ("oauth_resource", old.oauth_resource != new.oauth_resource),
        (
            "oauth_client_auth",
            old.oauth_client_auth != new.oauth_client_auth,
        ),
        (
            "tls_client_cert",
            old.tls_client_cert != new.tls_client_cert,
        ),
        (
            "tls_client_key",
            old.tls_client_key_sealed != new.tls_client_key_sealed,
        ),
        ("tls_ca_bundle", old.tls_ca_bundle != new.tls_ca_bundle),
    ];
    let changed: Vec<&str> = pairs.iter().filter(|(_, c)| *c).map(|(n, _)| *n).collect();
    if changed.is_empty() {
        "no changes".into()
    } else {
        format!("changed: {}", changed.join(", "))
    }
}
