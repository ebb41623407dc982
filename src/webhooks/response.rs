//! What a webhook does with a 2xx answer (the Response fields and Response actions tabs).
//!
//! Three steps, kept apart so test-send can show the plan without changing a ticket:
//! [`ResponseDoc::parse`] reads the body by the webhook's response content type,
//! [`plan`] works out every change (and why a mapping found nothing), and [`apply`]
//! writes the changes, one "webhook response processed" history entry and the
//! `webhook.response_processed` event in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::model::{ActionKind, ResponseType, Webhook};
use super::request::{TriggerCtx, with_trigger};
use crate::db::DbConn;
use crate::error::{Error, Result};
use crate::templating::{Kind, RenderContext, Template, TicketValues};
use crate::tickets::events::{NoRules, Sink};
use crate::tickets::targets::kind_of;
use crate::tickets::{ChangeActor, Changes, Ticket, TicketPatch};

/// A parsed response body, as one JSON-like tree for every content type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseDoc(Value);

impl ResponseDoc {
    /// Reads `body` as `kind`. XML becomes `{root: {child: …}}` (repeated children become
    /// arrays, leaves their trimmed text); form-urlencoded a flat object (repeated keys
    /// become arrays); HTML is taken as text, under the one path `body`.
    pub fn parse(kind: ResponseType, body: &[u8]) -> std::result::Result<Self, String> {
        let text = String::from_utf8_lossy(body);
        match kind {
            ResponseType::Json => serde_json::from_str(&text)
                .map(ResponseDoc)
                .map_err(|e| format!("the response is not valid JSON ({e})")),
            ResponseType::Xml => {
                let doc = roxmltree::Document::parse(&text)
                    .map_err(|e| format!("the response is not valid XML ({e})"))?;
                let root = doc.root_element();
                let mut top = Map::new();
                top.insert(root.tag_name().name().to_string(), xml_value(root));
                Ok(ResponseDoc(Value::Object(top)))
            }
            ResponseType::Form => {
                let mut m = Map::new();
                for (k, v) in form_urlencoded::parse(text.trim().as_bytes()) {
                    push_value(&mut m, k.into_owned(), Value::String(v.into_owned()));
                }
                Ok(ResponseDoc(Value::Object(m)))
            }
            ResponseType::Html => {
                let mut m = Map::new();
                m.insert("body".into(), Value::String(text.into_owned()));
                Ok(ResponseDoc(Value::Object(m)))
            }
        }
    }

    /// The value at `path` (`result.number`, `items[0].id`, `a/b/c`, `items.0.id`), or
    /// why there is none. A key is matched exactly first, then ignoring case (template
    /// placeholders are lower-cased). For XML the root element may be left out.
    pub fn get(&self, path: &str) -> std::result::Result<Value, String> {
        let path = path.trim().trim_start_matches('/');
        if let Some(v) = self.0.as_object().and_then(|m| m.get(path)) {
            // A form key may itself contain dots or brackets.
            return usable(path, v);
        }
        let steps = steps(path)?;
        match walk(&self.0, &steps) {
            Ok(v) => usable(path, v),
            Err(first) => {
                // XML: allow paths relative to the root element.
                if let Some(m) = self.0.as_object()
                    && m.len() == 1
                    && let Some(root) = m.values().next()
                    && let Ok(v) = walk(root, &steps)
                {
                    return usable(path, v);
                }
                Err(first)
            }
        }
    }
}

fn xml_value(node: roxmltree::Node) -> Value {
    let children: Vec<_> = node.children().filter(|c| c.is_element()).collect();
    if children.is_empty() {
        return Value::String(node.text().unwrap_or("").trim().to_string());
    }
    let mut m = Map::new();
    for c in children {
        push_value(&mut m, c.tag_name().name().to_string(), xml_value(c));
    }
    Value::Object(m)
}

/// Inserts `v` under `k`; a key seen again turns into an array of its values.
fn push_value(m: &mut Map<String, Value>, k: String, v: Value) {
    match m.get_mut(&k) {
        None => {
            m.insert(k, v);
        }
        Some(Value::Array(a)) => a.push(v),
        Some(old) => {
            let first = old.take();
            *old = Value::Array(vec![first, v]);
        }
    }
}

