//! The record `hammer.rs` keeps of its clients' calls, and what it checks once they have
//! stopped, as a user would: every answer by route and status, each success's effect in
//! the database, each delivery at the receiver exactly once (none that was cancelled),
//! one audit row per change. Every problem is collected first, so one run shows all.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use hookdesk::connections::Connection;
use hookdesk::db::schema::{api_tokens, audit_log, deliveries};
use hookdesk::delivery::queue::Delivery;
use hookdesk::tickets::{Ticket, history};

use crate::helpers::TestApp;
use crate::receiver::Receiver;

/// One HTTP answer: the route as the table names it, and the body when it was not an
/// answer the step expects (to show in the failure).
pub struct Call {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
    pub expected: bool,
    pub body: String,
}

/// What the clients did and what each success promised.
#[derive(Default)]
pub struct Log {
    pub calls: Vec<Call>,
    pub created: Vec<i64>,
    /// Ticket → its display id (`IN12`), the target of its `ticket.delete` audit row.
    pub display_ids: BTreeMap<i64, String>,
    pub deleted: Vec<i64>,
    pub notes: Vec<(i64, String)>,
    /// Ticket → the subject of the last successful patch.
    pub subjects: BTreeMap<i64, String>,
    /// (original, new delivery).
    pub replays: Vec<(i64, i64)>,
    pub cancelled: Vec<i64>,
    /// (delivery, whether the report said the receiver accepted it).
    pub test_sends: Vec<(i64, bool)>,
    /// (user, token name).
    pub tokens: Vec<(String, String)>,
    pub timeouts: BTreeMap<i64, i32>,
    /// Connection → the signing secret its last rotation returned.
    pub signing: BTreeMap<i64, String>,
    pub descriptions: BTreeMap<i64, String>,
    /// (audit action, target) of each successful administrative change.
    pub audited: Vec<(String, String)>,
}

impl Log {
    pub async fn record(
        &mut self,
        method: &'static str,
        route: &'static str,
        resp: reqwest::Response,
        expect: &[u16],
    ) -> (u16, String) {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.text().await.unwrap_or_default();
        let expected = expect.contains(&status);
        self.calls.push(Call {
            method,
            route,
            status,
            expected,
            body: if expected {
                String::new()
            } else {
                body.clone()
            },
        });
        // A redirect's news is where it points.
        (status, if status == 303 { location } else { body })
    }

    pub async fn call(
        &mut self,
        method: &'static str,
        route: &'static str,
        rb: reqwest::RequestBuilder,
        expect: &[u16],
    ) -> (u16, String) {
        let resp = rb.send().await.unwrap();
        self.record(method, route, resp, expect).await
    }

    pub fn audit(&mut self, action: &str, target: impl Into<String>) {
        self.audited.push((action.to_string(), target.into()));
    }

    /// Adds another client's record to this one.
    pub fn merge(&mut self, from: Log) {
        self.calls.extend(from.calls);
        self.created.extend(from.created);
        self.display_ids.extend(from.display_ids);
        self.deleted.extend(from.deleted);
        self.notes.extend(from.notes);
        self.subjects.extend(from.subjects);
        self.replays.extend(from.replays);
        self.cancelled.extend(from.cancelled);
        self.test_sends.extend(from.test_sends);
        self.tokens.extend(from.tokens);
        self.timeouts.extend(from.timeouts);
        self.signing.extend(from.signing);
        self.descriptions.extend(from.descriptions);
        self.audited.extend(from.audited);
    }
}

/// What the test made outside the HTTP calls, which the checks need.
pub struct Expected {
    /// Deliveries put in the queue, due at once.
    pub queued: Vec<i64>,
    /// Deliveries due in an hour: they must not be sent during the test.
    pub scheduled: Vec<i64>,
    /// Audit rows after this id are the hammer's.
    pub audit_from: i64,
    pub drain: Duration,
}

pub fn last_audit_id(app: &TestApp) -> i64 {
    app.with_conn(|c| {
        audit_log::table
            .select(diesel::dsl::max(audit_log::id))
            .first::<Option<i64>>(c)
            .unwrap()
            .unwrap_or(0)
    })
}

