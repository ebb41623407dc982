//! What an administrator submits for a webhook (page or API), and the validation of ALL
//! of it before anything is written. Every problem is reported beside its field: keys
//! are the input's field names, child rows `parameters.<i>.<field>` and so on.

use crate::conditions::MatchMode;
use crate::db::DbConn;
use crate::error::{Error, FieldErrors, Result};
use crate::secrets::SecretBox;

use super::model::*;
use super::presets::Preset;
use super::request::header_hosts;
use super::secret_headers;

// The checks live in `checks`; their entry points are used through this module too.
pub use super::checks::{
    Valid, body_kind, known_names, parse_schedule, ticket_names, valid_response_path, validate,
    writable,
};

/// A condition row as submitted: the operator is still text, so a bad one becomes a
/// field error rather than a malformed request.
pub use crate::conditions::ConditionInput;

#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default)]
pub struct ResponseActionInput {
    pub kind: String,
    pub target: String,
    pub value_template: String,
}

/// A whole webhook as submitted. Choices are text (codes or labels) and are checked here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct WebhookInput {
    pub name: String,
    pub description: String,
    /// enabled | test | disabled
    pub status: String,
    /// Ticket type codes or names; empty: every type.
    pub ticket_types: Vec<String>,
    pub connection_id: Option<i64>,
    pub test_connection_id: Option<i64>,
    pub url: String,
    pub url_encoded: bool,
    /// GET | POST | PUT | PATCH | DELETE
    pub method: String,
    /// json | xml | form | text
    pub request_content_type: String,
    /// `Name: value` lines. A secret header's value (by its name: `Authorization`,
    /// `Cookie`, any name with `token`, `secret`, `key`, `password`, …) is write-only:
    /// it reads back as `••••` (`Bearer ••••`), and sent back blank or so it keeps the
    /// stored value.
    pub headers: String,
    /// json | xml | form | html
    pub response_content_type: String,
    pub run_rules_after_response: bool,
    pub action_description: String,
    pub show_as_button: bool,
    /// `{"preset": "generic"}`, or a preset with its fields, such as
    /// `{"preset": "slack", "text": "…", "title": "…", "button_label": "…", "ticket_url": "…"}`.
    #[schema(value_type = Object)]
    pub preset: Preset,
    /// custom | ticket | ticket_linked
    pub payload_mode: String,
    pub body_template: String,
    pub send_ids: bool,
    /// all | any
    pub condition_match: String,
    pub conditions: Vec<ConditionInput>,
    /// none | same_event | same_event_type | any_event
    pub batch_mode: String,
    pub batch_wait_seconds: i32,
    pub batch_max_items: i32,
    /// Keep order per ticket: one delivery per ticket at a time, in the order their
    /// causes committed; a failing one holds back later ones for that ticket only.
    /// Not with batching.
    pub keep_order: bool,
    pub retry_max_attempts: Option<i32>,
    /// Seconds between attempts, comma separated (`60, 300, 1800`); empty: global policy.
    pub retry_schedule: String,
    pub parameters: Vec<Parameter>,
    pub response_fields: Vec<ResponseField>,
    pub response_actions: Vec<ResponseActionInput>,
    pub roles: Vec<String>,
}

impl Default for WebhookInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            status: Status::Enabled.code().into(),
            ticket_types: Vec::new(),
            connection_id: None,
            test_connection_id: None,
            url: String::new(),
            url_encoded: false,
            method: Method::Post.code().into(),
            request_content_type: RequestType::Json.code().into(),
            headers: String::new(),
            response_content_type: ResponseType::Json.code().into(),
            run_rules_after_response: false,
            action_description: String::new(),
            show_as_button: false,
            preset: Preset::Generic,
            payload_mode: PayloadMode::Custom.code().into(),
            body_template: String::new(),
            send_ids: false,
            condition_match: MatchMode::All.code().into(),
            conditions: Vec::new(),
            batch_mode: BatchMode::None.code().into(),
            batch_wait_seconds: 30,
            batch_max_items: 100,
            keep_order: false,
            retry_max_attempts: None,
            retry_schedule: String::new(),
            parameters: Vec::new(),
            response_fields: Vec::new(),
            response_actions: Vec::new(),
            roles: Vec::new(),
        }
    }
}

