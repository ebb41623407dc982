//! The dashboard's getting-started checklist: the five steps from an empty installation
//! to a first webhook fired from a ticket, each ticked from what the database holds (not
//! from clicks), so it stays true whoever did the step and however.

use diesel::dsl::{count_star, exists};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::{
    audit_log, connections, deliveries, rules, tickets, webhook_roles, webhooks,
};
use crate::db::{DbConn, settings};
use crate::error::Result;

/// The `settings` row an administrator sets to hide the checklist for everyone.
pub const DISMISSED: &str = "getting_started_dismissed";

/// One step: what to do, where to do it, whether it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub done: bool,
}

/// The checklist as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct Checklist {
    pub steps: Vec<Step>,
    /// No tickets yet: the page offers the demo data.
    pub no_tickets: bool,
}

impl Checklist {
    /// The steps for `user_id` (the password step is theirs); `None` once every step is
    /// done or an administrator dismissed the list.
    pub fn load(conn: &mut DbConn, user_id: i64) -> Result<Option<Checklist>> {
        if settings::get(conn, DISMISSED)?.is_some_and(|v| v == "1") {
            return Ok(None);
        }
        let password_changed: bool = diesel::select(exists(
            audit_log::table
                .filter(audit_log::actor_id.eq(user_id))
                .filter(audit_log::action.eq("user.password_change"))
                .filter(audit_log::outcome.eq(audit::SUCCESS)),
        ))
        .get_result(conn)?;
        let any_connection: bool =
            diesel::select(exists(connections::table.select(connections::id))).get_result(conn)?;
        let any_webhook: bool =
            diesel::select(exists(webhooks::table.select(webhooks::id))).get_result(conn)?;
        let test_sent = has_delivery(conn, &["test"])?;
        let granted: bool = diesel::select(exists(
            webhook_roles::table.select(webhook_roles::webhook_id),
        ))
        .get_result(conn)?
            || diesel::select(exists(rules::table.select(rules::id))).get_result(conn)?;
        // A rule's delivery also came from a ticket: it counts for whoever took that road.
        let fired = has_delivery(conn, &["manual", "rule"])?;
        let tickets: i64 = tickets::table.select(count_star()).get_result(conn)?;
        let steps = vec![
            Step {
                id: "password",
                label: "Change your password",
                href: "/account",
                done: password_changed,
            },
            Step {
                id: "connection",
                label: "Create a connection (where requests go)",
                href: "/admin/connections/new",
                done: any_connection,
            },
            Step {
                id: "webhook",
                label: "Create a webhook and test-send it",
                href: "/admin/webhooks/new",
                done: any_webhook && test_sent,
            },
            Step {
                id: "grant",
                label: "Grant the webhook to a role, or make a trigger rule",
                href: "/admin/roles",
                done: granted,
            },
            Step {
                id: "fire",
                label: "Fire it from a ticket",
                href: "/tickets",
                done: fired,
            },
        ];
        if steps.iter().all(|s| s.done) {
            return Ok(None);
        }
        Ok(Some(Checklist {
            steps,
            no_tickets: tickets == 0,
        }))
    }

    pub fn done_count(&self) -> usize {
        self.steps.iter().filter(|s| s.done).count()
    }
}

fn has_delivery(conn: &mut DbConn, triggers: &[&str]) -> Result<bool> {
    Ok(diesel::select(exists(
        deliveries::table
            .filter(deliveries::trigger.eq_any(triggers))
            .select(deliveries::id),
    ))
    .get_result(conn)?)
}

/// Hides the checklist for every administrator (audited).
pub fn dismiss(conn: &mut DbConn, actor: &Actor) -> Result<()> {
    crate::db::write(conn, |c| {
        settings::put(c, DISMISSED, "1")?;
        audit::record(
            c,
            actor,
            "getting_started.dismiss",
            "dashboard",
            audit::SUCCESS,
            "",
        )
    })
}
