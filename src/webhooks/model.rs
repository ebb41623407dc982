//! A webhook definition as stored: the row, its ordered child rows, and the small enums
//! its text columns hold.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::conditions::{Condition, MatchMode};
use crate::db::schema::{
    webhook_conditions, webhook_parameters, webhook_response_actions, webhook_response_fields,
    webhooks,
};

/// A closed set of choices kept as a short code in a text column.
macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal, $label:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name { $(#[serde(rename = $code)] $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }
            /// The code or the label, in any case.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code().eq_ignore_ascii_case(s) || v.label().eq_ignore_ascii_case(s))
            }
            /// Codes separated by ", ", for error messages.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

choice!(
    /// Enabled sends; Test sends through the test connection; Disabled never fires.
    Status {
        Enabled = "enabled", "Enabled";
        Test = "test", "Test";
        Disabled = "disabled", "Disabled";
    }
);

choice!(Method {
    Get = "GET", "GET";
    Post = "POST", "POST";
    Put = "PUT", "PUT";
    Patch = "PATCH", "PATCH";
    Delete = "DELETE", "DELETE";
});

choice!(
    /// The body's format, which is also how its template is parsed.
    RequestType {
        Json = "json", "JSON";
        Xml = "xml", "XML";
        Form = "form", "Form (x-www-form-urlencoded)";
        Text = "text", "Plain text";
    }
);

choice!(ResponseType {
    Json = "json", "JSON";
    Xml = "xml", "XML";
    Form = "form", "Form (x-www-form-urlencoded)";
    Html = "html", "HTML";
});

choice!(PayloadMode {
    Custom = "custom", "Custom template";
    WholeTicket = "ticket", "Whole ticket";
    WholeTicketLinked = "ticket_linked", "Whole ticket with linked objects";
});

choice!(
    /// How occurrences are grouped into one delivery whose body is a JSON array.
    BatchMode {
        None = "none", "One delivery per occurrence";
        SameEvent = "same_event", "Group occurrences of the same event";
        SameEventType = "same_event_type", "Group occurrences of the same event type";
        AnyEvent = "any_event", "Group any events";
    }
);

choice!(ActionKind {
    SetField = "set_field", "Set field";
    AddNote = "add_note", "Add note";
    ChangeStatus = "change_status", "Change status";
});

impl RequestType {
    pub fn mime(self) -> &'static str {
        match self {
            RequestType::Json => "application/json",
            RequestType::Xml => "application/xml",
            RequestType::Form => "application/x-www-form-urlencoded",
            RequestType::Text => "text/plain; charset=utf-8",
        }
    }
}

impl Method {
    /// GET and DELETE requests carry no body.
    pub fn has_body(self) -> bool {
        !matches!(self, Method::Get | Method::Delete)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub status: String,
    pub ticket_types: String,
    pub connection_id: Option<i64>,
    pub test_connection_id: Option<i64>,
    pub url: String,
    pub url_encoded: bool,
    pub method: String,
    pub request_content_type: String,
    pub headers: String,
    pub response_content_type: String,
    pub run_rules_after_response: bool,
    pub action_description: String,
    pub show_as_button: bool,
    pub preset: String,
    pub preset_fields: String,
    pub payload_mode: String,
    pub body_template: String,
    pub send_ids: bool,
    pub condition_match: String,
    pub batch_mode: String,
    pub batch_wait_seconds: i32,
    pub batch_max_items: i32,
    pub retry_max_attempts: Option<i32>,
    pub retry_schedule: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The real values of the secret header lines, sealed (`super::secret_headers`).
    #[serde(skip)]
    pub sealed_headers: Option<String>,
    /// "Keep order per ticket": one delivery of this webhook per ticket at a time.
    pub keep_order: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_parameters)]
pub struct ParameterRow {
    pub id: i64,
    pub webhook_id: i64,
    pub position: i32,
    pub name: String,
    pub label: String,
    pub default_template: String,
    pub read_only: bool,
    pub multi_line: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_response_fields)]
pub struct ResponseFieldRow {
    pub id: i64,
    pub webhook_id: i64,
    pub position: i32,
    pub path: String,
    pub target: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_response_actions)]
pub struct ResponseActionRow {
    pub id: i64,
    pub webhook_id: i64,
    pub position: i32,
    pub kind: String,
    pub target: String,
    pub value_template: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_conditions)]
pub struct ConditionRow {
    pub id: i64,
    pub webhook_id: i64,
    pub position: i32,
    pub field: String,
    pub operator: String,
    pub value: String,
}

/// A parameter prompted when the webhook is fired, used as `{{param.<name>}}`.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default)]
pub struct Parameter {
    pub name: String,
    pub label: String,
    /// A template (text) giving the value offered when the webhook is fired.
    pub default_template: String,
    pub read_only: bool,
    pub multi_line: bool,
}

/// Maps a value of the response (`result.number`, `items[0].id`, an XML element path,
/// a form key) to a ticket field or custom form field (`ticket.<form>.<field>`).
#[derive(
    Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default)]
pub struct ResponseField {
    pub path: String,
    pub target: String,
}

/// Done on the ticket after a 2xx response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ResponseAction {
    pub kind: ActionKind,
    /// The field set by `set_field`; empty otherwise.
    #[serde(default)]
    pub target: String,
    /// A template: the field's new value, the note, or the new status.
    #[serde(default)]
    pub value_template: String,
}

