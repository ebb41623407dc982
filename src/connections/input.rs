//! What an administrator submits for a connection (page or API) and its validation
//! into a row. Secrets arrive as `SecretChange`: keep the stored value, set a new one,
//! or clear it; they leave here sealed.

use super::credentials;
use super::kinds::{AppType, AuthKind, Environment, OAuthClientAuth};
use super::{Connection, ConnectionRow, StoredHeader, signing};
use crate::delivery::redact::{is_redacted, is_secret_header};
use crate::error::{Error, FieldErrors, Result};
use crate::limits;
use crate::secrets::{Secret, SecretBox};

pub const MIN_TIMEOUT_MS: i64 = 100;
pub const MAX_TIMEOUT_MS: i64 = 120_000;
pub const DEFAULT_TIMEOUT_MS: i64 = 10_000;

/// What to do with a stored secret. A blank field on a form means `Keep`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SecretChange {
    #[default]
    Keep,
    Set(Secret),
    Clear,
}

impl SecretChange {
    /// From a form: a ticked "clear" box wins, then a non-blank value, else keep.
    pub fn from_form(value: &str, clear: bool) -> Self {
        if clear {
            SecretChange::Clear
        } else if value.is_empty() {
            SecretChange::Keep
        } else {
            SecretChange::Set(Secret(value.to_string()))
        }
    }
}

/// One default header. For a secret header a blank `value` keeps the stored value of the
/// header with the same name.
#[derive(Debug, Clone, Default)]
pub struct HeaderInput {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct ConnectionInput {
    pub name: String,
    pub app_type: String,
    pub environment: String,
    pub base_url: String,
    pub headers: Vec<HeaderInput>,
    /// `None` when the field was not a number.
    pub timeout_ms: Option<i64>,
    pub verify_tls: bool,
    pub auth_kind: String,
    pub auth_username: String,
    pub auth_domain: String,
    pub auth_header: String,
    pub auth_secret: SecretChange,
    pub signing_secret: SecretChange,
    /// OAuth 2.0 client credentials (auth kind `oauth2`).
    pub oauth_token_url: String,
    pub oauth_scope: String,
    pub oauth_audience: String,
    pub oauth_resource: String,
    pub oauth_client_auth: String,
    /// Mutual TLS: certificate chain and CA bundle (PEM); the key is write-only.
    pub tls_client_cert: String,
    pub tls_client_key: SecretChange,
    pub tls_ca_bundle: String,
    /// The administrator confirms that the secret header values of the webhooks sending
    /// through this connection may go to its new host (`Connection::update`).
    pub move_webhook_secrets: bool,
}

impl Default for ConnectionInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            app_type: AppType::Generic.code().into(),
            environment: Environment::Production.code().into(),
            base_url: String::new(),
            headers: Vec::new(),
            timeout_ms: Some(DEFAULT_TIMEOUT_MS),
            verify_tls: true,
            auth_kind: AuthKind::None.code().into(),
            auth_username: String::new(),
            auth_domain: String::new(),
            auth_header: String::new(),
            auth_secret: SecretChange::Keep,
            signing_secret: SecretChange::Keep,
            oauth_token_url: String::new(),
            oauth_scope: String::new(),
            oauth_audience: String::new(),
            oauth_resource: String::new(),
            oauth_client_auth: OAuthClientAuth::Basic.code().into(),
            tls_client_cert: String::new(),
            tls_client_key: SecretChange::Keep,
            tls_ca_bundle: String::new(),
            move_webhook_secrets: false,
        }
    }
}

