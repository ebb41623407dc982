//! HTTP for people: the pages' thin handlers (the route table, extractors and error
//! rendering live in `crate::http`). Handlers parse, call the domain, and render; they
//! hold no SQL.

pub mod account;
pub mod alerts;
pub mod assets;
pub mod audit;
pub mod chart;
pub mod connection_health;
pub mod connections;
pub mod echo;
pub mod form;
pub mod form_fields;
pub mod forms;
pub mod getting_started;
pub mod health;
pub mod home;
pub mod log;
pub mod login;
pub mod page;
pub mod roles;
pub mod rule_test;
pub mod rules;
pub mod rules_form;
pub mod test_send;
pub mod ticket_actions;
pub mod ticket_rows;
pub mod tickets;
pub mod users;
pub mod webhook_preview;
pub mod webhooks;
pub mod webhooks_form;
