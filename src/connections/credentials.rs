//! What a connection carries besides its one secret: an OAuth 2.0 client's settings, and
//! a client certificate (mutual TLS) with an optional CA bundle for its server. Checked
//! here when a connection is saved, so a bad certificate is a field error on the form,
//! not a failed delivery later. Certificates are read with `x509-parser` (subject,
//! issuer, validity) and a key is matched to its certificate by rustls, the TLS stack
//! that will use them.

use chrono::NaiveDateTime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Connection;
use super::input::{ConnectionInput, SecretChange};
use super::kinds::{AuthKind, OAuthClientAuth};
use crate::error::{FieldErrors, Result};
use crate::limits;
use crate::secrets::{Secret, SecretBox};

/// The largest PEM text accepted per field (a chain of a few certificates is ~10 KiB).
pub const MAX_PEM: usize = 64 * 1024;

/// A certificate as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: NaiveDateTime,
    pub not_after: NaiveDateTime,
}

impl CertInfo {
    /// Whole days from `now` until it expires (negative once expired).
    pub fn days_left(&self, now: NaiveDateTime) -> i64 {
        (self.not_after - now).num_days()
    }
}

/// The DER of every certificate in `pem`; an error when there is none or one is broken.
fn certificates(pem: &str) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("This is not valid PEM ({e})."))?;
    if certs.is_empty() {
        return Err(
            "No certificate found: paste PEM text starting with -----BEGIN CERTIFICATE-----."
                .into(),
        );
    }
    Ok(certs)
}

fn describe(der: &[u8]) -> std::result::Result<CertInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("A certificate cannot be read ({e})."))?;
    let time = |t: x509_parser::time::ASN1Time| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    };
    let validity = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: time(validity.not_before),
        not_after: time(validity.not_after),
    })
}

/// The first certificate of a PEM chain (the client's own).
pub fn describe_first(pem: &str) -> std::result::Result<CertInfo, String> {
    let certs = certificates(pem)?;
    describe(&certs[0])
}

/// Every certificate of a PEM bundle (a CA bundle's list).
pub fn describe_all(pem: &str) -> std::result::Result<Vec<CertInfo>, String> {
    certificates(pem)?.iter().map(|c| describe(c)).collect()
}

/// The key is a PEM private key and belongs to the first certificate of `chain`.
fn check_key(chain: &[CertificateDer<'static>], key_pem: &str) -> std::result::Result<(), String> {
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
        "No private key found: paste PEM text starting with -----BEGIN PRIVATE KEY----- (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY.".to_owned()
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("This private key cannot be used ({e})."))?;
    let certified = rustls::sign::CertifiedKey::new(chain.to_vec(), signing);
    match certified.keys_match() {
        Ok(()) => Ok(()),
        // Keys whose public half rustls cannot derive are checked by the server instead.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(_) => Err("This private key does not belong to the client certificate.".into()),
    }
}

/// A certificate field must hold no private key: it is stored and shown in clear.
fn refuse_key_in(errs: &mut FieldErrors, field: &str, pem: &str) -> bool {
    if pem.contains("PRIVATE KEY-----") {
        errs.add(
            field,
            "This field is shown in clear: remove the private key from it and paste the key under Private key, where it is sealed.",
        );
        return true;
    }
    false
}

/// The OAuth 2.0 columns of a connection about to be saved.
pub struct OAuthColumns {
    pub token_url: String,
    pub scope: String,
    pub audience: String,
    pub resource: String,
    pub client_auth: String,
}

/// Checks the OAuth 2.0 fields when `kind` is OAuth 2.0; other kinds store none.
pub fn prepare_oauth(i: &ConnectionInput, kind: AuthKind, errs: &mut FieldErrors) -> OAuthColumns {
    if kind != AuthKind::OAuth2 {
        return OAuthColumns {
            token_url: String::new(),
            scope: String::new(),
            audience: String::new(),
            resource: String::new(),
            client_auth: OAuthClientAuth::Basic.code().into(),
        };
    }
    let token_url = i.oauth_token_url.trim().to_owned();
    if limits::check(errs, "oauth_token_url", &token_url, limits::URL)
        && let Err(m) = check_token_url(&token_url)
    {
        errs.add("oauth_token_url", m);
    }
    let scope = i
        .oauth_scope
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let audience = i.oauth_audience.trim().to_owned();
    let resource = i.oauth_resource.trim().to_owned();
    limits::check(errs, "oauth_scope", &scope, limits::URL);
    limits::check(errs, "oauth_audience", &audience, limits::URL);
    limits::check(errs, "oauth_resource", &resource, limits::URL);
    let client_auth = OAuthClientAuth::parse(&i.oauth_client_auth).unwrap_or_else(|| {
        errs.add(
            "oauth_client_auth",
            format!("Choose one of: {}.", OAuthClientAuth::codes()),
        );
        OAuthClientAuth::Basic
    });
    OAuthColumns {
        token_url,
        scope,
        audience,
        resource,
        client_auth: client_auth.code().into(),
    }
}

