//! Ticket pages: list with live filters, create, show (fields, forms, history), edit,
//! add note, delete. Handlers parse, call `crate::tickets`, and render.

use std::collections::BTreeMap;

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Map, Value};

use super::form::HtmlForm;
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, TechnicianUser, client_ip, state};
use crate::tickets::history_view::HistoryView;
use crate::tickets::model::{assignable_users, assignee_options};
use crate::tickets::query::{self, TicketFilter};
use crate::tickets::values::{TicketForm, ticket_forms};
use crate::tickets::{Form, PRIORITIES, STATUSES, Ticket, TicketInput, TicketPatch, TicketType};

pub struct Row {
    pub id: i64,
    pub display_id: String,
    pub subject: String,
    pub type_name: &'static str,
    pub status: String,
    pub priority: String,
    pub assignee: String,
    pub updated_at: String,
}

pub type Users = Vec<(i64, String, String)>;

#[derive(Template)]
#[template(path = "tickets/list.html", blocks = ["content", "results"])]
struct ListPage {
    ctx: PageCtx,
    filter: TicketFilter,
    rows: Vec<Row>,
    next_url: Option<String>,
    users: Users,
}

impl ListPage {
    fn type_selected(&self, t: &TicketType) -> bool {
        TicketType::parse(&self.filter.ticket_type) == Some(*t)
    }
}

pub async fn tickets_list(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    q: web::Query<TicketFilter>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let mut filter = q.into_inner();
    filter.limit = None;
    let f = filter.clone();
    let (rows, next, users) = db::run(&st.pool, move |c| {
        let (tickets, next) = query::list(c, &f)?;
        let ids: Vec<i64> = tickets.iter().filter_map(|t| t.assignee_id).collect();
        let names = query::user_names(c, &ids)?;
        let rows = tickets
            .into_iter()
            .map(|t| Row {
                id: t.id,
                type_name: t.kind().name(),
                priority: t.priority_display().to_string(),
                assignee: t
                    .assignee_id
                    .and_then(|i| names.get(&i).cloned())
                    .unwrap_or_default(),
                updated_at: t.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                display_id: t.display_id,
                subject: t.subject,
                status: t.status,
            })
            .collect::<Vec<_>>();
        Ok((rows, next, assignable_users(c)?))
    })
    .await?;
    let next_url = next.map(|before| {
        let mut f = filter.clone();
        f.before = Some(before);
        format!(
            "/tickets?{}",
            serde_html_form::to_string(&f).unwrap_or_default()
        )
    });
    let page = ListPage {
        ctx: PageCtx::new(&auth, &session, "tickets"),
        filter,
        rows,
        next_url,
        users,
    };
    super::page::filtered_list(
        &req,
        || page.as_results().render(),
        || page.as_content().render(),
        || page.render(),
    )
}

/// The create and edit page. `values` holds what the inputs show, by input name
/// (`subject`, `forms.<form>.<field>`), from the ticket or from the rejected post.
#[derive(Template)]
#[template(path = "tickets/form.html", blocks = ["content"])]
struct FormPage {
    ctx: PageCtx,
    ticket: Option<Ticket>,
    values: BTreeMap<String, String>,
    forms: Vec<(Form, Vec<crate::tickets::FormField>)>,
    users: Users,
    errors: FieldErrors,
}

impl FormPage {
    fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// The hidden `orig.*` inputs of an edit page (see [`edited`]).
    fn originals(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter().filter(|(k, _)| k.starts_with(ORIG))
    }
    fn type_code(&self) -> &str {
        match &self.ticket {
            Some(t) => &t.ticket_type,
            None => self.v("type"),
        }
    }
}

fn form_values(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    // Later values win: a checkbox posts after its hidden "false".
    pairs
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect()
}

/// The prefix of the edit page's hidden inputs holding each input's value as shown.
const ORIG: &str = "orig.";

