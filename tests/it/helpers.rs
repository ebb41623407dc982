//! `spawn_app()`: the real server on 127.0.0.1:0 with its own database — a fresh SQLite
//! file, or a fresh PostgreSQL database when `HOOKDESK_TEST_DATABASE_URL` is set — and
//! an HTTP client with a cookie jar.

use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use hookdesk::auth::User;
use hookdesk::auth::users::NewUserInput;
use hookdesk::config::{Config, Secret};
use hookdesk::db::{self, DbConn, DbPool};
use hookdesk::startup::Application;

pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "a-good-password-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

/// Loopback test databases need no TLS, and libpq's OpenSSL can crash a test process
/// that exits while other threads still hold TLS connections; so `sslmode=disable`
/// unless the URL chooses a mode itself.
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

impl PgDatabase {
    pub fn create() -> Option<Self> {
        let admin_url = without_tls(&std::env::var("HOOKDESK_TEST_DATABASE_URL").ok()?);
        let name = format!("hookdesk_t_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("HOOKDESK_TEST_DATABASE_URL is set but unreachable: {e}"));
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Keeps a test database alive for as long as the test holds it.
#[expect(dead_code, reason = "held only for its Drop")]
pub enum DbGuard {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

/// A fresh database URL for `backend`, or None when PostgreSQL is not configured.
pub fn fresh_database(backend: Backend) -> Option<(String, DbGuard)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("hookdesk.db").display());
            Some((url, DbGuard::Sqlite(dir)))
        }
        Backend::Postgres => {
            let db = PgDatabase::create()?;
            Some((db.url.clone(), DbGuard::Postgres(db)))
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: DbPool,
    pub client: reqwest::Client,
    pub config: Config,
    _guard: Arc<DbGuard>,
}

pub fn test_config(db_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url: db_url.into(),
        db_pool_size: 4,
        admin_password: Some(Secret(ADMIN_PASSWORD.into())),
        // SQLite tests use the key file created beside their database; PostgreSQL ones
        // have no such place, so they get a key of their own.
        secret_key: db_url.starts_with("postgres").then(|| {
            use base64::Engine;
            Secret(
                base64::engine::general_purpose::STANDARD
                    .encode(hookdesk::secrets::SecretBox::generate_key()),
            )
        }),
        ..Config::default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // The server closes a keep-alive connection idle for 5 s (actix's default); a
        // client that reuses one at that moment sees "connection closed before message
        // completed". Drop idle connections well before the server does.
        .pool_idle_timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap()
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let (db_url, guard) = fresh_database(backend)?;
    let mut config = test_config(&db_url);
    tweak(&mut config);
    let app = Application::build(config.clone()).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let pool = db::connect(&db_url, 2).unwrap();
    Some(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        pool,
        client: client(),
        config,
        _guard: Arc::new(guard),
    })
}

/// The `content` of `<meta name="csrf-token">` or of the `csrf_token` hidden field.
pub fn csrf_from(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("meta[name=csrf-token]").unwrap();
    if let Some(m) = doc.select(&sel).next() {
        return m.value().attr("content").unwrap().to_string();
    }
    let sel = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    doc.select(&sel)
        .next()
        .and_then(|m| m.value().attr("value"))
        .expect("page has no CSRF token")
        .to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client.get(self.url(path)).send().await.unwrap()
    }

    /// The CSRF token of `client`'s session (read from a page it can see).
    pub async fn csrf_of(&self, client: &reqwest::Client) -> String {
        let mut resp = client.get(self.url("/account")).send().await.unwrap();
        if resp.status() != 200 {
            resp = client.get(self.url("/login")).send().await.unwrap();
        }
        csrf_from(&resp.text().await.unwrap())
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf_of(client).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        client.post(self.url(path)).form(&all).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_with(&self.client, path, fields).await
    }

    /// Signs `client` in; panics unless the login succeeds.
    pub async fn login_with(&self, client: &reqwest::Client, username: &str, password: &str) {
        let resp = self.try_login_with(client, username, password).await;
        assert_eq!(resp.status(), 303, "login of {username} failed");
    }

    pub async fn try_login_with(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = client.get(self.url("/login")).send().await.unwrap();
        let token = csrf_from(&page.text().await.unwrap());
        client
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn login_admin(&self) {
        self.login_with(&self.client, "admin", ADMIN_PASSWORD).await;
    }

    /// Creates a user straight through the domain (fast set-up for tests).
    pub fn create_user(&self, username: &str, roles: &[&str]) -> User {
        let mut c = self.conn();
        User::create(
            &mut c,
            &hookdesk::audit::Actor::system("test"),
            &NewUserInput {
                username: username.into(),
                display_name: format!("{username} name"),
                email: format!("{username}@example.test"),
                password: PASSWORD.into(),
                integration: false,
                roles: roles.iter().map(|s| s.to_string()).collect(),
            },
        )
        .unwrap()
    }

    /// A new client signed in as a fresh user with `roles`.
    pub async fn client_as(&self, username: &str, roles: &[&str]) -> reqwest::Client {
        self.create_user(username, roles);
        let c = client();
        self.login_with(&c, username, PASSWORD).await;
        c
    }

    pub fn with_conn<T>(&self, f: impl FnOnce(&mut DbConn) -> T) -> T {
        let mut c = self.conn();
        f(&mut c)
    }
}

/// Generates, for each named `async fn name(app: TestApp)`, a test on SQLite and one on
/// PostgreSQL (which says it is skipped when `HOOKDESK_TEST_DATABASE_URL` is unset).
/// `db_tests!(spawn = path; a, b)` starts each app with `path(Backend)` instead of
/// `spawn_app`.
#[macro_export]
macro_rules! db_tests {
    (spawn = $spawn:path; $($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $spawn($crate::helpers::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set"),
                }
            }
        }
    )* };
    ($($name:ident),* $(,)?) => {
        $crate::db_tests!(spawn = $crate::helpers::spawn_app; $($name),*);
    };
}
