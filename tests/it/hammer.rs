//! Issue 9, "writes that never fail under load": 16 clients drive every mutating API
//! endpoint and the main page forms at once, while the app's own worker drains a
//! backlog that keeps growing to a real receiver. Then every answer is checked the way a
//! user would: no 5xx, each 2xx's effect in the database, each delivery at the receiver
//! exactly once, one audit row per administrative change (`hammer_checks.rs`).
//! `HOOKDESK_HAMMER_LONG=1` runs a bigger mix for local runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hookdesk::delivery::queue::{self, NewDelivery, Trigger};
use hookdesk::tickets::{ChangeActor, Ticket, TicketInput};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::db_tests;
use crate::hammer_checks::{self, Expected, Log, ServerLog};
use crate::helpers::{Backend, PASSWORD, TestApp, client, spawn_app_with};
use crate::queue::request;
use crate::receiver::{Receiver, Reply};
use crate::tickets_api::token_for;
use crate::webhooks_support::create_connection;

db_tests!(spawn = crate::hammer::hammer_app; hammer);

/// How hard to push. The default stays short on a 2-core machine in a debug build.
struct Plan {
    clients: usize,
    /// Requests per client (a login counts its page view too).
    steps: usize,
    /// Deliveries queued before the clients start.
    backlog: usize,
    /// How long the worker may take to drain the queue after the clients stop.
    drain: Duration,
}

fn plan() -> Plan {
    if std::env::var("HOOKDESK_HAMMER_LONG").is_ok_and(|v| v == "1") {
        Plan {
            clients: 16,
            steps: 200,
            backlog: 2000,
            drain: Duration::from_secs(120),
        }
    } else {
        Plan {
            clients: 16,
            steps: 20,
            backlog: 200,
            drain: Duration::from_secs(20),
        }
    }
}

/// The production pool size (one connection per client, as a busy desk would have), a
/// worker that may send to the loopback receiver, and a lease short enough that an
/// outcome the worker failed to record is re-sent while the test still waits, so such a
/// duplicate shows instead of hiding behind the default two-minute lease.
pub async fn hammer_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.db_pool_size = 16;
        c.worker_poll_ms = 50;
        c.worker_per_connection = 4;
        c.delivery_timeout_seconds = 5;
        c.worker_lease_seconds = 10;
    })
    .await
}

/// One signed-in administrator with a browser session and an API token, and the
/// things only this client changes, so the last value it wrote is the one to expect.
struct Client {
    n: usize,
    username: String,
    /// The browser: a cookie jar with the session.
    web: reqwest::Client,
    /// The API client: no cookies, only the token.
    http: reqwest::Client,
    csrf: String,
    token: String,
    connection: i64,
    webhook: i64,
    /// The ticket this client patches and notes.
    home: i64,
    /// Deliveries due in an hour (retries waiting), for the cancel button.
    scheduled: Vec<i64>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    ApiCreate,
    ApiPatch,
    ApiNote,
    ApiDelete,
    Replay,
    Cancel,
    ConnectionPatch,
    SigningSecret,
    WebhookPatch,
    TestSend,
    TokenPage,
    Login,
    PageCreate,
    PageUpdate,
    PageNote,
}

