//! `hookdesk bench-rules`: what the trigger rules cost a ticket change, on a throwaway
//! SQLite database. Prints, for N enabled rules listening to `ticket.updated`:
//! - evaluation alone (the cached rules' settings and conditions against one event's
//!   ticket values and changes, in memory), per event;
//! - the engine's whole share of a change (rules version read, ticket values, the
//!   evaluation, events marked processed), per change, measured as a change through
//!   the engine minus the same change with no rules engine at all.

use std::time::Instant;

use super::{Engine, RuleInput, store};
use crate::audit::Actor;
use crate::conditions::{self, ConditionInput};
use crate::config::Config;
use crate::tickets::events::{NoRules, TICKET_UPDATED};
use crate::tickets::{ChangeActor, Ticket, TicketInput, TicketPatch};
use crate::{db, startup};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchRulesArgs {
    /// Enabled rules, each listening to `ticket.updated` with three conditions.
    #[arg(long, default_value_t = 100)]
    pub rules: usize,
    /// Events (ticket changes) measured.
    #[arg(long, default_value_t = 2_000)]
    pub events: usize,
}

pub fn run(base: &Config, args: &BenchRulesArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("hookdesk-bench-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench_in(&dir, base, args);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn micros(total: std::time::Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n.max(1) as f64
}

fn bench_in(dir: &std::path::Path, base: &Config, args: &BenchRulesArgs) -> anyhow::Result<()> {
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        ..base.clone()
    };
    let (pool, _) = startup::prepare_database(&config)?;
    let mut conn = pool.get()?;
    let c = &mut *conn;
    let sb = crate::secrets::key::open_secret_box(&config, c)?;
    let engine = Engine::new(std::sync::Arc::new(sb), config.retry_schedule.clone());
    let actor = Actor::system("bench");

    // Rules that listen to the event and test the ticket, none of which matches (their
    // actions would measure notes and deliveries, not rules).
    for i in 0..args.rules {
        let cond = |field: &str, op: &str, value: &str| ConditionInput {
            field: field.into(),
            operator: op.into(),
            value: value.into(),
        };
        store::create(
            c,
            &actor,
            &RuleInput {
                name: format!("Rule {i}"),
                events: vec![TICKET_UPDATED.into()],
                conditions: vec![
                    cond("ticket.type", "equals", "Incident"),
                    cond("ticket.priority.id", "changed_to", "P1"),
                    cond("ticket.category", "in_list", &format!("Network, Cat{i}")),
                ],
                actions: vec![super::Action::AddNote {
                    text: "matched".into(),
                    internal: true,
                }],
                ..RuleInput::default()
            },
        )?;
    }
    let who = ChangeActor::system("bench");
    let input = TicketInput {
        ticket_type: "Incident".into(),
        subject: "Benchmark".into(),
        ..TicketInput::default()
    };
    let ticket = Ticket::create_as(c, &who, &input, &NoRules)?;

    // Evaluation alone, against the values and changes of one real change.
    let rules = engine.rules(c)?;
    let values = crate::tickets::template_values(c, ticket.id)?;
    let changes = super::engine::changes_of(&serde_json::json!({
        "category": {"old": "Hardware", "new": "Software"}
    }));
    let started = Instant::now();
    let mut matched = 0usize;
    for _ in 0..args.events {
        for r in rules.iter() {
            if r.listens_to(TICKET_UPDATED)
                && super::engine::counts(r, &who)
                && conditions::evaluate(r.condition_match, &r.conditions, &values, Some(&changes))
            {
                matched += 1;
            }
        }
    }
    let eval = started.elapsed();
    anyhow::ensure!(matched == 0, "a benchmark rule matched");

    // A change with the engine, and the same change without it.
    let change = |c: &mut db::DbConn, n: usize, with_rules: bool| -> anyhow::Result<()> {
        let patch = TicketPatch {
            category: Some(format!("Category {n}")),
            ..TicketPatch::default()
        };
        if with_rules {
            Ticket::update_as(c, &who, ticket.id, &patch, &engine)?;
        } else {
            Ticket::update_as(c, &who, ticket.id, &patch, &NoRules)?;
        }
        Ok(())
    };
    let mut without = std::time::Duration::ZERO;
    let mut with = std::time::Duration::ZERO;
    for n in 0..args.events {
        // Interleaved, so the database's growth weighs on both alike.
        let t = Instant::now();
        change(c, 2 * n, false)?;
        without += t.elapsed();
        let t = Instant::now();
        change(c, 2 * n + 1, true)?;
        with += t.elapsed();
    }
    println!(
        "hookdesk bench-rules: {} enabled rules on ticket.updated, {} events, SQLite",
        args.rules, args.events
    );
    println!(
        "  evaluation alone:          {:8.1} µs per event ({:.2} µs per rule)",
        micros(eval, args.events),
        micros(eval, args.events * args.rules.max(1))
    );
    println!(
        "  ticket change, no engine:  {:8.1} µs per change",
        micros(without, args.events)
    );
    println!(
        "  ticket change, engine:     {:8.1} µs per change",
        micros(with, args.events)
    );
    println!(
        "  the engine's share:        {:8.1} µs per change",
        micros(with.saturating_sub(without), args.events)
    );
    Ok(())
}
