//! Builds the application: pool, migrations, first administrator, HTTP server.
//! `Application::build` binds the listener and reports the port, so tests can ask for
//! port 0 and learn which one they got.

use std::net::TcpListener;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use base64::Engine;

use crate::auth::{password, sessions, users};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::http::{AppState, csrf, error, routes, security, session_store::DbSessionStore};

pub struct Application {
    port: u16,
    server: Server,
    worker: Option<crate::delivery::actor::WorkerHandle>,
}

/// Starts the delivery worker actor. Refuses a lease that does not exceed the request
/// timeout (see `delivery::claim`), a bad retry schedule or network allow-list.
pub async fn start_worker(
    config: &Config,
    pool: DbPool,
    waker: crate::delivery::Waker,
) -> anyhow::Result<crate::delivery::actor::WorkerHandle> {
    start_worker_with(config, pool, waker, Default::default()).await
}

/// [`start_worker`] sharing OAuth 2.0 tokens with the rest of the process ("Test
/// connection" and test-sends), so one client gets one token, not one per sender.
pub async fn start_worker_with(
    config: &Config,
    pool: DbPool,
    waker: crate::delivery::Waker,
    tokens: std::sync::Arc<crate::delivery::oauth::TokenCache>,
) -> anyhow::Result<crate::delivery::actor::WorkerHandle> {
    use crate::delivery::{RetryPolicy, Sender, SenderConfig, worker};
    let cfg = worker::WorkerConfig::from_config(config).map_err(anyhow::Error::msg)?;
    let sender = Sender::new(&SenderConfig::from_config(config).map_err(anyhow::Error::msg)?)
        .map_err(anyhow::Error::msg)?
        .with_tokens(tokens);
    let policy = RetryPolicy::parse(&config.retry_schedule).map_err(anyhow::Error::msg)?;
    let c = config.clone();
    let p = pool.clone();
    let secrets = tokio::task::spawn_blocking(move || {
        crate::secrets::key::open_secret_box(&c, &mut *p.get()?)
    })
    .await??;
    let secrets = std::sync::Arc::new(secrets);
    let rules = crate::rules::Engine::new(secrets.clone(), config.retry_schedule.clone());
    if let crate::db::Backend::Postgres(url) = crate::db::Backend::from_url(&config.database_url)? {
        crate::delivery::notify::spawn_listener(url, &waker)?;
    }
    crate::delivery::actor::WorkerHandle::start(
        move || {
            let rules = std::sync::Arc::new(rules);
            let hooks = crate::delivery::hooks::Hooks {
                response: crate::firing::response_hook(rules.clone()),
                health: crate::alerts::hook(rules),
            };
            Ok(worker::WorkerCtx::new(
                pool, sender, secrets, policy, cfg, hooks,
            ))
        },
        waker,
    )
}

