//! `hookdesk bench-e2e`: delivery performance end to end, through the public API, on
//! loopback. It starts a receiver process and `hookdesk serve` (this same executable) on
//! a fresh database, configures connections, webhooks and rules through the JSON API,
//! then measures:
//!
//! - the raw ceiling: a bare client sending requests like Hookdesk's to the receiver;
//! - the rule path: ticket PATCHes, each setting off a rule that fires a webhook;
//! - the fire path: a technician's fire endpoint;
//!
//! each at full speed and at a fixed rate, and a noisy neighbour (a second connection
//! whose receiver never answers). It prints a table and writes the figures as JSON.
//!
//! It is a subcommand rather than a binary of its own so that the server it measures is
//! always the build that runs it (`cargo run --release -- bench-e2e`), as `bench`,
//! `bench-rules` and `bench-log` are.

pub mod load;
pub mod receiver;
pub mod report;
pub mod server;
pub mod setup;
pub mod verify;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use load::{Plan, Target};
use receiver::{Keys, Receiver, Record};
use report::{Checks, Noisy, Report, Run};
use server::{Database, Hookdesk};
use setup::{Api, World};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchE2eArgs {
    /// API calls in each full-speed run (and requests of the raw ceiling).
    #[arg(long, default_value_t = 5000)]
    pub requests: usize,
    /// Concurrent API clients (and raw-ceiling clients).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Calls per second of the fixed-rate runs; 0 skips them.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds each fixed-rate run lasts.
    #[arg(long, default_value_t = 10)]
    pub rate_seconds: u32,
    /// Tickets the calls go round.
    #[arg(long, default_value_t = 64)]
    pub tickets: usize,
    /// Extra `hookdesk worker` processes beside `serve` (PostgreSQL only).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Extra web nodes (`hookdesk serve --no-worker`) beside `serve`, which the API
    /// clients go round (PostgreSQL only).
    #[arg(long, default_value_t = 0)]
    pub nodes: usize,
    /// Skip the noisy-neighbour runs.
    #[arg(long)]
    pub no_noisy: bool,
    /// Threads of the receiver process.
    #[arg(long, default_value_t = 1)]
    pub receiver_threads: usize,
    /// Seconds without a new arrival after which the missing deliveries are called lost.
    #[arg(long, default_value_t = 30)]
    pub patience: u64,
    /// Environment for the Hookdesk processes, repeatable (`HOOKDESK_WORKER_PER_CONNECTION=32`).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Keep the working directory (the database, the processes' logs) and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Where the JSON report is written.
    #[arg(long, default_value = "bench-e2e.json")]
    pub json: PathBuf,
}

/// Microseconds since the Unix epoch: comparable across the bench's processes.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Runs the bench. `server` is `--database-url`/`DATABASE_URL` when given: a PostgreSQL
/// server to make a database on; otherwise a SQLite file in a temporary directory.
pub async fn run(server: Option<String>, args: &BenchE2eArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (args.workers == 0 && args.nodes == 0) || server.is_some(),
        "--workers and --nodes need PostgreSQL (--database-url postgres://…)"
    );
    anyhow::ensure!(args.requests > 0 && args.clients > 0 && args.tickets > 0);
    let dir = std::env::temp_dir().join(format!(
        "hookdesk-bench-e2e-{}-{}",
        std::process::id(),
        now_us()
    ));
    std::fs::create_dir_all(&dir)?;
    let result = tokio::select! {
        r = bench_in(&dir, server.as_deref(), args) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if args.keep {
        eprintln!("bench-e2e: kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    report::print(&report);
    std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)?;
    println!("JSON: {}", args.json.display());
    Ok(())
}

/// What the runs share.
struct Bench<'a> {
    args: &'a BenchE2eArgs,
    api: Api,
    rx: Receiver,
    hd: Hookdesk,
    w: World,
    pg: Option<String>,
    /// `webhook-id`s seen per healthy tag over every run.
    seen: BTreeMap<String, HashSet<String>>,
}

fn env_pairs(list: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--server-env {kv}: expected KEY=VALUE"))
        })
        .collect()
}

async fn bench_in(dir: &Path, server: Option<&str>, args: &BenchE2eArgs) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let db = Database::fresh(server, dir)?;
    let rx = Receiver::spawn(&exe, dir, args.receiver_threads)?;
    let mut hd = Hookdesk::start(&exe, &db, dir, &env_pairs(&args.server_env)?)?;
    let client = load::client(args.clients)?;
    if let Err(e) = hd.wait_ready(&client).await {
        anyhow::bail!("{e}\n{}", hd.log_tail());
    }
    hd.start_workers(args.workers)?;
    if let Err(e) = hd.start_nodes(args.nodes, &client).await {
        anyhow::bail!("{e}\n{}", hd.log_tail());
    }
    // Forms, the technician and the tokens: the command line, as the JSON API has none.
    hd.cli(&["demo"])?;
    let admin = hd.token("admin")?;
    let tech = hd.token("tech")?;
    let api = Api {
        base: hd.base.clone(),
        client,
    };
    let w = setup::configure(&api, &rx, admin, tech, args.tickets).await?;
    rx.set_keys(&Keys {
        secret: w.secret.clone(),
        bearer: setup::BEARER.into(),
    })
    .await?;
    let mut b = Bench {
        args,
        api,
        rx,
        hd,
        w,
        pg: db.pg_name().map(str::to_owned),
        seen: BTreeMap::new(),
    };
    let result = b.all_runs(db.backend()).await;
    if result.is_err() {
        eprintln!("{}", b.hd.log_tail());
    }
    result
}

