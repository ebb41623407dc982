//! A connection's own TLS settings: a client certificate and key for mutual TLS, and a
//! CA bundle to trust for its server besides the system's roots. reqwest keeps these per
//! client, so the sender builds one client per distinct setting (keyed by a hash, never
//! by the key itself) and keeps it, with its keep-alive pool, until the setting changes.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::config::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM: the client certificate, then any intermediates. Empty: no client certificate.
    pub cert_pem: String,
    /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Secret,
    /// PEM certificates to trust for the server, besides the system's roots.
    pub ca_pem: String,
}

impl ClientTls {
    pub fn is_empty(&self) -> bool {
        self.cert_pem.trim().is_empty() && self.ca_pem.trim().is_empty()
    }

    pub(super) fn key(&self, accept_invalid_certs: bool) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [
            self.cert_pem.as_str(),
            self.key_pem.expose(),
            self.ca_pem.as_str(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update([u8::from(accept_invalid_certs)]);
        h.finalize().into()
    }

    /// Adds the identity and the extra roots to a client being built.
    pub(super) fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, String> {
        if !self.cert_pem.trim().is_empty() {
            let mut pem = self.key_pem.expose().trim().to_owned();
            pem.push('\n');
            pem.push_str(self.cert_pem.trim());
            pem.push('\n');
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| format!("the client certificate or its key cannot be used: {e}"))?;
            builder = builder.identity(identity);
        }
        if !self.ca_pem.trim().is_empty() {
            let roots = reqwest::Certificate::from_pem_bundle(self.ca_pem.as_bytes())
                .map_err(|e| format!("the CA bundle cannot be read: {e}"))?;
            builder = builder.tls_certs_merge(roots);
        }
        Ok(builder)
    }
}

/// Clients built for connections' TLS settings.
#[derive(Default)]
pub(super) struct Clients {
    map: Mutex<HashMap<[u8; 32], reqwest::Client>>,
}

/// Distinct settings kept; beyond this the map starts afresh (settings edited often).
const MAX_CLIENTS: usize = 64;

impl Clients {
    pub(super) fn get_or_build(
        &self,
        tls: &ClientTls,
        accept_invalid_certs: bool,
        build: impl FnOnce() -> Result<reqwest::Client, String>,
    ) -> Result<reqwest::Client, String> {
        let key = tls.key(accept_invalid_certs);
        if let Some(c) = self.map.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        // Built outside the lock: loading the system roots takes a moment.
        let client = build()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CLIENTS {
            map.clear();
        }
        Ok(map.entry(key).or_insert(client).clone())
    }
}
