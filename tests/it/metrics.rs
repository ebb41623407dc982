//! `/metrics` read by a real Prometheus text-format parser, over deliveries the engine
//! made: the database gauges equal what was sent, the process counters move, no secret
//! appears, and a configured token is required.

use prometheus_parse::{Scrape, Value as P};

use crate::db_tests;
use crate::execution_log::traffic;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::rules_world::world;

db_tests!(
    spawn = crate::rules_world::loopback_worker_app;
    metrics_parse_and_follow_the_deliveries,
);

async fn scrape(app: &TestApp) -> (String, Scrape) {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    (text, parsed)
}

fn value(v: &P) -> f64 {
    match v {
        P::Counter(x) | P::Gauge(x) | P::Untyped(x) => *x,
        other => panic!("not a single value: {other:?}"),
    }
}

/// The sum of a metric's samples whose labels include `want`.
fn sum(s: &Scrape, metric: &str, want: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| want.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| value(&x.value))
        .sum()
}

async fn metrics_parse_and_follow_the_deliveries(app: TestApp) {
    let w = world(app).await;
    let (_, before) = scrape(&w.app).await;
    traffic(&w).await;
    let (text, after) = scrape(&w.app).await;

    // From the database: this app's deliveries, exactly.
    assert_eq!(
        sum(&after, "hookdesk_deliveries", &[("status", "succeeded")]),
        3.0
    );
    assert_eq!(
        sum(&after, "hookdesk_deliveries", &[("status", "failed")]),
        1.0
    );
    assert_eq!(
        sum(&after, "hookdesk_deliveries", &[("status", "pending")]),
        1.0
    );
    let webhook = w.webhook.to_string();
    assert_eq!(
        sum(
            &after,
            "hookdesk_deliveries",
            &[("webhook", webhook.as_str())]
        ),
        5.0
    );
    assert_eq!(sum(&after, "hookdesk_queue_depth", &[]), 1.0);
    let vendor = w.connection.to_string();
    assert_eq!(
        sum(
            &after,
            "hookdesk_connection_consecutive_failures",
            &[("connection", vendor.as_str())]
        ),
        0.0,
        "the replay's success reset it"
    );

    // This process's counters moved by at least what this test sent (other tests in
    // the same process may add to them).
    let grew = |m: &str, labels: &[(&str, &str)]| sum(&after, m, labels) - sum(&before, m, labels);
    assert!(
        grew(
            "hookdesk_delivery_attempts_total",
            &[("outcome", "succeeded")]
        ) >= 3.0
    );
    assert!(grew("hookdesk_delivery_attempts_total", &[("outcome", "failed")]) >= 1.0);
    assert!(grew("hookdesk_delivery_attempts_total", &[("outcome", "retry")]) >= 1.0);
    assert!(grew("hookdesk_rule_events_total", &[]) >= 4.0);
    let hist = after
        .samples
        .iter()
        .find(|x| x.metric == "hookdesk_attempt_duration_seconds")
        .expect("the duration histogram");
    match &hist.value {
        P::Histogram(b) => assert!(b.iter().any(|c| c.count >= 5.0), "{b:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!text.contains("tok-1") && !text.contains("desk-key-secret-value"));

    // With a token configured, only that token reads them.
    let cfg = w.app.config.clone();
    let guarded = spawn_app_with(
        if cfg.database_url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        },
        move |c| {
            *c = cfg;
            c.run_worker = false;
            c.metrics_token = Some(hookdesk::config::Secret("scrape-me".into()));
        },
    )
    .await
    .unwrap();
    let r = guarded
        .client
        .get(guarded.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = guarded
        .client
        .get(guarded.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