/// Checks everything (`validate`) and seals the secret header values. A secret line sent
/// blank or redacted keeps the value `stored` has for it: the webhook being edited, or
/// the original of a copy — unless the input sends the headers to a host `stored` did
/// not (`new_host`). `except` is the id whose name is not a clash.
pub fn prepare(
    conn: &mut DbConn,
    sb: &SecretBox,
    input: &WebhookInput,
    except: Option<i64>,
    stored: Option<&Webhook>,
) -> Result<Valid> {
    let mut errs = FieldErrors::new();
    let keep_from = match stored {
        Some(w) if new_host(conn, input, w)? => secret_headers::Keep::NewHost(w),
        Some(w) => secret_headers::Keep::From(w),
        None => secret_headers::Keep::Nothing,
    };
    let headers = secret_headers::seal(&input.headers, keep_from, sb, &mut errs)?;
    // The templates checked are the ones that will be sent.
    let real = WebhookInput {
        headers: headers.real,
        ..input.clone()
    };
    match validate(conn, &real, except) {
        Ok(mut v) if errs.is_empty() => {
            v.headers = headers.shown;
            v.sealed_headers = headers.sealed;
            Ok(v)
        }
        Ok(_) => Err(Error::Validation(errs)),
        Err(Error::Validation(mut all)) => {
            all.0.extend(errs.0);
            Err(Error::Validation(all))
        }
        Err(e) => Err(e),
    }
}

/// Whether `input` would send its header lines to a host `stored` never sent them to:
/// another URL, connection or test connection (`request::header_hosts`). A stored secret
/// value does not follow them there unconfirmed, as a connection's do not
/// (`connections::input`).
fn new_host(conn: &mut DbConn, input: &WebhookInput, stored: &Webhook) -> Result<bool> {
    let same_route = input.url.trim() == stored.url.trim()
        && input.connection_id == stored.connection_id
        && input.test_connection_id == stored.test_connection_id;
    // A parameter in the URL (`https://{{param.host}}/`) is a host whose defaults decide:
    // changing them may move the headers.
    let defaults = |ps: &[Parameter]| -> Vec<(String, String)> {
        ps.iter()
            .map(|p| {
                (
                    p.name.trim().to_ascii_lowercase(),
                    p.default_template.clone(),
                )
            })
            .collect()
    };
    let uses_params = |url: &str| {
        url.to_ascii_lowercase()
            .replace(' ', "")
            .contains("{{param.")
    };
    if (uses_params(&input.url) || uses_params(&stored.url))
        && defaults(&input.parameters) != defaults(&stored.parameters)
    {
        return Ok(true);
    }
    let was = header_hosts(
        conn,
        &stored.url,
        stored.connection_id,
        stored.test_connection_id,
    )?;
    let now = header_hosts(
        conn,
        &input.url,
        input.connection_id,
        input.test_connection_id,
    )?;
    // A host that cannot be read (a placeholder in the port) compares with nothing: only
    // an unchanged route keeps the values.
    if now.contains(&None) || was.contains(&None) {
        return Ok(!same_route);
    }
    Ok(!now.is_subset(&was))
}

impl WebhookInput {
    /// The saved definition as its form and the API show it: secret header values
    /// redacted (they already are, unless saved before the rule).
    pub fn from_webhook(w: &Webhook) -> Self {
        Self {
            name: w.name.clone(),
            description: w.description.clone(),
            status: w.status.code().into(),
            ticket_types: w.ticket_types.clone(),
            connection_id: w.connection_id,
            test_connection_id: w.test_connection_id,
            url: w.url.clone(),
            url_encoded: w.url_encoded,
            method: w.method.code().into(),
            request_content_type: w.request_content_type.code().into(),
            headers: secret_headers::redact_text(&w.headers).0,
            response_content_type: w.response_content_type.code().into(),
            run_rules_after_response: w.run_rules_after_response,
            action_description: w.action_description.clone(),
            show_as_button: w.show_as_button,
            preset: w.preset.clone(),
            payload_mode: w.payload_mode.code().into(),
            body_template: w.body_template.clone(),
            send_ids: w.send_ids,
            condition_match: w.condition_match.code().into(),
            conditions: w
                .conditions
                .iter()
                .map(|c| ConditionInput {
                    field: c.field.clone(),
                    operator: c.operator.code().into(),
                    value: c.value.clone(),
                })
                .collect(),
            batch_mode: w.batch_mode.code().into(),
            batch_wait_seconds: w.batch_wait_seconds,
            batch_max_items: w.batch_max_items,
            keep_order: w.keep_order,
            retry_max_attempts: w.retry_max_attempts,
            retry_schedule: w
                .retry_schedule
                .as_ref()
                .map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            parameters: w.parameters.clone(),
            response_fields: w.response_fields.clone(),
            response_actions: w
                .response_actions
                .iter()
                .map(|a| ResponseActionInput {
                    kind: a.kind.code().into(),
                    target: a.target.clone(),
                    value_template: a.value_template.clone(),
                })
                .collect(),
            roles: w.roles.clone(),
        }
    }
}
