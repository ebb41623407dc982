//! The names a template may use (`KnownNames`, checked when it is saved) and the values it
//! is filled with (`RenderContext`, at send time).
//!
//! Ticket names and values come from the tickets module (`ticket.id`, `ticket.subject`,
//! `ticket.<form>.<field>`, `ticket.<form>.<field>.id`, `ticket.<multi-line form>` …);
//! this module adds the others: `param.<name>`, `event.type`, `event.changes`,
//! `event.note`, `event.note.internal`, `actor.name`, `webhook.name` and `now`. A ticket value may carry a text of its own
//! (`TicketValues`), which every template but a JSON one's whole-string placeholder writes.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::error::TemplateError;

/// The text of the note a `ticket.note_added` event added (empty for other events).
pub const EVENT_NOTE: &str = "event.note";
/// Whether that note is internal (`true`/`false`; empty for other events).
pub const EVENT_NOTE_INTERNAL: &str = "event.note.internal";

/// Names every template may use besides the ticket's and the webhook's parameters.
pub const BUILTIN_NAMES: [&str; 7] = [
    "event.type",
    "event.changes",
    EVENT_NOTE,
    EVENT_NOTE_INTERNAL,
    "actor.name",
    "webhook.name",
    "now",
];

/// The placeholder names valid for one webhook: its ticket type's fields and forms, its
/// parameters and the built-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNames {
    names: BTreeSet<String>,
    /// Response action templates may also read the response: `response.<path>`.
    response: bool,
}

impl KnownNames {
    /// `ticket_names` as the tickets module lists them (`ticket.subject`, …); `param_names`
    /// as the webhook's parameters are named (without the `param.` prefix).
    pub fn new<T, P>(ticket_names: T, param_names: P) -> Self
    where
        T: IntoIterator,
        T::Item: AsRef<str>,
        P: IntoIterator,
        P::Item: AsRef<str>,
    {
        let mut names: BTreeSet<String> = BUILTIN_NAMES.iter().map(|n| n.to_string()).collect();
        names.extend(
            ticket_names
                .into_iter()
                .map(|n| n.as_ref().trim().to_ascii_lowercase()),
        );
        names.extend(
            param_names
                .into_iter()
                .map(|n| format!("param.{}", n.as_ref().trim().to_ascii_lowercase())),
        );
        Self {
            names,
            response: false,
        }
    }

    /// These names plus any `response.<path>` (for response action templates).
    pub fn with_response(mut self) -> Self {
        self.response = true;
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
            || (self.response
                && name
                    .strip_prefix("response.")
                    .is_some_and(|p| !p.is_empty()))
    }

    /// All names, sorted, for error messages and the editor's help.
    pub fn list(&self) -> Vec<String> {
        let mut all: Vec<String> = self.names.iter().cloned().collect();
        if self.response {
            all.push("response.<path>".into());
        }
        all
    }

    /// `Ok` when every name is known, else all unknown ones (once each, in order of use).
    pub fn check<'a>(&self, used: impl IntoIterator<Item = &'a str>) -> Result<(), TemplateError> {
        let mut unknown: Vec<String> = Vec::new();
        for name in used {
            if !self.contains(name) && !unknown.iter().any(|u| u == name) {
                unknown.push(name.to_string());
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(TemplateError::Unknown {
                names: unknown,
                known: self.list(),
            })
        }
    }
}

/// A ticket's placeholder values (the tickets module's `template_values`): typed JSON by
/// name, which a JSON body's whole-string placeholder and conditions read; and, for the
/// few values whose text is not how JSON writes them (a Number field with decimal
/// places: `45.5` reads `45.50`), that text, which every other placeholder writes.
/// Reads as the map of typed values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketValues {
    values: BTreeMap<String, Value>,
    texts: BTreeMap<String, String>,
}

impl TicketValues {
    /// Keys are lower-cased here in case a caller builds them by hand.
    pub fn new(values: BTreeMap<String, Value>, texts: BTreeMap<String, String>) -> Self {
        let lower = |k: String| k.to_ascii_lowercase();
        Self {
            values: values.into_iter().map(|(k, v)| (lower(k), v)).collect(),
            texts: texts.into_iter().map(|(k, v)| (lower(k), v)).collect(),
        }
    }

    /// The text of a value that has one of its own.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }

    /// The typed values, giving up the texts.
    pub fn into_values(self) -> BTreeMap<String, Value> {
        self.values
    }
}

impl std::ops::Deref for TicketValues {
    type Target = BTreeMap<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.values
    }
}

/// Typed values only: every value's text is how JSON writes it.
impl From<BTreeMap<String, Value>> for TicketValues {
    fn from(values: BTreeMap<String, Value>) -> Self {
        TicketValues::new(values, BTreeMap::new())
    }
}