fn check_token_url(url: &str) -> std::result::Result<(), String> {
    if url.is_empty() {
        return Err("Enter the token URL of the authorization server.".into());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("Not a valid URL ({e})."))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("The URL must start with https:// (or http:// on a trusted network).".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host.".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("Put the client ID and secret in their fields, not in the URL.".into());
    }
    Ok(())
}

/// The host (with port) of the token URL, which the client secret is sent to.
pub fn token_host(c: &Connection) -> Option<String> {
    super::input::url_host(&c.oauth_token_url)
}

/// The mutual-TLS columns of a connection about to be saved.
pub struct TlsColumns {
    pub client_cert: String,
    pub client_key_sealed: Option<String>,
    pub ca_bundle: String,
    pub cert_expires_at: Option<NaiveDateTime>,
}

/// Checks the client certificate, its key (write-only: `Keep` keeps the stored one) and
/// the CA bundle, and seals the key. Removing the certificate (or clearing the key)
/// removes both.
pub fn prepare_tls(
    i: &ConnectionInput,
    old: Option<&Connection>,
    sb: &SecretBox,
    errs: &mut FieldErrors,
) -> Result<TlsColumns> {
    // "Remove the client certificate and key" removes both, whatever the field holds.
    let cert = match i.tls_client_key {
        SecretChange::Clear => String::new(),
        _ => i.tls_client_cert.trim().to_owned(),
    };
    let ca = i.tls_ca_bundle.trim().to_owned();
    let mut out = TlsColumns {
        client_cert: String::new(),
        client_key_sealed: None,
        ca_bundle: String::new(),
        cert_expires_at: None,
    };
    if limits::check(errs, "tls_ca_bundle", &ca, MAX_PEM)
        && !ca.is_empty()
        && !refuse_key_in(errs, "tls_ca_bundle", &ca)
    {
        match describe_all(&ca) {
            Ok(_) => out.ca_bundle = ca,
            Err(m) => errs.add("tls_ca_bundle", m),
        }
    }
    let new_key = match &i.tls_client_key {
        SecretChange::Set(k) => {
            limits::check(errs, "tls_client_key", k.expose(), MAX_PEM);
            Some(k.clone())
        }
        _ => None,
    };
    if cert.is_empty() {
        if new_key.is_some() {
            errs.add(
                "tls_client_cert",
                "Paste the client certificate this key belongs to.",
            );
        }
        return Ok(out);
    }
    if !limits::check(errs, "tls_client_cert", &cert, MAX_PEM)
        || refuse_key_in(errs, "tls_client_cert", &cert)
    {
        return Ok(out);
    }
    let chain = match certificates(&cert) {
        Ok(c) => c,
        Err(m) => {
            errs.add("tls_client_cert", m);
            return Ok(out);
        }
    };
    match describe(&chain[0]) {
        Ok(info) => out.cert_expires_at = Some(info.not_after),
        Err(m) => {
            errs.add("tls_client_cert", m);
            return Ok(out);
        }
    }
    let stored = old.and_then(|o| o.tls_client_key_sealed.clone());
    let key: Option<(Secret, Option<String>)> = match new_key {
        Some(k) => Some((k, None)),
        None => match stored {
            Some(sealed) => Some((sb.open(&sealed)?, Some(sealed))),
            None => None,
        },
    };
    let Some((key, sealed)) = key else {
        errs.add(
            "tls_client_key",
            "Enter the private key of the client certificate.",
        );
        return Ok(out);
    };
    if let Err(m) = check_key(&chain, key.expose()) {
        errs.add("tls_client_key", m);
        return Ok(out);
    }
    out.client_key_sealed = Some(match sealed {
        Some(s) => s,
        None => sb.seal(&key)?,
    });
    out.client_cert = cert;
    Ok(out)
}
