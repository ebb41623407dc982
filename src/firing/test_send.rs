//! Test-send: the request the webhook page previews, for a chosen ticket and parameter
//! values, sent at once through the delivery engine's sender and recorded as a delivery
//! with trigger `test` (see `delivery::direct`). The webhook's response fields and
//! actions are worked out against the answer but never applied: a test changes no ticket.

use std::collections::BTreeMap;

use super::{Cause, Firing};
use crate::db::{self, DbConn};
use crate::delivery::NewDelivery;
use crate::delivery::direct::{DirectSender, Sent, TestReport, send_now};
use crate::error::Result;
use crate::secrets::SecretBox;
use crate::templating::TicketValues;
use crate::webhooks::Webhook;
use crate::webhooks::request::{self, TicketRef, TriggerCtx};
use crate::webhooks::response;

/// A test delivery, ready for `delivery::direct::send_now`, and the ticket's template
/// values (for the dry run of response processing).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub delivery: NewDelivery,
    pub ticket_values: TicketValues,
}

/// Builds the request exactly as the preview shows it. `saved_id` links the delivery to
/// the webhook when the form is a saved one. Parameters are checked as for a real fire
/// (`manual::check_params`): an unknown name or a changed read-only value is refused,
/// naming it, not left out of what is sent.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one of the test-send form's inputs"
)]
pub fn prepare(
    conn: &mut DbConn,
    sb: &SecretBox,
    w: &Webhook,
    saved_id: Option<i64>,
    ticket: TicketRef,
    params: &BTreeMap<String, String>,
    actor_name: &str,
    use_test_connection: bool,
) -> Result<Prepared> {
    let values = request::ticket_values(conn, ticket)?;
    let now = chrono::Utc::now();
    super::manual::check_params(w, params, &values, actor_name, now)?;
    let firing = Firing {
        webhook: w,
        webhook_id: saved_id.map(crate::ids::WebhookId),
        ticket,
        values: Some(&values),
        params,
        actor_name: Some(actor_name.to_string()),
        actor_id: None,
        cause: Cause::Test,
        use_test_connection,
        by: None,
    };
    // A test is sent once, now: it keeps no retry policy (the direct sender makes one
    // attempt whatever the schedule says).
    let delivery = super::render(conn, sb, &firing, &[], now)?.delivery;
    Ok(Prepared {
        delivery,
        ticket_values: values,
    })
}

/// What the webhook's response fields and actions would do with the answer; empty when
/// it has none or the answer was not 2xx.
pub fn dry_run(w: &Webhook, values: TicketValues, actor_name: &str, sent: &Sent) -> Vec<String> {
    if !sent.attempt.succeeded() {
        return Vec::new();
    }
    // A test has no event; `{{actor.name}}` is who sent it, as in the request.
    let trigger = TriggerCtx {
        actor_name: Some(actor_name.to_string()),
        ..TriggerCtx::default()
    };
    response::plan(
        w,
        values,
        &trigger,
        &sent.attempt.response_body,
        sent.attempt.truncated,
        chrono::Utc::now(),
    )
    .lines
}

/// What the person asked for on the page or in the API.
#[derive(Debug, Clone, Default)]
pub struct TestSendRequest {
    /// `IN12`, `42`, or empty for the built-in sample ticket.
    pub ticket: String,
    pub params: BTreeMap<String, String>,
    pub use_test_connection: bool,
    /// `{{actor.name}}`: the display name of who pressed the button.
    pub actor_name: String,
}

/// The whole test-send: resolve the ticket, build, send now, record (with an audit
/// entry) and report, including the dry run of response processing.
pub async fn run(
    direct: &DirectSender,
    w: Webhook,
    saved_id: Option<i64>,
    ask: TestSendRequest,
    audit_actor: crate::audit::Actor,
) -> Result<TestReport> {
    let sb = direct.secrets.clone();
    let actor_name = ask.actor_name.clone();
    let (prepared, w) = db::run(&direct.pool, move |c| {
        let ticket = request::resolve_ticket(c, &ask.ticket)?;
        let p = prepare(
            c,
            &sb,
            &w,
            saved_id,
            ticket,
            &ask.params,
            &ask.actor_name,
            ask.use_test_connection,
        )?;
        crate::audit::record(
            c,
            &audit_actor,
            "webhook.test_send",
            &w.name,
            crate::audit::SUCCESS,
            &format!("to {}", p.delivery.request.url),
        )?;
        Ok((p, w))
    })
    .await?;
    let sent = send_now(direct, prepared.delivery).await?;
    let lines = dry_run(&w, prepared.ticket_values, &actor_name, &sent);
    Ok(TestReport::new(&sent, lines))
}
