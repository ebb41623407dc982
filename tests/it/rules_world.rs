//! The world the trigger-rule and execution-log tests share: an app whose own worker
//! may send to loopback, a receiver, a connection to it, a JSON webhook, tokens for an
//! administrator, a technician and an integration, and helpers to drive them through the
//! API as a real client would.

use std::time::Duration;

use diesel::prelude::*;
use hookdesk::db::schema::{deliveries, ticket_history};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::receiver::{Receiver, Reply};
use crate::tickets_api::{api, token_for};
use crate::webhooks_support::create_connection;

/// An app whose worker may send to loopback receivers.
pub async fn loopback_worker_app(b: Backend) -> Option<TestApp> {
    spawn_app_with(b, |c| {
        c.allowed_networks = vec!["127.0.0.1/32".into()];
    })
    .await
}

/// (id, ticket, trigger, rule, event) of a delivery.
pub type DeliveryCause = (i64, Option<i64>, String, Option<i64>, Option<i64>);

/// An app, a receiver, a connection to it and a JSON webhook, with tokens for an
/// administrator, a technician and an integration.
pub struct World {
    pub app: TestApp,
    pub rx: Receiver,
    pub admin: String,
    pub tech: String,
    pub integration: String,
    pub connection: i64,
    pub webhook: i64,
}

pub async fn world(app: TestApp) -> World {
    let rx = Receiver::start(Reply::Status(200)).await;
    app.login_admin().await;
    let connection = create_connection(&app, "Vendor", "generic", &rx.url(""), "tok-1").await;
    let admin = token_for(&app, "boss", &["Administrator"], false);
    let tech = token_for(&app, "tess", &["Technician"], false);
    let integration = token_for(&app, "servicenow", &["Technician"], true);
    let mut w = World {
        app,
        rx,
        admin,
        tech,
        integration,
        connection,
        webhook: 0,
    };
    w.webhook = w.webhook("Send to vendor", "/hook").await;
    w
}

impl World {
    pub async fn call(&self, token: &str, m: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, v) = api(&self.app, m, token, path, Some(body)).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }

    pub async fn webhook(&self, name: &str, url: &str) -> i64 {
        let v = self
            .call(
                &self.admin,
                reqwest::Method::POST,
                "/api/v1/webhooks",
                json!({
                    "name": name,
                    "connection_id": self.connection,
                    "url": url,
                    "method": "POST",
                    "request_content_type": "json",
                    "body_template": r#"{"ticket": "{{ticket.displayid}}", "priority": "{{ticket.priority}}", "event": "{{event.type}}", "by": "{{actor.name}}"}"#,
                    "action_description": "Sent {{ticket.displayid}} to the vendor",
                    "roles": ["Technician"]
                }),
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    pub async fn rule(&self, body: Value) -> i64 {
        let v = self
            .call(&self.admin, reqwest::Method::POST, "/api/v1/rules", body)
            .await;
        v["id"].as_i64().unwrap()
    }

    pub async fn ticket(&self, token: &str, ticket_type: &str, subject: &str) -> i64 {
        let v = self
            .call(
                token,
                reqwest::Method::POST,
                "/api/v1/tickets",
                json!({"type": ticket_type, "subject": subject, "priority": "P3"}),
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    pub async fn patch(&self, token: &str, id: i64, body: Value) -> Value {
        self.call(
            token,
            reqwest::Method::PATCH,
            &format!("/api/v1/tickets/{id}"),
            body,
        )
        .await
    }

    pub fn deliveries(&self) -> Vec<DeliveryCause> {
        self.app.with_conn(|c| {
            deliveries::table
                .order(deliveries::id.asc())
                .select((
                    deliveries::id,
                    deliveries::ticket_id,
                    deliveries::trigger,
                    deliveries::rule_id,
                    deliveries::event_id,
                ))
                .load(c)
                .unwrap()
        })
    }

    /// History lines of a ticket as (kind, actor, body), oldest first.
    pub fn history(&self, ticket: i64) -> Vec<(String, String, String)> {
        self.app.with_conn(|c| {
            ticket_history::table
                .filter(ticket_history::ticket_id.eq(ticket))
                .order(ticket_history::id.asc())
                .select((
                    ticket_history::kind,
                    ticket_history::actor_name,
                    ticket_history::body,
                ))
                .load(c)
                .unwrap()
        })
    }

    /// Waits until `n` requests arrived, then a little longer to see that no more come.
    pub async fn exactly(&self, n: usize) -> Vec<Value> {
        if n > 0 {
            self.rx.wait_for(n).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let got = self.rx.received();
        assert_eq!(
            got.len(),
            n,
            "{:?}",
            got.iter()
                .map(|r| String::from_utf8_lossy(&r.body).to_string())
                .collect::<Vec<_>>()
        );
        got.iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

pub fn send_rule(name: &str, webhook: i64, conditions: Value) -> Value {
    json!({
        "name": name,
        "events": ["ticket.updated"],
        "conditions": conditions,
        "actions": [{"kind": "execute_webhook", "webhook_id": webhook}]
    })
}

pub fn note_rule(name: &str, events: Value, text: &str, stop: bool) -> Value {
    json!({
        "name": name,
        "events": events,
        "actions": [{"kind": "add_note", "text": text, "internal": true}],
        "stop_processing": stop
    })
}
