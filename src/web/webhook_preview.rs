//! The live request preview on the webhook page: the request the form, as it is now
//! (saved or not), would send for a chosen ticket, with template errors in place.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::webhooks::tab_of;
use super::webhooks_form::WebhookForm;
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, state};
use crate::secrets::SecretBox;
use crate::webhooks::WebhookInput;
use crate::webhooks::input::prepare;
use crate::webhooks::model::*;
use crate::webhooks::request::{self, BuiltRequest, TicketRef, TriggerCtx};

#[derive(Template)]
#[template(path = "webhooks/_preview.html")]
struct PreviewFragment {
    built: Option<BuiltRequest>,
    body: String,
    errors: Vec<(String, String)>,
    body_error: Option<String>,
    ticket_label: String,
    batching: Option<&'static str>,
}

impl PreviewFragment {
    fn batching_reason(&self) -> Option<&'static str> {
        self.batching
    }
}

/// The preview of a form that does not yet say where its request goes; the out-of-band
/// parts clear what an earlier preview left.
const WAITING: &str = r#"<p class="hint" id="preview-waiting">The request appears here once a connection (Basic tab) or a URL is chosen.</p>
<p class="field-error" id="body_template-error" hx-swap-oob="true"></p>"#;

/// `?webhook=<id>` when the form edits a saved webhook (its own name is not a clash).
#[derive(Debug, serde::Deserialize)]
pub struct SavedWebhook {
    pub webhook: Option<i64>,
}

/// Field keys worth showing in the preview: those that shape the request. A missing
/// name or role does not change what would be sent.
fn affects_request(field: &str) -> bool {
    !matches!(
        tab_of(field),
        "roles" | "select-tickets" | "batching" | "retry" | "response-fields" | "response-actions"
    ) && !matches!(field, "name" | "description" | "status" | "ticket_types")
}

