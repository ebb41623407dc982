//! The one integration-test binary: real server, real database, real HTTP.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up panics on failure, which fails the test as it should"
)]

mod helpers;

mod accessibility_browser;
mod accounts;
mod alerts;
mod alerts_load;
mod alerts_time;
mod auth;
mod batch_deliveries;
mod bench_e2e;
mod browser;
mod bulk_replay_confirm;
mod busy;
mod buttons;
mod buttons_api;
mod buttons_browser;
mod buttons_support;
mod cli;
mod connections;
mod connections_browser;
mod connections_secrets;
mod crash;
mod dashboard;
mod database;
mod deliveries_api;
mod echo;
mod execution_log;
mod execution_log_browser;
mod first_run;
mod first_run_browser;
mod form_decimals;
mod hammer;
mod hammer_checks;
mod integration_health_browser;
mod integration_health_pages;
mod keep_order;
mod keyboard_browser;
mod metrics;
mod mtls;
mod newcomer_browser;
mod notify;
mod nul_text;
mod oauth;
mod oauth_server;
mod pages;
mod pg_recovery;
mod queue;
mod queue_batching;
mod receiver;
mod redaction;
mod responses;
mod route_table;
mod rule_pages;
mod rule_pages_browser;
mod rule_test_panel;
mod rules_engine;
mod rules_on_notes;
mod rules_on_rows;
mod rules_world;
mod sender;
mod settings_scope;
mod ssrf;
mod strict_input;
mod strict_input_more;
mod templating;
mod test_send;
mod ticket_edit_saves;
mod ticket_pages;
mod ticket_patches;
mod tickets_api;
mod tickets_api_list;
mod tickets_domain;
mod tls_receiver;
mod ux_fixes;
mod ux_fixes_browser;
mod webhook_cache;
mod webhook_secret_hosts;
mod webhooks;
mod webhooks_api;
mod webhooks_api_strict;
mod webhooks_browser;
mod webhooks_pages;
mod webhooks_support;
mod worker;