#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> std::result::Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for seg in path.split(['.', '/']) {
        let (name, rest) = seg.split_once('[').unwrap_or((seg, ""));
        if !name.is_empty() {
            out.push(match name.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(name.to_string()),
            });
        }
        if !rest.is_empty() {
            for idx in format!("[{rest}").split_terminator(']') {
                let i = idx
                    .strip_prefix('[')
                    .and_then(|d| d.parse::<usize>().ok())
                    .ok_or_else(|| format!("`{path}` is not a valid path"))?;
                out.push(Step::Index(i));
            }
        }
    }
    if out.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(out)
}

fn walk<'a>(mut v: &'a Value, steps: &[Step]) -> std::result::Result<&'a Value, String> {
    let mut at = String::new();
    for s in steps {
        let here = if at.is_empty() {
            "the response".to_string()
        } else {
            format!("`{at}`")
        };
        v = match (s, v) {
            (Step::Key(k), Value::Object(m)) => {
                let found = m.get(k).or_else(|| {
                    m.iter()
                        .find(|(mk, _)| mk.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v)
                });
                match found {
                    Some(x) => x,
                    None => {
                        let keys: Vec<&str> = m.keys().take(8).map(String::as_str).collect();
                        return Err(format!(
                            "{here} has no `{k}` (it has: {})",
                            if keys.is_empty() {
                                "nothing".to_string()
                            } else {
                                keys.join(", ")
                            }
                        ));
                    }
                }
            }
            (Step::Index(i), Value::Array(a)) => a
                .get(*i)
                .ok_or_else(|| format!("{here} has {} item(s); there is no [{i}]", a.len()))?,
            // One XML element where several were expected: `[0]` is that element.
            (Step::Index(0), other) if !other.is_array() => other,
            (Step::Key(k), other) => {
                return Err(format!("{here} is {}, so it has no `{k}`", kind_of(other)));
            }
            (Step::Index(i), other) => {
                return Err(format!(
                    "{here} is {}, not a list, so it has no [{i}]",
                    kind_of(other)
                ));
            }
        };
        match s {
            Step::Key(k) if at.is_empty() => at = k.clone(),
            Step::Key(k) => at = format!("{at}.{k}"),
            Step::Index(i) => at = format!("{at}[{i}]"),
        }
    }
    Ok(v)
}

fn usable(path: &str, v: &Value) -> std::result::Result<Value, String> {
    if v.is_null() {
        return Err(format!("`{path}` is null in the response"));
    }
    Ok(v.clone())
}

/// The changes a response makes, before they are written.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub patch: TicketPatch,
    /// Notes to add, rendered.
    pub notes: Vec<String>,
    /// One line per mapping and action: what it does, or why it does nothing.
    pub lines: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty() && self.patch == TicketPatch::default()
    }

    /// The lines as one note for the attempt record.
    pub fn summary(&self) -> String {
        self.lines.join("; ")
    }
}

