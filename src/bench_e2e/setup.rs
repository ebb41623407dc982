//! Everything the bench needs, configured through the JSON API as an administrator would
//! script it: connections with bearer authentication and a signing secret, webhooks
//! whose JSON body uses ticket fields and a form field, trigger rules on
//! `ticket.updated`, tickets with a custom form filled in. (Forms, users and tokens have
//! no JSON API; `hookdesk demo` and `hookdesk token create` make those beforehand.)

use serde_json::{Value, json};

use super::receiver::Receiver;

/// The bearer token the receiver expects from every Hookdesk connection.
pub const BEARER: &str = "bench-e2e-bearer-token";

/// A small JSON API client.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One call; an answer other than `want` is an error naming the call and the body.
    pub async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let mut rb = self
            .client
            .request(method.clone(), self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        anyhow::ensure!(status == want, "{method} {path}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let want = if path.ends_with("/signing-secret") {
            200
        } else {
            201
        };
        self.call(token, reqwest::Method::POST, path, Some(body), want)
            .await
    }

    pub async fn get(&self, token: &str, path: &str) -> anyhow::Result<Value> {
        self.call(token, reqwest::Method::GET, path, None, 200)
            .await
    }
}

fn id_of(v: &Value) -> anyhow::Result<i64> {
    v["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no id in {v}"))
}

/// What the runs use.
pub struct World {
    /// Administrator's token: configuration and the execution log.
    pub admin: String,
    /// Technician's token: ticket changes and firing.
    pub tech: String,
    /// The signing secret every connection shares.
    pub secret: String,
    /// The healthy connection `a`'s webhook, fired by hand and by `rule_a`.
    pub webhook_a: i64,
    /// A second healthy connection `b` (the noisy neighbour's baseline).
    pub webhook_b: i64,
    /// The connection to the receiver that never answers.
    pub webhook_hung: i64,
    pub rule_a: i64,
    pub rule_b: i64,
    pub rule_hung: i64,
    /// Display ids of the tickets the runs work on.
    pub tickets: Vec<String>,
}

/// The body: several ticket fields, a custom form field, the event, and the stamp the
/// bench follows the request by (a parameter: the technician types it when firing; a
/// rule takes its default, the ticket's description, which the bench's PATCH sets).
const BODY: &str = r#"{
  "ticket": "{{ticket.displayid}}",
  "subject": "{{ticket.subject}}",
  "status": "{{ticket.status}}",
  "priority": "{{ticket.priority}}",
  "assignee": "{{ticket.assignee}}",
  "requester": "{{ticket.requestername}}",
  "serial": "{{ticket.inventory.serialnumber}}",
  "location": "{{ticket.inventory.location}}",
  "event": "{{event.type}}",
  "actor": "{{actor.name}}",
  "at": "{{now}}",
  "stamp": "{{param.stamp}}"
}"#;

async fn connection(api: &Api, admin: &str, name: &str, base_url: &str) -> anyhow::Result<i64> {
    let c = api
        .post(
            admin,
            "/api/v1/connections",
            json!({
                "name": name,
                "base_url": base_url,
                "auth_kind": "bearer",
                "auth_secret": BEARER,
            }),
        )
        .await?;
    id_of(&c)
}

async fn webhook(api: &Api, admin: &str, name: &str, connection: i64) -> anyhow::Result<i64> {
    let w = api
        .post(
            admin,
            "/api/v1/webhooks",
            json!({
                "name": name,
                "connection_id": connection,
                "ticket_types": ["Incident"],
                "method": "POST",
                "url": "hook",
                "request_content_type": "json",
                "body_template": BODY,
                "show_as_button": true,
                "action_description": "Sent {{ticket.displayid}} to {{webhook.name}}",
                "parameters": [{
                    "name": "stamp",
                    "label": "Stamp",
                    "default_template": "{{ticket.description}}",
                    "read_only": false,
                    "multi_line": false,
                }],
                "roles": [crate::auth::TECHNICIAN],
            }),
        )
        .await?;
    id_of(&w)
}

async fn rule(
    api: &Api,
    admin: &str,
    name: &str,
    webhook: i64,
    enabled: bool,
) -> anyhow::Result<i64> {
    let r = api
        .post(
            admin,
            "/api/v1/rules",
            json!({
                "name": name,
                "enabled": enabled,
                "events": ["ticket.updated"],
                "conditions": [{"field": "ticket.type", "operator": "equals", "value": "Incident"}],
                "actions": [{"kind": "execute_webhook", "webhook_id": webhook}],
            }),
        )
        .await?;
    id_of(&r)
}

/// Connections `a` and `b` to the receiver's healthy paths and one to its hung
/// listener, one webhook and one rule each (only `a`'s rule enabled), and `tickets`
/// Incidents with their Inventory form filled in.
pub async fn configure(
    api: &Api,
    rx: &Receiver,
    admin: String,
    tech: String,
    tickets: usize,
) -> anyhow::Result<World> {
    let a = connection(api, &admin, "Bench receiver A", &rx.url("/a/")).await?;
    let secret = api
        .post(
            &admin,
            &format!("/api/v1/connections/{a}/signing-secret"),
            json!({}),
        )
        .await?["signing_secret"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no signing secret in the answer"))?
        .to_owned();
    let b = connection(api, &admin, "Bench receiver B", &rx.url("/b/")).await?;
    let hung_url = format!("http://127.0.0.1:{}/", rx.hung_port);
    let hung = connection(api, &admin, "Bench receiver that hangs", &hung_url).await?;
    // One secret for all, so the receiver verifies every request with one key.
    for c in [b, hung] {
        api.call(
            &admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/connections/{c}"),
            Some(json!({"signing_secret": secret})),
            200,
        )
        .await?;
    }
    let webhook_a = webhook(api, &admin, "Bench to A", a).await?;
    let webhook_b = webhook(api, &admin, "Bench to B", b).await?;
    let webhook_hung = webhook(api, &admin, "Bench to the hung receiver", hung).await?;
    let rule_a = rule(api, &admin, "Bench: updates to A", webhook_a, true).await?;
    let rule_b = rule(api, &admin, "Bench: updates to B", webhook_b, false).await?;
    let rule_hung = rule(
        api,
        &admin,
        "Bench: updates to the hung",
        webhook_hung,
        false,
    )
    .await?;

    let mut keys = Vec::with_capacity(tickets);
    for i in 0..tickets {
        let t = api
            .post(
                &tech,
                "/api/v1/tickets",
                json!({
                    "type": "Incident",
                    "subject": format!("Bench ticket {i}: mail server unreachable"),
                    "description": "created",
                    "priority": "P2",
                    "assignee": "tech",
                    "requester_name": "Ana Souza",
                    "requester_email": "ana.souza@example.com",
                    "forms": {"Inventory": {"serialnumber": format!("SN-{}", 9000 + i), "location": "LON"}},
                }),
            )
            .await?;
        let key = t["displayid"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no displayid in {t}"))?;
        keys.push(key.to_owned());
    }
    Ok(World {
        admin,
        tech,
        secret,
        webhook_a,
        webhook_b,
        webhook_hung,
        rule_a,
        rule_b,
        rule_hung,
        tickets: keys,
    })
}

/// Switches a rule on or off.
pub async fn set_rule(api: &Api, w: &World, rule: i64, enabled: bool) -> anyhow::Result<()> {
    api.call(
        &w.admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/rules/{rule}"),
        Some(json!({"enabled": enabled})),
        200,
    )
    .await?;
    Ok(())
}
