//! The rule engine: every ticket change hands it the events it wrote (it is the
//! `tickets::events::Sink` of pages, the API and response processing), and it runs the
//! rules on them before the change commits.
//!
//! Invariants — each is what a test in `tests/it/rules_engine.rs` checks:
//! 1. It runs inside the transaction of the change. The deliveries, notes, field
//!    changes and firing counts it writes commit or roll back with that change, so a
//!    delivery exists exactly when its cause committed.
//! 2. An event is evaluated once: it is marked processed as the engine takes it.
//! 3. A change made through an integration user's token does not set off a rule that
//!    ignores integration users (the default), nor does a change by a user the rule
//!    ignores. Changes made by a rule's actions keep the original actor's id and
//!    integration flag, so this holds all the way down a chain.
//! 4. What a webhook's response writes reaches the engine only when that webhook has
//!    "run rules after response processed" (`webhooks::response::apply`), and even then
//!    never fires that same webhook again.
//! 5. One event never fires the same webhook twice, whichever rules match it.
//! 6. Changes made by actions produce events that are evaluated again, to
//!    [`MAX_DEPTH`]; a rule that matches deeper is not run, and the ticket's history
//!    says so. Evaluation is breadth first: every rule sees an event before any event
//!    its actions set off.
//! 7. An action that cannot be done (its webhook deleted, a value the field refuses)
//!    does not undo the change that set it off: it is skipped and the history says why.
//!    Only database errors (busy, gone) undo the change.
//! 8. Rules are read from a cache that is checked against the rules version (one row)
//!    on every change, so an edit in any process applies to the next change everywhere.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Action, MAX_DEPTH, Rule, store};
use crate::conditions::{self, Changes};
use crate::db::DbConn;
use crate::error::{Error, Result};
use crate::firing::{self, Cause, Firing};
use crate::ids::WebhookId;
use crate::secrets::SecretBox;
use crate::templating::{Kind, RenderContext, Template, TicketValues};
use crate::tickets::events::{self, Event, Sink};
use crate::tickets::payload::TicketState;
use crate::tickets::{ChangeActor, Ticket, TicketPatch, history};
use crate::webhooks::request::TicketRef;

/// The engine, cheap to clone; one per process is enough (each holds its own cache).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    secrets: Arc<SecretBox>,
    /// The configured retry schedule, for webhooks without a policy of their own.
    schedule: Vec<String>,
    cache: Mutex<Option<(String, Arc<Vec<Rule>>)>>,
}

