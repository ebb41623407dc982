//! HTTP for people: the route table, thin handlers, extractors, middleware.
//! Handlers parse, call the domain, and render; they hold no SQL.

pub mod account;
pub mod assets;
pub mod audit;
pub mod connection_health;
pub mod connections;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod form;
pub mod form_fields;
pub mod forms;
pub mod health;
pub mod home;
pub mod htmx;
pub mod login;
pub mod page;
pub mod roles;
pub mod routes;
pub mod security;
pub mod session_store;
pub mod test_send;
pub mod ticket_rows;
pub mod tickets;
pub mod users;
pub mod webhook_preview;
pub mod webhooks;
pub mod webhooks_form;