/// Each client walks this list from its own offset. Cancel comes right after replay so
/// that it races the worker for the delivery just made.
const OPS: [Op; 15] = [
    Op::ApiCreate,
    Op::Replay,
    Op::Cancel,
    Op::PageNote,
    Op::ConnectionPatch,
    Op::ApiPatch,
    Op::TokenPage,
    Op::SigningSecret,
    Op::ApiDelete,
    Op::WebhookPatch,
    Op::PageCreate,
    Op::Login,
    Op::PageUpdate,
    Op::ApiNote,
    Op::TestSend,
];

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The two backends' runs take turns: they would share two cores and one log capture.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn hammer(app: TestApp) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let plan = plan();
    let app = Arc::new(app);
    // A little latency keeps several sends in flight, as a real receiver would.
    let rx = Arc::new(Receiver::start(Reply::Delay(Duration::from_millis(5), 200)).await);
    app.login_admin().await;

    let mut clients = Vec::new();
    for n in 0..plan.clients {
        clients.push(set_up_client(&app, &rx, n, plan.steps).await);
    }
    let connections: Vec<i64> = clients.iter().map(|c| c.connection).collect();
    let backlog: Vec<i64> = (0..plan.backlog)
        .map(|i| enqueue(&app, &rx, connections[i % connections.len()], i, 0))
        .collect();
    let backlog = Arc::new(backlog);
    let scheduled: Vec<i64> = clients.iter().flat_map(|c| c.scheduled.clone()).collect();
    let audit_from = hammer_checks::last_audit_id(&app);
    let server = ServerLog::start();

    // New work keeps arriving while the clients run, so the worker claims and records
    // throughout instead of draining the backlog in the first second.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = tokio::spawn(feed(app.clone(), rx.clone(), connections, stop.clone()));

    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let (app, backlog) = (app.clone(), backlog.clone());
            tokio::spawn(async move { run_client(&app, c, &backlog, plan.steps).await })
        })
        .collect();
    let mut log = Log::default();
    for t in tasks {
        log.merge(t.await.unwrap());
    }
    stop.store(true, Ordering::SeqCst);
    let fed = feeder.await.unwrap();
    let hammered = started.elapsed();
    let waiting = hammer_checks::due_or_in_flight(&app);
    eprintln!(
        "hammer: {} requests by {} clients in {hammered:.1?}; meanwhile the receiver got {} \
         requests ({} backlog and {} fed deliveries, replays, test-sends; {waiting} still \
         queued)",
        log.calls.len(),
        plan.clients,
        rx.received().len(),
        plan.backlog,
        fed.len(),
    );

    let expected = Expected {
        queued: backlog.iter().chain(&fed).copied().collect(),
        scheduled,
        audit_from,
        drain: plan.drain,
    };
    hammer_checks::verify(&app, &rx, &log, &expected, &server).await;
}

