//! The execution log pages: the filtered list (filters in the URL, applied live with
//! htmx, keyset pages, open rows refreshing themselves), the CSV export of a filter, and
//! one delivery with every attempt, replay and cancel.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::page::{PageCtx, flash, html, redirect};
use crate::audit::Actor;
use crate::db;
use crate::delivery::queue::{Delivery, DeliveryId};
use crate::error::{Error, FieldErrors};
use crate::execution_log::detail::{self, DeliveryDetail};
use crate::execution_log::{LogQuery, LogRow, Stage, bulk, export, page};
use crate::http::extract::{AdminUser, client_ip, state};

/// Choices for the filter selects: (id, name).
pub struct Choices {
    pub webhooks: Vec<(i64, String)>,
    pub connections: Vec<(i64, String)>,
    pub rules: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "log/list.html", blocks = ["content", "results"])]
struct LogPage {
    ctx: PageCtx,
    q: LogQuery,
    choices: Choices,
    rows: Vec<LogRow>,
    errors: FieldErrors,
    next_url: Option<String>,
    export_url: String,
    bulk_url: String,
}

impl LogPage {
    fn statuses(&self) -> [Stage; 7] {
        Stage::ALL
    }
}

#[derive(Template)]
#[template(path = "log/_row.html")]
struct RowFragment {
    r: LogRow,
}

/// The URL's filters. An unreadable query string (a list where one value goes) is a
/// 400; a filter with a bad value is shown beside its field.
fn read_query(req: &HttpRequest) -> Result<LogQuery, Error> {
    serde_html_form::from_str(req.query_string())
        .map_err(|e| Error::BadRequest(format!("the log's filters are not readable: {e}")))
}

fn choices(c: &mut db::DbConn) -> Result<Choices, Error> {
    use crate::db::schema::{connections, rules, webhooks};
    use diesel::prelude::*;
    Ok(Choices {
        webhooks: webhooks::table
            .order(webhooks::name.asc())
            .select((webhooks::id, webhooks::name))
            .load(c)?,
        connections: connections::table
            .order(connections::name.asc())
            .select((connections::id, connections::name))
            .load(c)?,
        rules: rules::table
            .order(rules::name.asc())
            .select((rules::id, rules::name))
            .load(c)?,
    })
}

pub async fn log_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let q = read_query(&req)?;
    let checked = q.check(db::now());
    let (rows, next, choices, errors) = {
        db::run(&st.pool, move |c| {
            let choices = choices(c)?;
            match checked {
                Ok(f) => {
                    let p = page(c, &f)?;
                    Ok((p.items, p.next_cursor, choices, FieldErrors::new()))
                }
                Err(Error::Validation(e)) => Ok((Vec::new(), None, choices, e)),
                Err(e) => Err(e),
            }
        })
        .await?
    };
    let page = LogPage {
        ctx: PageCtx::new(&auth, &session, "log"),
        next_url: next.map(|b| format!("/admin/log?{}", q.with_cursor(Some(b)))),
        export_url: format!("/admin/log/export.csv?{}", q.with_cursor(None)),
        bulk_url: format!("/admin/log/bulk?{}", q.with_cursor(None)),
        q,
        choices,
        rows,
        errors,
    };
    super::page::filtered_list(
        &req,
        || page.as_results().render(),
        || page.as_content().render(),
        || page.render(),
    )
}

#[derive(Template)]
#[template(path = "log/_fragment.html")]
struct Fragment {
    rows: Vec<LogRow>,
    errors: FieldErrors,
    more: bool,
    all_url: String,
}

/// A Deliveries panel: the log's rows under the filters of the URL (a webhook's,
/// connection's or ticket's page asks for `?webhook=7&limit=10`), loaded by htmx after
/// the page so the page costs what it did.
pub async fn log_fragment(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let mut q = read_query(&req)?;
    q.limit = Some(q.limit.unwrap_or(10));
    let checked = q.check(db::now());
    let (rows, more, errors) = db::run(&st.pool, move |c| match checked {
        Ok(f) => {
            let p = page(c, &f)?;
            Ok((p.items, p.next_cursor.is_some(), FieldErrors::new()))
        }
        Err(Error::Validation(e)) => Ok((Vec::new(), false, e)),
        Err(e) => Err(e),
    })
    .await?;
    html(
        Fragment {
            rows,
            errors,
            more,
            all_url: format!("/admin/log?{}", q.link_query()),
        }
        .render(),
    )
}

/// One row, for a row that refreshes itself while its delivery is under way.
pub async fn log_row(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let r = db::run(&st.pool, move |c| {
        let f = LogQuery {
            id: id.to_string(),
            ..LogQuery::default()
        }
        .check(db::now())?;
        page(c, &f)?
            .items
            .pop()
            .ok_or_else(|| Error::NotFound(format!("delivery {id}")))
    })
    .await?;
    html(RowFragment { r }.render())
}

/// The CSV of everything the filters select, streamed chunk by chunk.
pub async fn log_export_csv(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let f = read_query(&req)?.check(db::now())?;
    let body = crate::http::export::stream(st.pool.clone(), f, export::csv_chunk);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"hookdesk-deliveries.csv\"",
        ))
        .streaming(body))
}

