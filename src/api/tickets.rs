//! `/api/v1/tickets`: list, get, create, patch, delete, notes and history. Every change
//! goes through the same domain functions as the pages.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use crate::audit::Actor;
use crate::db;
use crate::error::{Error, FieldErrors};
use crate::http::extract::{ApiAdmin, ApiUser, client_ip, state};
use crate::tickets::query::{self, TicketFilter};
use crate::tickets::{Ticket, TicketInput, TicketKey, TicketPatch, history, payload};

/// A page of tickets.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    /// Tickets in the shape of `ticket_json` (see `TicketObject`).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `before` to get the next page; null on the last page.
    pub next_cursor: Option<i64>,
}

/// The whole-ticket JSON object (shape documented in `tickets::payload`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TicketObject {
    pub id: i64,
    pub displayid: String,
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub category: String,
    pub assignedgroup: String,
    pub assignee: Option<String>,
    pub assigneeusername: Option<String>,
    pub requestername: String,
    pub requesteremail: String,
    pub createdat: String,
    pub createdby: Option<String>,
    pub updatedat: String,
    pub updatedby: Option<String>,
    /// `{form: {field: value}}` for single forms, `{form: [{field: value}, …]}` for
    /// multi-line forms.
    #[schema(value_type = Object)]
    pub forms: Map<String, Value>,
}

/// Body of create. Unknown keys are refused.
#[derive(serde::Deserialize, utoipa::ToSchema)]
// Read only by the OpenAPI generator: the handler parses the body itself to name
// every bad field at once.
#[allow(dead_code)]
pub struct TicketCreateBody {
    /// Incident, Service Request, Problem or Change (or IN, SR, PR, CH).
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub subject: String,
    pub description: Option<String>,
    /// Default Open.
    pub status: Option<String>,
    /// P1..P4 or the display value; default P3.
    pub priority: Option<String>,
    pub category: Option<String>,
    pub assigned_group: Option<String>,
    /// Username or user id.
    pub assignee: Option<String>,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    /// `{form: {field: value}}`, or `{form: [{field: value}, …]}` for multi-line forms.
    #[schema(value_type = Option<Object>)]
    pub forms: Option<Map<String, Value>>,
}

/// Body of patch: only the keys sent change; `assignee: null` unassigns; a single
/// form changes only the fields sent; a multi-line form's array replaces its rows.
#[derive(serde::Deserialize, utoipa::ToSchema)]
// Read only by the OpenAPI generator: the handler parses the body itself to name
// every bad field at once.
#[allow(dead_code)]
pub struct TicketPatchBody {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub assigned_group: Option<String>,
    pub assignee: Option<String>,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub forms: Option<Map<String, Value>>,
}

/// The answer to a patch: the ticket and what changed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PatchResult {
    #[schema(value_type = Object)]
    pub ticket: Value,
    /// `{field: {old, new}}`; empty when nothing changed.
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    pub note: String,
    /// Internal notes are for technicians only (default false).
    #[serde(default)]
    pub internal: bool,
}

const CORE_KEYS: &[&str] = &[
    "subject",
    "description",
    "status",
    "priority",
    "category",
    "assigned_group",
    "assignee",
    "requester_name",
    "requester_email",
    "forms",
];

/// String fields by key; `None` for an explicit `null` (only `assignee` allows it).
type Strings = BTreeMap<String, Option<String>>;

