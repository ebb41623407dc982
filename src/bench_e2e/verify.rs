//! The execution log's side of exactly-once, read through the API after the runs: every
//! delivery of the healthy webhooks is listed as delivered with one attempt, under the
//! same `webhook-id`s the receiver saw; a sample's attempt rows are read one by one.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::setup::{Api, World};

/// Waits until none of `webhook`'s deliveries is queued, sending or retrying, so that a
/// run's CPU includes recording its attempts.
pub async fn drained(api: &Api, w: &World, webhook: i64, limit: Duration) -> anyhow::Result<()> {
    let path = format!(
        "/api/v1/deliveries?webhook={webhook}&status=queued&status=sending&status=retrying&limit=1"
    );
    let deadline = Instant::now() + limit;
    loop {
        let page = api.get(&w.admin, &path).await?;
        if page["items"].as_array().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "deliveries of webhook {webhook} still open after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Problems found in the log of `webhook`, whose deliveries the receiver saw as
/// `received` (`webhook-id`s, each once).
pub async fn execution_log(
    api: &Api,
    w: &World,
    webhook: i64,
    received: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    let text = api
        .client
        .get(api.url(&format!(
            "/api/v1/deliveries/export.jsonl?webhook={webhook}"
        )))
        .bearer_auth(&w.admin)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let rows: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut problems = Vec::new();
    let not_delivered = rows.iter().filter(|r| r["status"] != "delivered").count();
    if not_delivered > 0 {
        problems.push(format!(
            "webhook {webhook}: {not_delivered} of {} deliveries not delivered",
            rows.len()
        ));
    }
    let retried = rows.iter().filter(|r| r["attempts"] != 1).count();
    if retried > 0 {
        problems.push(format!(
            "webhook {webhook}: {retried} deliveries took other than one attempt"
        ));
    }
    let logged: HashSet<String> = rows
        .iter()
        .filter_map(|r| r["uid"].as_str().map(str::to_owned))
        .collect();
    if logged.len() != rows.len() {
        problems.push(format!("webhook {webhook}: a webhook-id is logged twice"));
    }
    let unlogged = received.difference(&logged).count();
    let unseen = logged.difference(received).count();
    if unlogged + unseen > 0 {
        problems.push(format!(
            "webhook {webhook}: {unlogged} arrivals not in the log, {unseen} logged deliveries never arrived"
        ));
    }
    // Attempt rows, read one delivery at a time for a spread-out sample.
    let step = (rows.len() / 100).max(1);
    for r in rows.iter().step_by(step) {
        let id = r["id"].as_i64().unwrap_or_default();
        let attempts = api
            .get(&w.admin, &format!("/api/v1/deliveries/{id}/attempts"))
            .await?;
        let ok = attempts
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["response_status"] == 200);
        if !ok {
            problems.push(format!(
                "delivery {id}: attempt rows are not one 200: {attempts}"
            ));
        }
    }
    Ok(problems)
}