impl Engine {
    pub fn new(secrets: Arc<SecretBox>, schedule: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                secrets,
                schedule,
                cache: Mutex::new(None),
            }),
        }
    }

    /// The enabled rules in evaluation order, reloaded when the version changed.
    pub fn rules(&self, c: &mut DbConn) -> Result<Arc<Vec<Rule>>> {
        let version = store::version(c)?;
        if let Some((v, rules)) = &*self.lock()
            && *v == version
        {
            return Ok(rules.clone());
        }
        let rules: Arc<Vec<Rule>> =
            Arc::new(store::list(c)?.into_iter().filter(|r| r.enabled).collect());
        *self.lock() = Some((version, rules.clone()));
        Ok(rules)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Arc<Vec<Rule>>)>> {
        // A panic while holding it leaves at worst a stale cache the version replaces.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs the rules on `events` (written by `actor`) and on everything their actions
    /// set off. Call inside the change's transaction.
    pub fn run(
        &self,
        c: &mut DbConn,
        actor: &ChangeActor,
        evs: Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.run_after(c, actor, evs, now, None).map(|_| ())
    }

    /// [`Engine::run`] after an update that left the ticket as `after`: the rules take
    /// their values from it until an action changes a ticket. Returns whether an action
    /// did (or may have: one that changes a ticket was tried).
    fn run_after(
        &self,
        c: &mut DbConn,
        actor: &ChangeActor,
        evs: Vec<Event>,
        now: DateTime<Utc>,
        after: Option<&TicketState>,
    ) -> Result<bool> {
        if evs.is_empty() {
            return Ok(false);
        }
        let mut fresh = Fresh {
            state: after,
            changed: false,
        };
        let rules = self.rules(c)?;
        let mut queue: VecDeque<Pending> = evs
            .into_iter()
            .map(|event| Pending {
                event,
                depth: 0,
                actor: actor.clone(),
                origin_name: actor.name.clone(),
            })
            .collect();
        let mut processed = Vec::new();
        while let Some(p) = queue.pop_front() {
            if p.event.processed_at.is_none() {
                processed.push(p.event.id);
            }
            if !rules.iter().any(|r| r.listens_to(&p.event.event_type)) {
                continue;
            }
            let produced = self.evaluate(c, &rules, &p, now, &mut fresh)?;
            queue.extend(produced.into_iter().map(|(event, actor)| Pending {
                event,
                depth: p.depth + 1,
                actor,
                origin_name: p.origin_name.clone(),
            }));
        }
        events::mark_processed(c, &processed, now.naive_utc())?;
        Ok(fresh.changed)
    }

    /// The rules one event sets off, run; returns the events their actions wrote.
    fn evaluate(
        &self,
        c: &mut DbConn,
        rules: &[Rule],
        p: &Pending,
        now: DateTime<Utc>,
        fresh: &mut Fresh<'_>,
    ) -> Result<Vec<(Event, ChangeActor)>> {
        let ev = &p.event;
        let Some(ticket_id) = ev.ticket_id else {
            return Ok(Vec::new());
        };
        let payload = ev.payload_json();
        let changes_json = payload
            .get("changes")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let changes = changes_of(&changes_json);
        let event_values = events::values_of(&ev.event_type, &payload);
        let deleted = ev.event_type == events::TICKET_DELETED;
        let collector = Collector::default();
        let mut values: Option<TicketValues> = None;
        let mut fired: HashSet<i64> = HashSet::new();
        let mut stopped: Vec<&str> = Vec::new();
        let mut matched = 0u64;

        for rule in rules {
            if !rule.listens_to(&ev.event_type) || !counts(rule, &p.actor) {
                continue;
            }
            let vals = match &values {
                Some(v) => v,
                None => match fresh.values(c, ticket_id) {
                    Ok(v) => values.insert(v),
                    // Deleted by an earlier rule's chain: nothing left to act on.
                    Err(Error::NotFound(_)) => break,
                    Err(e) => return Err(e),
                },
            };
            let met = if event_values.is_empty() {
                conditions::evaluate(rule.condition_match, &rule.conditions, vals, Some(&changes))
            } else {
                // Conditions read the event's own values (`event.note`) beside the ticket's.
                let mut with_event: BTreeMap<String, Value> = (**vals).clone();
                with_event.extend(event_values.clone());
                let m = rule.condition_match;
                conditions::evaluate(m, &rule.conditions, &with_event, Some(&changes))
            };
            if !met {
                continue;
            }
            matched += 1;
            if p.depth > MAX_DEPTH {
                stopped.push(&rule.name);
                continue;
            }
            store::record_firing(c, rule.id, now.naive_utc())?;
            let by = ChangeActor {
                id: p.actor.id,
                name: format!("Rule “{}”", rule.name),
                integration: p.actor.integration,
                response_of: p.actor.response_of,
            };
            let run = Run {
                rule,
                ticket_id,
                event: ev,
                changes: &changes_json,
                event_values: &event_values,
                by: &by,
                origin_name: &p.origin_name,
                deleted,
                now,
            };
            for action in &rule.actions {
                if deleted && action.changes_ticket() {
                    continue;
                }
                let Some(vals) = values.as_ref() else { break };
                // A savepoint: a refused action leaves nothing half written. Firing a
                // webhook refuses before its first write (`firing::fire`'s promise), so
                // it runs without one: two statements fewer on every rule that fires.
                let act = |c: &mut DbConn| self.act(c, &run, action, vals, &mut fired, &collector);
                let outcome = if matches!(action, Action::ExecuteWebhook { .. }) {
                    crate::db::write_joined(c, act)
                } else {
                    crate::db::write(c, act)
                };
                if action.changes_ticket() {
                    values = None;
                    fresh.spoil();
                }
                match outcome {
                    Ok(()) => {}
                    Err(e) if is_refusal(&e) => {
                        if !deleted {
                            let text =
                                format!("{} not done: {}", action.kind_label(), e.public_message());
                            history::record(
                                c,
                                ticket_id,
                                history::RULE,
                                &by,
                                &text,
                                true,
                                &Value::Null,
                            )?;
                        }
                    }
                    Err(e) => return Err(e),
                }
                if values.is_none() {
                    match crate::tickets::template_values(c, ticket_id) {
                        Ok(v) => values = Some(v),
                        Err(Error::NotFound(_)) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            if rule.stop_processing {
                break;
            }
        }
        crate::metrics::rule_event(matched);
        if !stopped.is_empty() && !deleted {
            let text = format!(
                "Trigger rules stopped: {} matched {} but were not run, as the chain of changes made by rules is already {MAX_DEPTH} deep",
                stopped
                    .iter()
                    .map(|n| format!("“{n}”"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ev.event_type
            );
            let by = ChangeActor::system("Trigger rules");
            history::record(c, ticket_id, history::RULE, &by, &text, true, &Value::Null)?;
        }
        Ok(collector.0.into_inner())
    }

    fn act(
        &self,
        c: &mut DbConn,
        run: &Run<'_>,
        action: &Action,
        values: &TicketValues,
        fired: &mut HashSet<i64>,
        collector: &Collector,
    ) -> Result<()> {
        let ctx = RenderContext::new(values.clone(), run.now)
            .with_event(run.event.event_type.clone(), run.changes.clone())
            .with_event_values(run.event_values.clone())
            .with_actor(run.origin_name.to_string());
        let text =
            |t: &str| -> Result<String> { Ok(Template::parse(t, Kind::Text)?.render(&ctx)?) };
        let mut patch = TicketPatch::default();
        match action {
            Action::ExecuteWebhook { webhook_id, params } => {
                let w = match crate::webhooks::cache::get(c, *webhook_id) {
                    Ok(w) => w,
                    Err(Error::NotFound(_)) => {
                        return Err(Error::NotFound(format!(
                            "webhook #{webhook_id} (it was deleted)"
                        )));
                    }
                    Err(e) => return Err(e),
                };
                if let Some(why) = crate::webhooks::alert_loop(&w, values) {
                    return Err(Error::Conflict(why));
                }
                // Not this ticket's webhook, or disabled: a rule over many tickets
                // meets this every day; it is not worth a history line.
                if firing::refusal(&w, values).is_some()
                    || fired.contains(&w.id)
                    || run.by.response_of == Some(w.id)
                {
                    return Ok(());
                }
                let mut rendered = BTreeMap::new();
                for (k, v) in params {
                    rendered.insert(k.clone(), text(v)?);
                }
                let f = Firing {
                    webhook: &w,
                    webhook_id: Some(WebhookId(w.id)),
                    ticket: TicketRef::Id(run.ticket_id),
                    values: Some(values),
                    params: &rendered,
                    actor_name: Some(run.origin_name.to_string()),
                    actor_id: None,
                    cause: Cause::Rule {
                        rule_id: run.rule.id,
                        event_id: Some(run.event.id),
                        event_type: run.event.event_type.clone(),
                        changes: run.changes.clone(),
                        event_values: run.event_values.clone(),
                    },
                    use_test_connection: false,
                    // The ticket's history goes with it.
                    by: (!run.deleted).then_some(run.by),
                };
                firing::fire(c, &self.inner.secrets, &f, &self.inner.schedule, run.now)?;
                fired.insert(w.id);
                return Ok(());
            }
            Action::AddNote { text: t, internal } => {
                let note = text(t)?;
                if note.trim().is_empty() {
                    return Ok(());
                }
                Ticket::add_note_as(c, run.by, run.ticket_id, &note, *internal, collector)?;
                return Ok(());
            }
            Action::SetField { field, value } => {
                patch
                    .set(field, Value::String(text(value)?))
                    .map_err(|why| Error::invalid(field, why))?;
            }
            Action::ChangeStatus { status } => patch.status = Some(status.clone()),
            Action::Assign { assignee, group } => {
                patch.assignee = Some((!assignee.is_empty()).then(|| assignee.clone()));
                if !group.is_empty() {
                    patch.assigned_group = Some(group.clone());
                }
            }
        }
        Ticket::update_as(c, run.by, run.ticket_id, &patch, collector)?;
        Ok(())
    }
}

impl Sink for Engine {
    fn on_events(&self, c: &mut DbConn, actor: &ChangeActor, evs: Vec<Event>) -> Result<()> {
        self.run(c, actor, evs, Utc::now())
    }

    fn evaluates_in_transaction(&self) -> bool {
        true
    }

    fn on_update(
        &self,
        c: &mut DbConn,
        actor: &ChangeActor,
        evs: Vec<Event>,
        after: &TicketState,
    ) -> Result<bool> {
        self.run_after(c, actor, evs, Utc::now(), Some(after))
    }
}

/// The ticket state an update handed the engine, good until an action changes a ticket.
struct Fresh<'a> {
    state: Option<&'a TicketState>,
    /// An action that changes a ticket has run (or was tried).
    changed: bool,
}

impl Fresh<'_> {
    /// `ticket_id`'s values: from the handed state while it holds, else read.
    fn values(&self, c: &mut DbConn, ticket_id: i64) -> Result<TicketValues> {
        match self.state {
            Some(s) if s.ticket_id() == ticket_id => s.values(c),
            _ => crate::tickets::template_values(c, ticket_id),
        }
    }

    fn spoil(&mut self) {
        self.state = None;
        self.changed = true;
    }
}

/// An event waiting for evaluation, with how deep in a chain of rule changes it is.
struct Pending {
    event: Event,
    depth: usize,
    /// Who wrote the event (a rule, on behalf of `origin_name`, down a chain).
    actor: ChangeActor,
    /// The person or integration whose change started the chain: `{{actor.name}}`.
    origin_name: String,
}

/// One matched rule running its actions on one event.
struct Run<'a> {
    rule: &'a Rule,
    ticket_id: i64,
    event: &'a Event,
    changes: &'a Value,
    /// [`events::values_of`] the event.
    event_values: &'a BTreeMap<String, Value>,
    by: &'a ChangeActor,
    origin_name: &'a str,
    deleted: bool,
    now: DateTime<Utc>,
}

/// Whether a change by `actor` may set `rule` off (invariant 3).
pub fn counts(rule: &Rule, actor: &ChangeActor) -> bool {
    let ignored_integration = rule.ignore_integration && actor.integration;
    let ignored_user = actor
        .id
        .is_some_and(|id| rule.ignored_user_ids.contains(&id));
    !ignored_integration && !ignored_user
}

/// Errors that mean "this action cannot be done as configured", as opposed to the
/// database failing (which must undo the whole change).
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::NotFound(_)
            | Error::Validation(_)
            | Error::Conflict(_)
            | Error::Forbidden(_)
            | Error::BadRequest(_)
    )
}

