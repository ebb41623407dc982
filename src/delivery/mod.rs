//! The delivery engine's sending side: one HTTP client with the SSRF guard
//! ([`sender`], [`ssrf`]), authentication ([`auth`]), Standard Webhooks signatures
//! ([`signing`]), the record of an attempt ([`attempt`]), the one redaction rule for
//! secret header values ([`redact`]) and the retry policy ([`retry`]).
//!
//! Use: build one [`Sender`] at startup from the configuration and share it (it is cheap
//! to clone); for each attempt call `sender.send(&request).await`, store the returned
//! [`Attempt`], then ask [`retry::next_delay`] what to do next.
//!
//! The queue side: [`queue::enqueue`] writes a delivery inside the caller's transaction
//! (wake the worker with [`Waker`] after commit); [`claim`] holds the leasing invariants;
//! [`worker::run_once`] is the unit of work and [`actor`] schedules it.

pub mod attempt;
pub mod auth;
pub mod classify;
pub mod client_tls;
pub mod oauth;
pub mod redact;
pub mod retry;
pub mod sender;
pub mod signing;
pub mod ssrf;

pub use attempt::{Attempt, AttemptError, ErrorClass};
pub use auth::Auth;
pub use client_tls::ClientTls;
pub use oauth::{ClientAuth, OAuthClient};
pub use retry::{Decision, Outcome, RetryPolicy, next_delay};
pub use sender::{OutgoingRequest, Sender, SenderConfig};

// The queue side (issue 5 part B): the transactional outbox, claiming with leases, the
// worker and its actor, attempt records, batching, connection health, the bench.
pub mod actor;
pub mod batching;

pub mod claim;
pub mod direct;
pub mod health;
pub mod hooks;
pub mod notify;
pub mod queue;
pub mod recorder;
pub mod records;
pub mod retention;
pub mod stage;
pub mod target;
pub mod worker;

pub use queue::{
    Delivery, DeliveryId, NewDelivery, RequestSnapshot, Status, Trigger, Waker, enqueue,
};

/// Attempts a delivery gets by default: the length of the configured retry schedule.
pub fn max_attempts(config: &crate::config::Config) -> i32 {
    attempts_of(&config.retry_schedule)
}

/// Attempts a schedule (the wait before each attempt) allows: its length, at least one.
pub fn attempts_of(schedule: &[String]) -> i32 {
    i32::try_from(schedule.len()).unwrap_or(i32::MAX).max(1)
}