/// Everything a render can read. Time is passed in, never read from the clock here.
#[derive(Debug, Clone)]
pub struct RenderContext {
    ticket: TicketValues,
    params: BTreeMap<String, String>,
    event_type: Option<String>,
    event_changes: Option<Value>,
    /// What the event tells besides its changes (`event.note` …), by name.
    event_values: BTreeMap<String, Value>,
    actor_name: Option<String>,
    webhook_name: Option<String>,
    now: String,
    prefer_ids: bool,
    /// Values read from a webhook's response, by placeholder name (`response.<path>`).
    response: BTreeMap<String, Value>,
}

impl RenderContext {
    /// `ticket` is the tickets module's `template_values`, or a map of typed values built
    /// by hand.
    pub fn new(ticket: impl Into<TicketValues>, now: DateTime<Utc>) -> Self {
        Self {
            ticket: ticket.into(),
            params: BTreeMap::new(),
            event_type: None,
            event_changes: None,
            event_values: BTreeMap::new(),
            actor_name: None,
            webhook_name: None,
            now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            prefer_ids: false,
            response: BTreeMap::new(),
        }
    }

    /// A parameter's value, already rendered from its default template or typed by hand.
    pub fn with_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params
            .insert(name.trim().to_ascii_lowercase(), value.into());
        self
    }

    /// The event that fired the webhook: its type and the changed fields as an object.
    pub fn with_event(mut self, event_type: impl Into<String>, changes: Value) -> Self {
        self.event_type = Some(event_type.into());
        self.event_changes = Some(changes);
        self
    }

    /// What the event tells besides its changes, by placeholder name (`event.note`):
    /// the tickets module's `events::values_of`.
    pub fn with_event_values(mut self, values: BTreeMap<String, Value>) -> Self {
        self.event_values = values;
        self
    }

    pub fn with_actor(mut self, name: impl Into<String>) -> Self {
        self.actor_name = Some(name.into());
        self
    }

    pub fn with_webhook(mut self, name: impl Into<String>) -> Self {
        self.webhook_name = Some(name.into());
        self
    }

    /// Values found in a response, keyed by their placeholder (`response.result.number`).
    pub fn with_response(mut self, values: BTreeMap<String, Value>) -> Self {
        self.response = values;
        self
    }

    /// "Send IDs instead of display values": `{{ticket.<form>.<field>}}` then renders the
    /// option id (`ticket.<form>.<field>.id`) wherever the ticket has one.
    pub fn prefer_ids(mut self, yes: bool) -> Self {
        self.prefer_ids = yes;
        self
    }

    /// The value of a (lower-cased) name; `None` for a known name without a value.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(param) = name.strip_prefix("param.") {
            return self.params.get(param).map(|v| Value::String(v.clone()));
        }
        if name.starts_with("response.") {
            return self.response.get(name).filter(|v| !v.is_null()).cloned();
        }
        if name.starts_with("ticket.") {
            let key = self.ticket_key(name);
            return self
                .ticket
                .get(key.as_ref())
                .filter(|v| !v.is_null())
                .cloned();
        }
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::String(s.clone()));
        match name {
            "event.type" => text(&self.event_type),
            "event.changes" => self.event_changes.clone(),
            "actor.name" => text(&self.actor_name),
            "webhook.name" => text(&self.webhook_name),
            "now" => Some(Value::String(self.now.clone())),
            _ => self
                .event_values
                .get(name)
                .filter(|v| !v.is_null())
                .cloned(),
        }
    }

    /// The ticket value a (lower-cased) `ticket.` name reads: with "send IDs", its `.id`
    /// when it has one.
    fn ticket_key<'a>(&self, name: &'a str) -> Cow<'a, str> {
        if self.prefer_ids && !name.ends_with(".id") {
            let id = format!("{name}.id");
            if self.ticket.get(&id).is_some_and(|v| !v.is_null()) {
                return Cow::Owned(id);
            }
        }
        Cow::Borrowed(name)
    }

    /// The value as text, for everything but a whole-string JSON placeholder: a ticket
    /// value's own text when it has one (`45.50`), else strings as they are, numbers and
    /// booleans as JSON writes them, nothing as an empty string, and arrays and objects
    /// (a multi-line form, `event.changes`) as compact JSON.
    pub fn text(&self, name: &str) -> String {
        if name.starts_with("ticket.")
            && let Some(t) = self.ticket.text(&self.ticket_key(name))
        {
            return t.to_string();
        }
        match self.lookup(name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> RenderContext {
        let ticket = BTreeMap::from([
            ("ticket.id".to_string(), json!(42)),
            ("Ticket.Subject".to_string(), json!("Printer on fire")),
            ("ticket.it.site".to_string(), json!("Lyon")),
            ("ticket.it.site.id".to_string(), json!(7)),
            ("ticket.it.notes".to_string(), Value::Null),
            ("ticket.assets".to_string(), json!([{"asset": "P2425"}])),
        ]);
        let now = DateTime::parse_from_rfc3339("2026-11-25T02:13:27.5+01:00")
            .unwrap()
            .with_timezone(&Utc);
        RenderContext::new(ticket, now)
            .with_param("Customer_Ref", "CR-1")
            .with_event(
                "ticket.updated",
                json!({"status": {"from": "New", "to": "Open"}}),
            )
            .with_actor("Ada")
            .with_webhook("To Slack")
    }

    #[test]
    fn looks_up_every_kind_of_name() {
        let c = ctx();
        assert_eq!(c.lookup("ticket.id"), Some(json!(42)));
        assert_eq!(c.lookup("ticket.subject"), Some(json!("Printer on fire")));
        assert_eq!(c.lookup("ticket.it.notes"), None);
        assert_eq!(c.lookup("param.customer_ref"), Some(json!("CR-1")));
        assert_eq!(c.lookup("event.type"), Some(json!("ticket.updated")));
        assert_eq!(c.lookup("event.changes").unwrap()["status"]["to"], "Open");
        assert_eq!(c.lookup("actor.name"), Some(json!("Ada")));
        assert_eq!(c.lookup("webhook.name"), Some(json!("To Slack")));
        assert_eq!(c.lookup("now"), Some(json!("2026-11-25T01:13:27Z")));
    }

    #[test]
    fn text_forms_of_values() {
        let c = ctx();
        assert_eq!(c.text("ticket.id"), "42");
        assert_eq!(c.text("ticket.it.notes"), "");
        assert_eq!(c.text("ticket.assets"), r#"[{"asset":"P2425"}]"#);
        assert_eq!(
            c.text("event.changes"),
            r#"{"status":{"from":"New","to":"Open"}}"#
        );
    }

    #[test]
    fn a_value_with_a_text_of_its_own_is_written_as_that_text_but_stays_typed() {
        let values = BTreeMap::from([
            ("ticket.cost.amount".to_string(), json!(45.5)),
            ("ticket.cost.site".to_string(), json!("Lyon")),
            ("ticket.cost.site.id".to_string(), json!("LYS")),
        ]);
        let texts = BTreeMap::from([
            ("Ticket.Cost.Amount".to_string(), "45.50".to_string()),
            ("ticket.cost.site".to_string(), "Lyon (France)".to_string()),
        ]);
        let c = RenderContext::new(TicketValues::new(values, texts), Utc::now());
        assert_eq!(c.lookup("ticket.cost.amount"), Some(json!(45.5)));
        assert_eq!(c.text("ticket.cost.amount"), "45.50");
        assert_eq!(c.text("ticket.cost.site"), "Lyon (France)");
        // "Send IDs" reads the id, which has no text of its own.
        assert_eq!(c.clone().prefer_ids(true).text("ticket.cost.site"), "LYS");
    }

    #[test]
    fn prefer_ids_sends_the_option_id_where_there_is_one() {
        let c = ctx().prefer_ids(true);
        assert_eq!(c.lookup("ticket.it.site"), Some(json!(7)));
        assert_eq!(c.lookup("ticket.subject"), Some(json!("Printer on fire")));
    }

    #[test]
    fn a_fresh_context_knows_no_event_actor_or_webhook() {
        let c = RenderContext::new(BTreeMap::new(), Utc::now());
        assert_eq!(c.lookup("event.type"), None);
        assert_eq!(c.lookup("event.changes"), None);
        assert_eq!(c.lookup("actor.name"), None);
        assert_eq!(c.lookup("param.x"), None);
    }

    #[test]
    fn known_names_list_unknown_ones_with_what_is_known() {
        let known = KnownNames::new(["ticket.id", "Ticket.Subject"], ["Customer_Ref"]);
        assert!(known.contains("ticket.subject"));
        assert!(known.contains("param.customer_ref"));
        assert!(known.contains("now"));
        assert!(known.check(["ticket.id", "now"]).is_ok());
        let err = known
            .check(["ticket.subjet", "param.x", "ticket.subjet"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown placeholders {{ticket.subjet}}, {{param.x}}; known names: actor.name, \
             event.changes, event.note, event.note.internal, event.type, now, \
             param.customer_ref, ticket.id, ticket.subject, webhook.name"
        );
    }
}