/// Works out what the response does to the ticket whose template values are
/// `ticket_values`. Response fields come first, then the actions in order; a later write
/// to the same field wins. Action templates may use `{{response.<path>}}`.
pub fn plan(
    w: &Webhook,
    ticket_values: TicketValues,
    trigger: &TriggerCtx,
    body: &[u8],
    truncated: bool,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    if w.response_fields.is_empty() && w.response_actions.is_empty() {
        return plan;
    }
    let doc = match ResponseDoc::parse(w.response_content_type, body) {
        Ok(d) => Some(d),
        Err(e) => {
            let cut = if truncated {
                " (only the first 64 KiB were kept)"
            } else {
                ""
            };
            plan.lines.push(format!("response not read: {e}{cut}"));
            None
        }
    };
    for f in &w.response_fields {
        let Some(doc) = &doc else {
            plan.lines
                .push(format!("{} → {}: nothing mapped", f.path, f.target));
            continue;
        };
        match doc.get(&f.path) {
            Ok(v) => match plan.patch.set(&f.target, v) {
                Ok(shown) => plan
                    .lines
                    .push(format!("{} → {} = {shown}", f.path, f.target)),
                Err(why) => plan
                    .lines
                    .push(format!("{} → {}: not set: {why}", f.path, f.target)),
            },
            Err(why) => plan
                .lines
                .push(format!("{} → {}: found nothing: {why}", f.path, f.target)),
        }
    }
    let ctx = RenderContext::new(ticket_values, now).with_webhook(w.name.clone());
    let mut ctx = with_trigger(ctx, trigger);
    for a in &w.response_actions {
        let rendered = Template::parse(&a.value_template, Kind::Text).map(|t| {
            let response: BTreeMap<String, Value> = t
                .placeholders()
                .into_iter()
                .filter_map(|n| {
                    let path = n.strip_prefix("response.")?;
                    let v = doc.as_ref()?.get(path).ok()?;
                    Some((n.to_string(), v))
                })
                .collect();
            ctx = ctx.clone().with_response(response);
            t.render(&ctx)
        });
        let text = match rendered {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                plan.lines
                    .push(format!("{}: not done: {e}", a.kind.label()));
                continue;
            }
            Err(e) => {
                plan.lines
                    .push(format!("{}: not done: {e}", a.kind.label()));
                continue;
            }
        };
        match a.kind {
            ActionKind::SetField => match plan.patch.set(&a.target, Value::String(text)) {
                Ok(shown) => plan.lines.push(format!("set {} = {shown}", a.target)),
                Err(why) => plan
                    .lines
                    .push(format!("set {}: not done: {why}", a.target)),
            },
            ActionKind::ChangeStatus => {
                let s = text.trim().to_string();
                if s.is_empty() {
                    plan.lines
                        .push("change status: not done: the status is empty".into());
                } else {
                    plan.lines.push(format!("change status to {s}"));
                    plan.patch.status = Some(s);
                }
            }
            ActionKind::AddNote => {
                if text.trim().is_empty() {
                    plan.lines
                        .push("add note: not done: the note is empty".into());
                } else {
                    plan.lines
                        .push(format!("add note: “{}”", note_preview(&text)));
                    plan.notes.push(text);
                }
            }
        }
    }
    plan
}

/// A note as the plan quotes it: whole, or its first 200 characters and `…`.
fn note_preview(text: &str) -> String {
    const MAX: usize = 200;
    let t = text.trim();
    match t.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// Where a response came from, for the history entry and the event.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub webhook: &'a Webhook,
    /// The delivery's `msg_…` id.
    pub delivery_uid: &'a str,
}

/// Writes `plan` to the ticket in one transaction: the changed fields, the notes, one
/// "webhook response processed" history entry and the `webhook.response_processed`
/// event (which carries whether rules may react to it). Validation errors (a mapped
/// value that the field does not accept) change nothing and come back as the error.
///
/// The events go to `sink` (the rules) only when the webhook has "run rules after
/// response processed": by default nothing a response writes sets a rule off, which is
/// what keeps an integration from looping through its own answers.
pub fn apply(
    conn: &mut DbConn,
    sink: &dyn Sink,
    ticket_id: i64,
    src: &Source,
    plan: &Plan,
) -> Result<Changes> {
    let mut actor = ChangeActor::system(&format!("Webhook “{}”", src.webhook.name));
    actor.response_of = Some(src.webhook.id);
    let sink: &dyn Sink = if src.webhook.run_rules_after_response {
        sink
    } else {
        &NoRules
    };
    crate::db::write(conn, |c| {
        let mut changes = Ticket::apply_webhook_response(
            c,
            &actor,
            ticket_id,
            &crate::tickets::ResponseOrigin {
                webhook_id: Some(src.webhook.id),
                webhook_name: src.webhook.name.clone(),
                delivery_uid: src.delivery_uid.to_string(),
                run_rules: src.webhook.run_rules_after_response,
                summary: plan.summary(),
            },
            &plan.patch,
            sink,
        )?;
        for n in &plan.notes {
            Ticket::add_note_as(c, &actor, ticket_id, n, true, sink)?;
        }
        if !plan.notes.is_empty() {
            changes.insert("notes".into(), Value::from(plan.notes.len()));
        }
        Ok(changes)
    })
}

