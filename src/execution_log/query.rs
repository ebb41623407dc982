//! One page of the execution log: the deliveries a filter selects, newest first, by
//! keyset (`id < before`, never OFFSET, so page 1,000 costs what page 1 does), with the
//! names the page shows (webhook, connection, ticket, rule, event) fetched for the page's
//! rows only, a handful of queries whatever the page size.
//!
//! Indexes (migration 000008) and the filter each serves: `(webhook_id, id)`,
//! `(connection_id, id)`, `(ticket_id, id)`, `(rule_id, id)`, `(status, id)`,
//! `(trigger, id)` — each an equality then the keyset order; `created_at` for the date
//! range; `uid` (unique) for a `msg_…` id. Error text and HTTP status are checked on the
//! rows the other filters leave.
//!
//! A batch's row names its first occurrence's ticket and rule; `delivery_tickets` and
//! `delivery_rules` hold the others it carries (indexed `(ticket_id, delivery_id)`,
//! `(rule_id, delivery_id)`). A ticket or rule that some batch carries that way is
//! looked for in both ([`in_batches`]); one that none does — every one, where no webhook
//! batches — keeps the single index seek above.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::filter::{HttpStatus, LogFilter};
use crate::db::schema::{
    connections, deliveries, delivery_attempts, delivery_rules, delivery_tickets, events, rules,
    tickets, webhooks,
};
use crate::db::{DbConn, escape_like, lower};
use crate::delivery::queue::Stage;
use crate::error::Result;

/// One delivery as the log lists it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogRow {
    pub id: i64,
    /// The `webhook-id` every attempt carries.
    pub uid: String,
    pub created_at: NaiveDateTime,
    pub webhook_id: Option<i64>,
    /// Empty when the delivery had no webhook (a connection test) or it was deleted.
    pub webhook: String,
    pub connection_id: Option<i64>,
    pub connection: String,
    pub ticket_id: Option<i64>,
    /// The ticket's display id (empty when it was deleted).
    pub ticket: String,
    /// `rule`, `manual`, `test` or `replay`.
    pub trigger: String,
    /// What fired it, in words: "rule “P1 to Slack” on ticket.status_changed",
    /// "manual by Ana", "replay of #12 by admin", "test by admin".
    pub cause: String,
    pub rule_id: Option<i64>,
    pub replay_of: Option<i64>,
    #[schema(value_type = String)]
    pub status: Stage,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_status: Option<i32>,
    /// Duration of the last attempt.
    pub duration_ms: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due, while one is.
    pub next_attempt_at: Option<NaiveDateTime>,
    /// Why a `held` delivery waits (its connection is paused, and by whom or what).
    pub held_reason: Option<String>,
    /// Occurrences batched into this delivery.
    pub batch_count: i32,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<LogRow>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_cursor: Option<i64>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct Raw {
    id: i64,
    uid: String,
    webhook_id: Option<i64>,
    connection_id: Option<i64>,
    ticket_id: Option<i64>,
    event_id: Option<i64>,
    trigger: String,
    replay_of: Option<i64>,
    status: String,
    attempts: i32,
    max_attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_status: Option<i32>,
    last_error: Option<String>,
    batch_count: i32,
    created_at: NaiveDateTime,
    rule_id: Option<i64>,
    actor_name: String,
}