/// The inputs of an edit-page save that the user changed: those whose value differs
/// from the one the page showed (`orig.<name>`; an input without one counts as
/// changed). A change made elsewhere while the page was open (an API call, a webhook's
/// response writing the remote ticket number) is kept unless the user changed that
/// same input: the save sends only its own edits, not the page's old copy of the rest.
fn edited(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    values
        .iter()
        .filter(|(k, v)| {
            !k.starts_with(ORIG)
                && values.get(&format!("{ORIG}{k}")).is_none_or(|o| {
                    crate::tickets::validation::unix_newlines(o)
                        != crate::tickets::validation::unix_newlines(v)
                })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `forms.<form>.<field>` inputs as the domain's `{form: {field: value}}`.
fn forms_input(values: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in values {
        if let Some((form, field)) = k.strip_prefix("forms.").and_then(|r| r.split_once('.')) {
            let entry = out
                .entry(form.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(field.to_string(), Value::String(v.clone()));
            }
        }
    }
    out
}

async fn render_form(
    req: &HttpRequest,
    session: &Session,
    auth: &crate::http::extract::Authenticated,
    ticket: Option<Ticket>,
    values: BTreeMap<String, String>,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let st = state(req)?;
    let t = ticket
        .as_ref()
        .map(Ticket::kind)
        .or_else(|| values.get("type").and_then(|v| TicketType::parse(v)))
        .unwrap_or(TicketType::Incident);
    let assignee = ticket.as_ref().and_then(|t| t.assignee_id);
    let (forms, users) = db::run(&st.pool, move |c| {
        let forms = Form::with_fields(c, Some(t))?
            .into_iter()
            .filter(|(f, _)| !f.multi_line)
            .collect::<Vec<_>>();
        Ok((forms, assignee_options(c, assignee)?))
    })
    .await?;
    let status = super::page::form_status(&errors);
    let mut values = values;
    values
        .entry("type".into())
        .or_insert_with(|| t.code().to_string());
    let mut resp = crate::page_or_fragment!(
        req,
        FormPage {
            ctx: PageCtx::new(auth, session, "tickets"),
            ticket,
            values,
            forms,
            users,
            errors,
        }
    )?;
    if !crate::http::htmx::is_htmx(req) {
        *resp.status_mut() = status;
    }
    Ok(resp)
}

/// `?type=SR` picks the type; other query keys pre-fill inputs (the type switch keeps
/// what was typed).
pub async fn tickets_new(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    q: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let mut values = form_values(q.into_inner());
    values
        .entry("status".into())
        .or_insert_with(|| "Open".into());
    values
        .entry("priority".into())
        .or_insert_with(|| "P3".into());
    render_form(&req, &session, &auth, None, values, FieldErrors::new()).await
}

pub async fn tickets_create(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let values = form_values(form.into_inner());
    let g = |k: &str| values.get(k).cloned().unwrap_or_default();
    let input = TicketInput {
        ticket_type: g("type"),
        subject: g("subject"),
        description: g("description"),
        status: g("status"),
        priority: g("priority"),
        category: g("category"),
        assigned_group: g("assigned_group"),
        assignee: Some(g("assignee")),
        requester_name: g("requester_name"),
        requester_email: g("requester_email"),
        forms: forms_input(&values),
    };
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let created = db::run(&st.pool, move |c| Ticket::create(c, &p, &input, &rules)).await;
    st.delivery_waker.wake();
    match created {
        Ok(t) => {
            flash(
                &session,
                "success",
                format!("Ticket {} created.", t.display_id),
            );
            Ok(redirect(&req, &format!("/tickets/{}", t.id)))
        }
        Err(Error::Validation(errs)) => {
            render_form(&req, &session, &auth, None, values, errs).await
        }
        Err(e) => Err(e),
    }
}

/// The ticket page.
#[derive(Template)]
#[template(path = "tickets/show.html", blocks = ["content"])]
struct ShowPage {
    ctx: PageCtx,
    csrf: String,
    ticket: Ticket,
    ticket_id: i64,
    assignee: String,
    created_by: String,
    updated_by: String,
    forms: Vec<TicketForm>,
    history: Vec<HistoryView>,
    editing: Option<i64>,
    row_errors: FieldErrors,
    new_errors: FieldErrors,
    errors: FieldErrors,
    actions: Vec<crate::firing::manual::Offer>,
    deliveries: Vec<crate::firing::progress::Progress>,
    /// On an alert ticket: the connection it is about (id, name).
    alert_connection: Option<(i64, String)>,
}

pub struct ShowData {
    pub ticket: Ticket,
    pub assignee: String,
    pub created_by: String,
    pub updated_by: String,
    pub forms: Vec<TicketForm>,
    pub history: Vec<HistoryView>,
    pub alert_connection: Option<(i64, String)>,
}

pub async fn load_show(req: &HttpRequest, id: i64) -> Result<ShowData, Error> {
    let st = state(req)?;
    db::run(&st.pool, move |c| {
        let ticket = Ticket::get(c, id)?;
        let ids: Vec<i64> = [ticket.assignee_id, ticket.created_by, ticket.updated_by]
            .into_iter()
            .flatten()
            .collect();
        let names = query::user_names(c, &ids)?;
        let name = |i: Option<i64>| i.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
        Ok(ShowData {
            assignee: name(ticket.assignee_id),
            created_by: name(ticket.created_by),
            updated_by: name(ticket.updated_by),
            forms: ticket_forms(c, id, ticket.kind())?,
            history: crate::tickets::history_view::for_people(c, id)?,
            alert_connection: match ticket.alert_connection_id {
                Some(cid) => crate::connections::Connection::get(c, cid)
                    .ok()
                    .map(|conn| (cid, conn.name)),
                None => None,
            },
            ticket,
        })
    })
    .await
}

async fn render_show(
    req: &HttpRequest,
    session: &Session,
    auth: &crate::http::extract::Authenticated,
    id: i64,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let d = load_show(req, id).await?;
    let panels = super::ticket_actions::panels(req, auth, id).await?;
    let ctx = PageCtx::new(auth, session, "tickets");
    let status = super::page::form_status(&errors);
    let mut resp = crate::page_or_fragment!(
        req,
        ShowPage {
            csrf: ctx.csrf.clone(),
            ctx,
            ticket_id: d.ticket.id,
            ticket: d.ticket,
            assignee: d.assignee,
            created_by: d.created_by,
            updated_by: d.updated_by,
            forms: d.forms,
            history: d.history,
            alert_connection: d.alert_connection,
            editing: None,
            row_errors: FieldErrors::new(),
            new_errors: FieldErrors::new(),
            errors,
            actions: panels.actions,
            deliveries: panels.deliveries,
        }
    )?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn tickets_show(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    render_show(&req, &session, &auth, path.into_inner(), FieldErrors::new()).await
}

pub async fn tickets_edit(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let d = load_show(&req, path.into_inner()).await?;
    let t = d.ticket;
    let mut values = BTreeMap::new();
    for (k, v) in [
        ("subject", &t.subject),
        ("description", &t.description),
        ("status", &t.status),
        ("priority", &t.priority),
        ("category", &t.category),
        ("assigned_group", &t.assigned_group),
        ("requester_name", &t.requester_name),
        ("requester_email", &t.requester_email),
    ] {
        values.insert(k.to_string(), v.clone());
    }
    values.insert(
        "assignee".into(),
        t.assignee_id.map(|i| i.to_string()).unwrap_or_default(),
    );
    for tf in d.forms.iter().filter(|tf| !tf.form.multi_line) {
        for f in &tf.fields {
            let v = tf.single().and_then(|row| row.raw.get(&f.normalized_name));
            values.insert(
                format!("forms.{}.{}", tf.form.normalized_name, f.normalized_name),
                v.cloned().unwrap_or_default(),
            );
        }
    }
    // Every input's value as the page showed it goes back with the save, so the save
    // writes only what the user changed (`tickets_update`).
    let shown: Vec<(String, String)> = values
        .iter()
        .map(|(k, v)| (format!("{ORIG}{k}"), v.clone()))
        .collect();
    values.extend(shown);
    render_form(&req, &session, &auth, Some(t), values, FieldErrors::new()).await
}

pub async fn tickets_update(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<i64>,
    form: HtmlForm<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let values = form_values(form.into_inner());
    let changed = edited(&values);
    let g = |k: &str| changed.get(k).cloned();
    let patch = TicketPatch {
        subject: g("subject"),
        description: g("description"),
        status: g("status"),
        priority: g("priority"),
        category: g("category"),
        assigned_group: g("assigned_group"),
        assignee: g("assignee").map(|a| (!a.is_empty()).then_some(a)),
        requester_name: g("requester_name"),
        requester_email: g("requester_email"),
        forms: forms_input(&changed),
    };
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let updated = db::run(&st.pool, move |c| Ticket::update(c, &p, id, &patch, &rules)).await;
    st.delivery_waker.wake();
    match updated {
        Ok(changes) => {
            let msg = if changes.is_empty() {
                "Nothing changed.".to_string()
            } else {
                format!("Ticket saved ({} change(s)).", changes.len())
            };
            flash(&session, "success", msg);
            Ok(redirect(&req, &format!("/tickets/{id}")))
        }
        Err(Error::Validation(errs)) => {
            let t = db::run(&st.pool, move |c| Ticket::get(c, id)).await?;
            render_form(&req, &session, &auth, Some(t), values, errs).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
    #[serde(default)]
    internal: Option<String>,
}

pub async fn tickets_note(
    req: HttpRequest,
    session: Session,
    TechnicianUser(auth): TechnicianUser,
    path: web::Path<i64>,
    form: HtmlForm<NoteForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let internal = super::form::checked(&f.internal);
    let p = auth.principal.clone();
    let rules = st.rules.clone();
    let added = db::run(&st.pool, move |c| {
        Ticket::add_note(c, &p, id, &f.note, internal, &rules)
    })
    .await;
    st.delivery_waker.wake();
    match added {
        Ok(_) => {
            flash(&session, "success", "Note added.");
            Ok(redirect(&req, &format!("/tickets/{id}#history")))
        }
        Err(Error::Validation(errs)) => render_show(&req, &session, &auth, id, errs).await,
        Err(e) => Err(e),
    }
}

pub async fn tickets_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let p = auth.principal.clone();
    let actor = Actor::user(&p, client_ip(&req));
    let rules = st.rules.clone();
    let t = db::run(&st.pool, move |c| Ticket::delete(c, &p, &actor, id, &rules)).await?;
    st.delivery_waker.wake();
    flash(
        &session,
        "success",
        format!("Ticket {} deleted.", t.display_id),
    );
    Ok(redirect(&req, "/tickets"))
}

/// For templates: the statuses and priorities in order.
pub fn statuses() -> &'static [&'static str] {
    &STATUSES
}
pub fn priorities() -> &'static [(&'static str, &'static str)] {
    &PRIORITIES
}
