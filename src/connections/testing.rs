//! "Test connection": one `GET` of the connection's base URL with its default headers,
//! authentication and signature, sent at once through the delivery engine's sender and
//! recorded as a delivery with trigger `test` (see `delivery::direct`).

use super::Connection;
use crate::db;
use crate::delivery::direct::{DirectSender, TestReport, send_now};
use crate::delivery::redact::shown_value;
use crate::delivery::{NewDelivery, RequestSnapshot, Trigger};
use crate::error::{Error, Result};
use crate::secrets::SecretBox;
use crate::templating::{Kind, RenderContext, Template};
use crate::tickets::payload::sample_template_values;

/// The test request. Placeholders in the base URL are filled from the built-in sample
/// ticket; secret default headers are stored redacted and filled in by the sender.
pub fn test_delivery(c: &Connection, sb: &SecretBox) -> Result<NewDelivery> {
    let ctx = RenderContext::new(sample_template_values(), chrono::Utc::now());
    let url = Template::parse(
        c.base_url.trim(),
        Kind::Url {
            already_encoded: true,
        },
    )?
    .render(&ctx)?;
    if url.trim().is_empty() {
        return Err(Error::invalid(
            "base_url",
            "is empty: give the connection a base URL to test",
        ));
    }
    let headers = c
        .resolved_headers(sb)?
        .into_iter()
        .map(|h| {
            let v = shown_value(&h.name, h.value.expose(), h.secret);
            (h.name, v)
        })
        .collect();
    Ok(NewDelivery::new(
        Trigger::Test,
        Some(c.id),
        RequestSnapshot {
            method: "GET".into(),
            url,
            headers,
            sealed_headers: None,
            body: String::new(),
            content_type: String::new(),
        },
    ))
}

/// "Test connection" end to end: build, send now, record (with an audit entry), report.
pub async fn run(direct: &DirectSender, id: i64, actor: crate::audit::Actor) -> Result<TestReport> {
    let sb = direct.secrets.clone();
    let new = db::run(&direct.pool, move |c| {
        let conn = Connection::get(c, id)?;
        let new = test_delivery(&conn, &sb)?;
        crate::audit::record(
            c,
            &actor,
            "connection.test",
            &conn.name,
            crate::audit::SUCCESS,
            &format!("GET {}", new.request.url),
        )?;
        Ok(new)
    })
    .await?;
    let sent = send_now(direct, new).await?;
    Ok(TestReport::new(&sent, Vec::new()))
}
