//! The Hookdesk under test: a fresh database (a SQLite file, or a database of its own on
//! a PostgreSQL server, dropped afterwards), `hookdesk serve` and any extra
//! `hookdesk worker` processes as children, its command line for what the JSON API does
//! not offer (sample forms, API tokens), and what `/proc` says of their CPU and memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;

/// Clock ticks per second in `/proc/<pid>/stat`: `USER_HZ`, which Linux fixes at 100 for
/// the user ABI on every architecture this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// A throwaway database.
pub enum Database {
    Sqlite {
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

/// Loopback needs no TLS; and libpq's OpenSSL has crashed processes exiting with TLS
/// connections open (see tests/it/helpers.rs).
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

impl Database {
    /// A SQLite file in `dir`, or, given a PostgreSQL server URL, a new database there.
    pub fn fresh(server: Option<&str>, dir: &Path) -> anyhow::Result<Self> {
        let Some(server) = server else {
            return Ok(Self::Sqlite {
                url: format!("sqlite://{}", dir.join("hookdesk.db").display()),
            });
        };
        anyhow::ensure!(
            server.starts_with("postgres://") || server.starts_with("postgresql://"),
            "bench-e2e makes its own SQLite file; --database-url is only for a PostgreSQL \
             server (postgres://…), on which it creates and drops a database of its own"
        );
        let admin_url = without_tls(server);
        let name = format!("hookdesk_bench_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin_url)?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self::Postgres {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url } | Self::Postgres { url, .. } => url,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }

    /// The PostgreSQL database's name, to find its server processes.
    pub fn pg_name(&self) -> Option<&str> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres { name, .. } => Some(name),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(mut c) = diesel::PgConnection::establish(admin_url)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Memory of one process, in MiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_mb: f64,
    /// `VmHWM`: the most it was resident at once.
    pub peak_mb: f64,
}

/// `utime + stime` of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it may not.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        rss_mb: kb("VmRSS:")? / 1024.0,
        peak_mb: kb("VmHWM:")? / 1024.0,
    })
}

/// CPU seconds of the PostgreSQL server spent for this run: the backends serving
/// `database` plus the server's shared helpers (WAL writer, checkpointer, background
/// writer, autovacuum), which also work for any other database busy at the same time.
pub fn postgres_cpu_seconds(database: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "postgres" {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let ours = cmdline.contains(database)
            || [
                "walwriter",
                "checkpointer",
                "background writer",
                "autovacuum",
            ]
            .iter()
            .any(|h| cmdline.contains(h));
        if ours {
            total += cpu_seconds(pid).unwrap_or(0.0);
        }
    }
    total
}

/// `hookdesk serve` and the extra workers.
pub struct Hookdesk {
    exe: PathBuf,
    env: Vec<(String, String)>,
    dir: PathBuf,
    serve: Child,
    workers: Vec<Child>,
    /// Extra `hookdesk serve --no-worker` nodes.
    nodes: Vec<Child>,
    pub base: String,
    /// Every web node's address, `serve`'s first: the API clients go round them.
    pub bases: Vec<String>,
}

fn command(exe: &Path, env: &[(String, String)], dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe);
    c.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null());
    c
}

