//! The record of every attempt: what was sent (secrets redacted), what came back (body
//! capped) or why nothing did, how long it took and which worker sent it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::queue::encode_headers;
use crate::db::DbConn;
use crate::db::prepared::{Sql, Stmt};
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

/// The insert values of one attempt (a statement diesel keeps prepared); the group
/// insert on PostgreSQL ([`InsertAttemptsPg`]) names the same columns in the same order.
macro_rules! attempt_values {
    ($delivery_id:expr, $a:expr, $req_h:expr, $resp_h:expr) => {
        (
            delivery_attempts::delivery_id.eq($delivery_id),
            delivery_attempts::number.eq($a.number),
            delivery_attempts::trigger.eq(&$a.trigger),
            delivery_attempts::started_at.eq($a.started_at),
            delivery_attempts::duration_ms.eq($a.duration_ms),
            delivery_attempts::request_method.eq(&$a.request_method),
            delivery_attempts::request_url.eq(&$a.request_url),
            delivery_attempts::request_headers.eq($req_h),
            delivery_attempts::request_body.eq(&$a.request_body),
            delivery_attempts::response_status.eq($a.response_status),
            delivery_attempts::response_headers.eq($resp_h),
            delivery_attempts::response_body.eq(&$a.response_body),
            delivery_attempts::response_truncated.eq($a.response_truncated),
            delivery_attempts::error_class.eq(&$a.error_class),
            delivery_attempts::error_message.eq(&$a.error_message),
            delivery_attempts::worker.eq(&$a.worker),
            delivery_attempts::note.eq(&$a.note),
        )
    };
}

impl NewAttempt {
    pub(super) fn insert(&self, conn: &mut DbConn, delivery_id: i64) -> Result<()> {
        let req_h = encode_headers(&self.request_headers);
        let resp_h = encode_headers(&self.response_headers);
        diesel::insert_into(delivery_attempts::table)
            .values(attempt_values!(delivery_id, self, &req_h, &resp_h))
            .execute(conn)?;
        Ok(())
    }

    /// Inserts the attempts of many deliveries in one statement (the recorder's groups on
    /// PostgreSQL, where each statement is a round trip). The rows go as one array per
    /// column, so the text is the same for every group size and stays prepared: a
    /// `VALUES` list of n rows is a new statement for each n, parsed and planned again.
    pub(super) fn insert_many(
        pg: &mut diesel::PgConnection,
        rows: &[(i64, NewAttempt)],
    ) -> Result<()> {
        use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
        if rows.is_empty() {
            return Ok(());
        }
        let col =
            |f: fn(&NewAttempt) -> &str| -> Vec<&str> { rows.iter().map(|(_, a)| f(a)).collect() };
        let opt = |f: fn(&NewAttempt) -> Option<&str>| -> Vec<Option<&str>> {
            rows.iter().map(|(_, a)| f(a)).collect()
        };
        let req_h: Vec<String> = rows
            .iter()
            .map(|(_, a)| encode_headers(&a.request_headers))
            .collect();
        let resp_h: Vec<String> = rows
            .iter()
            .map(|(_, a)| encode_headers(&a.response_headers))
            .collect();
        Stmt::<InsertAttemptsPg>::new()
            .bind::<Array<BigInt>, _>(rows.iter().map(|(d, _)| *d).collect::<Vec<i64>>())
            .bind::<Array<Integer>, _>(rows.iter().map(|(_, a)| a.number).collect::<Vec<i32>>())
            .bind::<Array<Text>, _>(col(|a| &a.trigger))
            .bind::<Array<Timestamp>, _>(rows.iter().map(|(_, a)| a.started_at).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(
                rows.iter()
                    .map(|(_, a)| a.duration_ms)
                    .collect::<Vec<i64>>(),
            )
            .bind::<Array<Text>, _>(col(|a| &a.request_method))
            .bind::<Array<Text>, _>(col(|a| &a.request_url))
            .bind::<Array<Text>, _>(&req_h)
            .bind::<Array<Text>, _>(col(|a| &a.request_body))
            .bind::<Array<Nullable<Integer>>, _>(
                rows.iter()
                    .map(|(_, a)| a.response_status)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(&resp_h)
            .bind::<Array<Text>, _>(col(|a| &a.response_body))
            .bind::<Array<Bool>, _>(
                rows.iter()
                    .map(|(_, a)| a.response_truncated)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Text>>, _>(opt(|a| a.error_class.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(opt(|a| a.error_message.as_deref()))
            .bind::<Array<Text>, _>(col(|a| &a.worker))
            .bind::<Array<Nullable<Text>>, _>(opt(|a| a.note.as_deref()))
            .execute(pg)?;
        Ok(())
    }
}

/// [`NewAttempt::insert_many`]'s statement: the columns of `attempt_values!`, in its order.
struct InsertAttemptsPg;

impl Sql for InsertAttemptsPg {
    const TEXT: &'static str = "INSERT INTO delivery_attempts (delivery_id, number, trigger, \
      started_at, duration_ms, request_method, request_url, request_headers, request_body, \
      response_status, response_headers, response_body, response_truncated, error_class, \
      error_message, worker, note) \
    SELECT * FROM unnest(?::bigint[], ?::integer[], ?::text[], ?::timestamp[], ?::bigint[], \
      ?::text[], ?::text[], ?::text[], ?::text[], ?::integer[], ?::text[], ?::text[], \
      ?::boolean[], ?::text[], ?::text[], ?::text[], ?::text[])";
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
