//! The delivery engine's sending side: one HTTP client with the SSRF guard
//! ([`sender`], [`ssrf`]), authentication ([`auth`]), Standard Webhooks signatures
//! ([`signing`]), the record of an attempt ([`attempt`]) and the retry policy ([`retry`]).
//!
//! Use: build one [`Sender`] at startup from the configuration and share it (it is cheap
//! to clone); for each attempt call `sender.send(&request).await`, store the returned
//! [`Attempt`], then ask [`retry::next_delay`] what to do next.

pub mod attempt;
pub mod auth;
pub mod retry;
pub mod sender;
pub mod signing;
pub mod ssrf;

pub use attempt::{Attempt, AttemptError, ErrorClass};
pub use auth::Auth;
pub use retry::{Decision, Outcome, RetryPolicy, next_delay};
pub use sender::{OutgoingRequest, Sender, SenderConfig};