/// Gathers the events that a rule's actions write, for the next round.
#[derive(Default)]
struct Collector(RefCell<Vec<(Event, ChangeActor)>>);

impl Sink for Collector {
    fn on_events(&self, _: &mut DbConn, actor: &ChangeActor, evs: Vec<Event>) -> Result<()> {
        self.0
            .borrow_mut()
            .extend(evs.into_iter().map(|e| (e, actor.clone())));
        Ok(())
    }

    /// What it gathers, the engine evaluates in the same transaction.
    fn evaluates_in_transaction(&self) -> bool {
        true
    }
}

/// An event's `{field: {old, new}}` as conditions read them. History and events keep
/// the priority as it is shown (`P1 Critical`); `ticket.priority.id` is added so a rule
/// can say "priority changed to P1", as a template would.
pub fn changes_of(changes_json: &Value) -> Changes {
    let mut changes = conditions::changes_from_json(changes_json);
    if let Some(p) = changes.get("ticket.priority") {
        let id = |v: &Value| {
            v.as_str()
                .and_then(crate::tickets::parse_priority)
                .map_or(Value::Null, |s| Value::String(s.into()))
        };
        let ids = conditions::FieldChange {
            old: id(&p.old),
            new: id(&p.new),
        };
        changes.insert("ticket.priority.id".into(), ids);
    }
    changes
}
