//! The application's state, shared by every handler of both front ends.

use crate::config::Config;
use crate::db::DbPool;

/// Shared by every handler through `web::Data`.
pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    /// Verified against when a login names an unknown user (see `auth::login`).
    pub dummy_hash: String,
    /// Wake the delivery worker after a transaction that enqueued has committed.
    pub delivery_waker: crate::delivery::Waker,
    /// Seals and opens the secrets connections hold (see `secrets`).
    pub secrets: std::sync::Arc<crate::secrets::SecretBox>,
    /// Test-send and "Test connection": sends at once, outside the queue.
    pub direct: crate::delivery::direct::DirectSender,
    /// The trigger-rules engine every ticket change is handed (see `rules::engine`).
    pub rules: crate::rules::Engine,
    /// The built-in echo receiver, when turned on (`echo_receiver`).
    pub echo: Option<std::sync::Arc<crate::echo::Echo>>,
}
