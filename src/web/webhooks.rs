//! Administration of webhooks: list, create, edit (one form across the tabs), clone,
//! delete, and the rows htmx adds to the repeated sections (the live preview is in
//! `webhook_preview`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, flash, redirect};
use super::webhooks_form::{self as wf, PresetView, RowView, WebhookForm};
use crate::audit::Actor;
use crate::conditions::Operator;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};
use crate::tickets::TicketType;
use crate::webhooks::input::{ticket_names, writable};
use crate::webhooks::model::*;
use crate::webhooks::presets::PresetKind;

use crate::webhooks::{WebhookInput, store};

/// The choices the form offers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub connections: Vec<(i64, String)>,
    pub roles: Vec<String>,
    /// Every ticket placeholder name (conditions may test any of them).
    pub fields: Vec<String>,
    /// Those a response may write.
    pub writable_fields: Vec<String>,
    pub presets: Vec<PresetView>,
}

impl Options {
    pub fn operators(&self) -> Vec<(&'static str, &'static str)> {
        Operator::ALL
            .iter()
            .filter(|o| !o.is_event_only())
            .map(|o| (o.code(), o.label()))
            .collect()
    }
    pub fn action_kinds(&self) -> &'static [ActionKind] {
        ActionKind::ALL
    }
    pub fn has_field(&self, f: &str) -> bool {
        self.fields.iter().any(|x| x == f)
    }
    pub fn has_writable(&self, f: &str) -> bool {
        self.writable_fields.iter().any(|x| x == f)
    }
}