/// Response processing for a delivered attempt, inside the transaction that records it:
/// reads the answer, plans and applies the changes under a savepoint (a rejected value
/// undoes only this ticket's changes, never the record of the attempt) and returns the
/// note to store on the attempt: what was done, or why nothing was.
#[expect(
    clippy::too_many_arguments,
    reason = "what the recorder knows of the attempt, passed through as it is"
)]
pub fn process_delivery(
    conn: &mut DbConn,
    sink: &dyn Sink,
    webhook_id: i64,
    ticket_id: i64,
    delivery_uid: &str,
    body: &[u8],
    truncated: bool,
    now: DateTime<Utc>,
) -> Option<String> {
    let not_processed = |what: &str, e: Error| {
        Some(match e {
            Error::NotFound(_) => format!("response not processed: the {what} no longer exists"),
            e => {
                if e.is_internal() {
                    tracing::error!(error = %e, webhook_id, ticket_id, "response processing failed");
                }
                format!("response not processed: {}", e.public_message())
            }
        })
    };
    let w = match super::cache::get(conn, webhook_id) {
        Ok(w) => w,
        Err(e) => return not_processed("webhook", e),
    };
    if w.response_fields.is_empty() && w.response_actions.is_empty() {
        return None;
    }
    let values = match crate::tickets::template_values(conn, ticket_id) {
        Ok(v) => v,
        Err(e) => return not_processed("ticket", e),
    };
    let trigger = match trigger_of(conn, delivery_uid) {
        Ok(t) => t,
        Err(e) => return not_processed("delivery", e),
    };
    let plan = plan(&w, values, &trigger, body, truncated, now);
    if plan.is_empty() {
        return Some(format!(
            "response processed, nothing to change: {}",
            plan.summary()
        ));
    }
    let src = Source {
        webhook: &w,
        delivery_uid,
    };
    match crate::db::write(conn, |c| apply(c, sink, ticket_id, &src, &plan)) {
        Ok(_) => Some(format!("response processed: {}", plan.summary())),
        Err(e) => {
            if e.is_internal() {
                tracing::error!(error = %e, webhook_id, ticket_id, "applying a response failed");
            }
            Some(format!(
                "response not applied, the ticket is unchanged: {} ({})",
                e.public_message(),
                plan.summary()
            ))
        }
    }
}

/// What fired delivery `uid`, for its response actions' `{{actor.name}}` and `{{event.*}}`:
/// its actor (a button's presser; for a rule's, the user whose change it was) and the
/// event it was rendered for (a rule's; none for a button or a test).
fn trigger_of(conn: &mut DbConn, uid: &str) -> Result<TriggerCtx> {
    use crate::db::schema::deliveries;
    use diesel::prelude::*;
    let (event_id, actor): (Option<i64>, String) = deliveries::table
        .filter(deliveries::uid.eq(uid))
        .select((deliveries::event_id, deliveries::actor_name))
        .get_result(conn)?;
    let mut t = TriggerCtx {
        actor_name: (!actor.is_empty()).then_some(actor),
        ..TriggerCtx::default()
    };
    let ev = match event_id.map(|id| crate::tickets::events::get(conn, id)) {
        Some(Ok(ev)) => ev,
        // No event (a button, a test), or one no longer kept: nothing to tell of it.
        None | Some(Err(Error::NotFound(_))) => return Ok(t),
        Some(Err(e)) => return Err(e),
    };
    // A rule's delivery keeps no actor of its own: the event's is who made the change.
    if t.actor_name.is_none()
        && let Some(uid) = ev.actor_id
    {
        t.actor_name = match crate::auth::User::get(conn, uid) {
            Ok(u) => Some(u.display_name),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
    }
    let payload = ev.payload_json();
    t.event_values = crate::tickets::events::values_of(&ev.event_type, &payload);
    t.changes = payload.get("changes").cloned();
    t.event_type = Some(ev.event_type);
    Ok(t)
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
