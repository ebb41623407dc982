//! Load: `clients` concurrent callers working through `requests` numbered calls, at full
//! speed or on a fixed schedule (call `i` is due at `start + i / rate`; a caller that
//! falls behind sends at once, so a slow server shows as a missed rate, not as hidden
//! queueing in the client). Every call carries a stamp, `<run>-<seq>-<sent µs>`, that the
//! webhook body brings back to the receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::now_us;
use super::receiver::sign;

/// What one call does.
#[derive(Clone)]
pub enum Target {
    /// `PATCH /api/v1/tickets/{key}` setting the description to the stamp: the enabled
    /// rules fire their webhooks with it. Calls go round the tickets so that concurrent
    /// ones rarely wait for the same ticket's row.
    Rule { tickets: Arc<Vec<String>> },
    /// `POST /api/v1/tickets/{key}/webhooks/{webhook}/fire` with the stamp as parameter.
    Fire {
        tickets: Arc<Vec<String>>,
        webhook: i64,
    },
    /// The raw ceiling: a request like Hookdesk's (same size, signed, bearer token)
    /// straight to the receiver.
    Raw { url: String, key: Arc<Vec<u8>> },
}

/// One call as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Shot {
    pub seq: usize,
    pub sent_us: i64,
    pub returned_us: i64,
    /// 0 when no answer came (a transport error).
    pub status: u16,
}

pub struct Plan<'a> {
    /// The stamp's prefix, naming the run.
    pub run: &'a str,
    pub requests: usize,
    pub clients: usize,
    /// Calls per second; `None`: as fast as answers come.
    pub rate: Option<u32>,
}

/// A raw-ceiling body the size and shape of the webhook's rendered body.
fn raw_body(stamp: &str) -> String {
    json!({
        "ticket": "IN100", "subject": "Bench ticket 1: mail server unreachable",
        "status": "Open", "priority": "P2", "assignee": "Tess Tech", "requester": "Ana Souza",
        "serial": "SN-9001", "location": "London office", "event": "ticket.updated",
        "actor": "Tess Tech", "at": "2026-11-28T12:00:00Z", "stamp": stamp,
    })
    .to_string()
}

fn request(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    target: &Target,
    seq: usize,
    stamp: &str,
) -> reqwest::RequestBuilder {
    match target {
        Target::Rule { tickets } => {
            let key = &tickets[seq % tickets.len()];
            client
                .patch(format!("{api}/api/v1/tickets/{key}"))
                .bearer_auth(token)
                .json(&json!({ "description": stamp }))
        }
        Target::Fire { tickets, webhook } => {
            let key = &tickets[seq % tickets.len()];
            client
                .post(format!(
                    "{api}/api/v1/tickets/{key}/webhooks/{webhook}/fire"
                ))
                .bearer_auth(token)
                .json(&json!({ "params": { "stamp": stamp } }))
        }
        Target::Raw { url, key } => {
            let body = raw_body(stamp);
            let id = format!("msg_raw_{stamp}");
            let ts = now_us() / 1_000_000;
            client
                .post(url)
                .bearer_auth(super::setup::BEARER)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sign(key, &id, ts, body.as_bytes()))
                .body(body)
        }
    }
}

/// Runs the plan; the calls in the order they were numbered.
pub async fn drive(
    client: &reqwest::Client,
    apis: &[String],
    token: &str,
    target: &Target,
    plan: &Plan<'_>,
) -> Vec<Shot> {
    let next = Arc::new(AtomicUsize::new(0));
    // A short head start so every caller is waiting when the schedule begins.
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients.max(1) {
        // Each client keeps to one web node; the clients go round the nodes.
        let (client, api, token, target) = (
            client.clone(),
            apis[i % apis.len().max(1)].clone(),
            token.to_owned(),
            target.clone(),
        );
        let (next, run, n, rate) = (next.clone(), plan.run.to_owned(), plan.requests, plan.rate);
        tasks.push(tokio::spawn(async move {
            let mut shots = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= n {
                    break;
                }
                let due = match rate {
                    Some(r) if r > 0 => start + Duration::from_secs_f64(seq as f64 / f64::from(r)),
                    _ => start,
                };
                tokio::time::sleep_until(due.into()).await;
                let sent_us = now_us();
                let stamp = format!("{run}-{seq}-{sent_us}");
                let status = match request(&client, &api, &token, &target, seq, &stamp)
                    .send()
                    .await
                {
                    // The body is read to the end so the connection is reused.
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                shots.push(Shot {
                    seq,
                    sent_us,
                    returned_us: now_us(),
                    status,
                });
            }
            shots
        }));
    }
    let mut all = Vec::with_capacity(plan.requests);
    for t in tasks {
        if let Ok(s) = t.await {
            all.extend(s);
        }
    }
    all.sort_unstable_by_key(|s| s.seq);
    all
}

/// An HTTP client for `clients` concurrent callers, kept-alive connections included.
pub fn client(clients: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(clients.max(1) * 2)
        // actix closes a connection idle for 5 s; drop ours first so none is reused
        // just as the server closes it.
        .pool_idle_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
