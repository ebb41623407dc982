//! The JSON API under `/api/v1`, authenticated by bearer tokens.

pub mod me;
// WIP pub mod webhooks;
pub mod openapi;
pub mod tickets;
