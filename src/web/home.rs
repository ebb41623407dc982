//! The start page: tiles for everyone, and for administrators the getting-started
//! checklist (until it is done or dismissed) and the dashboard (last 24 h
//! counts, success rate, durations, the chart, troubled connections, the queue).

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::chart::{self, Chart};
use super::page::PageCtx;
use crate::db;
use crate::error::Error;
use crate::execution_log::stats::{self, Dashboard, Window};
use crate::getting_started::Checklist;
use crate::http::extract::{Authenticated, state};

#[derive(Template)]
#[template(path = "home.html", blocks = ["content"])]
struct Home {
    ctx: PageCtx,
    dash: Option<(Dashboard, Chart)>,
    /// Connections whose client certificate expires soon (administrators).
    expiring_certs: Vec<crate::connections::Connection>,
    checklist: Option<Checklist>,
    /// Where the echo receiver listens, when it is on: the checklist offers it.
    echo_url: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct HomeQuery {
    /// The chart's window: `24h` (default) or `7d`.
    window: String,
}

pub async fn home(
    req: HttpRequest,
    session: Session,
    auth: Authenticated,
) -> Result<HttpResponse, Error> {
    let mut expiring_certs = Vec::new();
    let (dash, checklist) = if auth.principal.is_admin() {
        let st = state(&req)?;
        let q: HomeQuery = serde_html_form::from_str(req.query_string()).unwrap_or_default();
        let window = Window::parse(&q.window);
        let threshold = st.config.breaker_failures;
        let days = i64::try_from(st.config.cert_expiry_warning_days).unwrap_or(i64::MAX);
        let uid = auth.principal.user.id;
        let (d, list, certs) = db::run(&st.pool, move |c| {
            let now = db::now();
            let d = stats::dashboard(c, now, window, threshold)?;
            let certs = crate::connections::Connection::certs_expiring(c, now, days)?;
            Ok((d, Checklist::load(c, uid)?, certs))
        })
        .await?;
        expiring_certs = certs;
        let ch = chart::chart(&d.buckets, d.window);
        (Some((d, ch)), list)
    } else {
        (None, None)
    };
    crate::page_or_fragment!(
        &req,
        Home {
            ctx: PageCtx::new(&auth, &session, "home"),
            dash,
            expiring_certs,
            checklist,
            echo_url: state(&req)?
                .echo
                .is_some()
                .then(|| format!("{}/_echo/demo", super::echo::base_url(&req))),
        }
    )
}
