//! A streamed export body, shared by the log page's CSV and the API's JSON Lines: the
//! filter is read chunk by chunk on a blocking thread (`execution_log::export`), each
//! chunk encoded and handed over a small bounded channel, so memory holds a few chunks
//! whatever the row count, and a client that goes away stops the reading.

use actix_web::web::Bytes;
use futures_util::Stream;

use crate::db::DbPool;
use crate::error::{Error, Result};
use crate::execution_log::{LogFilter, LogRow, export};

/// The body of an export of `f`; `encode(rows, first)` turns one chunk into bytes.
pub fn stream(
    pool: DbPool,
    f: LogFilter,
    encode: fn(&[LogRow], bool) -> Result<Vec<u8>>,
) -> impl Stream<Item = std::result::Result<Bytes, Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let result = export::each_chunk(
            || Ok(pool.get()?),
            &f,
            |rows, first| match encode(rows, first) {
                Ok(b) => tx.blocking_send(Ok(Bytes::from(b))).is_ok(),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    false
                }
            },
        );
        if let Err(e) = result {
            tracing::error!(error = %e, "an export stopped");
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
