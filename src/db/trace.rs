//! `HOOKDESK_SQL_TRACE=1`: every statement a connection runs, logged at `debug` under the
//! `hookdesk::sql` target (with `RUST_LOG=hookdesk::sql=debug`). It is how statement
//! counts per request and per delivery were measured; off, it costs nothing, because
//! diesel only formats a query when an instrumentation asks for it.
//!
//! Bound values are never written, only the SQL text: they may be secrets or personal data.

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

struct SqlTrace;

impl Instrumentation for SqlTrace {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            // `DebugQuery`'s Display is the SQL followed by `-- binds: […]`; keep the SQL.
            let text = query.to_string();
            let sql = text.split(" -- binds:").next().unwrap_or_default();
            tracing::debug!(target: "hookdesk::sql", "{sql}");
        }
    }
}

/// Turns the trace on for connections opened from now on when the variable asks for it.
pub fn install_from_env() {
    if std::env::var_os("HOOKDESK_SQL_TRACE").is_some_and(|v| v != "0" && !v.is_empty()) {
        let _ = set_default_instrumentation(|| Some(Box::new(SqlTrace)));
    }
}
