//! The JSON API under `/api/v1`, authenticated by bearer tokens.

pub mod alerts;
pub mod body;
pub mod connections;
pub mod deliveries;
pub mod me;
pub mod openapi;
pub mod rules;
pub mod test_send;
pub mod ticket_actions;
pub mod tickets;
pub mod webhooks;
