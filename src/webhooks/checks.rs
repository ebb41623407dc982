//! The validation of a submitted webhook (`validate`): ALL of it is checked before
//! anything is written, and every problem is reported beside its field.

use std::collections::BTreeSet;

use crate::conditions::{self, Condition, MatchMode};
use crate::db::DbConn;
use crate::error::{Error, FieldErrors, Result};
use crate::limits;
use crate::templating::{Kind, KnownNames, Template, TemplateError};
use crate::tickets::{TicketType, template_names};

use super::input::WebhookInput;
use super::model::*;
use super::presets::{Preset, PresetKind};
pub use super::syntax::{
    body_kind, parse_schedule, valid_header_name, valid_response_path, writable,
};

/// The input checked and typed, ready to be written.
#[derive(Debug, Clone)]
pub struct Valid {
    pub name: String,
    pub description: String,
    pub status: Status,
    pub ticket_types: Vec<TicketType>,
    pub connection_id: Option<i64>,
    pub test_connection_id: Option<i64>,
    pub url: String,
    pub url_encoded: bool,
    pub method: Method,
    pub request_content_type: RequestType,
    /// Secret values redacted once `input::prepare` has sealed them.
    pub headers: String,
    pub sealed_headers: Option<String>,
    pub response_content_type: ResponseType,
    pub run_rules_after_response: bool,
    pub action_description: String,
    pub show_as_button: bool,
    pub preset: Preset,
    pub payload_mode: PayloadMode,
    pub body_template: String,
    pub send_ids: bool,
    pub condition_match: MatchMode,
    pub conditions: Vec<Condition>,
    pub batch_mode: BatchMode,
    pub batch_wait_seconds: i32,
    pub batch_max_items: i32,
    pub keep_order: bool,
    pub retry_max_attempts: Option<i32>,
    pub retry_schedule: Option<Vec<u32>>,
    pub parameters: Vec<Parameter>,
    pub response_fields: Vec<ResponseField>,
    pub response_actions: Vec<ResponseAction>,
    /// Role ids with their names.
    pub roles: Vec<(i64, String)>,
}