impl ConnectionInput {
    /// The stored connection as an input that changes nothing (secrets `Keep`, secret
    /// header values blank). Edit forms and API patches start from this.
    pub fn from_connection(c: &Connection) -> Self {
        Self {
            name: c.name.clone(),
            app_type: c.app_type.clone(),
            environment: c.environment.clone(),
            base_url: c.base_url.clone(),
            headers: c
                .stored_headers()
                .into_iter()
                .map(|h| HeaderInput {
                    secret: h.is_secret(),
                    value: if h.is_secret() {
                        String::new()
                    } else {
                        h.value.unwrap_or_default()
                    },
                    name: h.name,
                })
                .collect(),
            timeout_ms: Some(i64::from(c.timeout_ms)),
            verify_tls: c.verify_tls,
            auth_kind: c.auth_kind.clone(),
            auth_username: c.auth_username.clone(),
            auth_domain: c.auth_domain.clone(),
            auth_header: c.auth_header.clone(),
            auth_secret: SecretChange::Keep,
            signing_secret: SecretChange::Keep,
            oauth_token_url: c.oauth_token_url.clone(),
            oauth_scope: c.oauth_scope.clone(),
            oauth_audience: c.oauth_audience.clone(),
            oauth_resource: c.oauth_resource.clone(),
            oauth_client_auth: c.oauth_client_auth.clone(),
            tls_client_cert: c.tls_client_cert.clone(),
            tls_client_key: SecretChange::Keep,
            tls_ca_bundle: c.tls_ca_bundle.clone(),
            move_webhook_secrets: false,
        }
    }

    /// A copy for "clone": everything but the secrets, under a new name.
    pub fn for_copy(c: &Connection, name: String) -> Self {
        Self {
            name,
            ..Self::from_connection(c)
        }
    }

    /// Validates every field (all errors at once) and seals the secrets. `old` is the
    /// stored connection when editing.
    pub fn prepare(&self, old: Option<&Connection>, sb: &SecretBox) -> Result<ConnectionRow> {
        let mut errs = FieldErrors::new();
        let name = self.name.trim().to_string();
        if name.is_empty() {
            errs.add("name", "Enter a name.");
        } else {
            limits::check(&mut errs, "name", &name, limits::NAME);
        }
        let app_type = AppType::parse(&self.app_type);
        if app_type.is_none() {
            errs.add("app_type", format!("Choose one of: {}.", AppType::codes()));
        }
        let environment = Environment::parse(&self.environment);
        if environment.is_none() {
            errs.add(
                "environment",
                format!("Choose one of: {}.", Environment::codes()),
            );
        }
        let base_url = self.base_url.trim().to_string();
        let url_check = match limits::too_long(&base_url, limits::URL) {
            Some(m) => Err(m),
            None => check_base_url(&base_url),
        };
        if let Err(m) = url_check {
            errs.add("base_url", m);
        }
        let timeout_ms = match self.timeout_ms {
            Some(t) if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&t) => t as i32,
            _ => {
                errs.add(
                    "timeout_ms",
                    format!("Enter a whole number of milliseconds from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}."),
                );
                0
            }
        };
        let host_changed = old.is_some_and(|o| o.host() != url_host(&base_url));
        let headers = self.prepare_headers(old, host_changed, sb, &mut errs)?;

        let kind = AuthKind::parse(&self.auth_kind);
        if kind.is_none() {
            errs.add(
                "auth_kind",
                format!("Choose one of: {}.", AuthKind::codes()),
            );
        }
        let kind = kind.unwrap_or(AuthKind::None);
        let oauth = credentials::prepare_oauth(self, kind, &mut errs);
        // An OAuth client secret goes to the token endpoint: a new token host is a new
        // host for it, like a new base URL for every other kind's secret.
        let host_changed = host_changed
            || (kind == AuthKind::OAuth2
                && old.is_some_and(|o| {
                    o.auth_kind() == kind
                        && credentials::token_host(o) != url_host(&oauth.token_url)
                }));
        let tls = credentials::prepare_tls(self, old, sb, &mut errs)?;
        let username = self.auth_username.trim().to_string();
        let domain = self.auth_domain.trim().to_string();
        let header = self.auth_header.trim().to_string();
        limits::check(&mut errs, "auth_username", &username, limits::SHORT);
        limits::check(&mut errs, "auth_domain", &domain, limits::SHORT);
        limits::check(&mut errs, "auth_header", &header, limits::HEADER_NAME);
        if kind.has_username() && username.is_empty() {
            errs.add(
                "auth_username",
                format!("Enter the {}.", kind.username_label()),
            );
        }
        if kind == AuthKind::ApiKey {
            if header.is_empty() {
                errs.add("auth_header", "Enter the header that carries the API key.");
            } else if !is_token(&header) {
                errs.add("auth_header", "Not a valid header name.");
            }
        }
        // The stored secret only counts when it belongs to the same kind of auth.
        let stored = old
            .filter(|o| o.auth_kind() == kind)
            .and_then(|o| o.auth_secret_sealed.clone());
        let label = kind.secret_label();
        let auth_secret_sealed = match (&self.auth_secret, kind.has_secret()) {
            (_, false) => None,
            (SecretChange::Set(s), true) => {
                limits::check(&mut errs, "auth_secret", s.expose(), limits::HEADERS);
                if s.expose().contains(['\r', '\n']) {
                    errs.add(
                        "auth_secret",
                        format!("The {label} cannot hold line breaks."),
                    );
                }
                Some(sb.seal(s)?)
            }
            (SecretChange::Clear, true) => {
                if kind != AuthKind::Basic {
                    errs.add(
                        "auth_secret",
                        format!("A {label} is required for this authentication."),
                    );
                }
                None
            }
            (SecretChange::Keep, true) => match stored {
                Some(_) if host_changed => {
                    errs.add(
                        "auth_secret",
                        format!("The host changed: enter the {label} again (it is not sent to a new host unconfirmed)."),
                    );
                    None
                }
                Some(s) => Some(s),
                None if kind == AuthKind::Basic => None,
                None => {
                    errs.add("auth_secret", format!("Enter the {label}."));
                    None
                }
            },
        };

