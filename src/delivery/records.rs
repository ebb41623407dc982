//! The record of every attempt: what was sent (secrets redacted), what came back (body
//! capped) or why nothing did, how long it took and which worker sent it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::queue::encode_headers;
use crate::db::DbConn;
use crate::db::schema::delivery_attempts;
use crate::error::Result;

/// An attempt to store; its number is fixed when the claim is finished.
#[derive(Debug, Clone, Default)]
pub struct NewAttempt {
    pub number: i32,
    pub trigger: String,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub request_method: String,
    pub request_url: String,
    /// Every header sent, secret values already redacted.
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub response_status: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    /// At most the sender's cap; bytes that are not UTF-8 are replaced.
    pub response_body: String,
    pub response_truncated: bool,
    /// `dns`, `connect`, `tls`, `timeout`, `too_large`, `refused_by_policy`, `redirect`,
    /// `http`, or `None` on success.
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub worker: String,
    /// Anything else worth showing (e.g. why the retry policy gave up).
    pub note: Option<String>,
}

impl NewAttempt {
    pub(super) fn insert(&self, conn: &mut DbConn, delivery_id: i64) -> Result<()> {
        diesel::insert_into(delivery_attempts::table)
            .values((
                delivery_attempts::delivery_id.eq(delivery_id),
                delivery_attempts::number.eq(self.number),
                delivery_attempts::trigger.eq(&self.trigger),
                delivery_attempts::started_at.eq(self.started_at),
                delivery_attempts::duration_ms.eq(self.duration_ms),
                delivery_attempts::request_method.eq(&self.request_method),
                delivery_attempts::request_url.eq(&self.request_url),
                delivery_attempts::request_headers.eq(encode_headers(&self.request_headers)),
                delivery_attempts::request_body.eq(&self.request_body),
                delivery_attempts::response_status.eq(self.response_status),
                delivery_attempts::response_headers.eq(encode_headers(&self.response_headers)),
                delivery_attempts::response_body.eq(&self.response_body),
                delivery_attempts::response_truncated.eq(self.response_truncated),
                delivery_attempts::error_class.eq(&self.error_class),
                delivery_attempts::error_message.eq(&self.error_message),
                delivery_attempts::worker.eq(&self.worker),
                delivery_attempts::note.eq(&self.note),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// One stored attempt.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = delivery_attempts)]
pub struct AttemptRecord {
    pub id: i64,
    pub delivery_id: i64,
    pub number: i32,
    pub trigger: String,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub request_method: String,
    pub request_url: String,
    pub request_headers: String,
    pub request_body: String,
    pub response_status: Option<i32>,
    pub response_headers: String,
    pub response_body: String,
    pub response_truncated: bool,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub worker: String,
    pub note: Option<String>,
}

impl AttemptRecord {
    /// A delivery's attempts, first to last.
    pub fn for_delivery(conn: &mut DbConn, delivery_id: i64) -> Result<Vec<AttemptRecord>> {
        Ok(delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq(delivery_id))
            .order((delivery_attempts::number, delivery_attempts::id))
            .select(AttemptRecord::as_select())
            .load(conn)?)
    }

    /// A delivery's latest attempt, if it has one.
    pub fn last_for_delivery(conn: &mut DbConn, delivery_id: i64) -> Result<Option<AttemptRecord>> {
        Ok(delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq(delivery_id))
            .order((
                delivery_attempts::number.desc(),
                delivery_attempts::id.desc(),
            ))
            .select(AttemptRecord::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn request_header_list(&self) -> Vec<(String, String)> {
        super::queue::decode_headers(&self.request_headers)
    }

    pub fn response_header_list(&self) -> Vec<(String, String)> {
        super::queue::decode_headers(&self.response_headers)
    }
}
