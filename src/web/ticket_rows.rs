//! Rows of multi-line forms on the ticket page, added, edited and removed in place with
//! htmx: each answer is the form's section (and the history, out of band). Without
//! htmx the same posts redirect back to the ticket.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Map, Value};

use super::form::HtmlForm;
use super::page::{flash, html, redirect};
use super::tickets::load_show;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{TechnicianUser, state};
use crate::tickets::Ticket;
use crate::tickets::history_view::HistoryView;
use crate::tickets::values::TicketForm;

#[derive(Template)]
#[template(path = "tickets/_rows_fragment.html")]
struct RowsFragment {
    csrf: String,
    ticket_id: i64,
    tf: TicketForm,
    editing: Option<i64>,
    row_errors: FieldErrors,
    new_errors: FieldErrors,
    history: Vec<HistoryView>,
}

async fn section(
    req: &HttpRequest,
    session: &Session,
    id: i64,
    form_id: i64,
    editing: Option<i64>,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let d = load_show(req, id).await?;
    let tf = d
        .forms
        .into_iter()
        .find(|tf| tf.form.id == form_id && tf.form.multi_line)
        .ok_or_else(|| Error::NotFound("multi-line form of this ticket".into()))?;
    html(
        RowsFragment {
            csrf: crate::http::csrf::token(session),
            ticket_id: id,
            tf,
            editing,
            // Errors go beside the inputs they are about: the edited row or the add form.
            row_errors: if editing.is_some() {
                errors.clone()
            } else {
                FieldErrors::new()
            },
            new_errors: if editing.is_none() {
                errors
            } else {
                FieldErrors::new()
            },
            history: d.history,
        }
        .render(),
    )
}

fn row_input(pairs: Vec<(String, String)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

async fn done(
    req: &HttpRequest,
    session: &Session,
    id: i64,
    form_id: i64,
    res: Result<(), Error>,
    editing: Option<i64>,
) -> Result<HttpResponse, Error> {
    let htmx = crate::http::htmx::is_htmx(req);
    match res {
        Ok(()) if htmx => section(req, session, id, form_id, None, FieldErrors::new()).await,
        Ok(()) => Ok(redirect(req, &format!("/tickets/{id}"))),
        // The section shows the errors beside the row's inputs.
        Err(Error::Validation(errs)) if htmx => {
            section(req, session, id, form_id, editing, errs).await
        }
        Err(Error::Validation(errs)) => {
            flash(session, "error", format!("Row not saved: {errs}"));
            Ok(redirect(req, &format!("/tickets/{id}")))
        }
        Err(e) => Err(e),
    }
}

pub async fn rows_create(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64)>,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, form_id) = path.into_inner();
    let input = row_input(form.into_inner());
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let res = db::run(&st.pool, move |c| {
        Ticket::save_row(c, &p, id, form_id, None, &input, &rules).map(|_| ())
    })
    .await;
    st.delivery_waker.wake();
    done(&req, &session, id, form_id, res, None).await
}

pub async fn rows_show(
    req: HttpRequest,
    session: Session,
    _t: TechnicianUser,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, Error> {
    let (id, form_id, _) = path.into_inner();
    section(&req, &session, id, form_id, None, FieldErrors::new()).await
}

pub async fn rows_edit(
    req: HttpRequest,
    session: Session,
    _t: TechnicianUser,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, Error> {
    let (id, form_id, row) = path.into_inner();
    section(&req, &session, id, form_id, Some(row), FieldErrors::new()).await
}

pub async fn rows_update(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64, i64)>,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, form_id, row) = path.into_inner();
    let input = row_input(form.into_inner());
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let res = db::run(&st.pool, move |c| {
        Ticket::save_row(c, &p, id, form_id, Some(row), &input, &rules).map(|_| ())
    })
    .await;
    st.delivery_waker.wake();
    done(&req, &session, id, form_id, res, Some(row)).await
}

pub async fn rows_delete(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, form_id, row) = path.into_inner();
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let res = db::run(&st.pool, move |c| {
        Ticket::delete_row(c, &p, id, form_id, row, &rules).map(|_| ())
    })
    .await;
    st.delivery_waker.wake();
    done(&req, &session, id, form_id, res, None).await
}
