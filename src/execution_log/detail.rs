//! One delivery as its page shows it: the row the log lists, the request as stored
//! (secret header values were never stored in clear: they read `••••`), and every
//! attempt with what came back, bodies pretty-printed when they are JSON.

use chrono::NaiveDateTime;

use super::filter::LogQuery;
use super::query::{LogRow, page};
use crate::db::DbConn;
use crate::delivery::queue::Delivery;
use crate::delivery::records::AttemptRecord;
use crate::error::{Error, Result};

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptDetail {
    pub number: i32,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub request_headers: Vec<(String, String)>,
    pub response_status: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    pub response_truncated: bool,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    /// What response processing did with the answer.
    pub note: Option<String>,
    pub worker: String,
}

impl AttemptDetail {
    /// The Standard Webhooks headers this attempt carried.
    pub fn signature_headers(&self) -> Vec<&(String, String)> {
        self.request_headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("webhook-"))
            .collect()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryDetail {
    pub row: LogRow,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub content_type: String,
    pub attempts: Vec<AttemptDetail>,
    /// Still pending: it can be cancelled.
    pub cancellable: bool,
}

/// JSON bodies indented; anything else as it is.
pub fn pretty(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if body.trim_start().starts_with(['{', '[']) => {
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_string())
        }
        _ => body.to_string(),
    }
}

/// By number (`42`) or by `webhook-id` (`msg_…`).
pub fn load(conn: &mut DbConn, key: &str) -> Result<DeliveryDetail> {
    let d = match key.trim().parse::<i64>() {
        Ok(id) => Delivery::get(conn, id)?,
        Err(_) => Delivery::find_by_uid(conn, key.trim())?
            .ok_or_else(|| Error::NotFound(format!("delivery {key}")))?,
    };
    let f = LogQuery {
        id: d.id.to_string(),
        ..LogQuery::default()
    }
    .check(crate::db::now())?;
    let row = page(conn, &f)?
        .items
        .pop()
        .ok_or_else(|| Error::NotFound(format!("delivery {key}")))?;
    let attempts = AttemptRecord::for_delivery(conn, d.id)?
        .into_iter()
        .map(|a| AttemptDetail {
            request_headers: a.request_header_list(),
            response_headers: a.response_header_list(),
            response_body: pretty(&a.response_body),
            number: a.number,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            response_status: a.response_status,
            response_truncated: a.response_truncated,
            error_class: a.error_class,
            error_message: a.error_message,
            note: a.note,
            worker: a.worker,
        })
        .collect();
    Ok(DeliveryDetail {
        cancellable: d.status == "pending",
        headers: d.header_list(),
        body: pretty(&d.body),
        method: d.method,
        url: d.url,
        content_type: d.content_type,
        row,
        attempts,
    })
}
