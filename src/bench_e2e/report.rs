//! From what the clients saw and what the receiver recorded to the figures: rates,
//! API-return→arrival latency, exactly-once, and the human table.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::load::Shot;
use super::receiver::Record;
use super::server::Memory;

/// p50/p90/p99/max in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// `values` in microseconds, any order.
    pub fn of(mut values: Vec<i64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |p: f64| {
            let rank = (p * (values.len() - 1) as f64).round() as usize;
            values[rank.min(values.len() - 1)] as f64 / 1000.0
        };
        Some(Self {
            samples: values.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        })
    }
}

/// One run's figures.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Run {
    pub name: String,
    /// `rule`, `fire` or `raw`.
    pub path: String,
    /// Calls per second asked for; `None` at full speed.
    pub rate: Option<u32>,
    pub clients: usize,
    pub requests: usize,
    /// API answers by status (`0`: no answer).
    pub api_status: BTreeMap<u16, usize>,
    pub api_5xx: usize,
    pub accepted: usize,
    /// Accepted calls per second, first send to last answer.
    pub accepted_per_s: f64,
    /// API answer time.
    pub api_latency: Option<Latency>,
    /// Deliveries that should arrive at the healthy receiver: accepted calls × webhooks
    /// per call.
    pub expected: usize,
    pub arrived: usize,
    pub distinct_ids: usize,
    /// Arrivals whose `webhook-id` had already arrived.
    pub duplicates: usize,
    /// Expected deliveries that never arrived (by stamp).
    pub missing: usize,
    pub bad_signatures: usize,
    pub bad_auth: usize,
    /// Arrivals per second from the first call to the last arrival.
    pub delivered_per_s: f64,
    /// Arrivals per second between the 10th and the 90th percentile of arrival times.
    pub delivered_per_s_steady: f64,
    /// From the call's answer to the delivery's arrival.
    pub return_to_arrival: Option<Latency>,
    /// From the call's send to the delivery's arrival.
    pub send_to_arrival: Option<Latency>,
    /// `delivered_per_s` ÷ the raw ceiling's.
    pub vs_raw: Option<f64>,
    pub seconds: f64,
    pub hookdesk_cpu_s: f64,
    pub hookdesk_cpu_ms_per_delivery: f64,
    pub postgres_cpu_s: Option<f64>,
    pub postgres_cpu_ms_per_delivery: Option<f64>,
    /// The receiver process's CPU (competing for the same cores).
    pub receiver_cpu_s: f64,
    /// Arrivals per healthy tag (`a`, `b`, `raw`).
    pub arrived_by_tag: BTreeMap<String, usize>,
    /// Per [`TIMELINE_MS`] from the first call: API calls answered 2xx, and arrivals —
    /// shows whether delivery keeps up while the API is busy or catches up after.
    pub timeline: Timeline,
}

/// Width of a [`Timeline`] bucket.
pub const TIMELINE_MS: i64 = 500;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timeline {
    pub bucket_ms: i64,
    pub accepted: Vec<usize>,
    pub arrived: Vec<usize>,
}

fn buckets(start_us: i64, times: impl Iterator<Item = i64>) -> Vec<usize> {
    let mut out = Vec::new();
    for t in times {
        let i = usize::try_from((t - start_us).max(0) / (TIMELINE_MS * 1000)).unwrap_or(0);
        if out.len() <= i {
            out.resize(i + 1, 0);
        }
        out[i] += 1;
    }
    out
}

/// The stamp's parts: run, sequence number, send time.
fn parse_stamp(s: &str) -> Option<(&str, usize, i64)> {
    let mut p = s.splitn(3, '-');
    Some((p.next()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?))
}

/// Arrivals per second between the 10th and 90th percentiles of `times` (sorted).
fn steady_rate(times: &[i64]) -> f64 {
    if times.len() < 10 {
        return 0.0;
    }
    let lo = times.len() / 10;
    let hi = times.len() * 9 / 10;
    let span = (times[hi] - times[lo]) as f64 / 1e6;
    if span <= 0.0 {
        0.0
    } else {
        (hi - lo) as f64 / span
    }
}

