//! Fields of a custom form: add, edit, delete, move up or down. Each post redirects to
//! the form page, or re-renders it with the errors beside the field.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form::{HtmlForm, checked};
use super::forms::{FieldData, render_edit};
use super::page::{flash, redirect};
use crate::audit::Actor;
use crate::db;
use crate::error::Error;
use crate::http::extract::{AdminUser, client_ip, state};
use crate::tickets::FormField;
use crate::tickets::form_fields::FieldInput;

fn input(d: &FieldData) -> FieldInput {
    FieldInput {
        name: d.field_name.clone(),
        field_type: d.field_type.clone(),
        required: checked(&d.required),
        options: d.options.clone(),
        decimal_places: d.decimal_places.clone(),
    }
}

pub async fn fields_add(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<i64>,
    form: HtmlForm<FieldData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let id = path.into_inner();
    let data = form.into_inner();
    let inp = input(&data);
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| FormField::add(c, &actor, id, &inp)).await;
    match res {
        Ok(f) => {
            flash(&session, "success", format!("Field {} added.", f.name));
            Ok(redirect(&req, &format!("/admin/forms/{id}#fields")))
        }
        Err(Error::Validation(errs)) => {
            render_edit(&req, &session, &auth, Some(id), None, errs, None, data).await
        }
        Err(e) => Err(e),
    }
}

pub async fn fields_update(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<(i64, i64)>,
    form: HtmlForm<FieldData>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, field) = path.into_inner();
    let inp = input(&form.into_inner());
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let res = db::run(&st.pool, move |c| {
        FormField::update(c, &actor, id, field, &inp)
    })
    .await;
    match res {
        Ok(f) => {
            flash(&session, "success", format!("Field {} saved.", f.name));
            Ok(redirect(&req, &format!("/admin/forms/{id}#fields")))
        }
        Err(Error::Validation(errs)) => {
            render_edit(
                &req,
                &session,
                &auth,
                Some(id),
                None,
                errs,
                Some(field),
                FieldData::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn fields_delete(
    req: HttpRequest,
    session: Session,
    AdminUser(auth): AdminUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, field) = path.into_inner();
    let actor = Actor::user(&auth.principal, client_ip(&req));
    let f = db::run(&st.pool, move |c| FormField::delete(c, &actor, id, field)).await?;
    flash(&session, "success", format!("Field {} deleted.", f.name));
    Ok(redirect(&req, &format!("/admin/forms/{id}#fields")))
}

#[derive(Debug, serde::Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    direction: String,
}

pub async fn fields_move(
    req: HttpRequest,
    AdminUser(auth): AdminUser,
    path: web::Path<(i64, i64)>,
    form: HtmlForm<MoveForm>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let (id, field) = path.into_inner();
    let up = form.into_inner().direction == "up";
    let actor = Actor::user(&auth.principal, client_ip(&req));
    db::run(&st.pool, move |c| {
        FormField::reorder(c, &actor, id, field, up)
    })
    .await?;
    Ok(redirect(&req, &format!("/admin/forms/{id}#fields")))
}