async fn set_up_client(app: &TestApp, rx: &Receiver, n: usize, steps: usize) -> Client {
    let username = format!("hammer{n}");
    let token = token_for(app, &username, &[hookdesk::auth::ADMINISTRATOR], false);
    let web = client();
    app.login_with(&web, &username, PASSWORD).await;
    let csrf = app.csrf_of(&web).await;
    let connection = create_connection(
        app,
        &format!("hammer-{n}"),
        "generic",
        &rx.url(&format!("/c{n}")),
        "hammer-bearer-token",
    )
    .await;
    let resp = reqwest::Client::new()
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({
            "name": format!("hammer-{n}"),
            "connection_id": connection,
            "body_template": "{\"ticket\": \"{{ticket.displayid}}\"}",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let webhook = json_of(&resp.text().await.unwrap())["id"].as_i64().unwrap();
    let home = app.with_conn(|c| {
        let input = TicketInput {
            ticket_type: "Incident".into(),
            subject: format!("home of client {n}"),
            ..TicketInput::default()
        };
        Ticket::create_as(
            c,
            &ChangeActor::system("test"),
            &input,
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
        .id
    });
    let later = hookdesk::db::now() + chrono::Duration::hours(1);
    let scheduled = (0..steps / OPS.len() + 1)
        .map(|i| enqueue_at(app, rx, connection, &format!("scheduled-{n}-{i}"), later))
        .collect();
    Client {
        n,
        username,
        web,
        http: reqwest::Client::new(),
        csrf,
        token,
        connection,
        webhook,
        home,
        scheduled,
    }
}

fn enqueue(app: &TestApp, rx: &Receiver, connection: i64, i: usize, round: usize) -> i64 {
    let body = format!("{{\"n\": {i}, \"round\": {round}}}");
    enqueue_at(app, rx, connection, &body, hookdesk::db::now())
}

fn enqueue_at(
    app: &TestApp,
    rx: &Receiver,
    connection: i64,
    body: &str,
    at: chrono::NaiveDateTime,
) -> i64 {
    let new = NewDelivery::new(
        Trigger::Rule,
        Some(connection),
        request(&rx.url("/queued"), body),
    );
    app.with_conn(|c| queue::enqueue(c, &new, 3, at).unwrap().0)
}

/// Adds a delivery every few milliseconds until told to stop (the pause paces the
/// feed; nothing waits on it); returns their ids.
async fn feed(
    app: Arc<TestApp>,
    rx: Arc<Receiver>,
    connections: Vec<i64>,
    stop: Arc<AtomicBool>,
) -> Vec<i64> {
    let mut ids = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let (a, r) = (app.clone(), rx.clone());
        let conn = connections[ids.len() % connections.len()];
        let i = ids.len();
        ids.push(
            tokio::task::spawn_blocking(move || enqueue(&a, &r, conn, i, 1))
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ids
}

impl Client {
    /// A JSON API request with this client's token.
    fn api(&self, app: &TestApp, method: M, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.http
            .request(method, app.url(path))
            .bearer_auth(&self.token)
            .json(&body)
    }

    /// A page form as the browser posts it, with the session's CSRF token.
    fn form(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut all = fields.to_vec();
        all.push(("csrf_token", &self.csrf));
        self.web.post(app.url(path)).form(&all)
    }
}

async fn run_client(app: &TestApp, mut c: Client, backlog: &[i64], steps: usize) -> Log {
    let mut log = Log::default();
    let mut last_replay: Option<i64> = None;
    let mut cancels = 0;
    let (home, conn, hook) = (c.home, c.connection, c.webhook);
    let owner = format!("hammer-{}", c.n);
    for step in 0..steps {
        let tag = format!("c{} s{step}", c.n);
        match OPS[(c.n + step) % OPS.len()] {
            Op::ApiCreate => {
                api_create(app, &c, &tag, &mut log).await;
            }
            Op::ApiPatch => {
                let subject = format!("patched {tag}");
                let rb = c.api(
                    app,
                    M::PATCH,
                    &format!("/api/v1/tickets/{home}"),
                    json!({ "subject": subject }),
                );
                if log
                    .call("PATCH", "/api/v1/tickets/{key}", rb, &[200])
                    .await
                    .0
                    == 200
                {
                    log.subjects.insert(home, subject);
                }
            }
            Op::ApiNote => {
                let note = format!("api note {tag}");
                let rb = c.api(
                    app,
                    M::POST,
                    &format!("/api/v1/tickets/{home}/notes"),
                    json!({ "note": note }),
                );
                if log
                    .call("POST", "/api/v1/tickets/{key}/notes", rb, &[201])
                    .await
                    .0
                    == 201
                {
                    log.notes.push((home, note));
                }
            }
            Op::ApiDelete => {
                // Deletes a ticket this client made and no longer uses.
                let mine = log
                    .created
                    .iter()
                    .rev()
                    .find(|id| !log.deleted.contains(id) && log.display_ids.contains_key(id));
                let target = match mine.copied() {
                    Some(id) => Some(id),
                    None => api_create(app, &c, &tag, &mut log).await,
                };
                if let Some(id) = target {
                    let rb = c.api(app, M::DELETE, &format!("/api/v1/tickets/{id}"), json!({}));
                    if log
                        .call("DELETE", "/api/v1/tickets/{key}", rb, &[204])
                        .await
                        .0
                        == 204
                    {
                        log.deleted.push(id);
                        // An administrator's delete is audited (the history goes with
                        // the ticket).
                        if let Some(display) = log.display_ids.get(&id).cloned() {
                            log.audit("ticket.delete", display);
                        }
                    }
                }
            }
            Op::Replay => {
                let original = backlog[(c.n * 7 + step) % backlog.len()];
                let path = format!("/api/v1/deliveries/{original}/replay");
                let rb = c.api(app, M::POST, &path, json!({}));
                // 409 while the original is still under way (not yet sent, or being
                // sent): a replay then would send it twice, so it is refused.
                let (status, body) = log
                    .call("POST", "/api/v1/deliveries/{id}/replay", rb, &[201, 409])
                    .await;
                if status == 201 {
                    let new = json_of(&body)["id"].as_i64().unwrap();
                    log.replays.push((original, new));
                    log.audit("delivery.replay", format!("delivery {original}"));
                    last_replay = Some(new);
                }
            }
            Op::Cancel => {
                // Every other cancel races the worker for the replay just made (409 once
                // the worker has it); the rest stop a retry that is not due yet.
                cancels += 1;
                let (id, expect): (i64, &[u16]) = match last_replay.take() {
                    Some(id) if cancels % 2 == 1 => (id, &[200, 409]),
                    _ => (c.scheduled.pop().unwrap(), &[200]),
                };
                let rb = c.api(
                    app,
                    M::POST,
                    &format!("/api/v1/deliveries/{id}/cancel"),
                    json!({}),
                );
                if log
                    .call("POST", "/api/v1/deliveries/{id}/cancel", rb, expect)
                    .await
                    .0
                    == 200
                {
                    log.cancelled.push(id);
                    log.audit("delivery.cancel", format!("delivery {id}"));
                }
            }
            Op::ConnectionPatch => {
                let timeout = 5_000 + i32::try_from(step).unwrap();
                let rb = c.api(
                    app,
                    M::PATCH,
                    &format!("/api/v1/connections/{conn}"),
                    json!({ "timeout_ms": timeout }),
                );
                if log
                    .call("PATCH", "/api/v1/connections/{id}", rb, &[200])
                    .await
                    .0
                    == 200
                {
                    log.timeouts.insert(conn, timeout);
                    log.audit("connection.update", &owner);
                }
            }
            Op::SigningSecret => {
                let path = format!("/api/v1/connections/{conn}/signing-secret");
                let rb = c.api(app, M::POST, &path, json!({}));
                let route = "/api/v1/connections/{id}/signing-secret";
                let (status, body) = log.call("POST", route, rb, &[200]).await;
                if status == 200 {
                    let secret = json_of(&body)["signing_secret"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    log.signing.insert(conn, secret);
                    log.audit("connection.signing_secret", &owner);
                }
            }
            Op::WebhookPatch => {
                let description = format!("described by {tag}");
                let rb = c.api(
                    app,
                    M::PATCH,
                    &format!("/api/v1/webhooks/{hook}"),
                    json!({ "description": description }),
                );
                if log
                    .call("PATCH", "/api/v1/webhooks/{id}", rb, &[200])
                    .await
                    .0
                    == 200
                {
                    log.descriptions.insert(hook, description);
                    log.audit("webhook.update", &owner);
                }
            }
            Op::TestSend => {
                let rb = c.api(
                    app,
                    M::POST,
                    &format!("/api/v1/webhooks/{hook}/test"),
                    json!({}),
                );
                let (status, body) = log
                    .call("POST", "/api/v1/webhooks/{id}/test", rb, &[200])
                    .await;
                if status == 200 {
                    let report = json_of(&body);
                    let id = report["delivery_id"].as_i64().unwrap();
                    log.test_sends.push((id, report["succeeded"] == true));
                    log.audit("webhook.test_send", &owner);
                }
            }
            Op::TokenPage => {
                let name = format!("token {tag}");
                let rb = c.form(app, "/account/tokens", &[("name", &name)]);
                if log.call("POST", "/account/tokens", rb, &[200]).await.0 == 200 {
                    log.tokens.push((c.username.clone(), name.clone()));
                    log.audit("token.create", format!("token {name}"));
                }
            }
            Op::Login => {
                let fresh = client();
                let resp = app.try_login_with(&fresh, &c.username, PASSWORD).await;
                if log.record("POST", "/login", resp, &[303]).await.0 == 303 {
                    log.audit("auth.login", &c.username);
                    // Signed in means the next page opens.
                    log.call("GET", "/", fresh.get(app.url("/")), &[200]).await;
                }
            }
            Op::PageCreate => {
                let subject = format!("page ticket {tag}");
                let fields = [
                    ("type", "IN"),
                    ("subject", &subject),
                    ("status", "Open"),
                    ("priority", "P3"),
                    ("assignee", ""),
                ];
                let rb = c.form(app, "/tickets", &fields);
                let (status, location) = log.call("POST", "/tickets", rb, &[303]).await;
                if status == 303 {
                    let id = location.rsplit('/').next().unwrap().parse().unwrap();
                    log.created.push(id);
                }
            }
            Op::PageUpdate => {
                let subject = format!("edited {tag}");
                let fields = [
                    ("subject", subject.as_str()),
                    ("status", "In Progress"),
                    ("priority", "P2"),
                    ("assignee", ""),
                ];
                let rb = c.form(app, &format!("/tickets/{home}"), &fields);
                if log.call("POST", "/tickets/{id}", rb, &[303]).await.0 == 303 {
                    log.subjects.insert(home, subject);
                }
            }
            Op::PageNote => {
                let note = format!("page note {tag}");
                let rb = c.form(app, &format!("/tickets/{home}/notes"), &[("note", &note)]);
                if log.call("POST", "/tickets/{id}/notes", rb, &[303]).await.0 == 303 {
                    log.notes.push((home, note));
                }
            }
        }
    }
    log
}

async fn api_create(app: &TestApp, c: &Client, tag: &str, log: &mut Log) -> Option<i64> {
    let body = json!({ "type": "Incident", "subject": format!("api ticket {tag}") });
    let rb = c.api(app, M::POST, "/api/v1/tickets", body);
    let (status, body) = log.call("POST", "/api/v1/tickets", rb, &[201]).await;
    let created = (status == 201).then(|| json_of(&body));
    let id = created.as_ref().map(|t| t["id"].as_i64().unwrap());
    if let Some(t) = &created {
        let display = t["displayid"].as_str().unwrap().to_string();
        log.display_ids.insert(t["id"].as_i64().unwrap(), display);
    }
    log.created.extend(id);
    id
}