/// Reads the known keys, naming each bad one, so a caller learns every problem at once.
fn read_fields(
    m: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(Strings, BTreeMap<String, Value>), Error> {
    let mut errs = FieldErrors::new();
    let mut strings = BTreeMap::new();
    let mut forms = BTreeMap::new();
    for (k, v) in m {
        if !allowed.contains(&k.as_str()) {
            errs.add(k.clone(), "is not a ticket field");
            continue;
        }
        if k == "forms" {
            match v {
                Value::Object(f) => forms = f.clone().into_iter().collect(),
                Value::Null => {}
                _ => errs.add("forms", "must be an object of forms"),
            }
            continue;
        }
        match v {
            Value::String(s) => {
                strings.insert(k.clone(), Some(s.clone()));
            }
            Value::Number(n) if k == "assignee" => {
                strings.insert(k.clone(), Some(n.to_string()));
            }
            Value::Null if k == "assignee" => {
                strings.insert(k.clone(), None);
            }
            _ => errs.add(k.clone(), "must be a string"),
        }
    }
    errs.into_result()?;
    Ok((strings, forms))
}

async fn ticket_out(req: &HttpRequest, key: String) -> Result<(Ticket, Value), Error> {
    let st = state(req)?;
    db::run(&st.pool, move |c| {
        let t = Ticket::find(c, &key)?;
        let v = payload::ticket_json(c, t.id, false, false)?;
        Ok((t, v))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketFilter),
    responses((status = 200, body = TicketPage), (status = 401), (status = 422)),
    security(("bearer" = [])))]
pub async fn tickets_list(
    req: HttpRequest,
    _u: ApiUser,
    q: web::Query<TicketFilter>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let f = q.into_inner();
    let page = db::run(&st.pool, move |c| {
        let (rows, next) = query::list(c, &f)?;
        let items = rows
            .iter()
            .map(|t| payload::ticket_json(c, t.id, false, false))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TicketPage {
            items,
            next_cursor: next,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[utoipa::path(get, path = "/api/v1/tickets/{key}", tag = "tickets",
    params(("key" = String, Path, description = "Ticket id (42) or display id (IN164)")),
    responses((status = 200, body = TicketObject), (status = 404)), security(("bearer" = [])))]
pub async fn tickets_get(
    req: HttpRequest,
    _u: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (_, v) = ticket_out(&req, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = TicketCreateBody,
    responses((status = 201, body = TicketObject), (status = 400, description = "Not a JSON object"), (status = 413, description = "Larger than 256 KiB"),
        (status = 415, description = "Not `application/json`"), (status = 422, description = "Validation failed; `error.fields` names each field")),
    security(("bearer" = [])))]
pub async fn tickets_create(
    req: HttpRequest,
    ApiUser(p): ApiUser,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let m = super::body::object(&req, &body)?;
    let mut allowed = CORE_KEYS.to_vec();
    allowed.push("type");
    let (s, forms) = read_fields(&m, &allowed)?;
    let get = |k: &str| s.get(k).cloned().flatten().unwrap_or_default();
    let input = TicketInput {
        ticket_type: get("type"),
        subject: get("subject"),
        description: get("description"),
        status: get("status"),
        priority: get("priority"),
        category: get("category"),
        assigned_group: get("assigned_group"),
        assignee: s.get("assignee").cloned().flatten(),
        requester_name: get("requester_name"),
        requester_email: get("requester_email"),
        forms,
    };
    let rules = st.rules.clone();
    let v = db::run(&st.pool, move |c| {
        let t = Ticket::create(c, &p, &input, &rules)?;
        payload::ticket_json(c, t.id, false, false)
    })
    .await;
    st.delivery_waker.wake();
    let v = v?;
    let loc = format!("/api/v1/tickets/{}", v["id"]);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, loc))
        .json(v))
}

#[utoipa::path(patch, path = "/api/v1/tickets/{key}", tag = "tickets", request_body = TicketPatchBody,
    params(("key" = String, Path, description = "Ticket id or display id")),
    responses((status = 200, body = PatchResult), (status = 400, description = "Not a JSON object"), (status = 404), (status = 413, description = "Larger than 256 KiB"),
        (status = 415, description = "Not `application/json`"), (status = 422, description = "Validation failed; `error.fields` names each field")),
    security(("bearer" = [])))]
