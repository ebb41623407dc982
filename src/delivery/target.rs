//! Where a claimed delivery goes and how it authenticates: loaded from its connection
//! when it is claimed (so an edited secret takes effect on the next attempt), decrypted
//! only in memory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::auth::Auth;
use super::client_tls::ClientTls;
use crate::config::Secret;
use crate::connections::Connection;
use crate::db::DbConn;
use crate::db::schema::connections as cols;
use crate::error::Result;
use crate::secrets::SecretBox;

#[derive(Debug, Clone, Default)]
pub struct Target {
    pub auth: Auth,
    pub signing: Vec<Secret>,
    pub timeout: Option<Duration>,
    /// Clear values of the connection's secret default headers, by lower-case name.
    pub secret_headers: HashMap<String, String>,
    pub failures: i32,
    /// The connection turned TLS verification off (a test system's self-signed
    /// certificate); `false`, the default, verifies.
    pub accept_invalid_certs: bool,
    /// The connection's client certificate and CA bundle (mutual TLS, a private CA).
    pub client_tls: Option<Arc<ClientTls>>,
    /// Why nothing can be sent (the connection is gone, a secret does not decrypt).
    pub error: Option<String>,
}

impl Target {
    pub fn missing(id: i64) -> Self {
        Self {
            error: Some(format!("connection {id} no longer exists")),
            ..Self::default()
        }
    }

    /// Paused connections are never claimed, so a claimed one at the threshold is in its
    /// probe (half-open) state.
    pub fn half_open(&self, threshold: i32) -> bool {
        self.failures >= threshold
    }

    fn of(c: &Connection, sb: &SecretBox, now: NaiveDateTime) -> Self {
        let resolved = (|| -> Result<Self> {
            let auth = c.resolved_auth(sb)?;
            let secret_headers = c
                .resolved_headers(sb)?
                .into_iter()
                .filter(|h| h.secret)
                .map(|h| (h.name.to_ascii_lowercase(), h.value.0))
                .collect();
            Ok(Self {
                auth,
                signing: c.active_signing_secrets(sb, now)?,
                timeout: u64::try_from(c.timeout_ms)
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis),
                secret_headers,
                failures: c.consecutive_failures,
                accept_invalid_certs: !c.verify_tls,
                client_tls: c.resolved_tls(sb)?.map(Arc::new),
                error: None,
            })
        })();
        resolved.unwrap_or_else(|_| Self {
            failures: c.consecutive_failures,
            error: Some(format!(
                "the secrets of connection {} cannot be decrypted with the current key",
                c.name
            )),
            ..Self::default()
        })
    }
}

/// The targets of the given connections (missing ones are absent from the map).
pub fn load(
    conn: &mut DbConn,
    sb: &SecretBox,
    ids: &HashSet<i64>,
    now: NaiveDateTime,
) -> Result<HashMap<i64, Target>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = ids.iter().copied().collect();
    let rows: Vec<Connection> = cols::table
        .filter(cols::id.eq_any(&ids))
        .select(Connection::as_select())
        .load(conn)?;
    Ok(rows
        .iter()
        .map(|c| (c.id, Target::of(c, sb, now)))
        .collect())
}
