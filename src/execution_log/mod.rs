//! The execution log: what was sent, when, what came back, why it failed and what fired
//! it. [`filter`] reads the filters from the URL; [`query`] selects one keyset page with
//! the names the page shows; [`export`] streams a filter's rows as CSV or JSON Lines;
//! [`stats`] counts them for the administrator's dashboard.
//! The pages (`web::log`) and `GET /api/v1/deliveries` both call these. Nothing here
//! knows about HTTP.

pub mod bench;
pub mod bulk;
pub mod detail;
pub mod erase;
pub mod export;
pub mod filter;
pub mod query;
pub mod stats;

pub use crate::delivery::queue::Stage;
pub use filter::{LogFilter, LogQuery};
pub use query::{LogRow, Page, page};