        let (signing, previous, previous_expires) = match &self.signing_secret {
            SecretChange::Keep => old.map_or((None, None, None), |o| {
                (
                    o.signing_secret_sealed.clone(),
                    o.previous_signing_secret_sealed.clone(),
                    o.previous_signing_expires_at,
                )
            }),
            SecretChange::Clear => (None, None, None),
            SecretChange::Set(s) => {
                if let Err(m) = signing::check_format(s.expose()) {
                    errs.add("signing_secret", m);
                }
                (Some(sb.seal(s)?), None, None)
            }
        };
        errs.into_result()?;
        Ok(ConnectionRow {
            name,
            app_type: app_type.map(|a| a.code()).unwrap_or_default().into(),
            environment: environment.map(|e| e.code()).unwrap_or_default().into(),
            base_url,
            headers: serde_json::to_string(&headers)
                .map_err(|e| Error::Internal(format!("headers: {e}")))?,
            timeout_ms,
            verify_tls: self.verify_tls,
            auth_kind: kind.code().into(),
            auth_username: if kind.has_username() {
                username
            } else {
                String::new()
            },
            auth_domain: if kind == AuthKind::Ntlm {
                domain
            } else {
                String::new()
            },
            auth_header: if kind == AuthKind::ApiKey {
                header
            } else {
                String::new()
            },
            auth_secret_sealed,
            signing_secret_sealed: signing,
            previous_signing_secret_sealed: previous,
            previous_signing_expires_at: previous_expires,
            oauth_token_url: oauth.token_url,
            oauth_scope: oauth.scope,
            oauth_audience: oauth.audience,
            oauth_resource: oauth.resource,
            oauth_client_auth: oauth.client_auth,
            tls_client_cert: tls.client_cert,
            tls_client_key_sealed: tls.client_key_sealed,
            tls_ca_bundle: tls.ca_bundle,
            tls_cert_expires_at: tls.cert_expires_at,
        })
    }

    fn prepare_headers(
        &self,
        old: Option<&Connection>,
        host_changed: bool,
        sb: &SecretBox,
        errs: &mut FieldErrors,
    ) -> Result<Vec<StoredHeader>> {
        let stored = old.map(Connection::stored_headers).unwrap_or_default();
        let mut out: Vec<StoredHeader> = Vec::new();
        for h in &self.headers {
            let name = h.name.trim();
            if name.is_empty() {
                if !h.value.is_empty() {
                    errs.add("headers", "A header value needs a header name.");
                }
                continue;
            }
            if !is_token(name) {
                errs.add("headers", format!("“{name}” is not a valid header name."));
                continue;
            }
            if let Some(m) = limits::too_long(name, limits::HEADER_NAME)
                .or_else(|| limits::too_long(&h.value, limits::HEADERS))
            {
                errs.add("headers", format!("{name}: {m}"));
                continue;
            }
            if out.iter().any(|o| o.name.eq_ignore_ascii_case(name)) {
                errs.add("headers", format!("The header {name} is listed twice."));
                continue;
            }
            if h.value.contains(['\r', '\n']) {
                errs.add(
                    "headers",
                    format!("The value of {name} cannot hold line breaks."),
                );
                continue;
            }
            // A credential is sealed even when nobody ticked "secret" (one rule: redact).
            let secret = h.secret || is_secret_header(name);
            let value = if !secret {
                Some(h.value.clone())
            } else if !h.value.is_empty() && !is_redacted(name, &h.value) {
                Some(sb.seal(&Secret(h.value.clone()))?)
            } else {
                let kept = stored
                    .iter()
                    .find(|s| s.is_secret() && s.name.eq_ignore_ascii_case(name))
                    .map(|s| match (&s.value, s.secret) {
                        // Stored in clear before the name rule: sealed now.
                        (Some(v), false) => sb.seal(&Secret(v.clone())).map(Some),
                        (v, _) => Ok(v.clone()),
                    })
                    .transpose()?
                    .flatten();
                match kept {
                    Some(_) if host_changed => {
                        errs.add(
                            "headers",
                            format!("The host changed: enter the value of the secret header {name} again."),
                        );
                        None
                    }
                    Some(v) => Some(v),
                    None => {
                        errs.add(
                            "headers",
                            format!("Enter the value of the secret header {name}."),
                        );
                        None
                    }
                }
            };
            out.push(StoredHeader {
                name: name.to_string(),
                value,
                secret,
            });
        }
        Ok(out)
    }
}