/// Renders the request the form, as it is now (saved or not), would send for the chosen
/// ticket. Template errors come back in place: in the panel, and beside the body field
/// through an out-of-band swap.
pub async fn webhooks_preview(
    req: HttpRequest,
    AdminUser(auth): AdminUser,
    query: web::Query<SavedWebhook>,
    form: HtmlForm<WebhookForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let saved_id = query.webhook;
    let form = form.into_inner();
    let (input, unread) = form.read_input();
    // Nothing says where the request goes yet (a new form): a hint, not an error.
    if input.connection_id.is_none() && input.url.trim().is_empty() {
        return super::page::html(Ok(WAITING.to_string()));
    }
    let params = form.preview_params();
    let batching = match (
        Method::parse(&input.method),
        RequestType::parse(&input.request_content_type),
        PayloadMode::parse(&input.payload_mode),
    ) {
        (Some(m), Some(ct), Some(pm)) => batching_unavailable(m, ct, pm),
        _ => None,
    };
    let ticket_text = form.preview_ticket.trim().to_string();
    let use_test = form.use_test_connection();
    let sb = st.secrets.clone();
    let actor_name = auth.principal.user.display_name.clone();
    let outcome = db::run(&st.pool, move |c| {
        let ticket = request::resolve_ticket(c, &ticket_text)?;
        let label = match ticket {
            TicketRef::Sample => "the sample ticket".to_string(),
            TicketRef::Id(_) => ticket_text.to_uppercase(),
        };
        let w = match form_webhook(c, &sb, &input, &unread, saved_id)? {
            FormWebhook::Valid(w) => *w,
            FormWebhook::Invalid(errs) => return Ok((label, Preview::Invalid(errs))),
        };
        let trigger = TriggerCtx {
            actor_name: Some(actor_name),
            ..TriggerCtx::default()
        };
        let now = chrono::Utc::now();
        match request::build(c, &sb, &w, ticket, &params, &trigger, now, use_test) {
            Ok(b) => Ok((label, Preview::Built(Box::new(b)))),
            Err(e @ (Error::NotFound(_) | Error::BadRequest(_) | Error::Conflict(_))) => {
                Ok((label, Preview::Failed(e.public_message())))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    let empty = PreviewFragment {
        built: None,
        body: String::new(),
        errors: Vec::new(),
        body_error: None,
        ticket_label: String::new(),
        batching,
    };
    let frag = match outcome {
        Ok((label, Preview::Built(b))) => PreviewFragment {
            body: b.display_body(),
            built: Some(*b),
            ticket_label: label,
            ..empty
        },
        Ok((label, Preview::Invalid(errs))) => PreviewFragment {
            body_error: errs
                .iter()
                .find(|e| e.field == "body_template")
                .map(|e| e.message.clone()),
            errors: errs.into_iter().map(|e| (e.field, e.message)).collect(),
            ticket_label: label,
            ..empty
        },
        Ok((label, Preview::Failed(m))) => PreviewFragment {
            errors: vec![("request".into(), m)],
            ticket_label: label,
            ..empty
        },
        Err(e @ (Error::NotFound(_) | Error::BadRequest(_))) => PreviewFragment {
            errors: vec![("preview_ticket".into(), e.public_message())],
            ..empty
        },
        Err(e) => return Err(e),
    };
    super::page::html(frag.render())
}

/// The webhook the form describes, as it is now (saved or not), or the errors of the
/// settings that shape its request. Problems elsewhere (a missing name, a role) do not
/// stop a preview or a test-send. Secret header values left `••••` are the saved
/// webhook's.
pub(super) enum FormWebhook {
    Valid(Box<Webhook>),
    Invalid(Vec<crate::error::FieldError>),
}

/// The webhook the form describes, for a preview or a test-send. `unread` is what the
/// form could not read (`WebhookForm::read_input`: an unknown preset, a value its field
/// refuses): those are shown, not previewed or sent as a Generic or default preset.
pub(super) fn form_webhook(
    c: &mut db::DbConn,
    sb: &SecretBox,
    input: &WebhookInput,
    unread: &crate::error::FieldErrors,
    saved_id: Option<i64>,
) -> Result<FormWebhook, Error> {
    if !unread.is_empty() {
        return Ok(FormWebhook::Invalid(unread.0.clone()));
    }
    let saved = saved_id
        .map(|id| crate::webhooks::store::get(c, id))
        .transpose()?;
    let named;
    let input = if input.name.trim().is_empty() {
        // A new form before its name is typed still previews and test-sends.
        named = WebhookInput {
            name: "Unnamed webhook".into(),
            ..input.clone()
        };
        &named
    } else {
        input
    };
    let valid = match prepare(c, sb, input, saved_id, saved.as_ref()) {
        Ok(v) => v,
        Err(Error::Validation(errs)) => {
            let relevant: Vec<_> = errs
                .0
                .into_iter()
                .filter(|e| affects_request(&e.field))
                .collect();
            if !relevant.is_empty() {
                return Ok(FormWebhook::Invalid(relevant));
            }
            prepare(c, sb, &relaxed(input), saved_id, saved.as_ref())?
        }
        Err(e) => return Err(e),
    };
    Ok(FormWebhook::Valid(Box::new(valid.into_webhook(0))))
}

enum Preview {
    Built(Box<BuiltRequest>),
    Invalid(Vec<crate::error::FieldError>),
    Failed(String),
}

/// The input with everything that does not shape the request reset, so a form whose
/// only problems are elsewhere (a missing name, a role) still previews.
fn relaxed(input: &WebhookInput) -> WebhookInput {
    WebhookInput {
        name: format!("{} (preview {})", input.name, crate::auth::random_token(4)),
        status: Status::Enabled.code().into(),
        ticket_types: Vec::new(),
        roles: Vec::new(),
        conditions: Vec::new(),
        response_fields: Vec::new(),
        response_actions: Vec::new(),
        batch_mode: BatchMode::None.code().into(),
        batch_wait_seconds: 0,
        batch_max_items: 1,
        retry_max_attempts: None,
        retry_schedule: String::new(),
        ..input.clone()
    }
}
