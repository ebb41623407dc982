//! Settings: defaults here, then `hookdesk.toml` (if present), then environment variables
//! and command-line flags. The resulting `Config` is a value handed to whoever needs it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

mod args;
pub use args::ConfigArgs;

/// Every setting with its default. The README's configuration table mirrors this.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the web console listens on.
    pub listen: String,
    /// The console's address as people reach it (`https://desk.example.com`), for links
    /// to tickets in what webhooks send (`{{ticket.url}}`). Unset: the listen address.
    pub public_url: Option<String>,
    /// `sqlite://PATH`, a plain file path, or `postgres://…`.
    pub database_url: String,
    /// Maximum pooled database connections.
    pub db_pool_size: u32,
    /// How long a writer waits for SQLite's write lock before answering 503.
    pub db_busy_timeout_ms: u32,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Finished deliveries and their attempts are deleted after this many days.
    pub retention_days: i64,
    /// Request and response bodies of attempts are emptied after this many days (they
    /// may hold personal data); at most `retention_days`.
    pub body_retention_days: i64,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many minutes after login, active or not.
    pub session_absolute_minutes: i64,
    /// Mark cookies `Secure` (turn on behind HTTPS).
    pub secure_cookies: bool,
    /// Failed logins for one account, within the window, that lock it.
    pub login_max_failures: i32,
    /// The window in which failures are counted, in minutes.
    pub login_failure_window_minutes: i64,
    /// How long a locked account stays locked, in minutes.
    pub login_lockout_minutes: i64,
    /// Password of the `admin` user created on first start (environment only; when
    /// unset a password is generated and printed once).
    #[serde(skip)]
    pub admin_password: Option<Secret>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>` (environment
    /// or command line only, like every secret).
    #[serde(skip)]
    pub metrics_token: Option<Secret>,
    /// Run the delivery worker in this process (`serve --no-worker` turns it off).
    pub run_worker: bool,
    /// Deliveries in flight at once in one worker.
    pub worker_concurrency: usize,
    /// Deliveries in flight at once to one connection.
    pub worker_per_connection: usize,
    /// Most deliveries claimed in one transaction.
    pub worker_claim_batch: usize,
    /// How long a claim holds; must exceed `delivery_timeout_seconds` by 5 s.
    pub worker_lease_seconds: u64,
    /// Fallback claim poll (milliseconds): retries falling due, and work from other
    /// processes should the PostgreSQL listener be down (it wakes the worker at once).
    pub worker_poll_ms: u64,
    /// On shutdown, seconds in-flight deliveries may finish before they are released.
    pub worker_shutdown_seconds: u64,
    /// Failures in a row that pause a connection (circuit breaker).
    pub breaker_failures: i32,
    /// How long a paused connection waits before one probe delivery.
    pub breaker_cooldown_seconds: u64,
    /// Networks (CIDR) outgoing requests may reach although private, loopback, etc.
    pub allowed_networks: Vec<String>,
    /// Waits before each delivery attempt (`0s`, `5s`, `5m`, `2h`, `1d`); its length is
    /// the number of attempts.
    pub retry_schedule: Vec<String>,
    /// Seconds allowed to open a connection to a receiver.
    pub delivery_connect_timeout_seconds: u64,
    /// Seconds allowed for one whole request, response body included.
    pub delivery_timeout_seconds: u64,
    /// A connection's client certificate this close to expiry (days) is flagged on the
    /// connection list and the dashboard.
    pub cert_expiry_warning_days: u64,
    /// The built-in echo receiver at `/_echo/{name}` (see `echo`); off by default.
    pub echo_receiver: bool,
    /// Proxy for outgoing requests (`http://host:port`); proxy environment variables are
    /// ignored.
    pub outgoing_proxy: Option<String>,
    /// Master key for secrets at rest, base64 of 32 bytes (environment only).
    #[serde(skip)]
    pub secret_key: Option<Secret>,
    /// File holding the master key; created with mode 0600 on first start when absent.
    /// Unset: beside the SQLite database file (`<db>.key`), or `hookdesk.key` in the
    /// working directory for PostgreSQL.
    pub secret_key_file: Option<PathBuf>,
}

/// A value that must never reach a log: `Debug` prints it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::delivery::redact::REDACTED)
    }
}

impl Secret {
    /// The clear value, for the one place that must use it (sending, sealing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            database_url: "sqlite://hookdesk.db".into(),
            db_pool_size: 16,
            db_busy_timeout_ms: 10_000,
            log_format: LogFormat::Text,
            retention_days: 30,
            body_retention_days: 30,
            session_idle_minutes: 120,
            session_absolute_minutes: 12 * 60,
            secure_cookies: false,
            login_max_failures: 5,
            login_failure_window_minutes: 15,
            login_lockout_minutes: 15,
            admin_password: None,
            metrics_token: None,
            run_worker: true,
            worker_concurrency: 256,
            worker_per_connection: 16,
            worker_claim_batch: 256,
            worker_lease_seconds: 120,
            worker_poll_ms: 1000,
            worker_shutdown_seconds: 10,
            breaker_failures: 10,
            breaker_cooldown_seconds: 300,
            allowed_networks: Vec::new(),
            retry_schedule: crate::delivery::retry::DEFAULT_SCHEDULE
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            delivery_connect_timeout_seconds: 10,
            delivery_timeout_seconds: 30,
            cert_expiry_warning_days: 30,
            echo_receiver: false,
            outgoing_proxy: None,
            secret_key: None,
            secret_key_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting {0}")]
    Invalid(String),
}

