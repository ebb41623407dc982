//! Administration of custom forms: list, create, edit details, delete (with a warning
//! when tickets hold values). Fields are edited in `form_fields.rs` on the same page.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{HtmlForm, checked};
use super::page::{PageCtx, flash, redirect};
use crate::audit::Actor;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{AdminUser, Authenticated, client_ip, state};
use crate::tickets::forms::{FieldType, FormInput};
use crate::tickets::{Form, FormField, TicketType};

pub struct FormSummary {
    pub form: Form,
    pub fields: usize,
    pub tickets: i64,
}

#[derive(Template)]
#[template(path = "forms/list.html", blocks = ["content"])]
struct ListPage {
    ctx: PageCtx,
    forms: Vec<FormSummary>,
}

pub async fn forms_list(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let forms = db::run(&st.pool, |c| {
        let mut out = Vec::new();
        for (form, fields) in Form::with_fields(c, None)? {
            let tickets = Form::tickets_with_values(c, form.id)?;
            out.push(FormSummary {
                form,
                fields: fields.len(),
                tickets,
            });
        }
        Ok(out)
    })
    .await?;
    crate::page_or_fragment!(
        &req,
        ListPage {
            ctx: PageCtx::new(&auth, &session, "forms"),
            forms,
        }
    )
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FormData {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub multi_line: Option<String>,
    #[serde(default)]
    pub ticket_types: Vec<String>,
}

impl FormData {
    pub fn has_type(&self, t: &TicketType) -> bool {
        self.ticket_types.iter().any(|x| x == t.code())
    }
    pub fn is_multi(&self) -> bool {
        checked(&self.multi_line)
    }
    fn input(&self) -> FormInput {
        FormInput {
            name: self.name.clone(),
            multi_line: self.is_multi(),
            ticket_types: self.ticket_types.clone(),
        }
    }
    fn of(f: &Form) -> Self {
        FormData {
            name: f.name.clone(),
            multi_line: f.multi_line.then(|| "on".into()),
            ticket_types: f.types().iter().map(|t| t.code().to_string()).collect(),
        }
    }
}

/// The add-field inputs, kept on a rejected post.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FieldData {
    #[serde(default)]
    pub field_name: String,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub required: Option<String>,
    #[serde(default)]
    pub options: String,
    /// Number fields only; empty for none.
    #[serde(default)]
    pub decimal_places: String,
}

/// One page for a new form (`form` None) and for editing one with its fields.
#[derive(Template)]
#[template(path = "forms/edit.html", blocks = ["content"])]
pub struct EditPage {
    pub ctx: PageCtx,
    pub form: Option<Form>,
    pub data: FormData,
    pub fields: Vec<FormField>,
    pub tickets: i64,
    pub errors: FieldErrors,
    /// Which field the errors belong to (`None`: the add-field form).
    pub field_errors_for: Option<i64>,
    pub new_field: FieldData,
}

impl EditPage {
    pub fn field_types(&self) -> [FieldType; 6] {
        FieldType::ALL
    }
    fn errs_for(&self, id: Option<i64>, name: &str) -> Option<&str> {
        if self.field_errors_for == id {
            self.errors.get(name)
        } else {
            None
        }
    }
    /// Errors of the form's own inputs.
    pub fn errs_form(&self, name: &str) -> Option<&str> {
        self.errs_for(Some(0), name)
    }
    /// Errors of the add-field inputs.
    pub fn errs_new(&self, name: &str) -> Option<&str> {
        self.errs_for(None, name)
    }
    /// Errors of one existing field's inputs.
    pub fn errs_field(&self, id: &i64, name: &str) -> Option<&str> {
        self.errs_for(Some(*id), name)
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one renderer for every state of the page"
)]
pub async fn render_edit(
    req: &HttpRequest,
    session: &Session,
    auth: &Authenticated,
    id: Option<i64>,
    data: Option<FormData>,
    errors: FieldErrors,
    field_errors_for: Option<i64>,
    new_field: FieldData,
) -> Result<HttpResponse, Error> {
    let st = state(req)?;
    let (form, fields, tickets) = match id {
        Some(id) => {
            db::run(&st.pool, move |c| {
                let f = Form::get(c, id)?;
                let fields = Form::fields(c, id)?;
                let n = Form::tickets_with_values(c, id)?;
                Ok((Some(f), fields, n))
            })
            .await?
        }
        None => (None, Vec::new(), 0),
    };
    let data = data.unwrap_or_else(|| form.as_ref().map(FormData::of).unwrap_or_default());
    let status = super::page::form_status(&errors);
    let mut resp = crate::page_or_fragment!(
        req,
        EditPage {
            ctx: PageCtx::new(auth, session, "forms"),
            form,
            data,
            fields,
            tickets,
            errors,
            field_errors_for,
            new_field,
        }
    )?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn forms_new(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
) -> Result<HttpResponse, Error> {
    let data = FormData {
        ticket_types: TicketType::ALL
            .iter()
            .map(|t| t.code().to_string())
            .collect(),
        ..Default::default()
    };
    render_edit(
        &req,
        &session,
        &auth,
        None,
        Some(data),
        FieldErrors::new(),
        None,
        FieldData::default(),
    )
    .await
}

pub async fn forms_create(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    form: HtmlForm<FormData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let data = form.into_inner();
    let input = data.input();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Form::create(c, &actor, &input)).await;
    match res {
        Ok(f) => {
            flash(
                &session,
                "success",
                format!("Form {} created. Add its fields.", f.name),
            );
            Ok(redirect(&req, &format!("/admin/forms/{}", f.id)))
        }
        Err(Error::Validation(errs)) => {
            render_edit(
                &req,
                &session,
                &auth,
                None,
                Some(data),
                errs,
                Some(0),
                FieldData::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn forms_edit(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let id = path.into_inner();
    render_edit(
        &req,
        &session,
        &auth,
        Some(id),
        None,
        FieldErrors::new(),
        None,
        FieldData::default(),
    )
    .await
}

pub async fn forms_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<FormData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let data = form.into_inner();
    let input = data.input();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| Form::update(c, &actor, id, &input)).await;
    match res {
        Ok(f) => {
            flash(&session, "success", format!("Form {} saved.", f.name));
            Ok(redirect(&req, &format!("/admin/forms/{id}")))
        }
        Err(Error::Validation(errs)) => {
            render_edit(
                &req,
                &session,
                &auth,
                Some(id),
                Some(data),
                errs,
                Some(0),
                FieldData::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn forms_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let (f, n) = db::run(&st.pool, move |c| Form::delete(c, &actor, id)).await?;
    flash(
        &session,
        "success",
        format!("Form {} deleted, with its values on {n} ticket(s).", f.name),
    );
    Ok(redirect(&req, "/admin/forms"))
}