/// The base URL with every `{{…}}` placeholder replaced by a harmless word made from
/// its name (`{{ticket.team}}` → `ph-ticket-team`), so that a templated URL can still be
/// checked for scheme and host, and two hosts templated differently compare as two
/// hosts ([`url_host`]): a move from `{{param.host}}` to `{{ticket.subject}}` is a move.
fn without_placeholders(url: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("A placeholder opened with {{ is never closed with }}.".into());
        };
        out.push_str("ph-");
        out.extend(after[..end].trim().chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        }));
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err("A }} closes no placeholder.".into());
    }
    out.push_str(rest);
    Ok(out)
}

fn check_base_url(url: &str) -> std::result::Result<(), String> {
    if url.is_empty() {
        return Err("Enter the base URL.".into());
    }
    let plain = without_placeholders(url)?;
    let parsed = url::Url::parse(&plain).map_err(|e| format!("Not a valid URL ({e})."))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("The URL must start with http:// or https://.".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host.".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "Put credentials in Authentication, not in the URL (where they would be shown).".into(),
        );
    }
    Ok(())
}

/// The host of a (possibly templated) URL, lower-cased, with its port.
pub fn url_host(url: &str) -> Option<String> {
    let plain = without_placeholders(url.trim()).ok()?;
    let parsed = url::Url::parse(&plain).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// RFC 9110 token characters, which header names must consist of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_with_placeholders() {
        assert!(check_base_url("https://hooks.slack.com/services/{{ticket.team}}/x").is_ok());
        assert!(check_base_url("https://{{ticket.host}}/api").is_ok());
        assert!(check_base_url("ftp://example.com").is_err());
        assert!(check_base_url("https://example.com/{{oops").is_err());
        assert!(check_base_url("not a url").is_err());
        assert!(check_base_url("https://user:pw@example.com").is_err());
        assert_eq!(
            url_host("https://Example.com/a").as_deref(),
            Some("example.com:443")
        );
        // Hosts templated differently are different hosts; the same template is one.
        assert_eq!(
            url_host("https://{{ Param.Host }}/a").as_deref(),
            Some("ph-param-host:443")
        );
        assert_ne!(
            url_host("https://{{param.host}}/a"),
            url_host("https://{{ticket.subject}}/a")
        );
        assert_eq!(
            url_host("https://{{ticket.team}}.example.com/a"),
            url_host("https://{{ticket.team}}.example.com/b")
        );
    }

    #[test]
    fn header_names() {
        assert!(is_token("X-Api-Key"));
        assert!(!is_token("Bad Header"));
        assert!(!is_token("a:b"));
    }
}
