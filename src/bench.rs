//! `hookdesk bench`: the whole delivery path — enqueue in a transaction, wake, claim,
//! send, record — against a local receiver, on a throwaway SQLite database. Prints
//! deliveries/s for a burst and the enqueue-to-arrival latency (p50/p99) at a steady rate.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::config::Config;
use crate::delivery::queue::{self, NewDelivery, RequestSnapshot, Trigger, Waker};
use crate::{db, startup};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Deliveries in the throughput burst.
    #[arg(long, default_value_t = 10_000)]
    pub deliveries: usize,
    /// Deliveries per second in the latency run (0 skips it).
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds the latency run lasts.
    #[arg(long, default_value_t = 5)]
    pub seconds: u32,
    /// Spread the deliveries over this many tickets of one webhook with "keep order per
    /// ticket" on (0: off), to see what the option costs.
    #[arg(long, default_value_t = 0)]
    pub ordered_tickets: usize,
}

/// Arrival times by sequence number (the body is `{"n": <seq>}`).
#[derive(Default)]
struct Arrivals {
    at: Mutex<Vec<Option<Instant>>>,
    count: Mutex<usize>,
    changed: tokio::sync::Notify,
}

async fn receive(
    body: web::Bytes,
    _req: HttpRequest,
    arr: web::Data<Arc<Arrivals>>,
) -> HttpResponse {
    let now = Instant::now();
    let n = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("n").and_then(serde_json::Value::as_u64))
        .and_then(|n| usize::try_from(n).ok());
    if let Some(n) = n {
        let mut at = arr
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = at.get_mut(n)
            && slot.is_none()
        {
            *slot = Some(now);
            *arr.count
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
            arr.changed.notify_one();
        }
    }
    HttpResponse::NoContent().finish()
}

impl Arrivals {
    fn reset(&self, n: usize) {
        *self
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = vec![None; n];
        *self
            .count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = 0;
    }
    fn count(&self) -> usize {
        *self
            .count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    async fn wait_all(&self, n: usize, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        while self.count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            anyhow::ensure!(
                !left.is_zero(),
                "only {} of {n} deliveries arrived",
                self.count()
            );
            let _ = tokio::time::timeout(left, self.changed.notified()).await;
        }
        Ok(())
    }
}

fn delivery(url: &str, n: usize, ordered_tickets: usize) -> NewDelivery {
    let mut d = NewDelivery::new(
        Trigger::Rule,
        None,
        RequestSnapshot {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            sealed_headers: None,
            body: format!("{{\"n\":{n}}}"),
            content_type: "application/json".into(),
        },
    );
    if ordered_tickets > 0 {
        // Ticket ids need no rows: the queue orders by (webhook, ticket) alone.
        d.webhook_id = Some(1);
        d.ticket_id = i64::try_from(n % ordered_tickets).ok();
        d.ordered = true;
    }
    d
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(base: &Config, args: &BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("hookdesk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench_in(&dir, base, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench_in(dir: &std::path::Path, base: &Config, args: &BenchArgs) -> anyhow::Result<()> {
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        allowed_networks: vec!["127.0.0.1/32".into()],
        ..base.clone()
    };
    let arrivals = Arc::new(Arrivals::default());
    let data = web::Data::new(arrivals.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1024 * 1024))
            .default_service(web::to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")?;
    let port = server
        .addrs()
        .first()
        .map(|a| a.port())
        .ok_or_else(|| anyhow::anyhow!("the bench receiver has no address"))?;
    let server = server.run();
    let server_handle = server.handle();
    tokio::spawn(server);
    let url = format!("http://127.0.0.1:{port}/hook");

    let cfg = config.clone();
    let (pool, _) = tokio::task::spawn_blocking(move || startup::prepare_database(&cfg)).await??;
    let waker = Waker::default();
    let worker = startup::start_worker(&config, pool.clone(), waker.clone()).await?;
    let max_attempts = crate::delivery::max_attempts(&config);

    // Throughput: enqueue a burst in transactions of 500, as a busy rule engine would.
    let n = args.deliveries;
    arrivals.reset(n);
    let t0 = Instant::now();
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let u = url.clone();
        let ot = args.ordered_tickets;
        db::run(&pool, move |c| {
            crate::db::write(c, |c| {
                for i in start..end {
                    queue::enqueue(c, &delivery(&u, i, ot), max_attempts, db::now())?;
                }
                Ok(())
            })
        })
        .await?;
        waker.wake();
    }
    let enqueued = t0.elapsed();
    arrivals.wait_all(n, Duration::from_secs(600)).await?;
    let took = t0.elapsed();
    if args.ordered_tickets > 0 {
        println!(
            "keep order per ticket: on, {} tickets (one delivery in flight per ticket)",
            args.ordered_tickets
        );
    }
    println!(
        "throughput: {n} deliveries in {:.2} s = {:.0} deliveries/s (enqueue alone {:.2} s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        enqueued.as_secs_f64()
    );

    // Latency: one delivery per transaction at a steady rate.
    if args.rate > 0 {
        let total = usize::try_from(args.rate * args.seconds).unwrap_or(usize::MAX);
        arrivals.reset(total);
        let mut sent = vec![Instant::now(); total];
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for (i, slot) in sent.iter_mut().enumerate() {
            tick.tick().await;
            let u = url.clone();
            let ot = args.ordered_tickets;
            let at = Instant::now();
            db::run(&pool, move |c| {
                queue::enqueue(c, &delivery(&u, i, ot), max_attempts, db::now())?;
                Ok(())
            })
            .await?;
            waker.wake();
            *slot = at;
        }
        arrivals.wait_all(total, Duration::from_secs(120)).await?;
        let at = arrivals
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut lat: Vec<Duration> = at
            .iter()
            .zip(&sent)
            .filter_map(|(a, s)| a.map(|a| a.saturating_duration_since(*s)))
            .collect();
        lat.sort_unstable();
        println!(
            "latency at {}/s for {} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            args.rate,
            args.seconds,
            percentile(&lat, 0.50).as_secs_f64() * 1000.0,
            percentile(&lat, 0.99).as_secs_f64() * 1000.0,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
        );
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak RSS: {mb:.0} MB (bench process: receiver, worker and database together)");
    }
    worker.shutdown().await;
    server_handle.stop(true).await;
    Ok(())
}
