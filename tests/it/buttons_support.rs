//! Set-up shared by the tests of firing webhooks from a ticket: an app whose worker may
//! send to loopback receivers, a "Send to vendor" webhook granted to one role, tickets,
//! tokens, and what the audit log and the queue hold.

use diesel::prelude::*;
use hookdesk::audit::AuditEntry;
use hookdesk::auth::roles::{Role, RoleInput};
use hookdesk::db::schema::{audit_log, deliveries};
use hookdesk::tickets::{ChangeActor, Ticket, TicketInput};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{slack_connection, ticket_with_forms, webhook_form};

/// The app with its worker, allowed to send to loopback receivers, polling often, and
/// a retry schedule whose second attempt is a minute away (so "retrying" stays put).
pub async fn buttons_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
        c.worker_poll_ms = 100;
        c.retry_schedule = vec!["0s".into(), "60s".into()];
    })
    .await
}

pub const ROLE: &str = "Vendor desk";

/// What a test works with: a ticket, the "Send to vendor" webhook and its receiver.
pub struct Setup {
    pub rx: Receiver,
    pub ticket: Ticket,
    pub webhook: i64,
}

/// Signs the admin in, makes the `Vendor desk` role, a connection to a receiver
/// answering `reply`, an Incident, and "Send to vendor": Incidents only, not Closed
/// ones, granted to `Vendor desk`, with an editable `customer_ref` and a read-only
/// multi-line `note`.
pub async fn setup(app: &TestApp, reply: Reply) -> Setup {
    app.login_admin().await;
    app.with_conn(|c| {
        Role::create(
            c,
            &hookdesk::audit::Actor::system("test"),
            &RoleInput {
                name: ROLE.into(),
                description: "Talks to the vendor".into(),
            },
        )
        .unwrap()
    });
    let rx = Receiver::start(reply).await;
    let conn = slack_connection(app, &rx.url("/vendor")).await;
    let ticket = ticket_with_forms(app);
    let webhook = create_webhook(
        app,
        conn,
        &[
            ("name", "Send to vendor"),
            ("roles", ROLE),
            ("show_as_button", "on"),
            (
                "action_description",
                "Sent {{ticket.displayid}} to the vendor as {{param.customer_ref}}",
            ),
            ("cond_field", "ticket.status"),
            ("cond_operator", "not_equals"),
            ("cond_value", "Closed"),
        ],
    )
    .await;
    Setup {
        rx,
        ticket,
        webhook,
    }
}

/// Saves a webhook through the admin page (the admin is signed in); returns its id.
pub async fn create_webhook(app: &TestApp, conn: i64, changes: &[(&str, &str)]) -> i64 {
    let form = webhook_form(conn, changes);
    let resp = crate::webhooks::post(app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    resp.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/admin/webhooks/")
        .parse()
        .unwrap()
}

/// A ticket without forms.
pub fn plain_ticket(app: &TestApp, ticket_type: &str, status: &str) -> Ticket {
    app.with_conn(|c| {
        Ticket::create_as(
            c,
            &ChangeActor::system("test"),
            &TicketInput {
                ticket_type: ticket_type.into(),
                subject: format!("A {ticket_type} ticket"),
                status: status.into(),
                priority: "P3".into(),
                ..TicketInput::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
    })
}

pub fn delivery_count(app: &TestApp) -> i64 {
    app.with_conn(|c| deliveries::table.count().get_result(c).unwrap())
}

/// Audit rows of manual firing, oldest first: (actor, outcome, target, detail).
pub fn fire_audits(app: &TestApp) -> Vec<(String, String, String, String)> {
    app.with_conn(|c| {
        audit_log::table
            .filter(audit_log::action.eq("webhook.fire"))
            .order(audit_log::id.asc())
            .select(AuditEntry::as_select())
            .load(c)
            .unwrap()
            .into_iter()
            .map(|a| (a.actor_name, a.outcome, a.target, a.detail))
            .collect()
    })
}

pub fn token(app: &TestApp, username: &str) -> String {
    use hookdesk::auth::User;
    use hookdesk::auth::tokens::ApiToken;
    app.with_conn(|c| {
        let u = User::find_by_username(c, username).unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

pub async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sets the webhook's status to Disabled through its page (the admin is signed in).
pub async fn disable(app: &TestApp, webhook: i64) {
    let conn_id = app.with_conn(|c| {
        hookdesk::webhooks::store::get(c, webhook)
            .unwrap()
            .connection_id
            .unwrap()
    });
    let form = webhook_form(
        conn_id,
        &[
            ("name", "Send to vendor"),
            ("roles", ROLE),
            ("status", "disabled"),
        ],
    );
    let resp = crate::webhooks::post(app, &format!("/admin/webhooks/{webhook}"), &form).await;
    assert_eq!(resp.status(), 303);
}

/// Fires webhook `w` on ticket `t` through the API as the token's user, with
/// `customer_ref` for the prompt; the answer's status.
pub async fn fire_as(app: &TestApp, token: &str, t: &str, w: i64, customer_ref: &str) -> u16 {
    let params = std::collections::BTreeMap::from([("customer_ref", customer_ref)]);
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{t}/webhooks/{w}/fire")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "params": params }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