/// A complete webhook definition, as the domain and the API see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub status: Status,
    /// Ticket type codes (`IN`, `SR`, `PR`, `CH`); empty means every type.
    pub ticket_types: Vec<String>,
    pub connection_id: Option<i64>,
    pub test_connection_id: Option<i64>,
    pub url: String,
    pub url_encoded: bool,
    pub method: Method,
    pub request_content_type: RequestType,
    /// `Name: value` lines; values may hold placeholders. The value of a secret line
    /// (secret by its name: `delivery::redact`) is redacted here and kept, sealed, in
    /// `sealed_headers`; `secret_headers::request_lines` puts the two together.
    pub headers: String,
    #[serde(skip)]
    pub sealed_headers: Option<String>,
    pub response_content_type: ResponseType,
    pub run_rules_after_response: bool,
    pub action_description: String,
    pub show_as_button: bool,
    /// The preset with its fields (`Generic`: the body template is sent).
    pub preset: super::presets::Preset,
    pub payload_mode: PayloadMode,
    pub body_template: String,
    pub send_ids: bool,
    pub condition_match: MatchMode,
    pub conditions: Vec<Condition>,
    pub batch_mode: BatchMode,
    pub batch_wait_seconds: i32,
    pub batch_max_items: i32,
    pub keep_order: bool,
    /// None: the global retry policy.
    pub retry_max_attempts: Option<i32>,
    /// Delays in seconds between attempts; None: the global retry policy.
    pub retry_schedule: Option<Vec<u32>>,
    pub parameters: Vec<Parameter>,
    pub response_fields: Vec<ResponseField>,
    pub response_actions: Vec<ResponseAction>,
    /// Names of the roles that may fire the webhook by hand.
    pub roles: Vec<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Webhook {
    /// Whether batching may be used, and if not why (shown on the Batching tab).
    pub fn batching_unavailable(&self) -> Option<&'static str> {
        batching_unavailable(self.method, self.request_content_type, self.payload_mode)
    }

    /// The retry schedule of this webhook's deliveries as `delivery::enqueue` takes it,
    /// or `None` for the global one (`global`). See [`delivery_schedule`].
    pub fn delivery_schedule(&self, global: &[String]) -> Option<Vec<String>> {
        delivery_schedule(
            self.retry_max_attempts,
            self.retry_schedule.as_deref(),
            global,
        )
    }
}

/// Batching bodies are JSON arrays of the single bodies, so only JSON POSTs can be
/// batched, and not the whole ticket with linked objects (whose history makes each item
/// too large to group).
pub fn batching_unavailable(
    method: Method,
    ct: RequestType,
    mode: PayloadMode,
) -> Option<&'static str> {
    if method != Method::Post {
        Some("Batching is available only for POST requests.")
    } else if ct != RequestType::Json {
        Some("Batching is available only for JSON request bodies.")
    } else if mode == PayloadMode::WholeTicketLinked {
        Some("Batching is not available when the payload is the whole ticket with linked objects.")
    } else {
        None
    }
}

/// A webhook's retry policy as a delivery schedule, whose entry `n` is the wait before
/// attempt `n + 1` (`delivery::retry`): the first attempt at once, then the webhook's
/// delays, or the global schedule when it sets only a maximum. A maximum cuts the
/// schedule short or repeats its last delay. `None`: the webhook has no policy of its own.
pub fn delivery_schedule(
    max_attempts: Option<i32>,
    delays: Option<&[u32]>,
    global: &[String],
) -> Option<Vec<String>> {
    let mut schedule: Vec<String> = match delays {
        Some(d) => std::iter::once("0s".to_string())
            .chain(d.iter().map(|s| format!("{s}s")))
            .collect(),
        None if max_attempts.is_some() => global.to_vec(),
        None => return None,
    };
    if let Some(n) = max_attempts
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n >= 1)
    {
        let last = schedule.last().cloned().unwrap_or_else(|| "0s".into());
        schedule.resize(n, last);
    }
    Some(schedule)
}

/// `Name: value` lines (blank lines skipped) as (line number, name, value).
pub fn parse_header_lines(text: &str) -> Vec<(usize, String, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| match l.split_once(':') {
            Some((n, v)) => (i + 1, n.trim().to_string(), v.trim().to_string()),
            None => (i + 1, l.trim().to_string(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_rules() {
        assert_eq!(
            batching_unavailable(Method::Post, RequestType::Json, PayloadMode::Custom),
            None
        );
        assert!(
            batching_unavailable(Method::Put, RequestType::Json, PayloadMode::Custom).is_some()
        );
        assert!(
            batching_unavailable(Method::Post, RequestType::Xml, PayloadMode::Custom).is_some()
        );
        assert!(
            batching_unavailable(
                Method::Post,
                RequestType::Json,
                PayloadMode::WholeTicketLinked
            )
            .is_some()
        );
    }

    #[test]
    fn a_webhook_retry_policy_as_a_delivery_schedule() {
        let global: Vec<String> = ["0s", "5s", "5m"].iter().map(|s| s.to_string()).collect();
        assert_eq!(delivery_schedule(None, None, &global), None);
        assert_eq!(
            delivery_schedule(None, Some(&[60, 300]), &global),
            Some(vec!["0s".into(), "60s".into(), "300s".into()])
        );
        assert_eq!(
            delivery_schedule(Some(2), None, &global),
            Some(vec!["0s".into(), "5s".into()])
        );
        assert_eq!(
            delivery_schedule(Some(4), Some(&[60]), &global),
            Some(vec!["0s".into(), "60s".into(), "60s".into(), "60s".into()])
        );
        assert_eq!(
            delivery_schedule(Some(1), Some(&[60, 300]), &global),
            Some(vec!["0s".into()])
        );
    }
}