/// A log file in `dir` for a child's standard error.
fn log_file(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::File::create(dir.join(name))?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Hookdesk {
    /// Starts `serve` (console and worker) with nothing from the caller's environment or
    /// working directory (no `hookdesk.toml`, no `HOOKDESK_*`) but `extra_env`.
    pub fn start(
        exe: &Path,
        db: &Database,
        dir: &Path,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        use base64::Engine;
        let port = free_port()?;
        let key = base64::engine::general_purpose::STANDARD
            .encode(crate::secrets::SecretBox::generate_key());
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db.url().to_owned()),
            ("HOOKDESK_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("HOOKDESK_ALLOWED_NETWORKS".into(), "127.0.0.1/32".into()),
            ("HOOKDESK_SECRET_KEY".into(), key),
            (
                "HOOKDESK_ADMIN_PASSWORD".into(),
                "bench-e2e-admin-pw-1".into(),
            ),
            // `HOOKDESK_BENCH_LOG` sets the server's log filter, e.g. with
            // `HOOKDESK_SQL_TRACE=1` to `hookdesk::sql=debug` for the statement trace.
            (
                "RUST_LOG".into(),
                std::env::var("HOOKDESK_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ];
        if let Ok(v) = std::env::var("HOOKDESK_SQL_TRACE") {
            env.push(("HOOKDESK_SQL_TRACE".into(), v));
        }
        env.extend(extra_env.iter().cloned());
        let serve = command(exe, &env, dir, &["serve"])
            .stdout(Stdio::null())
            .stderr(log_file(dir, "serve.log")?)
            .spawn()?;
        Ok(Self {
            exe: exe.to_owned(),
            env,
            dir: dir.to_owned(),
            serve,
            workers: Vec::new(),
            nodes: Vec::new(),
            base: format!("http://127.0.0.1:{port}"),
            bases: vec![format!("http://127.0.0.1:{port}")],
        })
    }

    /// Starts `n` extra web nodes (`hookdesk serve --no-worker`, each on its own port)
    /// on the same database, after `serve` is ready, and waits until each answers.
    pub async fn start_nodes(&mut self, n: usize, client: &reqwest::Client) -> anyhow::Result<()> {
        for i in 0..n {
            let port = free_port()?;
            let mut env = self.env.clone();
            env.retain(|(k, _)| k != "HOOKDESK_LISTEN");
            env.push(("HOOKDESK_LISTEN".into(), format!("127.0.0.1:{port}")));
            let node = command(&self.exe, &env, &self.dir, &["serve", "--no-worker"])
                .stdout(Stdio::null())
                .stderr(log_file(&self.dir, &format!("node-{i}.log"))?)
                .spawn()?;
            self.nodes.push(node);
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                anyhow::ensure!(Instant::now() < deadline, "web node {i} did not start");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.bases.push(base);
        }
        Ok(())
    }

    /// Starts `n` extra `hookdesk worker` processes; after `serve` is ready, so that the
    /// database is migrated once.
    pub fn start_workers(&mut self, n: usize) -> anyhow::Result<()> {
        for i in 0..n {
            let w = self
                .command(&["worker"])
                .stdout(Stdio::null())
                .stderr(log_file(&self.dir, &format!("worker-{i}.log"))?)
                .spawn()?;
            self.workers.push(w);
        }
        Ok(())
    }

    fn command(&self, args: &[&str]) -> Command {
        command(&self.exe, &self.env, &self.dir, args)
    }

    /// Waits for `/healthz` (the server migrates the database first).
    pub async fn wait_ready(&mut self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.serve.try_wait()? {
                anyhow::bail!("hookdesk serve exited at start: {status}");
            }
            let ok = client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "hookdesk serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a `hookdesk` command against the same database; its standard output.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command(args).stdout(Stdio::piped()).output()?;
        anyhow::ensure!(
            out.status.success(),
            "hookdesk {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A new API token of `user`.
    pub fn token(&self, user: &str) -> anyhow::Result<String> {
        let out = self.cli(&["token", "create", "--user", user, "--name", "bench-e2e"])?;
        out.split_whitespace()
            .find(|w| w.starts_with(crate::auth::tokens::TOKEN_PREFIX))
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no token in {out:?}"))
    }

    /// The end of each process's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let names = std::iter::once("serve.log".to_owned())
            .chain((0..self.workers.len()).map(|i| format!("worker-{i}.log")))
            .chain((0..self.nodes.len()).map(|i| format!("node-{i}.log")));
        let mut out = String::new();
        for name in names {
            let log = std::fs::read_to_string(self.dir.join(&name)).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            out.push_str(&format!("--- {name}, last lines:\n"));
            out.push_str(&lines[lines.len().saturating_sub(20)..].join("\n"));
            out.push('\n');
        }
        out
    }

    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(self.serve.id())
            .chain(self.workers.iter().map(Child::id))
            .chain(self.nodes.iter().map(Child::id))
            .collect()
    }

    /// CPU seconds of every Hookdesk process so far.
    pub fn cpu_seconds(&self) -> f64 {
        self.pids().into_iter().filter_map(cpu_seconds).sum::<f64>()
    }

    /// Memory of `serve`, then of each worker, then of each extra web node.
    pub fn memory(&self) -> Vec<Memory> {
        self.pids()
            .into_iter()
            .map(|p| memory(p).unwrap_or_default())
            .collect()
    }

    /// Whether every process is still running (a crash ends the bench).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(s) = self.serve.try_wait()? {
            anyhow::bail!("hookdesk serve exited during the bench: {s}");
        }
        for w in &mut self.workers {
            if let Some(s) = w.try_wait()? {
                anyhow::bail!("a hookdesk worker exited during the bench: {s}");
            }
        }
        for n in &mut self.nodes {
            if let Some(s) = n.try_wait()? {
                anyhow::bail!("a hookdesk web node exited during the bench: {s}");
            }
        }
        Ok(())
    }
}

impl Drop for Hookdesk {
    fn drop(&mut self) {
        // The database is thrown away, so no graceful stop is owed to anyone.
        for c in std::iter::once(&mut self.serve)
            .chain(self.workers.iter_mut())
            .chain(self.nodes.iter_mut())
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