/// The deliveries `f` selects, as a boxed query (`carried`: the resolved ticket and rule
/// filters). A macro, not a function: the boxed query's type over the multi-backend
/// connection is not worth naming, and the page and the counts must apply exactly the
/// same filters.
macro_rules! filtered {
    ($f:expr, $carried:expr, $held:expr) => {{
        let f: &LogFilter = $f;
        let carried: &Filters = $carried;
        let held: &[i64] = $held;
        let mut q = deliveries::table.into_boxed();
        match carried.ticket {
            Some(Carried {
                id,
                in_batches: false,
            }) => q = q.filter(deliveries::ticket_id.eq(id)),
            Some(c) => q = q.filter(in_batches("ticket_id", "delivery_tickets", c.id, f.before)),
            None => {}
        }
        match carried.rule {
            Some(Carried {
                id,
                in_batches: false,
            }) => q = q.filter(deliveries::rule_id.eq(id)),
            Some(c) => q = q.filter(in_batches("rule_id", "delivery_rules", c.id, f.before)),
            None => {}
        }
        if let Some(from) = f.from {
            q = q.filter(deliveries::created_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(deliveries::created_at.lt(to));
        }
        if let Some(t) = f.settled_by {
            q = q.filter(deliveries::completed_at.le(t));
        }
        if let Some(w) = f.webhook {
            q = q.filter(deliveries::webhook_id.eq(w));
        }
        if let Some(c) = f.connection {
            q = q.filter(deliveries::connection_id.eq(c));
        }
        if let Some(t) = f.cause {
            q = q.filter(deliveries::trigger.eq(t.as_str()));
        }
        if !f.statuses.is_empty() {
            let mut raw: Vec<&str> = Vec::new();
            for s in &f.statuses {
                let r = match s {
                    Stage::Queued | Stage::Retrying | Stage::Held => "pending",
                    Stage::Sending => "in_flight",
                    Stage::Delivered => "succeeded",
                    Stage::Failed => "failed",
                    Stage::Cancelled => "cancelled",
                };
                if !raw.contains(&r) {
                    raw.push(r);
                }
            }
            q = q.filter(deliveries::status.eq_any(raw));
            // "Queued", "retrying" and "held" are all `pending`: when not all three are
            // asked for, the others' pending rows go.
            if let Some(sql) = pending_stages(&f.statuses, held) {
                q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&sql));
            }
        }
        match f.http {
            Some(HttpStatus::Exact(n)) => q = q.filter(deliveries::last_status.eq(n)),
            Some(HttpStatus::Class(c)) => {
                q = q.filter(deliveries::last_status.between(c * 100, c * 100 + 99));
            }
            None => {}
        }
        if let Some(e) = &f.error {
            let pat = format!("%{}%", escape_like(&e.to_lowercase()));
            q = q.filter(
                lower(deliveries::last_error.assume_not_null())
                    .like(pat)
                    .escape('\\'),
            );
        }
        if let Some(id) = &f.id {
            q = match id.parse::<i64>() {
                Ok(n) => q.filter(deliveries::id.eq(n)),
                Err(_) => q.filter(deliveries::uid.eq(id)),
            };
        }
        if let Some(b) = f.before {
            q = q.filter(deliveries::id.lt(b));
        }
        q
    }};
}

/// Which `pending` rows the asked-for stages keep, as SQL (`None`: all of them). Held
/// rows are those of a paused connection (`held`: integer ids we read, never user text,
/// so listing them inline is safe); queued and retrying ones are the others, told apart
/// by whether an attempt was made.
fn pending_stages(stages: &[Stage], held: &[i64]) -> Option<String> {
    let has = |s| stages.contains(&s);
    let (queued, retrying, on_hold) = (has(Stage::Queued), has(Stage::Retrying), has(Stage::Held));
    if queued && retrying && on_hold || !(queued || retrying || on_hold) {
        return None;
    }
    let ids: Vec<String> = held.iter().map(i64::to_string).collect();
    let (is_held, not_held) = if ids.is_empty() {
        ("1 = 0".to_owned(), "1 = 1".to_owned())
    } else {
        let list = ids.join(",");
        (
            format!("connection_id IN ({list})"),
            format!("(connection_id IS NULL OR connection_id NOT IN ({list}))"),
        )
    };
    let mut alts = Vec::new();
    match (queued, retrying) {
        (true, true) => alts.push(not_held),
        (true, false) => alts.push(format!("(attempts = 0 AND {not_held})")),
        (false, true) => alts.push(format!("(attempts > 0 AND {not_held})")),
        (false, false) => {}
    }
    if on_hold {
        alts.push(is_held);
    }
    Some(format!("(status <> 'pending' OR {})", alts.join(" OR ")))
}

/// A ticket or rule filter, resolved.
#[derive(Debug, Clone, Copy)]
struct Carried {
    id: i64,
    /// Some batch carries it besides its row's own (a `delivery_tickets` or
    /// `delivery_rules` row).
    in_batches: bool,
}

/// The filters on what a batch carries: its tickets and its rules.
#[derive(Debug, Clone, Copy, Default)]
struct Filters {
    ticket: Option<Carried>,
    rule: Option<Carried>,
}

type Predicate = Box<
    dyn BoxableExpression<
            deliveries::table,
            <DbConn as diesel::Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        >,
>;