async fn options(req: &HttpRequest) -> Result<Options, Error> {
    let st = state(req)?;
    db::run(&st.pool, |c| {
        let connections = crate::connections::Connection::list(c)?
            .into_iter()
            .map(|x| (x.id, x.name))
            .collect();
        let roles = crate::auth::roles::Role::list(c)?
            .into_iter()
            .map(|(r, _)| r.name)
            .collect();
        let fields = ticket_names(c, &[])?;
        let writable_fields = fields.iter().filter(|f| writable(f)).cloned().collect();
        let presets = wf::preset_views();
        Ok(Options {
            connections,
            roles,
            fields,
            writable_fields,
            presets,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "webhooks/list.html", blocks = ["content"])]
struct ListPage {
    ctx: PageCtx,
    webhooks: Vec<(WebhookRow, String)>,
}

pub async fn webhooks_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let webhooks = db::run(&st.pool, |c| {
        let conns: Vec<(i64, String)> = crate::connections::Connection::list(c)?
            .into_iter()
            .map(|x| (x.id, x.name))
            .collect();
        Ok(store::list_rows(c)?
            .into_iter()
            .map(|w| {
                let cname = w
                    .connection_id
                    .and_then(|id| conns.iter().find(|(i, _)| *i == id))
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
                (w, cname)
            })
            .collect())
    })
    .await?;
    crate::page_or_fragment!(
        &req,
        ListPage {
            ctx: PageCtx::new(&auth, &session, "webhooks"),
            webhooks,
        }
    )
}

/// The tabs, in the order the seed products show them.
pub const TABS: [(&str, &str); 11] = [
    ("basic", "Basic"),
    ("preset", "Preset"),
    ("parameters", "Parameters"),
    ("payload", "Payload"),
    ("response-fields", "Response fields"),
    ("response-actions", "Response actions"),
    ("select-tickets", "Select tickets"),
    ("roles", "Roles"),
    ("batching", "Batching"),
    ("retry", "Retry"),
    ("preview", "Preview & test"),
];

/// Which tab an error key belongs to.
pub(super) fn tab_of(field: &str) -> &'static str {
    let head = field.split('.').next().unwrap_or(field);
    match head {
        "preset" => "preset",
        "parameters" => "parameters",
        "payload_mode" | "body_template" | "send_ids" => "payload",
        "response_fields" => "response-fields",
        "response_actions" => "response-actions",
        "conditions" | "condition_match" => "select-tickets",
        "roles" => "roles",
        "batch_mode" | "batch_wait_seconds" | "batch_max_items" => "batching",
        "retry_max_attempts" | "retry_schedule" => "retry",
        _ => "basic",
    }
}

#[derive(Template)]
#[template(path = "webhooks/form.html", blocks = ["content"])]
struct FormPage {
    ctx: PageCtx,
    id: Option<i64>,
    title: String,
    input: WebhookInput,
    errors: FieldErrors,
    opts: Options,
    params: Vec<RowView>,
    conditions: Vec<RowView>,
    rfields: Vec<RowView>,
    ractions: Vec<RowView>,
}

impl FormPage {
    fn tabs(&self) -> &'static [(&'static str, &'static str)] {
        &TABS
    }
    fn tab_has_error(&self, tab: &str) -> bool {
        self.errors.0.iter().any(|e| tab_of(&e.field) == tab)
    }
    /// The tab shown first: the first with an error, else Basic.
    fn first_tab(&self) -> &'static str {
        TABS.iter()
            .map(|(t, _)| *t)
            .find(|t| self.tab_has_error(t))
            .unwrap_or("basic")
    }
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
    fn has_type(&self, code: &str) -> bool {
        self.input
            .ticket_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(code))
    }
    fn has_role(&self, r: &str) -> bool {
        self.input.roles.iter().any(|x| x == r)
    }
    fn ticket_types(&self) -> &'static [TicketType] {
        &TicketType::ALL
    }
    fn is_conn(&self, id: &i64) -> bool {
        self.input.connection_id == Some(*id)
    }
    fn is_test_conn(&self, id: &i64) -> bool {
        self.input.test_connection_id == Some(*id)
    }
    fn preset_is(&self, code: &str) -> bool {
        self.input.preset.kind().as_str() == code
    }
    fn preset_value(&self, code: &str, key: &str) -> String {
        let kind = PresetKind::parse(code).unwrap_or(PresetKind::Generic);
        match wf::preset_values(&self.input.preset, kind).get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
    fn preset_selected(&self, code: &str, key: &str, value: &str) -> bool {
        self.preset_value(code, key) == value
    }
    /// The first error about a preset field (`preset.facts[0].title` belongs to `facts`).
    fn preset_err(&self, key: &str) -> Option<&str> {
        let exact = format!("preset.{key}");
        let nested = format!("preset.{key}[");
        self.errors
            .0
            .iter()
            .find(|e| e.field == exact || e.field.starts_with(&nested))
            .map(|e| e.message.as_str())
    }
    fn retry_attempts(&self) -> String {
        self.input
            .retry_max_attempts
            .map(|n| n.to_string())
            .unwrap_or_default()
    }
    /// Why batching is not offered with the current choices, if it is not.
    fn batching_reason(&self) -> Option<&'static str> {
        let m = Method::parse(&self.input.method)?;
        let ct = RequestType::parse(&self.input.request_content_type)?;
        let pm = PayloadMode::parse(&self.input.payload_mode)?;
        batching_unavailable(m, ct, pm)
    }
    fn statuses(&self) -> &'static [Status] {
        Status::ALL
    }
    fn methods(&self) -> &'static [Method] {
        Method::ALL
    }
    fn request_types(&self) -> &'static [RequestType] {
        RequestType::ALL
    }
    fn response_types(&self) -> &'static [ResponseType] {
        ResponseType::ALL
    }
    fn payload_modes(&self) -> &'static [PayloadMode] {
        PayloadMode::ALL
    }
    fn batch_modes(&self) -> &'static [BatchMode] {
        BatchMode::ALL
    }
}

/// A refused form goes back with its secret header values redacted, like every page
/// (`delivery::redact`); a value typed this time is named, to be typed again.
fn without_secrets(mut input: WebhookInput, mut errs: FieldErrors) -> (WebhookInput, FieldErrors) {
    let (shown, retype) = crate::webhooks::secret_headers::redact_text(&input.headers);
    input.headers = shown;
    if !retype.is_empty() {
        errs.add(
            "headers",
            format!(
                "Secret values are not shown again: type the value of {} again (•••• keeps the saved value).",
                retype.join(", ")
            ),
        );
    }
    (input, errs)
}