/// Figures of one run. `tags` are the receiver paths whose arrivals count as this run's
/// deliveries (each accepted call makes one delivery per tag).
pub fn analyse(name: &str, path: &str, shots: &[Shot], records: &[Record], tags: &[&str]) -> Run {
    let mut r = Run {
        name: name.to_owned(),
        path: path.to_owned(),
        requests: shots.len(),
        ..Run::default()
    };
    for s in shots {
        *r.api_status.entry(s.status).or_default() += 1;
    }
    r.api_5xx = shots.iter().filter(|s| s.status >= 500).count();
    let ok: HashMap<usize, &Shot> = shots
        .iter()
        .filter(|s| (200..300).contains(&s.status))
        .map(|s| (s.seq, s))
        .collect();
    r.accepted = ok.len();
    r.expected = ok.len() * tags.len();
    let first_sent = shots.iter().map(|s| s.sent_us).min().unwrap_or(0);
    let last_return = shots.iter().map(|s| s.returned_us).max().unwrap_or(0);
    if last_return > first_sent {
        r.accepted_per_s = r.accepted as f64 / ((last_return - first_sent) as f64 / 1e6);
    }
    r.api_latency = Latency::of(shots.iter().map(|s| s.returned_us - s.sent_us).collect());

    let mine: Vec<&Record> = records
        .iter()
        .filter(|x| tags.contains(&x.tag.as_str()))
        .filter(|x| parse_stamp(&x.stamp).is_some_and(|(run, _, _)| run == name))
        .collect();
    r.arrived = mine.len();
    for x in &mine {
        *r.arrived_by_tag.entry(x.tag.clone()).or_default() += 1;
    }
    let ids: HashSet<&str> = mine.iter().map(|x| x.id.as_str()).collect();
    r.distinct_ids = ids.len();
    r.duplicates = r.arrived - r.distinct_ids;
    r.bad_signatures = mine.iter().filter(|x| !x.signed).count();
    r.bad_auth = mine.iter().filter(|x| !x.authed).count();
    // Every accepted call must show up once under every tag.
    let seen: HashSet<(&str, usize)> = mine
        .iter()
        .filter_map(|x| parse_stamp(&x.stamp).map(|(_, seq, _)| (x.tag.as_str(), seq)))
        .collect();
    r.missing = ok
        .keys()
        .flat_map(|seq| tags.iter().map(move |t| (*t, *seq)))
        .filter(|k| !seen.contains(k))
        .count();

    let mut times: Vec<i64> = mine.iter().map(|x| x.at_us).collect();
    times.sort_unstable();
    if let Some(&last) = times.last()
        && last > first_sent
    {
        r.delivered_per_s = times.len() as f64 / ((last - first_sent) as f64 / 1e6);
        r.seconds = (last - first_sent) as f64 / 1e6;
    }
    r.delivered_per_s_steady = steady_rate(&times);
    r.timeline = Timeline {
        bucket_ms: TIMELINE_MS,
        accepted: buckets(first_sent, ok.values().map(|s| s.returned_us)),
        arrived: buckets(first_sent, times.iter().copied()),
    };
    let mut from_return = Vec::new();
    let mut from_send = Vec::new();
    for x in &mine {
        if let Some((_, seq, _)) = parse_stamp(&x.stamp)
            && let Some(s) = ok.get(&seq)
        {
            from_return.push(x.at_us - s.returned_us);
            from_send.push(x.at_us - s.sent_us);
        }
    }
    // The raw client's answer comes after the arrival by construction: no latency to tell.
    if path != "raw" {
        r.return_to_arrival = Latency::of(from_return);
        r.send_to_arrival = Latency::of(from_send);
    }
    r
}

/// Adds the resources a run used.
pub fn charge(r: &mut Run, hookdesk_cpu_s: f64, postgres_cpu_s: Option<f64>, receiver_cpu_s: f64) {
    let n = r.arrived.max(1) as f64;
    r.hookdesk_cpu_s = hookdesk_cpu_s;
    r.hookdesk_cpu_ms_per_delivery = hookdesk_cpu_s * 1000.0 / n;
    r.postgres_cpu_s = postgres_cpu_s;
    r.postgres_cpu_ms_per_delivery = postgres_cpu_s.map(|s| s * 1000.0 / n);
    r.receiver_cpu_s = receiver_cpu_s;
}

/// The checks over the whole bench, each true when it held.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Checks {
    /// Every accepted call's deliveries arrived, none twice.
    pub exactly_once: bool,
    /// No API call answered 5xx (or went unanswered).
    pub no_5xx: bool,
    /// Every arrival carried a valid signature and the bearer token.
    pub signatures_and_auth: bool,
    /// The execution log has every delivery, delivered, with an attempt, and the same
    /// `webhook-id`s the receiver saw.
    pub execution_log: bool,
    /// What failed, in words.
    pub problems: Vec<String>,
}