/// The deliveries whose row names `id` in `column` (`ticket_id` or `rule_id`), or that
/// carry it in `carried` (`delivery_tickets` or `delivery_rules`), below the cursor. Both
/// are index seeks (the row's `(column, id)`, the other table's `(column, delivery_id)`)
/// whose union is sorted for the page: the cost is the ticket's or rule's deliveries
/// older than the cursor, not the log's. `ticket_id = ? OR id IN (…)` reads better but
/// has PostgreSQL walk the whole log by id, testing each row against the subquery.
/// Both names are ours, never user text.
fn in_batches(
    column: &'static str,
    carried: &'static str,
    id: i64,
    before: Option<i64>,
) -> Predicate {
    use diesel::sql_types::BigInt;
    let before = before.unwrap_or(i64::MAX);
    Box::new(
        diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "deliveries.id IN (SELECT d.id FROM deliveries d WHERE d.{column} = "
        ))
        .bind::<BigInt, _>(id)
        .sql(" AND d.id < ")
        .bind::<BigInt, _>(before)
        .sql(&format!(
            " UNION ALL SELECT c.delivery_id FROM {carried} c WHERE c.{column} = "
        ))
        .bind::<BigInt, _>(id)
        .sql(" AND c.delivery_id < ")
        .bind::<BigInt, _>(before)
        .sql(")"),
    )
}

/// The ticket and rule filters: a display id is looked up (one naming no ticket is an
/// id no delivery has), and each is checked for batches that carry it.
fn carried(conn: &mut DbConn, f: &LogFilter) -> Result<Filters> {
    let ticket = match &f.ticket {
        None => None,
        Some(t) => {
            let id = match t.parse::<i64>() {
                Ok(n) => n,
                Err(_) => tickets::table
                    .filter(tickets::display_id.eq(t))
                    .select(tickets::id)
                    .first(conn)
                    .optional()?
                    .unwrap_or(-1),
            };
            let in_batches = diesel::select(diesel::dsl::exists(
                delivery_tickets::table.filter(delivery_tickets::ticket_id.eq(id)),
            ))
            .get_result(conn)?;
            Some(Carried { id, in_batches })
        }
    };
    let rule = match f.rule {
        None => None,
        Some(id) => {
            let in_batches = diesel::select(diesel::dsl::exists(
                delivery_rules::table.filter(delivery_rules::rule_id.eq(id)),
            ))
            .get_result(conn)?;
            Some(Carried { id, in_batches })
        }
    };
    Ok(Filters { ticket, rule })
}

/// How many deliveries `f` selects, by connection: read as (id, connection) pairs in
/// keyset chunks, so memory stays small however many there are.
pub fn count_by_connection(conn: &mut DbConn, f: &LogFilter) -> Result<Vec<(Option<i64>, i64)>> {
    let t = carried(conn, f)?;
    let held = crate::delivery::health::paused(conn, crate::db::now())?;
    let mut counts: std::collections::BTreeMap<Option<i64>, i64> = Default::default();
    let mut f = f.clone();
    loop {
        let q = filtered!(&f, &t, &held);
        let chunk: Vec<(i64, Option<i64>)> = q
            .order(deliveries::id.desc())
            .limit(10_000)
            .select((deliveries::id, deliveries::connection_id))
            .load(conn)?;
        for (_, c) in &chunk {
            *counts.entry(*c).or_default() += 1;
        }
        match chunk.last() {
            Some((id, _)) if chunk.len() == 10_000 => f.before = Some(*id),
            _ => return Ok(counts.into_iter().collect()),
        }
    }
}

/// The page `f` selects. A ticket filter naming no ticket selects nothing.
pub fn page(conn: &mut DbConn, f: &LogFilter) -> Result<Page> {
    let t = carried(conn, f)?;
    let held = crate::delivery::health::hold_reasons(conn, crate::db::now())?;
    let ids: Vec<i64> = held.keys().copied().collect();
    let q = filtered!(f, &t, &ids);
    let mut raw: Vec<Raw> = q
        .order(deliveries::id.desc())
        .limit(f.limit + 1)
        .select(Raw::as_select())
        .load(conn)?;
    let next_cursor = if raw.len() as i64 > f.limit {
        raw.truncate(f.limit as usize);
        raw.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Page {
        items: with_names(conn, raw, &held)?,
        next_cursor,
    })
}

