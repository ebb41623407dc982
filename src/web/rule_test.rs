//! "Test this rule" on the rule page: the rule as saved, asked about a chosen ticket and
//! event type by `rules::dry_run`; the answer is swapped in under the panel. Nothing is
//! sent, queued or changed.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::html;
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, state};
use crate::rules::dry_run::{self, DryRun};
use crate::rules::{event_label, store};

/// "Test this rule": the dry run's answer, or why there is none.
#[derive(Template)]
#[template(path = "rules/_test_result.html")]
struct TestFragment {
    run: Option<DryRun>,
    problems: Vec<String>,
}

impl TestFragment {
    fn event_label(&self, e: &str) -> &'static str {
        event_label(e)
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TestForm {
    ticket: String,
    event: String,
}

pub async fn rules_test(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<TestForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let sb = st.secrets.clone();
    let outcome = db::run(&st.pool, move |c| {
        let rule = store::get(c, id)?;
        let key = f.ticket.trim();
        if key.is_empty() {
            return Err(Error::invalid(
                "ticket",
                "type a ticket's display id, such as IN12",
            ));
        }
        let ticket = match crate::tickets::Ticket::find(c, key) {
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid(
                    "ticket",
                    format!("there is no ticket {key}"),
                ));
            }
            other => other?,
        };
        dry_run::run(c, &sb, &rule, &ticket, f.event.trim(), chrono::Utc::now())
    })
    .await;
    let frag = match outcome {
        Ok(run) => TestFragment {
            run: Some(run),
            problems: Vec::new(),
        },
        Err(Error::Validation(errs)) => TestFragment {
            run: None,
            problems: errs.0.into_iter().map(|e| e.message).collect(),
        },
        Err(e) => return Err(e),
    };
    html(frag.render())
}