const DEFAULT_FILE: &str = "hookdesk.toml";

impl Config {
    /// File (explicit, or `hookdesk.toml` when it exists), then overrides.
    pub fn load(args: &ConfigArgs) -> Result<Self, ConfigError> {
        let mut cfg = match &args.config {
            Some(path) => Self::from_file(path)?,
            None if Path::new(DEFAULT_FILE).exists() => Self::from_file(Path::new(DEFAULT_FILE))?,
            None => Self::default(),
        };
        cfg.apply(args);
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    fn apply(&mut self, a: &ConfigArgs) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &a.$f { self.$f = v.clone(); } )* };
        }
        set!(
            listen,
            database_url,
            db_pool_size,
            db_busy_timeout_ms,
            log_format,
            retention_days,
            body_retention_days,
            session_idle_minutes,
            session_absolute_minutes,
            secure_cookies,
            login_max_failures,
            login_failure_window_minutes,
            login_lockout_minutes
        );
        set!(
            worker_concurrency,
            worker_per_connection,
            worker_claim_batch,
            worker_lease_seconds,
            worker_poll_ms,
            worker_shutdown_seconds,
            breaker_failures,
            breaker_cooldown_seconds
        );
        if let Some(t) = a.metrics_token.as_ref().filter(|t| !t.trim().is_empty()) {
            self.metrics_token = Some(Secret(t.clone()));
        }
        if let Some(p) = &a.admin_password {
            self.admin_password = Some(Secret(p.clone()));
        }
        set!(
            allowed_networks,
            retry_schedule,
            delivery_connect_timeout_seconds,
            delivery_timeout_seconds,
            cert_expiry_warning_days,
            echo_receiver
        );
        if let Some(u) = &a.public_url {
            self.public_url = Some(u.clone()).filter(|u| !u.trim().is_empty());
        }
        if let Some(p) = &a.outgoing_proxy {
            self.outgoing_proxy = Some(p.clone()).filter(|p| !p.trim().is_empty());
        }
        if let Some(k) = &a.secret_key {
            self.secret_key = Some(Secret(k.clone()));
        }
        if let Some(f) = &a.secret_key_file {
            self.secret_key_file = Some(f.clone());
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("retention_days", self.retention_days),
            ("body_retention_days", self.body_retention_days),
            ("session_idle_minutes", self.session_idle_minutes),
            ("session_absolute_minutes", self.session_absolute_minutes),
            (
                "login_failure_window_minutes",
                self.login_failure_window_minutes,
            ),
            ("login_lockout_minutes", self.login_lockout_minutes),
            ("login_max_failures", i64::from(self.login_max_failures)),
            ("db_pool_size", i64::from(self.db_pool_size)),
            ("db_busy_timeout_ms", i64::from(self.db_busy_timeout_ms)),
            ("breaker_failures", i64::from(self.breaker_failures)),
            (
                "worker_concurrency",
                i64::try_from(self.worker_concurrency).unwrap_or(i64::MAX),
            ),
            (
                "worker_per_connection",
                i64::try_from(self.worker_per_connection).unwrap_or(i64::MAX),
            ),
            (
                "worker_claim_batch",
                i64::try_from(self.worker_claim_batch).unwrap_or(i64::MAX),
            ),
            (
                "worker_poll_ms",
                i64::try_from(self.worker_poll_ms).unwrap_or(i64::MAX),
            ),
        ];
        for (name, v) in positive {
            if v <= 0 {
                return Err(ConfigError::Invalid(format!(
                    "{name}: must be greater than 0"
                )));
            }
        }
        if let Some(u) = &self.public_url {
            let ok = url::Url::parse(u).is_ok_and(|p| {
                matches!(p.scheme(), "http" | "https")
                    && p.host().is_some()
                    && p.query().is_none()
                    && p.fragment().is_none()
            });
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "public_url: {u:?} is not an http(s) address such as https://desk.example.com"
                )));
            }
        }
        self.validate_delivery()
    }

    /// The address links to the console start with, without a trailing `/`:
    /// `public_url`, or else the address the server is bound to (`bound`; an unspecified
    /// address such as `0.0.0.0` becomes `127.0.0.1`).
    pub fn public_base(&self, bound: std::net::SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let mut a = bound;
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}")
            }
        }
    }

    fn validate_delivery(&self) -> Result<(), ConfigError> {
        for n in &self.allowed_networks {
            crate::delivery::ssrf::parse_network(n)
                .map_err(|e| ConfigError::Invalid(format!("allowed_networks: {e}")))?;
        }
        crate::delivery::retry::RetryPolicy::parse(&self.retry_schedule)
            .map_err(ConfigError::Invalid)?;
        for (name, v) in [
            (
                "delivery_connect_timeout_seconds",
                self.delivery_connect_timeout_seconds,
            ),
            ("delivery_timeout_seconds", self.delivery_timeout_seconds),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "{name}: must be greater than 0"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
