//! Administration of trigger rules: the list in evaluation order (with firing counts,
//! move up/down, enable/disable, clone, delete), one form for new and edit, and the rows
//! htmx adds or redraws in it ("Test this rule" is in `rule_test`).

use std::collections::BTreeMap;

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::HtmlForm;
use super::page::{PageCtx, flash, html, redirect};
use super::rules_form::{
    self as rf, ActionDraft, ActionRow, Options, RuleForm, WebhookChoice, action_rows,
};
use super::webhooks_form::RowView;
use crate::audit::Actor;
use crate::auth::User;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};
use crate::rules::store::{self, Firings};
use crate::rules::{Action, Rule, RuleInput, event_label};
use crate::tickets::events;
use crate::tickets::targets::writable;
use crate::webhooks::model::Status;

async fn options(req: &HttpRequest) -> Result<Options, Error> {
    let st = state(req)?;
    db::run(&st.pool, |c| {
        let (fields, _) = crate::rules::input::known_names(c)?;
        let settable_fields = fields
            .iter()
            // The event's own values (`event.note`) are read, not set.
            .filter(|f| !events::VALUE_NAMES.contains(&f.as_str()))
            .filter(|f| writable(f) && !matches!(f.as_str(), "ticket.status" | "ticket.assignee"))
            .cloned()
            .collect();
        let webhooks = crate::webhooks::store::list(c)?
            .into_iter()
            .map(|w| WebhookChoice {
                id: w.id,
                status_note: match w.status {
                    Status::Enabled => "",
                    other => other.label(),
                },
                name: w.name,
                parameters: w.parameters,
            })
            .collect();
        let users = User::list(c)?;
        let assignees = users
            .iter()
            .filter(|(u, _)| u.active && !u.integration)
            .map(|(u, _)| (u.username.clone(), u.display_name.clone()))
            .collect();
        let users = users
            .into_iter()
            .map(|(u, _)| {
                let shown = if u.integration {
                    format!("{} (integration)", u.display_name)
                } else {
                    u.display_name
                };
                (u.username, shown)
            })
            .collect();
        Ok(Options {
            fields,
            settable_fields,
            webhooks,
            statuses: crate::tickets::STATUSES.to_vec(),
            assignees,
            users,
        })
    })
    .await
}

/// One line of the list.
struct ListRow {
    rule: Rule,
    events: String,
    actions: String,
    firings: Firings,
}

#[derive(Template)]
#[template(path = "rules/list.html", blocks = ["content"])]
struct ListPage {
    ctx: PageCtx,
    rows: Vec<ListRow>,
}

/// "Execute webhook “Slack”" and so on: what the list says an action does.
fn action_summary(a: &Action, webhooks: &BTreeMap<i64, String>) -> String {
    match a {
        Action::ExecuteWebhook { webhook_id, .. } => match webhooks.get(webhook_id) {
            Some(n) => format!("Execute webhook “{n}”"),
            None => format!("Execute webhook #{webhook_id} (deleted)"),
        },
        Action::AddNote { internal: true, .. } => "Add internal note".into(),
        Action::AddNote { .. } => "Add note".into(),
        Action::SetField { field, .. } => format!("Set field {field}"),
        Action::ChangeStatus { status } => format!("Change status to {status}"),
        Action::Assign { assignee, group } => match (assignee.is_empty(), group.is_empty()) {
            (true, true) => "Unassign".into(),
            (false, true) => format!("Assign to {assignee}"),
            (true, false) => format!("Unassign, group {group}"),
            (false, false) => format!("Assign to {assignee}, group {group}"),
        },
    }
}

pub async fn rules_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let rows = db::run(&st.pool, |c| {
        let webhooks: BTreeMap<i64, String> = crate::webhooks::store::list_rows(c)?
            .into_iter()
            .map(|w| (w.id, w.name))
            .collect();
        let now = db::now();
        store::list(c)?
            .into_iter()
            .map(|rule| {
                Ok(ListRow {
                    events: rule
                        .events
                        .iter()
                        .map(|e| event_label(e))
                        .collect::<Vec<_>>()
                        .join(", "),
                    actions: rule
                        .actions
                        .iter()
                        .map(|a| action_summary(a, &webhooks))
                        .collect::<Vec<_>>()
                        .join("; "),
                    firings: store::firings(c, rule.id, now)?,
                    rule,
                })
            })
            .collect::<Result<Vec<_>, Error>>()
    })
    .await?;
    crate::page_or_fragment!(
        &req,
        ListPage {
            ctx: PageCtx::new(&auth, &session, "rules"),
            rows,
        }
    )
}

