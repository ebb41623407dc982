//! Test-send on the webhook page and "Test connection" on the connection page: send now
//! and show the real outcome in place (htmx fragment). The sending is the domain's
//! (`firing::test_send`, `connections::testing`); this parses and renders.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::webhook_preview::{FormWebhook, SavedWebhook, form_webhook};
use super::webhooks_form::WebhookForm;
use crate::audit::Actor;
use crate::db;
use crate::delivery::direct::TestReport;
use crate::error::Error;
use crate::firing::test_send::TestSendRequest;
use crate::http::extract::{AdminUser, client_ip, state};

#[derive(Template)]
#[template(path = "partials/test_result.html")]
struct TestResult {
    report: Option<TestReport>,
    errors: Vec<(String, String)>,
}

impl TestResult {
    fn failed(errors: Vec<(String, String)>) -> Self {
        Self {
            report: None,
            errors,
        }
    }
}

/// The user's mistakes are shown in the panel; anything else is a real error.
fn render(outcome: Result<TestReport, Error>) -> Result<HttpResponse, Error> {
    let frag = match outcome {
        Ok(r) => TestResult {
            report: Some(r),
            errors: Vec::new(),
        },
        Err(Error::Validation(errs)) => {
            TestResult::failed(errs.0.into_iter().map(|e| (e.field, e.message)).collect())
        }
        Err(e @ (Error::NotFound(_) | Error::BadRequest(_) | Error::Conflict(_))) => {
            TestResult::failed(vec![(String::new(), e.public_message())])
        }
        Err(e) => return Err(e),
    };
    super::page::html(frag.render())
}

/// `POST /admin/webhooks/test`: sends the request the form previews, as it is now.
pub async fn webhooks_test(
    req: HttpRequest,
    AdminUser(auth): AdminUser,
    query: web::Query<SavedWebhook>,
    form: HtmlForm<WebhookForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let (input, unread) = form.read_input();
    let saved_id = query.webhook;
    let sb = st.secrets.clone();
    let w = db::run(&st.pool, move |c| {
        form_webhook(c, &sb, &input, &unread, saved_id)
    })
    .await?;
    let w = match w {
        FormWebhook::Valid(w) => *w,
        FormWebhook::Invalid(errs) => {
            return render(Err(Error::Validation(crate::error::FieldErrors(errs))));
        }
    };
    let ask = TestSendRequest {
        ticket: form.preview_ticket.clone(),
        params: form.preview_params(),
        use_test_connection: form.use_test_connection(),
        actor_name: auth.principal.user.display_name.clone(),
    };
    let actor = Actor::user(&auth.principal, client_ip(&req));
    render(crate::firing::test_send::run(&st.direct, w, saved_id, ask, actor).await)
}

/// `POST /admin/connections/{id}/test`.
pub async fn connections_test(
    req: HttpRequest,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    render(crate::connections::testing::run(&st.direct, path.into_inner(), actor).await)
}