impl Valid {
    /// The definition as it would be saved, for previewing a form that is not saved yet.
    pub fn into_webhook(self, id: i64) -> Webhook {
        let now = crate::db::now();
        Webhook {
            id,
            name: self.name,
            description: self.description,
            status: self.status,
            ticket_types: self
                .ticket_types
                .iter()
                .map(|t| t.code().to_string())
                .collect(),
            connection_id: self.connection_id,
            test_connection_id: self.test_connection_id,
            url: self.url,
            url_encoded: self.url_encoded,
            method: self.method,
            request_content_type: self.request_content_type,
            headers: self.headers,
            sealed_headers: self.sealed_headers,
            response_content_type: self.response_content_type,
            run_rules_after_response: self.run_rules_after_response,
            action_description: self.action_description,
            show_as_button: self.show_as_button,
            preset: self.preset,
            payload_mode: self.payload_mode,
            body_template: self.body_template,
            send_ids: self.send_ids,
            condition_match: self.condition_match,
            conditions: self.conditions,
            batch_mode: self.batch_mode,
            batch_wait_seconds: self.batch_wait_seconds,
            batch_max_items: self.batch_max_items,
            keep_order: self.keep_order,
            retry_max_attempts: self.retry_max_attempts,
            retry_schedule: self.retry_schedule,
            parameters: self.parameters,
            response_fields: self.response_fields,
            response_actions: self.response_actions,
            roles: self.roles.into_iter().map(|(_, n)| n).collect(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// Ticket placeholder names for the given types (every type when empty).
pub fn ticket_names(conn: &mut DbConn, types: &[TicketType]) -> Result<Vec<String>> {
    if types.is_empty() {
        return template_names(conn, None);
    }
    let mut all = BTreeSet::new();
    for t in types {
        all.extend(template_names(conn, Some(*t))?);
    }
    Ok(all.into_iter().collect())
}

/// The names the webhook's templates may use: ticket names, its parameters, built-ins.
pub fn known_names(ticket: &[String], params: &[Parameter]) -> KnownNames {
    KnownNames::new(
        ticket.iter(),
        params.iter().map(|p| p.name.trim().to_ascii_lowercase()),
    )
}

fn template_msg(e: &TemplateError) -> String {
    e.to_string()
}

/// Parses and checks one template, adding its error under `field`.
fn check_template(errs: &mut FieldErrors, field: &str, text: &str, kind: Kind, known: &KnownNames) {
    if let Err(e) = Template::parse_known(text, kind, known) {
        errs.add(field, template_msg(&e));
    }
}

fn parse_choice<T: Copy>(
    errs: &mut FieldErrors,
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    codes: String,
    default: T,
) -> T {
    match parse(value) {
        Some(v) => v,
        None => {
            errs.add(field, format!("choose one of: {codes}"));
            default
        }
    }
}

/// Checks everything; `except` is the webhook being edited (its own name is not taken).
pub fn validate(conn: &mut DbConn, input: &WebhookInput, except: Option<i64>) -> Result<Valid> {
    let mut errs = FieldErrors::new();

    let name = input.name.trim().to_string();
    if name.is_empty() {
        errs.add("name", "is required");
    } else if let Some(m) = limits::too_long(&name, limits::NAME) {
        errs.add("name", m);
    } else if super::store::name_taken(conn, &name, except)? {
        errs.add("name", "is already taken by another webhook");
    }
    limits::check(
        &mut errs,
        "description",
        &input.description,
        limits::DESCRIPTION,
    );
    let status = parse_choice(
        &mut errs,
        "status",
        &input.status,
        Status::parse,
        Status::codes(),
        Status::Enabled,
    );

    let mut ticket_types = Vec::new();
    for t in &input.ticket_types {
        match TicketType::parse(t) {
            Some(tt) if !ticket_types.contains(&tt) => ticket_types.push(tt),
            Some(_) => {}
            None => errs.add("ticket_types", format!("unknown ticket type `{t}`")),
        }
    }

    for (field, id) in [
        ("connection_id", input.connection_id),
        ("test_connection_id", input.test_connection_id),
    ] {
        if let Some(id) = id
            && !super::store::connection_exists(conn, id)?
        {
            errs.add(field, "no such connection");
        }
    }
    if status == Status::Test && input.test_connection_id.is_none() {
        errs.add(
            "test_connection_id",
            "a webhook in Test status sends through its test connection: choose one",
        );
    }

    let method = parse_choice(
        &mut errs,
        "method",
        &input.method,
        Method::parse,
        Method::codes(),
        Method::Post,
    );
    let request_content_type = parse_choice(
        &mut errs,
        "request_content_type",
        &input.request_content_type,
        RequestType::parse,
        RequestType::codes(),
        RequestType::Json,
    );
    let response_content_type = parse_choice(
        &mut errs,
        "response_content_type",
        &input.response_content_type,
        ResponseType::parse,
        ResponseType::codes(),
        ResponseType::Json,
    );
    let payload_mode = parse_choice(
        &mut errs,
        "payload_mode",
        &input.payload_mode,
        PayloadMode::parse,
        PayloadMode::codes(),
        PayloadMode::Custom,
    );
    let condition_match = parse_choice(
        &mut errs,
        "condition_match",
        &input.condition_match,
        MatchMode::parse,
        "all, any".into(),
        MatchMode::All,
    );
    let batch_mode = parse_choice(
        &mut errs,
        "batch_mode",
        &input.batch_mode,
        BatchMode::parse,
        BatchMode::codes(),
        BatchMode::None,
    );

    // Parameters come first: the other templates may use them.
    let mut parameters = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, p) in input.parameters.iter().enumerate() {
        let pname = p.name.trim().to_ascii_lowercase();
        if pname.is_empty() {
            errs.add(format!("parameters.{i}.name"), "is required");
        } else if !pname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || pname.len() > 60
        {
            errs.add(
                format!("parameters.{i}.name"),
                "use at most 60 letters, digits and underscores",
            );
        } else if !seen.insert(pname.clone()) {
            errs.add(
                format!("parameters.{i}.name"),
                "is used by another parameter",
            );
        }
        let label = if p.label.trim().is_empty() {
            p.name.trim().to_string()
        } else {
            p.label.trim().to_string()
        };
        limits::check(
            &mut errs,
            format!("parameters.{i}.label"),
            &label,
            limits::NAME,
        );
        parameters.push(Parameter {
            name: pname,
            label,
            default_template: p.default_template.clone(),
            read_only: p.read_only,
            multi_line: p.multi_line,
        });
    }

    let tnames = ticket_names(conn, &ticket_types)?;
    // A parameter's default is filled before any parameter has a value.
    let base_known = known_names(&tnames, &[]);
    let known = known_names(&tnames, &parameters);
    for (i, p) in parameters.iter().enumerate() {
        let field = format!("parameters.{i}.default_template");
        if !limits::check(&mut errs, &field, &p.default_template, limits::DESCRIPTION) {
            continue;
        }
        check_template(
            &mut errs,
            &format!("parameters.{i}.default_template"),
            &p.default_template,
            Kind::Text,
            &base_known,
        );
    }

    let url = input.url.trim().to_string();
    let lower = url.to_ascii_lowercase();
    let absolute = lower.starts_with("http://") || lower.starts_with("https://");
    if let Some(m) = limits::too_long(&url, limits::URL) {
        errs.add("url", m);
    } else if url.is_empty() && input.connection_id.is_none() {
        errs.add("url", "is required when no connection is chosen");
    } else if input.connection_id.is_none() && !absolute {
        errs.add(
            "url",
            "must start with http:// or https:// when no connection is chosen",
        );
    } else if url.contains(char::is_whitespace) {
        errs.add(
            "url",
            "must not contain spaces (placeholders are encoded when sent)",
        );
    } else if lower.contains("://") && !absolute {
        errs.add("url", "only http:// and https:// URLs are supported");
    } else {
        check_template(
            &mut errs,
            "url",
            &url,
            Kind::Url {
                already_encoded: input.url_encoded,
            },
            &known,
        );
    }

    let header_lines = if limits::check(&mut errs, "headers", &input.headers, limits::HEADERS) {
        parse_header_lines(&input.headers)
    } else {
        Vec::new()
    };
    for (line, hname, value) in header_lines {
        let raw = input.headers.lines().nth(line - 1).unwrap_or_default();
        if !raw.contains(':') {
            errs.add("headers", format!("line {line}: write `Name: value`"));
        } else if !valid_header_name(&hname) {
            errs.add(
                "headers",
                format!("line {line}: `{hname}` is not a valid header name"),
            );
        } else if let Err(e) = Template::parse_known(&value, Kind::Header, &known) {
            errs.add("headers", format!("line {line}: {}", template_msg(&e)));
        }
    }

    if limits::check(
        &mut errs,
        "action_description",
        &input.action_description,
        limits::DESCRIPTION,
    ) {
        check_template(
            &mut errs,
            "action_description",
            &input.action_description,
            Kind::Text,
            &known,
        );
    }

    if payload_mode != PayloadMode::Custom && request_content_type != RequestType::Json {
        errs.add(
            "payload_mode",
            "the whole ticket is sent as JSON: set the request content type to JSON",
        );
    }

    let preset = input.preset.clone();
    if preset.kind() == PresetKind::Generic {
        if payload_mode == PayloadMode::Custom && method.has_body() {
            if input.body_template.trim().is_empty() && request_content_type != RequestType::Text {
                errs.add(
                    "body_template",
                    "a body template is required for a custom payload",
                );
            } else if limits::check(
                &mut errs,
                "body_template",
                &input.body_template,
                limits::TEMPLATE,
            ) {
                check_template(
                    &mut errs,
                    "body_template",
                    &input.body_template,
                    body_kind(request_content_type),
                    &known,
                );
            }
        }
    } else {
        if let Err(e) = preset.validate(&known) {
            match e {
                Error::Validation(f) => {
                    for fe in f.0 {
                        errs.add(format!("preset.{}", fe.field), fe.message);
                    }
                }
                other => errs.add("preset", other.to_string()),
            }
        }
        if request_content_type != RequestType::Json || method != Method::Post {
            errs.add(
                "preset",
                "presets send JSON with POST: set the method to POST and the content type to JSON",
            );
        }
    }

    let conds =
        conditions::parse_inputs(&input.conditions, &tnames, false, "conditions", &mut errs);

    if batch_mode != BatchMode::None
        && let Some(why) = batching_unavailable(method, request_content_type, payload_mode)
    {
        errs.add("batch_mode", why);
    }
    if !(0..=3600).contains(&input.batch_wait_seconds) {
        errs.add("batch_wait_seconds", "must be between 0 and 3600 seconds");
    }
    if !(1..=1000).contains(&input.batch_max_items) {
        errs.add("batch_max_items", "must be between 1 and 1000");
    }
    if input.keep_order && batch_mode != BatchMode::None {
        errs.add(
            "keep_order",
            "cannot be combined with batching: a batch carries many tickets at once",
        );
    }
    if let Some(n) = input.retry_max_attempts
        && !(1..=50).contains(&n)
    {
        errs.add(
            "retry_max_attempts",
            "must be between 1 and 50 (leave empty for the global policy)",
        );
    }
    let retry_schedule = match parse_schedule(&input.retry_schedule) {
        Ok(s) => s,
        Err(m) => {
            errs.add("retry_schedule", m);
            None
        }
    };

    let mut response_fields = Vec::new();
    for (i, f) in input.response_fields.iter().enumerate() {
        let target = f.target.trim().to_ascii_lowercase();
        if let Some(m) = limits::too_long(&f.path, limits::SHORT) {
            errs.add(format!("response_fields.{i}.path"), m);
        } else if !valid_response_path(&f.path) {
            errs.add(
                format!("response_fields.{i}.path"),
                "write a path such as result.number, items[0].id or a/b",
            );
        }
        if !tnames.contains(&target) || !writable(&target) {
            errs.add(
                format!("response_fields.{i}.target"),
                "choose a ticket field or custom form field that can be set",
            );
        }
        response_fields.push(ResponseField {
            path: f.path.trim().to_string(),
            target,
        });
    }

    let mut response_actions = Vec::new();
    // Response actions run when the answer arrives, from what the delivery kept: the
    // ticket, the event, the actor and the answer, but not the parameters' values.
    let with_response = base_known.clone().with_response();
    for (i, a) in input.response_actions.iter().enumerate() {
        let Some(kind) = ActionKind::parse(&a.kind) else {
            errs.add(
                format!("response_actions.{i}.kind"),
                format!("choose one of: {}", ActionKind::codes()),
            );
            continue;
        };
        let target = a.target.trim().to_ascii_lowercase();
        if kind == ActionKind::SetField && (!tnames.contains(&target) || !writable(&target)) {
            errs.add(
                format!("response_actions.{i}.target"),
                "choose a ticket field or custom form field that can be set",
            );
        }
        let field = format!("response_actions.{i}.value_template");
        if kind != ActionKind::SetField && a.value_template.trim().is_empty() {
            errs.add(field, "is required");
        } else if limits::check(&mut errs, &field, &a.value_template, 20_000) {
            check_template(
                &mut errs,
                &format!("response_actions.{i}.value_template"),
                &a.value_template,
                Kind::Text,
                &with_response,
            );
        }
        response_actions.push(ResponseAction {
            kind,
            target: if kind == ActionKind::SetField {
                target
            } else {
                String::new()
            },
            value_template: a.value_template.clone(),
        });
    }

    let mut roles = Vec::new();
    for r in &input.roles {
        match super::store::role_id(conn, r.trim())? {
            Some(id) if !roles.iter().any(|(x, _)| *x == id) => {
                roles.push((id, r.trim().to_string()))
            }
            Some(_) => {}
            None => errs.add("roles", format!("unknown role `{}`", r.trim())),
        }
    }

    errs.into_result()?;
    Ok(Valid {
        name,
        description: input.description.trim().to_string(),
        status,
        ticket_types,
        connection_id: input.connection_id,
        test_connection_id: input.test_connection_id,
        url,
        url_encoded: input.url_encoded,
        method,
        request_content_type,
        headers: input.headers.trim().to_string(),
        sealed_headers: None,
        response_content_type,
        run_rules_after_response: input.run_rules_after_response,
        action_description: input.action_description.clone(),
        show_as_button: input.show_as_button,
        preset,
        payload_mode,
        body_template: input.body_template.clone(),
        send_ids: input.send_ids,
        condition_match,
        conditions: conds,
        batch_mode,
        batch_wait_seconds: input.batch_wait_seconds,
        batch_max_items: input.batch_max_items,
        keep_order: input.keep_order,
        retry_max_attempts: input.retry_max_attempts,
        retry_schedule,
        parameters,
        response_fields,
        response_actions,
        roles,
    })
}
