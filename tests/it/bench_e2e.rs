//! `hookdesk bench-e2e` keeps working: a tiny run of every phase (raw ceiling, rule and
//! fire paths at full speed and at a fixed rate, the noisy neighbour) on SQLite, and on
//! PostgreSQL with an extra worker process when `HOOKDESK_TEST_DATABASE_URL` is set.
//! It asserts the harness's own checks, not its figures: timings are not a test.

use std::process::Command;

use serde_json::Value;

const RUNS: [&str; 7] = [
    "raw",
    "rule_full",
    "rule_rate",
    "fire_full",
    "fire_rate",
    "noisy_base",
    "noisy_hung",
];

fn bench(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench-e2e.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .args([
            "bench-e2e",
            "--requests",
            "30",
            "--clients",
            "4",
            "--rate",
            "30",
            "--rate-seconds",
            "1",
            "--tickets",
            "4",
            "--patience",
            "20",
            "--json",
        ])
        .arg(&json)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("HOOKDESK_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench-e2e failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("raw ceiling"), "{stdout}");
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

fn assert_clean(rep: &Value) {
    let checks = &rep["checks"];
    for c in [
        "exactly_once",
        "no_5xx",
        "signatures_and_auth",
        "execution_log",
    ] {
        assert_eq!(checks[c], true, "{c}: {checks}");
    }
    let runs = rep["runs"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, RUNS);
    for r in runs {
        assert!(r["expected"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["arrived"], r["expected"], "{r}");
        assert_eq!(r["duplicates"], 0, "{r}");
        assert!(r["delivered_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    // Each noisy-baseline call fires the webhooks of both healthy connections.
    let base = &runs[5];
    assert_eq!(base["arrived_by_tag"]["a"], base["arrived_by_tag"]["b"]);
    assert!(rep["noisy"]["hung_connections"].as_u64().unwrap() > 0);
    assert!(rep["idle_memory"][0]["rss_mb"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_small_run_on_sqlite_delivers_everything_exactly_once() {
    let rep = bench(&[]);
    assert_eq!(rep["backend"], "sqlite");
    assert_clean(&rep);
}

#[test]
/// The scale-out layout: two web nodes (`serve` with its worker, and `serve
/// --no-worker`) and a second worker process, on one PostgreSQL database; the API
/// clients go round both nodes and every delivery still arrives exactly once.
fn a_small_run_on_postgres_with_two_web_nodes_and_two_workers() {
    let Ok(url) = std::env::var("HOOKDESK_TEST_DATABASE_URL") else {
        eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set");
        return;
    };
    let rep = bench(&["--database-url", &url, "--workers", "1", "--nodes", "1"]);
    assert_eq!(rep["backend"], "postgres");
    assert_eq!(rep["extra_workers"], 1);
    assert_eq!(rep["extra_nodes"], 1);
    assert_eq!(rep["idle_memory"].as_array().unwrap().len(), 3);
    assert_clean(&rep);
}