#[derive(Template)]
#[template(path = "log/detail.html")]
struct DetailPage {
    ctx: PageCtx,
    d: DeliveryDetail,
}

/// One delivery, by number or by its `webhook-id` (`msg_…`).
pub async fn log_detail(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let key = path.into_inner();
    let d = db::run(&st.pool, move |c| detail::load(c, &key)).await?;
    html(
        DetailPage {
            ctx: PageCtx::new(&auth, &session, "log"),
            d,
        }
        .render(),
    )
}

pub async fn log_replay(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let global = st.config.retry_schedule.clone();
    let new = db::run(&st.pool, move |c| {
        crate::firing::replay(c, &actor, DeliveryId(id), &global, db::now())
    })
    .await?;
    st.delivery_waker.wake();
    flash(
        &session,
        "success",
        format!("Delivery #{id} replayed as #{}.", new.0),
    );
    Ok(redirect(&req, &format!("/admin/log/{}", new.0)))
}

pub async fn log_cancel(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let d: Delivery = db::run(&st.pool, move |c| {
        crate::firing::cancel(c, &actor, DeliveryId(id), db::now())
    })
    .await?;
    flash(
        &session,
        "success",
        format!("Delivery #{} cancelled.", d.id),
    );
    Ok(redirect(&req, &format!("/admin/log/{id}")))
}

#[derive(Template)]
#[template(path = "log/bulk_confirm.html")]
struct BulkConfirm {
    ctx: PageCtx,
    /// The log's filters as the administrator chose them, for the links back.
    filter: String,
    /// The same, anchored when the page was made, for the form.
    frozen: String,
    preview: Option<bulk::Preview>,
    errors: FieldErrors,
}

/// "Replay matching…": how many deliveries of the current filters would be replayed,
/// and to which connections, before anything is done.
pub async fn log_bulk_confirm(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let q = read_query(&req)?;
    let filter = q.with_cursor(None);
    let shown = filter.clone();
    // The form carries the filter anchored now and the newest delivery counted, so the
    // replay takes what this page counts, however long it stays open.
    let (frozen, preview, errors) = db::run(&st.pool, move |c| {
        let now = db::now();
        let counted =
            bulk::anchored(&q, now).and_then(|a| Ok((bulk::preview(c, &a, None, now)?, a)));
        match counted {
            Ok((p, a)) => Ok((a.with_cursor(None), Some(p), FieldErrors::new())),
            Err(Error::Validation(e)) => Ok((shown, None, e)),
            Err(e) => Err(e),
        }
    })
    .await?;
    html(
        BulkConfirm {
            ctx: PageCtx::new(&auth, &session, "log"),
            filter,
            frozen,
            preview,
            errors,
        }
        .render(),
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct BulkForm {
    /// The log's URL query, as the confirmation page carried it.
    #[serde(default)]
    filter: String,
    /// The newest delivery the confirmation counted.
    #[serde(default)]
    upto: Option<i64>,
}

pub async fn log_bulk_start(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: super::form::HtmlForm<BulkForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let q: LogQuery = serde_html_form::from_str(&form.filter)
        .map_err(|e| Error::BadRequest(format!("the filters are not readable: {e}")))?;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let upto = form.upto;
    let job = db::run(&st.pool, move |c| {
        bulk::start(c, &actor, &q, upto, db::now())
    })
    .await?;
    bulk::spawn(
        st.pool.clone(),
        job.id,
        st.config.retry_schedule.clone(),
        st.delivery_waker.clone(),
    );
    flash(
        &session,
        "success",
        format!("Replaying {} deliveries.", job.total),
    );
    Ok(redirect(&req, &format!("/admin/log/bulk/{}", job.id)))
}

#[derive(Template)]
#[template(path = "log/bulk.html", blocks = ["content", "progress"])]
struct BulkPage {
    ctx: PageCtx,
    job: bulk::Job,
}

/// A bulk replay's progress; the progress block alone for the page's own polling.
pub async fn log_bulk_show(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let job = db::run(&st.pool, move |c| bulk::get(c, id)).await?;
    let page = BulkPage {
        ctx: PageCtx::new(&auth, &session, "log"),
        job,
    };
    if crate::http::htmx::is_htmx(&req) {
        html(page.as_progress().render())
    } else {
        html(page.render())
    }
}

/// Erases the stored bodies of one ticket's deliveries (personal data), from the
/// ticket's page.
pub async fn log_erase_ticket_bodies(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let (display, e) = db::run(&st.pool, move |c| {
        let t = crate::tickets::Ticket::get(c, id)?;
        let e = crate::execution_log::erase::ticket_bodies(c, &actor, t.id, &t.display_id)?;
        Ok((t.display_id, e))
    })
    .await?;
    flash(
        &session,
        "success",
        format!(
            "Erased the stored bodies of {display}'s deliveries ({} deliveries, {} attempts).",
            e.deliveries, e.attempts
        ),
    );
    Ok(redirect(&req, &format!("/tickets/{id}")))
}