/// Deliveries the worker still has to send now (scheduled retries do not count).
pub fn due_or_in_flight(app: &TestApp) -> i64 {
    let now = hookdesk::db::now();
    app.with_conn(|c| {
        deliveries::table
            .filter(
                deliveries::status.eq("in_flight").or(deliveries::status
                    .eq("pending")
                    .and(deliveries::next_attempt_at.le(now))),
            )
            .count()
            .get_result(c)
            .unwrap()
    })
}

pub async fn verify(app: &TestApp, rx: &Receiver, log: &Log, exp: &Expected, server: &ServerLog) {
    let mut problems = Vec::new();
    answers(log, &mut problems);
    let logged = server.errors();
    eprintln!("errors the server logged:");
    for (line, n) in &logged {
        eprintln!("  {n} × {line}");
    }
    effects(app, log, &mut problems);
    arrivals(app, rx, exp, &mut problems).await;
    audit(app, log, exp, &mut problems);
    let logged: Vec<String> = logged.iter().map(|(l, n)| format!("  {n} × {l}")).collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) under load:\n{}\nerrors the server logged meanwhile:\n{}",
        problems.len(),
        problems.join("\n"),
        logged.join("\n")
    );
}

/// The server's account of its failures while the hammer runs: a 5xx body says only
/// that "the error has been logged", and the logged cause is what the fixer needs. One
/// capturing subscriber serves the whole test process; each run reads from its offset.
pub struct ServerLog {
    lines: Arc<Mutex<Vec<String>>>,
    from: usize,
}

static CAPTURED: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();

impl ServerLog {
    pub fn start() -> Self {
        use tracing_subscriber::prelude::*;
        let lines = CAPTURED
            .get_or_init(|| {
                let lines = Arc::new(Mutex::new(Vec::new()));
                let layer = Capture(lines.clone())
                    .with_filter(tracing_subscriber::filter::LevelFilter::ERROR);
                // Fails only if another test set a subscriber first; then nothing is
                // captured and the 5xx list still stands on its own.
                let _ = tracing_subscriber::registry().with(layer).try_init();
                lines
            })
            .clone();
        let from = lines.lock().unwrap().len();
        Self { lines, from }
    }

    /// Error events since `start`, counted, with numbers shown as `N` so that the same
    /// failure on different rows counts as one kind.
    pub fn errors(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for line in &self.lines.lock().unwrap()[self.from..] {
            // Only whole numbers (ids), not the 1 of `/api/v1`.
            let mut kind = String::new();
            let mut number = false;
            for ch in line.chars() {
                let starts = !kind.ends_with(|p: char| p.is_ascii_alphanumeric());
                if ch.is_ascii_digit() && (number || starts) {
                    if !number {
                        kind.push('N');
                    }
                    number = true;
                } else {
                    kind.push(ch);
                    number = false;
                }
            }
            *out.entry(kind).or_default() += 1;
        }
        out
    }
}

struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut line = String::new();
        e.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = match f.name() {
            "message" => write!(self.0, "{v:?}"),
            name => write!(self.0, "{name}={v:?}"),
        };
    }
}

/// Prints the table of answers; a 5xx, or any status the step does not expect, is a
/// problem shown with its body.
fn answers(log: &Log, problems: &mut Vec<String>) {
    let mut table: BTreeMap<(&str, &str), BTreeMap<u16, usize>> = BTreeMap::new();
    for c in &log.calls {
        *table
            .entry((c.route, c.method))
            .or_default()
            .entry(c.status)
            .or_default() += 1;
    }
    eprintln!("{:<7}{:<42}statuses", "method", "route");
    for ((route, method), statuses) in &table {
        let counts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
        eprintln!("{method:<7}{route:<42}{}", counts.join(", "));
    }
    let server_errors = log.calls.iter().filter(|c| c.status >= 500).count();
    eprintln!("5xx responses: {server_errors}");
    // The same answer on the same route is listed once, with its count.
    let mut wrong: BTreeMap<(bool, &str, &str, u16, String), usize> = BTreeMap::new();
    for c in log.calls.iter().filter(|c| !c.expected) {
        let body: String = c.body.trim().chars().take(300).collect();
        *wrong
            .entry((c.status < 500, c.route, c.method, c.status, body))
            .or_default() += 1;
    }
    for ((unexpected, route, method, status, body), n) in wrong {
        let kind = if unexpected { "unexpected" } else { "5xx" };
        problems.push(format!("{kind}: {n} × {method} {route} → {status}: {body}"));
    }
}

