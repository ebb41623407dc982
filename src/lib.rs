//! Hookdesk: a self-hosted service-desk webhook integration console.

pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod bench_e2e;
pub mod conditions;
pub mod config;
pub mod connections;
pub mod db;
pub mod delivery;
pub mod error;
pub mod execution_log;
pub mod firing;
pub mod http;
pub mod ids;
pub mod limits;
pub mod metrics;
pub mod rules;
pub mod secrets;
pub mod startup;
pub mod telemetry;
pub mod templating;
pub mod tickets;
pub mod web;
pub mod webhooks;