/// Bulk replays left running by a process that stopped go on from their last batch.
async fn resume_bulk_replays(
    pool: &DbPool,
    config: &Config,
    waker: &crate::delivery::Waker,
) -> anyhow::Result<()> {
    use crate::execution_log::bulk;
    for id in db::run(pool, bulk::running).await? {
        tracing::info!(job = id, "resuming a bulk replay");
        bulk::spawn(
            pool.clone(),
            id,
            config.retry_schedule.clone(),
            waker.clone(),
        );
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// Opens the database and brings it up to date. Returns the pool and, on a first start
/// without a configured password, the generated administrator password.
pub fn prepare_database(config: &Config) -> anyhow::Result<(DbPool, Option<String>)> {
    let pool = db::connect_with(
        &config.database_url,
        config.db_pool_size,
        config.db_busy_timeout_ms,
    )?;
    let mut conn = pool.get()?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    let generated = users::ensure_first_admin(
        &mut conn,
        config.admin_password.as_ref().map(|s| s.0.as_str()),
    )?;
    Ok((pool, generated))
}

/// The cookie-signing key, created once and kept in the database so every web node and
/// every restart agrees on it.
fn cookie_key(pool: &DbPool) -> anyhow::Result<Key> {
    let mut conn = pool.get()?;
    let b64 = db::settings::get_or_init(&mut conn, "cookie_key", || {
        use rand::RngCore;
        let mut k = [0u8; 64];
        rand::rng().fill_bytes(&mut k);
        base64::engine::general_purpose::STANDARD.encode(k)
    })?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64)?;
    anyhow::ensure!(bytes.len() >= 64, "stored cookie key is too short");
    Ok(Key::from(&bytes))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let cfg = config.clone();
        let (pool, generated) =
            tokio::task::spawn_blocking(move || prepare_database(&cfg)).await??;
        if let Some(pw) = generated {
            // Printed once, to stdout, never logged.
            println!("Created administrator `admin` with password: {pw}");
            println!("Sign in and change it under My account.");
        }
        let (p, cfg) = (pool.clone(), config.clone());
        let secrets = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            crate::secrets::key::open_secret_box(&cfg, &mut *p.get()?)
        })
        .await??;
        let p = pool.clone();
        let key = tokio::task::spawn_blocking(move || cookie_key(&p)).await??;
        let dummy_hash = tokio::task::spawn_blocking(password::dummy_hash).await??;
        let listener = TcpListener::bind(&config.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let port = listener.local_addr()?.port();
        let base = config.public_base(listener.local_addr()?);
        let p = pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = p.get()?;
            crate::tickets::payload::set_public_base(&mut c, &base)
        })
        .await??;
        spawn_session_purger(pool.clone());
        let delivery_waker = crate::delivery::Waker::default();
        let sender = crate::delivery::Sender::new(
            &crate::delivery::SenderConfig::from_config(&config).map_err(anyhow::Error::msg)?,
        )
        .map_err(anyhow::Error::msg)?;
        let worker = if config.run_worker {
            // The process that delivers also keeps the log to its retention.
            crate::delivery::retention::spawn(
                pool.clone(),
                config.retention_days,
                config.body_retention_days,
            );
            Some(
                start_worker_with(
                    &config,
                    pool.clone(),
                    delivery_waker.clone(),
                    sender.tokens(),
                )
                .await?,
            )
        } else {
            None
        };
        let secrets = std::sync::Arc::new(secrets);
        let direct = crate::delivery::direct::DirectSender::new(
            pool.clone(),
            sender,
            secrets.clone(),
            &config,
        );
        let rules = crate::rules::Engine::new(secrets.clone(), config.retry_schedule.clone());
        resume_bulk_replays(&pool, &config, &delivery_waker).await?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            config: config.clone(),
            dummy_hash,
            delivery_waker,
            secrets,
            direct,
            rules,
            echo: config
                .echo_receiver
                .then(|| std::sync::Arc::new(crate::echo::Echo::default())),
        });
        let server = HttpServer::new(move || {
            let session =
                SessionMiddleware::builder(DbSessionStore::new(pool.clone()), key.clone())
                    .cookie_name("hookdesk_session".into())
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Strict)
                    .cookie_secure(config.secure_cookies)
                    .cookie_content_security(CookieContentSecurity::Signed)
                    .session_lifecycle(
                        BrowserSession::default()
                            .state_ttl(actix_web::cookie::time::Duration::minutes(
                                config.session_idle_minutes,
                            ))
                            .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                    )
                    .build();
            App::new()
                .app_data(state.clone())
                .app_data(web::FormConfig::default().limit(256 * 1024))
                .app_data(web::PayloadConfig::new(crate::api::body::MAX_BYTES))
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .configure(routes::configure)
                .default_service(web::to(error::not_found))
                .wrap(from_fn(csrf::guard))
                .wrap(from_fn(error::error_menu))
                .wrap(session)
                .wrap(from_fn(error::render_errors))
                .wrap(Compress::default())
                .wrap(security::headers())
                .wrap(tracing_actix_web::TracingLogger::default())
        })
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (actix-web stops gracefully on both), then stops the
    /// worker gracefully too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let res = self.server.await;
        if let Some(w) = self.worker {
            w.shutdown().await;
        }
        res
    }
}

/// Expired session rows are useless; remove them every few minutes.
fn spawn_session_purger(pool: DbPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(e) = db::run(&pool, |c| sessions::purge_expired(c, db::now())).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
        }
    });
}