impl Bench<'_> {
    async fn all_runs(&mut self, backend: &str) -> anyhow::Result<Report> {
        let args = self.args;
        // Idle: started, configured, and a moment to settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut rep = Report {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            machine: report::machine(),
            backend: backend.into(),
            extra_workers: args.workers,
            extra_nodes: args.nodes,
            settings: serde_json::json!({
                "requests": args.requests, "clients": args.clients, "rate": args.rate,
                "rate_seconds": args.rate_seconds, "tickets": args.tickets,
                "receiver_threads": args.receiver_threads, "server_env": args.server_env,
            }),
            idle_memory: self.hd.memory(),
            ..Report::default()
        };
        let tickets = Arc::new(self.w.tickets.clone());
        let raw = Target::Raw {
            url: self.rx.url("/raw/hook"),
            key: Arc::new(receiver::secret_key(&self.w.secret)?),
        };
        let rule = Target::Rule {
            tickets: tickets.clone(),
        };
        let fire = Target::Fire {
            tickets,
            webhook: self.w.webhook_a,
        };
        let full = args.requests;
        let paced = usize::try_from(args.rate * args.rate_seconds)?;
        let a = [self.w.webhook_a];
        let raw_run = self
            .measure("raw", "raw", &raw, full, None, &["raw"], &[])
            .await?;
        rep.raw_ceiling_per_s = raw_run.delivered_per_s;
        rep.runs.push(raw_run);
        rep.runs.push(
            self.measure("rule_full", "rule", &rule, full, None, &["a"], &a)
                .await?,
        );
        if paced > 0 {
            let r = Some(args.rate);
            rep.runs.push(
                self.measure("rule_rate", "rule", &rule, paced, r, &["a"], &a)
                    .await?,
            );
        }
        rep.runs.push(
            self.measure("fire_full", "fire", &fire, full, None, &["a"], &a)
                .await?,
        );
        if paced > 0 {
            let r = Some(args.rate);
            rep.runs.push(
                self.measure("fire_rate", "fire", &fire, paced, r, &["a"], &a)
                    .await?,
            );
        }
        if !args.no_noisy {
            rep.noisy = Some(self.noisy(&rule, &mut rep.runs).await?);
        }
        for r in &mut rep.runs {
            if r.path != "raw" && rep.raw_ceiling_per_s > 0.0 {
                r.vs_raw = Some(r.delivered_per_s / rep.raw_ceiling_per_s);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        rep.final_memory = self.hd.memory();
        rep.checks = self.checks(&rep.runs).await?;
        Ok(rep)
    }

    /// Connection A's throughput beside a healthy B, then beside a B that never answers
    /// (the same rule-path load; each PATCH fires both rules).
    async fn noisy(&mut self, rule: &Target, runs: &mut Vec<Run>) -> anyhow::Result<Noisy> {
        let n = self.args.requests;
        let (w, api) = (&self.w, &self.api);
        setup::set_rule(api, w, w.rule_b, true).await?;
        let both = [w.webhook_a, w.webhook_b];
        let (base, base_a) = self
            .measure_both("noisy_base", rule, n, &["a", "b"], &both)
            .await?;
        let (w, api) = (&self.w, &self.api);
        setup::set_rule(api, w, w.rule_b, false).await?;
        setup::set_rule(api, w, w.rule_hung, true).await?;
        let hung_before = self.rx.counts().await?.hung_connections;
        let a = [self.w.webhook_a];
        let (hung, hung_a) = self.measure_both("noisy_hung", rule, n, &["a"], &a).await?;
        let hung_connections = self.rx.counts().await?.hung_connections - hung_before;
        let (w, api) = (&self.w, &self.api);
        setup::set_rule(api, w, w.rule_hung, false).await?;
        runs.push(base);
        runs.push(hung);
        Ok(Noisy {
            baseline_per_s: base_a,
            hung_per_s: hung_a,
            ratio: if base_a > 0.0 { hung_a / base_a } else { 0.0 },
            hung_connections,
        })
    }

    /// A rule-path run at full speed; its figures, and connection A's deliveries/s alone.
    async fn measure_both(
        &mut self,
        name: &str,
        rule: &Target,
        n: usize,
        tags: &[&str],
        webhooks: &[i64],
    ) -> anyhow::Result<(Run, f64)> {
        let (run, records, shots) = self
            .measure_keep(name, "rule", rule, n, None, tags, webhooks)
            .await?;
        let a_only = report::analyse(name, "rule", &shots, &records, &["a"]);
        Ok((run, a_only.delivered_per_s))
    }

    #[expect(clippy::too_many_arguments, reason = "one run's whole description")]
    async fn measure(
        &mut self,
        name: &str,
        path: &str,
        target: &Target,
        requests: usize,
        rate: Option<u32>,
        tags: &[&str],
        webhooks: &[i64],
    ) -> anyhow::Result<Run> {
        let (run, _, _) = self
            .measure_keep(name, path, target, requests, rate, tags, webhooks)
            .await?;
        Ok(run)
    }

    /// One run: load, wait for every arrival and for the log to settle, then figures.
    #[expect(clippy::too_many_arguments, reason = "one run's whole description")]
    async fn measure_keep(
        &mut self,
        name: &str,
        path: &str,
        target: &Target,
        requests: usize,
        rate: Option<u32>,
        tags: &[&str],
        webhooks: &[i64],
    ) -> anyhow::Result<(Run, Vec<Record>, Vec<load::Shot>)> {
        self.hd.check_alive()?;
        eprintln!("bench-e2e: {name} ({requests} calls)…");
        let before = self.rx.counts().await?.by_tag;
        let cpu0 = self.hd.cpu_seconds();
        let pg0 = self.pg.as_deref().map(server::postgres_cpu_seconds);
        let rx0 = server::cpu_seconds(self.rx.pid()).unwrap_or(0.0);
        let plan = Plan {
            run: name,
            requests,
            clients: self.args.clients,
            rate,
        };
        let token = if path == "rule" || path == "fire" {
            self.w.tech.clone()
        } else {
            String::new()
        };
        let shots = load::drive(&self.api.client, &self.hd.bases, &token, target, &plan).await;
        let accepted = shots
            .iter()
            .filter(|s| (200..300).contains(&s.status))
            .count() as u64;
        let patience = Duration::from_secs(self.args.patience);
        for tag in tags {
            let from = before.get(*tag).copied().unwrap_or(0);
            self.rx.wait_for(tag, from + accepted, patience).await?;
        }
        for wh in webhooks {
            verify::drained(&self.api, &self.w, *wh, patience).await?;
        }
        let cpu = self.hd.cpu_seconds() - cpu0;
        let pg = self
            .pg
            .as_deref()
            .map(server::postgres_cpu_seconds)
            .zip(pg0)
            .map(|(b, a)| b - a);
        let rx_cpu = server::cpu_seconds(self.rx.pid()).unwrap_or(0.0) - rx0;
        let records = self.rx.take().await?;
        for x in &records {
            if x.tag == "a" || x.tag == "b" {
                self.seen
                    .entry(x.tag.clone())
                    .or_default()
                    .insert(x.id.clone());
            }
        }
        let mut run = report::analyse(name, path, &shots, &records, tags);
        run.rate = rate;
        run.clients = self.args.clients;
        report::charge(&mut run, cpu, pg, rx_cpu);
        // A pause between runs, so one's tail is not the next one's start.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok((run, records, shots))
    }

    async fn checks(&self, runs: &[Run]) -> anyhow::Result<Checks> {
        let mut c = Checks {
            problems: Vec::new(),
            ..Checks::default()
        };
        for r in runs {
            if r.missing > 0 || r.duplicates > 0 || r.arrived != r.expected {
                c.problems.push(format!(
                    "{}: {} expected, {} arrived, {} missing, {} duplicates",
                    r.name, r.expected, r.arrived, r.missing, r.duplicates
                ));
            }
            if r.api_5xx > 0 || r.api_status.contains_key(&0) {
                c.problems
                    .push(format!("{}: API answers {:?}", r.name, r.api_status));
            }
            if r.bad_signatures > 0 || r.bad_auth > 0 {
                c.problems.push(format!(
                    "{}: {} bad signatures, {} without the bearer token",
                    r.name, r.bad_signatures, r.bad_auth
                ));
            }
        }
        c.exactly_once = runs
            .iter()
            .all(|r| r.missing == 0 && r.duplicates == 0 && r.arrived == r.expected);
        c.no_5xx = runs
            .iter()
            .all(|r| r.api_5xx == 0 && !r.api_status.contains_key(&0));
        c.signatures_and_auth = runs
            .iter()
            .all(|r| r.bad_signatures == 0 && r.bad_auth == 0);
        let mut log_problems = Vec::new();
        for (tag, webhook) in [("a", self.w.webhook_a), ("b", self.w.webhook_b)] {
            let seen = self.seen.get(tag).cloned().unwrap_or_default();
            log_problems.extend(verify::execution_log(&self.api, &self.w, webhook, &seen).await?);
        }
        c.execution_log = log_problems.is_empty();
        c.problems.extend(log_problems);
        Ok(c)
    }
}