/// Each success promised a change; it must be there, and only once.
fn effects(app: &TestApp, log: &Log, problems: &mut Vec<String>) {
    let mut c = app.conn();
    let c = &mut *c;
    for id in &log.created {
        let exists = Ticket::get(c, *id).is_ok();
        if log.deleted.contains(id) {
            if exists {
                problems.push(format!("ticket {id} was deleted (2xx) but is still there"));
            }
        } else if !exists {
            problems.push(format!("ticket {id} was created (2xx) but is missing"));
        }
    }
    for (ticket, text) in &log.notes {
        let n = history::list(c, *ticket)
            .unwrap()
            .iter()
            .filter(|e| e.kind == history::NOTE && &e.body == text)
            .count();
        if n != 1 {
            problems.push(format!(
                "note {text:?} on ticket {ticket}: {n} entries, not 1"
            ));
        }
    }
    for (ticket, subject) in &log.subjects {
        let now = Ticket::get(c, *ticket).unwrap().subject;
        if &now != subject {
            problems.push(format!(
                "ticket {ticket}: last patch set {subject:?}, it shows {now:?}"
            ));
        }
    }
    for (original, new) in &log.replays {
        // A test-send resent stays a test.
        let want = match Delivery::get(c, *original) {
            Ok(o) if o.trigger == "test" => "test",
            _ => "replay",
        };
        match Delivery::get(c, *new) {
            Ok(d) if d.replay_of == Some(*original) && d.trigger == want => {}
            other => problems.push(format!(
                "replay of {original} answered delivery {new}, which is {other:?}"
            )),
        }
    }
    for id in &log.cancelled {
        let status = Delivery::get(c, *id).unwrap().status;
        if status != "cancelled" {
            problems.push(format!("delivery {id} was cancelled (200) but is {status}"));
        }
    }
    for (id, succeeded) in &log.test_sends {
        let d = Delivery::get(c, *id).unwrap();
        if !succeeded || d.trigger != "test" || d.status != "succeeded" {
            problems.push(format!(
                "test-send delivery {id}: reported succeeded={succeeded}, recorded {} {}",
                d.trigger, d.status
            ));
        }
    }
    for (user, name) in &log.tokens {
        let n: i64 = api_tokens::table
            .filter(api_tokens::name.eq(name))
            .count()
            .get_result(c)
            .unwrap();
        if n != 1 {
            problems.push(format!("token {name:?} of {user}: {n} rows, not 1"));
        }
    }
    for (id, timeout) in &log.timeouts {
        let now = Connection::get(c, *id).unwrap().timeout_ms;
        if now != *timeout {
            problems.push(format!(
                "connection {id}: last patch set timeout {timeout}, it shows {now}"
            ));
        }
    }
    let sb = crate::connections::secret_box(app);
    for (id, secret) in &log.signing {
        let now = hookdesk::db::now();
        let active = Connection::get(c, *id)
            .unwrap()
            .active_signing_secrets(&sb, now)
            .unwrap();
        if active.first().map(|s| s.expose()) != Some(secret.as_str()) {
            problems.push(format!(
                "connection {id}: the last rotation's signing secret is not the one in use"
            ));
        }
    }
    for (id, description) in &log.descriptions {
        let now = hookdesk::webhooks::store::get(c, *id).unwrap().description;
        if &now != description {
            problems.push(format!(
                "webhook {id}: last patch set {description:?}, it shows {now:?}"
            ));
        }
    }
}

