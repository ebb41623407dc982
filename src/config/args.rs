//! The command line and environment side of the settings: one optional flag per
//! setting, each with its `HOOKDESK_…` variable (clap reads both).

use std::path::PathBuf;

use super::LogFormat;

/// Overrides from flags and the environment (clap reads both); `None` keeps the file's
/// or the default value.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Read when present; the default file may be absent.
    #[arg(long, env = "HOOKDESK_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080]
    #[arg(long, env = "HOOKDESK_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The console's address as people reach it, for ticket links [default: http://<listen address>]
    #[arg(long, env = "HOOKDESK_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,
    /// Database URL: sqlite://PATH, a file path, or postgres://… [default: sqlite://hookdesk.db]
    #[arg(long, env = "DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Maximum pooled database connections [default: 16]
    #[arg(long, env = "HOOKDESK_DB_POOL_SIZE", global = true, value_name = "N")]
    pub db_pool_size: Option<u32>,
    /// Milliseconds a write waits for SQLite's write lock before a 503 [default: 10000]
    #[arg(
        long,
        env = "HOOKDESK_DB_BUSY_TIMEOUT_MS",
        global = true,
        value_name = "MS"
    )]
    pub db_busy_timeout_ms: Option<u32>,
    /// Log format [default: text]
    #[arg(long, env = "HOOKDESK_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Days after which finished deliveries are deleted [default: 30]
    #[arg(
        long,
        env = "HOOKDESK_RETENTION_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub retention_days: Option<i64>,
    /// Days after which attempts' stored bodies are emptied [default: 30]
    #[arg(
        long,
        env = "HOOKDESK_BODY_RETENTION_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub body_retention_days: Option<i64>,
    /// Minutes of inactivity that end a session [default: 120]
    #[arg(
        long,
        env = "HOOKDESK_SESSION_IDLE_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub session_idle_minutes: Option<i64>,
    /// Minutes after login that end a session regardless of activity [default: 720]
    #[arg(
        long,
        env = "HOOKDESK_SESSION_ABSOLUTE_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub session_absolute_minutes: Option<i64>,
    /// Mark cookies Secure; turn on when served over HTTPS [default: false]
    #[arg(
        long,
        env = "HOOKDESK_SECURE_COOKIES",
        global = true,
        value_name = "BOOL"
    )]
    pub secure_cookies: Option<bool>,
    /// Failed logins within the window that lock an account [default: 5]
    #[arg(
        long,
        env = "HOOKDESK_LOGIN_MAX_FAILURES",
        global = true,
        value_name = "N"
    )]
    pub login_max_failures: Option<i32>,
    /// Minutes over which failed logins are counted [default: 15]
    #[arg(
        long,
        env = "HOOKDESK_LOGIN_FAILURE_WINDOW_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub login_failure_window_minutes: Option<i64>,
    /// Minutes an account stays locked [default: 15]
    #[arg(
        long,
        env = "HOOKDESK_LOGIN_LOCKOUT_MINUTES",
        global = true,
        value_name = "MIN"
    )]
    pub login_lockout_minutes: Option<i64>,
    /// Password for the `admin` user created on first start [default: generated, printed once]
    #[arg(
        long,
        env = "HOOKDESK_ADMIN_PASSWORD",
        global = true,
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Bearer token `/metrics` requires [default: none, open]
    #[arg(
        long,
        env = "HOOKDESK_METRICS_TOKEN",
        global = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Deliveries in flight at once in one worker [default: 256]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_CONCURRENCY",
        global = true,
        value_name = "N"
    )]
    pub worker_concurrency: Option<usize>,
    /// Deliveries in flight at once to one connection [default: 16]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_PER_CONNECTION",
        global = true,
        value_name = "N"
    )]
    pub worker_per_connection: Option<usize>,
    /// Most deliveries claimed in one transaction [default: 256]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_CLAIM_BATCH",
        global = true,
        value_name = "N"
    )]
    pub worker_claim_batch: Option<usize>,
    /// Seconds a claim holds; must exceed the delivery timeout by 5 s [default: 120]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_LEASE_SECONDS",
        global = true,
        value_name = "SECS"
    )]
    pub worker_lease_seconds: Option<u64>,
    /// Fallback claim poll in milliseconds (new work wakes the worker at once) [default: 1000]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_POLL_MS",
        global = true,
        value_name = "MS"
    )]
    pub worker_poll_ms: Option<u64>,
    /// Seconds in-flight deliveries may finish at shutdown [default: 10]
    #[arg(
        long,
        env = "HOOKDESK_WORKER_SHUTDOWN_SECONDS",
        global = true,
        value_name = "SECS"
    )]
    pub worker_shutdown_seconds: Option<u64>,
    /// Failures in a row that pause a connection [default: 10]
    #[arg(
        long,
        env = "HOOKDESK_BREAKER_FAILURES",
        global = true,
        value_name = "N"
    )]
    pub breaker_failures: Option<i32>,
    /// Seconds a paused connection waits before a probe delivery [default: 300]
    #[arg(
        long,
        env = "HOOKDESK_BREAKER_COOLDOWN_SECONDS",
        global = true,
        value_name = "SECS"
    )]
    pub breaker_cooldown_seconds: Option<u64>,
    /// Comma-separated CIDRs outgoing requests may reach although private [default: none]
    #[arg(
        long,
        env = "HOOKDESK_ALLOWED_NETWORKS",
        global = true,
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub allowed_networks: Option<Vec<String>>,
    /// Comma-separated waits before each attempt [default: 0s,5s,5m,30m,2h,5h,10h,10h]
    #[arg(
        long,
        env = "HOOKDESK_RETRY_SCHEDULE",
        global = true,
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub retry_schedule: Option<Vec<String>>,
    /// Seconds to open a connection to a receiver [default: 10]
    #[arg(
        long,
        env = "HOOKDESK_DELIVERY_CONNECT_TIMEOUT_SECONDS",
        global = true,
        value_name = "SECS"
    )]
    pub delivery_connect_timeout_seconds: Option<u64>,
    /// Seconds for one whole outgoing request, response included [default: 30]
    #[arg(
        long,
        env = "HOOKDESK_DELIVERY_TIMEOUT_SECONDS",
        global = true,
        value_name = "SECS"
    )]
    pub delivery_timeout_seconds: Option<u64>,
    /// Days before a client certificate's expiry when it is flagged [default: 30]
    #[arg(
        long,
        env = "HOOKDESK_CERT_EXPIRY_WARNING_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub cert_expiry_warning_days: Option<u64>,
    /// Turn on the built-in echo receiver at /_echo/{name} [default: false]
    #[arg(
        long,
        env = "HOOKDESK_ECHO_RECEIVER",
        global = true,
        value_name = "BOOL"
    )]
    pub echo_receiver: Option<bool>,
    /// Proxy for outgoing requests, e.g. http://proxy:3128 [default: none]
    #[arg(
        long,
        env = "HOOKDESK_OUTGOING_PROXY",
        global = true,
        value_name = "URL"
    )]
    pub outgoing_proxy: Option<String>,
    /// Master key for secrets at rest: base64 of 32 bytes [default: read from the key file]
    #[arg(
        long,
        env = "HOOKDESK_SECRET_KEY",
        global = true,
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Key file for secrets at rest [default: <database file>.key, or ./hookdesk.key for PostgreSQL]
    #[arg(
        long,
        env = "HOOKDESK_SECRET_KEY_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub secret_key_file: Option<PathBuf>,
}