pub async fn tickets_patch(
    req: HttpRequest,
    ApiUser(p): ApiUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let m = super::body::object(&req, &body)?;
    if m.contains_key("type") {
        return Err(Error::invalid("type", "cannot be changed"));
    }
    let (s, forms) = read_fields(&m, CORE_KEYS)?;
    let get = |k: &str| s.get(k).map(|v| v.clone().unwrap_or_default());
    let patch = TicketPatch {
        subject: get("subject"),
        description: get("description"),
        status: get("status"),
        priority: get("priority"),
        category: get("category"),
        assigned_group: get("assigned_group"),
        assignee: s.get("assignee").cloned(),
        requester_name: get("requester_name"),
        requester_email: get("requester_email"),
        forms,
    };
    let key = path.into_inner();
    let rules = st.rules.clone();
    let out = db::run(&st.pool, move |c| {
        let u = Ticket::update_returning(c, &p, TicketKey::Typed(&key), &patch, &rules)?;
        Ok(PatchResult {
            // As the update left it, unless a rule changed it since: then read again.
            ticket: match u.now {
                Some(state) => state.json(false),
                None => payload::ticket_json(c, u.ticket_id, false, false)?,
            },
            changes: u.changes.into_iter().collect(),
        })
    })
    .await;
    st.delivery_waker.wake();
    Ok(HttpResponse::Ok().json(out?))
}

#[utoipa::path(delete, path = "/api/v1/tickets/{key}", tag = "tickets",
    params(("key" = String, Path, description = "Ticket id or display id")),
    responses((status = 204), (status = 403, description = "Administrator token required"), (status = 404)),
    security(("bearer" = [])))]
pub async fn tickets_delete(
    req: HttpRequest,
    ApiAdmin(p): ApiAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let key = path.into_inner();
    let actor = Actor::user(&p, client_ip(&req));
    let rules = st.rules.clone();
    db::run(&st.pool, move |c| {
        let t = Ticket::find(c, &key)?;
        Ticket::delete(c, &p, &actor, t.id, &rules)
    })
    .await?;
    st.delivery_waker.wake();
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/tickets/{key}/notes", tag = "tickets", request_body = NoteBody,
    params(("key" = String, Path, description = "Ticket id or display id")),
    responses((status = 201, description = "The new history entry"), (status = 400, description = "Not a JSON object"), (status = 413, description = "Larger than 256 KiB"),
        (status = 415, description = "Not `application/json`"), (status = 422)),
    security(("bearer" = [])))]
pub async fn tickets_note(
    req: HttpRequest,
    ApiUser(p): ApiUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let m = super::body::object(&req, &body)?;
    let mut errs = FieldErrors::new();
    for k in m.keys().filter(|k| *k != "note" && *k != "internal") {
        errs.add(k.clone(), "is not a note field");
    }
    let note = match m.get("note") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            errs.add("note", "must be a string");
            String::new()
        }
    };
    let internal = match m.get("internal") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => false,
        Some(_) => {
            errs.add("internal", "must be true or false");
            false
        }
    };
    errs.into_result()?;
    let key = path.into_inner();
    let rules = st.rules.clone();
    let entry = db::run(&st.pool, move |c| {
        let t = Ticket::find(c, &key)?;
        let hid = Ticket::add_note(c, &p, t.id, &note, internal, &rules)?;
        let h = history::list(c, t.id)?;
        Ok(h.into_iter().find(|e| e.id == hid).map(|e| e.json()))
    })
    .await;
    st.delivery_waker.wake();
    let entry = entry?;
    Ok(HttpResponse::Created().json(entry.unwrap_or(json!({}))))
}

#[utoipa::path(get, path = "/api/v1/tickets/{key}/history", tag = "tickets",
    params(("key" = String, Path, description = "Ticket id or display id")),
    responses((status = 200, description = "History entries, oldest first"), (status = 404)),
    security(("bearer" = [])))]
pub async fn tickets_history(
    req: HttpRequest,
    _u: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let st = state(&req)?;
    let key = path.into_inner();
    let out = db::run(&st.pool, move |c| {
        let t = Ticket::find(c, &key)?;
        Ok(history::list(c, t.id)?
            .iter()
            .map(history::HistoryEntry::json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