/// Waits (bounded) for the worker to send everything due, then matches the receiver's
/// `webhook-id`s against the deliveries table.
async fn arrivals(app: &TestApp, rx: &Receiver, exp: &Expected, problems: &mut Vec<String>) {
    let started = Instant::now();
    loop {
        let left = due_or_in_flight(app);
        if left == 0 {
            break;
        }
        if started.elapsed() > exp.drain {
            problems.push(format!(
                "{left} deliveries still due or in flight {:?} after the clients stopped",
                exp.drain
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("worker drained in {:.1?}", started.elapsed());

    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        match r.header("webhook-id") {
            Some(uid) => *seen.entry(uid.to_string()).or_default() += 1,
            None => problems.push(format!(
                "a request without webhook-id: {} {}",
                r.method, r.path
            )),
        }
    }
    let rows: Vec<Delivery> = app.with_conn(|c| {
        deliveries::table
            .select(Delivery::as_select())
            .load(c)
            .unwrap()
    });
    let ids: HashSet<i64> = rows.iter().map(|d| d.id).collect();
    for id in &exp.queued {
        if !ids.contains(id) {
            problems.push(format!("queued delivery {id} is missing"));
        }
    }
    let scheduled: HashSet<i64> = exp.scheduled.iter().copied().collect();
    let (mut duplicates, mut lost, mut cancelled) = (0, 0, 0);
    for d in &rows {
        let n = seen.remove(&d.uid).unwrap_or(0);
        let id = d.id;
        if d.status == "cancelled" {
            cancelled += 1;
            if n > 0 {
                problems.push(format!("delivery {id} was cancelled but arrived {n}×"));
            }
        } else if scheduled.contains(&id) {
            if n > 0 || d.status != "pending" {
                problems.push(format!(
                    "delivery {id}, due in an hour, is {} and arrived {n}×",
                    d.status
                ));
            }
        } else if n == 0 || d.status != "succeeded" {
            lost += 1;
            problems.push(format!(
                "delivery {id} ({}) is {} after {} attempt(s), last error {:?}, arrived {n}×",
                d.trigger, d.status, d.attempts, d.last_error
            ));
        } else if n > 1 {
            duplicates += 1;
            problems.push(format!("delivery {id} ({}) arrived {n}×", d.trigger));
        }
    }
    for (uid, n) in seen {
        problems.push(format!("{uid} arrived {n}× but is no delivery of ours"));
    }
    eprintln!(
        "deliveries: {} rows, {cancelled} cancelled, {} scheduled, {lost} not delivered, \
         {duplicates} arrived more than once",
        rows.len(),
        scheduled.len()
    );
}

/// Exactly one audit row per successful administrative change, naming its target; and
/// none for anything else the hammer did.
fn audit(app: &TestApp, log: &Log, exp: &Expected, problems: &mut Vec<String>) {
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for key in &log.audited {
        *want.entry(key.clone()).or_default() += 1;
    }
    let rows: Vec<(String, String, String)> = app.with_conn(|c| {
        audit_log::table
            .filter(audit_log::id.gt(exp.audit_from))
            .select((audit_log::action, audit_log::target, audit_log::outcome))
            .load(c)
            .unwrap()
    });
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (action, target, outcome) in rows {
        // A token's target ends with its secret's prefix, which only the page showed.
        let target = match action.as_str() {
            "token.create" => target
                .rsplit_once(" (")
                .map_or(target.clone(), |(t, _)| t.to_string()),
            _ => target,
        };
        let action = if outcome == hookdesk::audit::SUCCESS {
            action
        } else {
            format!("{action} ({outcome})")
        };
        *got.entry((action, target)).or_default() += 1;
    }
    let keys: BTreeSet<&(String, String)> = want.keys().chain(got.keys()).collect();
    let mut per_action: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for key in keys {
        let w = want.get(key).copied().unwrap_or(0);
        let g = got.get(key).copied().unwrap_or(0);
        if w != g {
            problems.push(format!(
                "audit {} {:?}: {g} row(s) for {w} successful change(s)",
                key.0, key.1
            ));
        }
        let e = per_action.entry(key.0.as_str()).or_default();
        *e = (e.0 + w, e.1 + g);
    }
    for (action, (w, g)) in per_action {
        eprintln!("audit {action:<27}{g} row(s) for {w} successful change(s)");
    }
}