#[derive(Template)]
#[template(path = "rules/form.html", blocks = ["content"])]
struct FormPage {
    ctx: PageCtx,
    id: Option<i64>,
    title: String,
    input: RuleInput,
    errors: FieldErrors,
    opts: Options,
    conditions: Vec<RowView>,
    actions: Vec<ActionRow>,
    /// The event "Test this rule" starts with: the rule's first.
    test_event: String,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
    fn event_types(&self) -> Vec<(&'static str, &'static str)> {
        events::ALL.iter().map(|e| (*e, event_label(e))).collect()
    }
    fn test_event_is(&self, e: &str) -> bool {
        self.test_event == e
    }
    fn has_event(&self, e: &str) -> bool {
        self.input
            .events
            .iter()
            .any(|x| x.trim().eq_ignore_ascii_case(e))
    }
    fn is_ignored(&self, username: &str) -> bool {
        self.input
            .ignored_users
            .iter()
            .any(|u| u.trim().eq_ignore_ascii_case(username))
    }
    /// Usernames typed or saved that are no longer users, kept so nothing is lost.
    fn unknown_ignored(&self) -> Vec<&str> {
        self.input
            .ignored_users
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty() && !self.opts.users.iter().any(|(x, _)| x == u))
            .collect()
    }
}

