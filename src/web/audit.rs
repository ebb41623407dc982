//! The audit log page, filterable, newest first.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::page::PageCtx;
use crate::audit::{self, AuditEntry, AuditFilter};
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, state};

#[derive(Template)]
#[template(path = "audit/list.html", blocks = ["content", "results"])]
struct AuditPage {
    ctx: PageCtx,
    filter: AuditFilter,
    entries: Vec<AuditEntry>,
    next_url: Option<String>,
}

pub async fn audit_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    q: web::Query<AuditFilter>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let filter = q.into_inner();
    let f = filter.clone();
    let (entries, next) = db::run(&st.pool, move |c| audit::list(c, &f)).await?;
    let next_url = next.map(|before| {
        let mut f = filter.clone();
        f.before = Some(before);
        format!(
            "/admin/audit?{}",
            serde_html_form::to_string(&f).unwrap_or_default()
        )
    });
    let page = AuditPage {
        ctx: PageCtx::new(&auth, &session, "audit"),
        filter,
        entries,
        next_url,
    };
    super::page::filtered_list(
        &req,
        || page.as_results().render(),
        || page.as_content().render(),
        || page.render(),
    )
}
