//! The HTTP home both front ends share: the route table with each route's access level,
//! the app's state and extractors, the one conversion of errors to responses, CSRF,
//! security headers, the session store and the htmx helpers. `web` (pages) and `api`
//! (JSON) depend on this module and never on each other.

pub mod csrf;
pub mod error;
pub mod export;
pub mod extract;
pub mod htmx;
pub mod route_table;
pub mod routes;
pub mod security;
pub mod session_store;
pub mod state;

pub use state::AppState;
