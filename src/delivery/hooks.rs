//! What the worker tells the layers above it, inside the transaction that records an
//! outcome. The queue knows no webhooks or tickets: start-up wires the hooks
//! (`firing::response_hook` processes responses; `alerts::hook` turns a connection's
//! failures into tickets), and tests of the queue alone use [`Hooks::none`].

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::claim::{ResponseHook, no_response_hook};
use super::health::Change;
use crate::db::DbConn;
use crate::error::Result;

/// Something that happened to a connection while an outcome was recorded.
#[derive(Debug, Clone)]
pub struct HealthNews {
    pub connection_id: i64,
    pub kind: NewsKind,
    /// The delivery whose outcome it was, and its error if it failed.
    pub delivery_id: i64,
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewsKind {
    /// The breaker opened, the first 410 Gone, or a success after failures.
    Health(Change),
    /// A delivery ended `failed` (no attempts left, not retried, 410).
    DeliveryFailed,
}

/// Runs in the recording transaction, under a savepoint: an error is logged and undoes
/// only what the hook wrote, never the outcome.
pub type HealthHook = Arc<dyn Fn(&mut DbConn, &HealthNews) -> Result<()> + Send + Sync>;

#[derive(Clone)]
pub struct Hooks {
    pub response: ResponseHook,
    pub health: HealthHook,
}

impl Hooks {
    /// Hooks that do nothing (workers in tests of the queue alone).
    pub fn none() -> Self {
        Self {
            response: no_response_hook(),
            health: Arc::new(|_, _| Ok(())),
        }
    }
}
