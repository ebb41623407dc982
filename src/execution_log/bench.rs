//! `hookdesk bench-log`: the execution log's queries on a big log. Seeds N deliveries
//! (default 1,000,000: 50 webhooks, 20 connections, 100,000 tickets, four causes, 5 %
//! failed with varied errors, 2 % retrying, spread over 30 days) into a throwaway SQLite
//! file, then times each filter of the log page alone and combined, the first, a middle
//! and the last page (p50/p95 over repeated runs, through the same `page()` the page and
//! the API call), and a CSV export of the failed ones with the process's peak memory.

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;

use super::export;
use super::filter::LogQuery;
use super::page;
use crate::config::Config;
use crate::db::DbConn;
use crate::startup;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchLogArgs {
    /// Deliveries to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Runs of each query (p50/p95 are over these).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
}

pub fn run(base: &Config, args: &BenchLogArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("hookdesk-bench-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench_in(&dir, base, args);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Rows in SQL itself (a recursive CTE): a million rows in seconds, not minutes.
const SEED: &str = r#"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
INSERT INTO deliveries (uid, webhook_id, connection_id, ticket_id, event_id, trigger,
    replay_of, status, method, url, headers, body, content_type, attempts, max_attempts,
    next_attempt_at, last_status, last_error, batch_count, batch_max, created_at,
    updated_at, completed_at, rule_id, actor_id, actor_name)
SELECT printf('msg_%032x', i), i % 50 + 1, i % 20 + 1, i % 100000 + 1, NULL,
    CASE i % 10 WHEN 0 THEN 'manual' WHEN 1 THEN 'replay' WHEN 2 THEN 'test' ELSE 'rule' END,
    CASE i % 10 WHEN 1 THEN i - 1 ELSE NULL END,
    CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 7 THEN 'pending' ELSE 'succeeded' END,
    'POST', 'https://vendor.example/api/hook', '[["Content-Type","application/json"]]',
    '{"ticket":"IN' || (i % 100000 + 1) || '","n":' || i || '}', 'application/json',
    CASE WHEN i % 20 = 0 THEN 5 WHEN i % 50 = 7 THEN 2 ELSE 1 END, 5,
    datetime('2026-10-29', '+' || (i * 2592000 / ?1) || ' seconds'),
    CASE WHEN i % 20 = 0 THEN (CASE i % 3 WHEN 0 THEN 503 WHEN 1 THEN 500 ELSE 404 END)
         WHEN i % 50 = 7 THEN 429 ELSE 200 END,
    CASE WHEN i % 20 = 0 THEN 'HTTP ' || (CASE i % 3 WHEN 0 THEN 503 WHEN 1 THEN 500 ELSE 404 END)
              || ': upstream ' || (i % 97) || ' said no'
         WHEN i % 50 = 7 THEN 'HTTP 429: slow down' ELSE NULL END,
    1, 1,
    datetime('2026-10-29', '+' || (i * 2592000 / ?1) || ' seconds'),
    datetime('2026-10-29', '+' || (i * 2592000 / ?1) || ' seconds'),
    NULL,
    CASE WHEN i % 10 >= 3 THEN i % 30 + 1 ELSE NULL END,
    CASE i % 10 WHEN 0 THEN 2 WHEN 1 THEN 1 ELSE NULL END,
    CASE i % 10 WHEN 0 THEN 'ana' WHEN 1 THEN 'admin' WHEN 2 THEN 'admin' ELSE '' END
FROM n
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn bench_in(dir: &std::path::Path, base: &Config, args: &BenchLogArgs) -> anyhow::Result<()> {
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        ..base.clone()
    };
    let (pool, _) = startup::prepare_database(&config)?;
    let mut conn = pool.get()?;
    let c: &mut DbConn = &mut conn;
    let started = Instant::now();
    let seeded = diesel::sql_query(SEED)
        .bind::<diesel::sql_types::BigInt, _>(i64::try_from(args.rows)?)
        .execute(c)?;
    diesel::sql_query("ANALYZE").execute(c)?;
    println!(
        "hookdesk bench-log: {seeded} deliveries seeded in {:.1} s (SQLite, {} runs per query)",
        started.elapsed().as_secs_f64(),
        args.runs
    );
    let middle = (args.rows / 2).to_string();
    let near_end = (args.rows / 1000 + 60).to_string();
    let q = |s: &str| -> anyhow::Result<LogQuery> {
        serde_html_form::from_str(s).map_err(|e| anyhow::anyhow!("{s}: {e}"))
    };
    let cases: Vec<(&str, String)> = vec![
        ("first page, no filter", String::new()),
        ("middle page (before = N/2)", format!("before={middle}")),
        ("last page", format!("before={near_end}")),
        (
            "date range: one day",
            "from=2026-11-10&to=2026-11-10".into(),
        ),
        (
            "date range: one hour, deep",
            "from=2026-11-02T10:00&to=2026-11-02T11:00".into(),
        ),
        ("ticket", "ticket=4242".into()),
        ("webhook", "webhook=7".into()),
        ("connection", "connection=3".into()),
        ("status failed", "status=failed".into()),
        ("status retrying", "status=retrying".into()),
        (
            "status failed + retrying",
            "status=failed&status=retrying".into(),
        ),
        ("HTTP exact 404", "http=404".into()),
        ("HTTP class 5xx", "http=5xx".into()),
        ("cause manual", "cause=manual".into()),
        ("rule", "rule=12".into()),
        ("error contains (common)", "error=said no".into()),
        ("error contains (rare)", "error=upstream 96 said".into()),
        ("delivery id", format!("id={middle}")),
        ("webhook-id", format!("id=msg_{:032x}", args.rows / 3)),
        ("ticket + failed", "ticket=4240&status=failed".into()),
        (
            "webhook + failed + day",
            "webhook=10&status=failed&from=2026-11-10&to=2026-11-10".into(),
        ),
        (
            "connection + 5xx, deep",
            format!("connection=3&http=5xx&before={near_end}"),
        ),
        (
            "failed, middle page",
            format!("status=failed&before={middle}"),
        ),
    ];
    println!(
        "  {:<34} {:>9} {:>9} {:>6}",
        "query (first page, 50 rows)", "p50 ms", "p95 ms", "rows"
    );
    for (name, query) in &cases {
        let f = q(query)?.check(crate::db::now())?;
        let mut times = Vec::with_capacity(args.runs);
        let mut n = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            n = page(c, &f)?.items.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  {:<34} {:>9.2} {:>9.2} {:>6}",
            name,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            n
        );
    }

    // The dashboard administrators land on, at the seeded log's last day.
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| anyhow::anyhow!("date"))?;
    for (name, window) in [
        ("dashboard, 24 h chart", super::stats::Window::Day),
        ("dashboard, 7 day chart", super::stats::Window::Week),
    ] {
        let mut times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs.min(5) {
            let t = Instant::now();
            super::stats::dashboard(c, end, window, 5)?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  {:<34} {:>9.2} {:>9.2}",
            name,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
        );
    }

    let f = q("status=failed")?.check(crate::db::now())?;
    let before = peak_rss_kib();
    let t = Instant::now();
    let mut bytes = 0usize;
    let rows = export::each_chunk(
        || Ok(pool.get()?),
        &f,
        |rows, first| {
            bytes += export::csv_chunk(rows, first).map(|b| b.len()).unwrap_or(0);
            true
        },
    )?;
    println!(
        "  CSV export of the failed: {rows} rows, {:.1} MB in {:.2} s; peak RSS {} MiB before, {} MiB after",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        before / 1024,
        peak_rss_kib() / 1024
    );
    Ok(())
}