/// The distinct ids present.
fn names(ids: impl Iterator<Item = Option<i64>>) -> Vec<i64> {
    let mut v: Vec<i64> = ids.flatten().collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn with_names(
    conn: &mut DbConn,
    raw: Vec<Raw>,
    held: &HashMap<i64, String>,
) -> Result<Vec<LogRow>> {
    let wh: HashMap<i64, String> = webhooks::table
        .filter(webhooks::id.eq_any(names(raw.iter().map(|r| r.webhook_id))))
        .select((webhooks::id, webhooks::name))
        .load(conn)?
        .into_iter()
        .collect();
    let cn: HashMap<i64, String> = connections::table
        .filter(connections::id.eq_any(names(raw.iter().map(|r| r.connection_id))))
        .select((connections::id, connections::name))
        .load(conn)?
        .into_iter()
        .collect();
    let tk: HashMap<i64, String> = tickets::table
        .filter(tickets::id.eq_any(names(raw.iter().map(|r| r.ticket_id))))
        .select((tickets::id, tickets::display_id))
        .load(conn)?
        .into_iter()
        .collect();
    let ru: HashMap<i64, String> = rules::table
        .filter(rules::id.eq_any(names(raw.iter().map(|r| r.rule_id))))
        .select((rules::id, rules::name))
        .load(conn)?
        .into_iter()
        .collect();
    let ev: HashMap<i64, String> = events::table
        .filter(events::id.eq_any(names(raw.iter().map(|r| r.event_id))))
        .select((events::id, events::event_type))
        .load(conn)?
        .into_iter()
        .collect();
    // The last attempt's duration: the highest number per delivery.
    let mut last: HashMap<i64, (i32, i64)> = HashMap::new();
    let durations: Vec<(i64, i32, i64)> = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq_any(raw.iter().map(|r| r.id).collect::<Vec<_>>()))
        .select((
            delivery_attempts::delivery_id,
            delivery_attempts::number,
            delivery_attempts::duration_ms,
        ))
        .load(conn)?;
    for (d, n, ms) in durations {
        let e = last.entry(d).or_insert((n, ms));
        if n >= e.0 {
            *e = (n, ms);
        }
    }
    Ok(raw
        .into_iter()
        .map(|r| {
            let held_reason = (r.status == "pending")
                .then(|| r.connection_id.and_then(|c| held.get(&c).cloned()))
                .flatten();
            let status = Stage::of_held(&r.status, r.attempts, held_reason.is_some());
            let by = |what: &str| {
                if r.actor_name.is_empty() {
                    what.to_string()
                } else {
                    format!("{what} by {}", r.actor_name)
                }
            };
            let cause = match r.trigger.as_str() {
                "rule" => {
                    let name = r
                        .rule_id
                        .and_then(|i| ru.get(&i).cloned())
                        .map_or_else(|| "a deleted rule".to_string(), |n| format!("rule “{n}”"));
                    match r.event_id.and_then(|e| ev.get(&e)) {
                        Some(t) => format!("{name} on {t}"),
                        None => name,
                    }
                }
                "replay" => by(&format!(
                    "replay of #{}",
                    r.replay_of.map(|i| i.to_string()).unwrap_or_default()
                )),
                "manual" => by("manual"),
                other => by(other),
            };
            let cause = if r.batch_count > 1 {
                format!("{cause} (batch of {})", r.batch_count)
            } else {
                cause
            };
            LogRow {
                webhook: r
                    .webhook_id
                    .and_then(|i| wh.get(&i).cloned())
                    .unwrap_or_default(),
                connection: r
                    .connection_id
                    .and_then(|i| cn.get(&i).cloned())
                    .unwrap_or_default(),
                ticket: r
                    .ticket_id
                    .and_then(|i| tk.get(&i).cloned())
                    .unwrap_or_default(),
                duration_ms: last.get(&r.id).map(|x| x.1),
                next_attempt_at: (status.is_open() && status != Stage::Held)
                    .then_some(r.next_attempt_at),
                held_reason,
                cause,
                status,
                id: r.id,
                uid: r.uid,
                created_at: r.created_at,
                webhook_id: r.webhook_id,
                connection_id: r.connection_id,
                ticket_id: r.ticket_id,
                trigger: r.trigger,
                rule_id: r.rule_id,
                replay_of: r.replay_of,
                attempts: r.attempts,
                max_attempts: r.max_attempts,
                last_status: r.last_status,
                last_error: r.last_error,
                batch_count: r.batch_count,
            }
        })
        .collect())
}