/// Renders the form. `keep_unknown`: see [`rf::action_row`].
#[expect(clippy::too_many_arguments, reason = "one call site per handler shape")]
async fn form_page(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    id: Option<i64>,
    title: String,
    input: RuleInput,
    drafts: Vec<ActionDraft>,
    errors: FieldErrors,
) -> Result<HttpResponse, Error> {
    let opts = options(req).await?;
    let status = super::page::form_status(&errors);
    let page = FormPage {
        ctx: PageCtx::new(auth, session, "rules"),
        id,
        title,
        conditions: rf::condition_rows(&input, &errors),
        actions: action_rows(drafts, &opts, &errors, true),
        test_event: input
            .events
            .first()
            .cloned()
            .unwrap_or_else(|| events::TICKET_UPDATED.into()),
        input,
        errors,
        opts,
    };
    let mut resp = crate::page_or_fragment!(req, page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

fn drafts_of(input: &RuleInput) -> Vec<ActionDraft> {
    input
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| ActionDraft::from_action(i, a))
        .collect()
}

pub async fn rules_new(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let input = RuleInput::default();
    form_page(
        &req,
        &session,
        &auth,
        None,
        "New rule".into(),
        input,
        vec![ActionDraft::blank()],
        FieldErrors::new(),
    )
    .await
}

pub async fn rules_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<RuleForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let form = form.into_inner();
    let input = form.to_input()?;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let i2 = input.clone();
    match db::run(&st.pool, move |c| store::create(c, &actor, &i2)).await {
        Ok(r) => {
            flash(
                &session,
                "success",
                format!("Trigger rule {} created.", r.name),
            );
            Ok(redirect(&req, &format!("/admin/rules/{}", r.id)))
        }
        Err(Error::Validation(errs)) => {
            form_page(
                &req,
                &session,
                &auth,
                None,
                "New rule".into(),
                input,
                form.drafts(),
                errs,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn rules_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let r = db::run(&st.pool, move |c| store::get(c, id)).await?;
    let input = RuleInput::from_rule(&r);
    let drafts = drafts_of(&input);
    form_page(
        &req,
        &session,
        &auth,
        Some(id),
        format!("Trigger rule {}", r.name),
        input,
        drafts,
        FieldErrors::new(),
    )
    .await
}

pub async fn rules_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<RuleForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let input = form.to_input()?;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let i2 = input.clone();
    match db::run(&st.pool, move |c| store::update(c, &actor, id, &i2)).await {
        Ok(r) => {
            flash(
                &session,
                "success",
                format!("Trigger rule {} saved.", r.name),
            );
            Ok(redirect(&req, &format!("/admin/rules/{id}")))
        }
        Err(Error::Validation(errs)) => {
            let name = db::run(&st.pool, move |c| store::get(c, id)).await?.name;
            form_page(
                &req,
                &session,
                &auth,
                Some(id),
                format!("Trigger rule {name}"),
                input,
                form.drafts(),
                errs,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct EnabledForm {
    enabled: bool,
}

pub async fn rules_set_enabled(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<EnabledForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let enabled = form.into_inner().enabled;
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let r = db::run(&st.pool, move |c| {
        store::set_enabled(c, &actor, id, enabled)
    })
    .await?;
    let what = if enabled { "enabled" } else { "disabled" };
    flash(
        &session,
        "success",
        format!("Trigger rule {} {what}.", r.name),
    );
    Ok(redirect(&req, "/admin/rules"))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct MoveForm {
    direction: String,
}

pub async fn rules_move(
    req: HttpRequest,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<MoveForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let up = match form.into_inner().direction.as_str() {
        "up" => true,
        "down" => false,
        _ => return Err(Error::BadRequest("direction is up or down".into())),
    };
    let actor = Actor::user(&auth.principal, client_ip(&req));
    db::run(&st.pool, move |c| store::move_by(c, &actor, id, up)).await?;
    Ok(redirect(&req, "/admin/rules"))
}

pub async fn rules_clone(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    match db::run(&st.pool, move |c| store::clone(c, &actor, id)).await {
        Ok(r) => {
            flash(
                &session,
                "success",
                format!(
                    "Trigger rule copied as {}. The copy is disabled until you enable it.",
                    r.name
                ),
            );
            Ok(redirect(&req, &format!("/admin/rules/{}", r.id)))
        }
        // The original no longer validates (a webhook it runs was deleted, …).
        Err(Error::Conflict(m)) => {
            flash(&session, "error", m);
            Ok(redirect(&req, "/admin/rules"))
        }
        Err(e) => Err(e),
    }
}

pub async fn rules_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let r = db::run(&st.pool, move |c| store::delete(c, &actor, id)).await?;
    flash(
        &session,
        "success",
        format!("Trigger rule {} deleted.", r.name),
    );
    Ok(redirect(&req, "/admin/rules"))
}

/// A blank condition row ("Add condition").
#[derive(Template)]
#[template(
    source = r#"{% include "webhooks/_condition_row.html" %}"#,
    ext = "html"
)]
struct ConditionRowFragment {
    row: RowView,
    opts: Options,
}

/// One action row: blank ("Add action"), or redrawn from its own inputs (sent in the
/// query) when its kind or its webhook is changed.
#[derive(Template)]
#[template(path = "rules/_action_row.html")]
struct ActionRowFragment {
    row: ActionRow,
    opts: Options,
}

pub async fn rules_row(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    match path.into_inner().as_str() {
        "condition" => {
            let row = RowView::blank(rf::new_uid());
            let opts = options(&req).await?;
            html(ConditionRowFragment { row, opts }.render())
        }
        "action" => {
            let form: RuleForm = serde_html_form::from_str(req.query_string())
                .map_err(|e| Error::BadRequest(format!("malformed form: {e}")))?;
            let draft = form
                .drafts()
                .into_iter()
                .next()
                .unwrap_or_else(ActionDraft::blank);
            let opts = options(&req).await?;
            let row = rf::action_row(0, draft, &opts, &FieldErrors::new(), false);
            html(ActionRowFragment { row, opts }.render())
        }
        _ => Err(Error::NotFound("row kind".into())),
    }
}

/// Every action row, in a new order ("Move up" / "Move down" on a row).
#[derive(Template)]
#[template(path = "rules/_actions.html")]
struct ActionsFragment {
    actions: Vec<ActionRow>,
    opts: Options,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct MoveRow {
    row: String,
    dir: String,
}

/// Redraws the action rows from the form as posted, with row `row` moved one place:
/// nothing typed is lost and nothing is saved.
pub async fn rules_actions(
    req: HttpRequest,
    AdminUser(_auth): AdminUser,
    query: web::Query<MoveRow>,
    form: HtmlForm<RuleForm>,
) -> Result<HttpResponse, Error> {
    let mut drafts = form.into_inner().drafts();
    rf::move_draft(&mut drafts, &query.row, query.dir == "up");
    let opts = options(&req).await?;
    let actions = action_rows(drafts, &opts, &FieldErrors::new(), true);
    html(ActionsFragment { actions, opts }.render())
}