/// The noisy neighbour's effect on the healthy connection.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Noisy {
    /// Connection A's deliveries/s with a second healthy connection beside it.
    pub baseline_per_s: f64,
    /// … and with the second connection's receiver never answering.
    pub hung_per_s: f64,
    /// `hung_per_s ÷ baseline_per_s`.
    pub ratio: f64,
    /// Connections the hung receiver accepted during the run.
    pub hung_connections: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub date: String,
    pub version: String,
    pub machine: Machine,
    pub backend: String,
    pub extra_workers: usize,
    /// Extra web nodes (`serve --no-worker`) the API clients went round.
    pub extra_nodes: usize,
    pub settings: serde_json::Value,
    pub raw_ceiling_per_s: f64,
    pub runs: Vec<Run>,
    pub noisy: Option<Noisy>,
    /// `serve` then each worker, right after setup.
    pub idle_memory: Vec<Memory>,
    /// `serve` then each worker, after every run, idle again (VmHWM: the peak).
    pub final_memory: Vec<Memory>,
    pub checks: Checks,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
    }
}

fn opt(l: Option<Latency>, f: impl Fn(&Latency) -> f64) -> String {
    l.map_or_else(|| "-".into(), |l| format!("{:.1}", f(&l)))
}

/// The human table.
pub fn print(rep: &Report) {
    println!(
        "\nhookdesk bench-e2e {} · {} · {} ({} cores) · {} extra worker(s) · {} extra web node(s)",
        rep.date,
        rep.backend,
        rep.machine.cpu,
        rep.machine.cores,
        rep.extra_workers,
        rep.extra_nodes
    );
    println!(
        "raw ceiling (bare client → same receiver): {:.0} requests/s\n",
        rep.raw_ceiling_per_s
    );
    println!(
        "{:<16} {:>6} {:>6} {:>5} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8} {:>5} {:>5} {:>8}",
        "run",
        "rate",
        "calls",
        "5xx",
        "accept/s",
        "deliv/s",
        "steady/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "÷raw",
        "cpu ms/d",
        "pg ms/d",
        "dup",
        "miss",
        "api p99"
    );
    for r in &rep.runs {
        let lat = r.return_to_arrival;
        println!(
            "{:<16} {:>6} {:>6} {:>5} {:>9.0} {:>9.0} {:>9.0} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8.3} {:>8} {:>5} {:>5} {:>8}",
            r.name,
            r.rate.map_or_else(|| "full".into(), |x| x.to_string()),
            r.requests,
            r.api_5xx,
            r.accepted_per_s,
            r.delivered_per_s,
            r.delivered_per_s_steady,
            opt(lat, |l| l.p50_ms),
            opt(lat, |l| l.p90_ms),
            opt(lat, |l| l.p99_ms),
            opt(lat, |l| l.max_ms),
            r.vs_raw
                .map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0)),
            r.hookdesk_cpu_ms_per_delivery,
            r.postgres_cpu_ms_per_delivery
                .map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            r.duplicates,
            r.missing,
            opt(r.api_latency, |l| l.p99_ms),
        );
    }
    println!(
        "(latency: API answer → arrival at the receiver; cpu ms/d: Hookdesk CPU per delivery; api p99: \
         call sent → answer)"
    );
    if let Some(n) = &rep.noisy {
        println!(
            "\nnoisy neighbour: connection A {:.0}/s beside a healthy B, {:.0}/s beside a hung one = {:.0}%",
            n.baseline_per_s,
            n.hung_per_s,
            n.ratio * 100.0
        );
    }
    let mem = |m: &[Memory]| {
        m.iter()
            .map(|m| format!("{:.1}/{:.1}", m.rss_mb, m.peak_mb))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "memory MiB (now/peak: serve, workers, web nodes): idle {}; after the runs {}",
        mem(&rep.idle_memory),
        mem(&rep.final_memory)
    );
    let c = &rep.checks;
    println!(
        "checks: exactly once {}, no 5xx {}, signatures+auth {}, execution log {}",
        c.exactly_once, c.no_5xx, c.signatures_and_auth, c.execution_log
    );
    for p in &c.problems {
        println!("  problem: {p}");
    }
}