#[expect(clippy::too_many_arguments, reason = "one call site per handler shape")]
async fn form_page(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    id: Option<i64>,
    title: String,
    input: WebhookInput,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, Error> {
    let opts = options(req).await?;
    let page = FormPage {
        ctx: PageCtx::new(auth, session, "webhooks"),
        id,
        title,
        params: wf::param_rows(&input, &errors),
        conditions: wf::condition_rows(&input, &errors),
        rfields: wf::response_field_rows(&input, &errors),
        ractions: wf::action_rows(&input, &errors),
        input,
        errors,
        opts,
    };
    let mut resp = crate::page_or_fragment!(req, page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn webhooks_new(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let input = WebhookInput::default();
    form_page(
        &req,
        &session,
        &auth,
        None,
        "New webhook".into(),
        input,
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn webhooks_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<WebhookForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (input, unread) = form.into_inner().read_input();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let i2 = input.clone();
    let sb = st.secrets.clone();
    let saved = db::run(&st.pool, move |c| {
        // What the form could not read is refused like the domain's errors: 422, shown.
        unread.into_result()?;
        store::create(c, &sb, &actor, &i2)
    });
    match saved.await {
        Ok(w) => {
            flash(&session, "success", format!("Webhook {} created.", w.name));
            Ok(redirect(&req, &format!("/admin/webhooks/{}", w.id)))
        }
        Err(Error::Validation(errs)) => {
            let (input, errs) = without_secrets(input, errs);
            form_page(
                &req,
                &session,
                &auth,
                None,
                "New webhook".into(),
                input,
                errs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn webhooks_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let w = db::run(&st.pool, move |c| store::get(c, id)).await?;
    let input = WebhookInput::from_webhook(&w);
    form_page(
        &req,
        &session,
        &auth,
        Some(id),
        format!("Webhook {}", w.name),
        input,
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn webhooks_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<WebhookForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let (input, unread) = form.into_inner().read_input();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let i2 = input.clone();
    let sb = st.secrets.clone();
    let saved = db::run(&st.pool, move |c| {
        unread.into_result()?;
        store::update(c, &sb, &actor, id, &i2)
    });
    match saved.await {
        Ok(w) => {
            flash(&session, "success", format!("Webhook {} saved.", w.name));
            Ok(redirect(&req, &format!("/admin/webhooks/{id}")))
        }
        Err(Error::Validation(errs)) => {
            let title = db::run(&st.pool, move |c| store::get(c, id))
                .await
                .map(|w| format!("Webhook {}", w.name))?;
            let (input, errs) = without_secrets(input, errs);
            form_page(
                &req,
                &session,
                &auth,
                Some(id),
                title,
                input,
                errs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn webhooks_clone(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| store::clone(c, &sb, &actor, id)).await?;
    flash(
        &session,
        "success",
        format!(
            "Webhook copied as {}. The copy is disabled until you enable it.",
            w.name
        ),
    );
    Ok(redirect(&req, &format!("/admin/webhooks/{}", w.id)))
}

pub async fn webhooks_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let w = db::run(&st.pool, move |c| store::delete(c, &actor, id)).await?;
    flash(&session, "success", format!("Webhook {} deleted.", w.name));
    Ok(redirect(&req, "/admin/webhooks"))
}

/// One blank repeated row, appended by htmx ("Add parameter", "Add condition", …).
#[derive(Template)]
#[template(path = "webhooks/_row.html")]
struct RowFragment {
    kind: String,
    row: RowView,
    opts: Options,
}

pub async fn webhooks_row(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let kind = path.into_inner();
    if !matches!(
        kind.as_str(),
        "parameter" | "condition" | "response_field" | "response_action"
    ) {
        return Err(Error::NotFound("row kind".into()));
    }
    let row = RowView::blank(format!("n{}", crate::auth::random_token(6)));
    let opts = options(&req).await?;
    super::page::html(RowFragment { kind, row, opts }.render())
}
