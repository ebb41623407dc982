//! The webhook page's one form (all tabs), as the browser posts it: repeated rows come
//! as parallel lists (`param_name`, `param_label`, …), which stay aligned because every
//! row sends every column (per-row yes/no choices are selects, not checkboxes).

use std::collections::BTreeMap;

use super::form::checked;
use serde_json::Value;

use crate::error::FieldErrors;
use crate::webhooks::WebhookInput;
use crate::webhooks::input::{ConditionInput, ResponseActionInput};
use crate::webhooks::model::{Parameter, ResponseField};
use crate::webhooks::presets::{Preset, PresetKind};

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct WebhookForm {
    pub name: String,
    pub description: String,
    pub status: String,
    pub ticket_types: Vec<String>,
    pub connection_id: String,
    pub test_connection_id: String,
    pub url: String,
    pub url_encoded: Option<String>,
    pub method: String,
    pub request_content_type: String,
    pub headers: String,
    pub response_content_type: String,
    pub run_rules_after_response: Option<String>,
    pub action_description: String,
    pub show_as_button: Option<String>,
    pub preset: String,
    pub preset_key: Vec<String>,
    pub preset_value: Vec<String>,
    pub payload_mode: String,
    pub body_template: String,
    pub send_ids: Option<String>,
    pub condition_match: String,
    pub cond_field: Vec<String>,
    pub cond_operator: Vec<String>,
    pub cond_value: Vec<String>,
    pub batch_mode: String,
    pub batch_wait_seconds: String,
    pub batch_max_items: String,
    pub keep_order: Option<String>,
    pub retry_max_attempts: String,
    pub retry_schedule: String,
    pub param_name: Vec<String>,
    pub param_label: Vec<String>,
    pub param_default: Vec<String>,
    pub param_read_only: Vec<String>,
    pub param_multi_line: Vec<String>,
    pub rf_path: Vec<String>,
    pub rf_target: Vec<String>,
    pub ra_kind: Vec<String>,
    pub ra_target: Vec<String>,
    pub ra_value: Vec<String>,
    pub roles: Vec<String>,
    /// Preview only: a ticket's display id or id; empty for the sample ticket.
    pub preview_ticket: String,
    /// Preview only: parameter values typed for the preview, beside their names.
    pub preview_param_name: Vec<String>,
    pub preview_param: Vec<String>,
    /// Preview and test-send: go through the test connection.
    pub preview_use_test_connection: Option<String>,
}

fn at(v: &[String], i: usize) -> String {
    v.get(i).cloned().unwrap_or_default()
}

fn id_of(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// A number field: empty takes `default`; text that is not a number becomes a value the
/// domain refuses with its range message beside the field.
fn number(s: &str, default: i32) -> i32 {
    let s = s.trim();
    if s.is_empty() {
        default
    } else {
        s.parse().unwrap_or(i32::MIN)
    }
}

impl WebhookForm {
    /// The input for the domain to check, and what the form could not read into it (an
    /// unknown preset, a preset field it lacks or a value the field does not take): a
    /// save refuses those like the domain's own errors, so nothing typed is dropped.
    pub fn read_input(&self) -> (WebhookInput, FieldErrors) {
        let mut errs = FieldErrors::new();
        let preset = self.preset_input(&mut errs);
        let d = WebhookInput::default();
        let input = WebhookInput {
            name: self.name.clone(),
            description: self.description.clone(),
            status: self.status.clone(),
            ticket_types: self.ticket_types.clone(),
            connection_id: id_of(&self.connection_id),
            test_connection_id: id_of(&self.test_connection_id),
            url: self.url.clone(),
            url_encoded: checked(&self.url_encoded),
            method: self.method.clone(),
            request_content_type: self.request_content_type.clone(),
            headers: self.headers.clone(),
            response_content_type: self.response_content_type.clone(),
            run_rules_after_response: checked(&self.run_rules_after_response),
            action_description: self.action_description.clone(),
            show_as_button: checked(&self.show_as_button),
            preset,
            payload_mode: self.payload_mode.clone(),
            body_template: self.body_template.clone(),
            send_ids: checked(&self.send_ids),
            condition_match: self.condition_match.clone(),
            conditions: (0..self.cond_field.len())
                .map(|i| ConditionInput {
                    field: at(&self.cond_field, i),
                    operator: at(&self.cond_operator, i),
                    value: at(&self.cond_value, i),
                })
                .collect(),
            batch_mode: if self.batch_mode.is_empty() {
                d.batch_mode
            } else {
                self.batch_mode.clone()
            },
            batch_wait_seconds: number(&self.batch_wait_seconds, d.batch_wait_seconds),
            batch_max_items: number(&self.batch_max_items, d.batch_max_items),
            keep_order: checked(&self.keep_order),
            retry_max_attempts: (!self.retry_max_attempts.trim().is_empty())
                .then(|| number(&self.retry_max_attempts, 0)),
            retry_schedule: self.retry_schedule.clone(),
            parameters: (0..self.param_name.len())
                .map(|i| Parameter {
                    name: at(&self.param_name, i),
                    label: at(&self.param_label, i),
                    default_template: at(&self.param_default, i),
                    read_only: at(&self.param_read_only, i) == "yes",
                    multi_line: at(&self.param_multi_line, i) == "yes",
                })
                .collect(),
            response_fields: (0..self.rf_path.len())
                .map(|i| ResponseField {
                    path: at(&self.rf_path, i),
                    target: at(&self.rf_target, i),
                })
                .collect(),
            response_actions: (0..self.ra_kind.len())
                .map(|i| ResponseActionInput {
                    kind: at(&self.ra_kind, i),
                    target: at(&self.ra_target, i),
                    value_template: at(&self.ra_value, i),
                })
                .collect(),
            roles: self.roles.clone(),
        };
        (input, errs)
    }

    /// Every preset's fields are in the page (keys `<preset>.<field>`); only the chosen
    /// preset's are kept. Teams facts come as `Title: value` lines. What cannot be read
    /// goes to `errs`, beside the preset or its field; the rest is kept, so the form
    /// shown again still holds what was typed.
    fn preset_input(&self, errs: &mut FieldErrors) -> Preset {
        let chosen = self.preset.trim();
        let kind = match PresetKind::parse(chosen) {
            Some(k) => k,
            // Not sent at all: no preset, as for any field this form leaves out.
            None if chosen.is_empty() => PresetKind::Generic,
            None => {
                let labels: Vec<&str> = PresetKind::ALL.iter().map(|k| k.label()).collect();
                errs.add(
                    "preset",
                    format!(
                        "There is no preset `{chosen}`: choose {}.",
                        labels.join(", ")
                    ),
                );
                PresetKind::Generic
            }
        };
        let view = preset_views().into_iter().find(|v| v.code == kind.as_str());
        let mut fields = serde_json::Map::new();
        for (i, k) in self.preset_key.iter().enumerate() {
            let Some((p, key)) = k.split_once('.') else {
                errs.add("preset", format!("`{k}` names no preset field."));
                continue;
            };
            if p != kind.as_str() {
                continue;
            }
            let Some(field) = view.iter().flat_map(|v| &v.fields).find(|f| f.key == key) else {
                errs.add(
                    "preset",
                    format!("The {} preset has no field `{key}`.", kind.label()),
                );
                continue;
            };
            let v = at(&self.preset_value, i);
            let value = if key == "facts" {
                Value::Array(
                    v.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| {
                            let (t, val) = l.split_once(':').unwrap_or((l, ""));
                            serde_json::json!({"title": t.trim(), "value": val.trim()})
                        })
                        .collect(),
                )
            } else {
                Value::String(v.clone())
            };
            // Each field on its own, so the one whose value does not fit is named.
            let one = serde_json::Map::from_iter([(key.to_string(), value.clone())]);
            match preset_of(kind, one) {
                Ok(_) => {
                    fields.insert(key.to_string(), value);
                }
                Err(e) if field.choices.is_empty() => errs.add(format!("preset.{key}"), e),
                Err(_) => {
                    let labels: Vec<&str> = field.choices.iter().map(|(_, l)| *l).collect();
                    errs.add(
                        format!("preset.{key}"),
                        format!("`{v}` is not a choice: {}.", labels.join(", ")),
                    );
                }
            }
        }
        preset_of(kind, fields).unwrap_or_else(|e| {
            errs.add("preset", e);
            Preset::new(kind)
        })
    }

    pub fn use_test_connection(&self) -> bool {
        self.preview_use_test_connection
            .as_deref()
            .is_some_and(|v| !v.is_empty() && v != "off")
    }

    /// Parameter values typed in the preview, by parameter name. A read-only
    /// parameter's preview field is only shown (the page says its default is used), so
    /// it is not read; any other name goes to test-send, which refuses one the webhook
    /// does not have.
    pub fn preview_params(&self) -> BTreeMap<String, String> {
        let read_only = |name: &str| {
            self.param_name.iter().enumerate().any(|(i, p)| {
                p.trim().eq_ignore_ascii_case(name) && at(&self.param_read_only, i) == "yes"
            })
        };
        self.preview_param_name
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let v = self.preview_param.get(i)?;
                let name = n.trim().to_ascii_lowercase();
                (!v.is_empty() && !read_only(&name)).then(|| (name, v.clone()))
            })
            .collect()
    }
}

/// A preset of `kind` with `fields` (the others take their defaults), or why serde
/// cannot read them.
fn preset_of(
    kind: PresetKind,
    mut fields: serde_json::Map<String, Value>,
) -> Result<Preset, String> {
    fields.insert("preset".into(), Value::String(kind.as_str().into()));
    serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())
}

/// One repeated row as the page shows it, with its errors beside its columns. `uid`
/// keeps label ids unique, also for rows added later by htmx.
#[derive(Debug, Clone, Default)]
pub struct RowView {
    pub uid: String,
    pub a: String,
    pub b: String,
    pub c: String,
    pub flag1: bool,
    pub flag2: bool,
    pub err_a: Option<String>,
    pub err_b: Option<String>,
    pub err_c: Option<String>,
}

impl RowView {
    pub fn blank(uid: String) -> Self {
        Self {
            uid,
            ..Self::default()
        }
    }
    pub fn a_is(&self, v: &str) -> bool {
        self.a == v
    }
    pub fn b_is(&self, v: &str) -> bool {
        self.b == v
    }
}

fn row_err(errs: &crate::error::FieldErrors, prefix: &str, i: usize, col: &str) -> Option<String> {
    errs.get(&format!("{prefix}.{i}.{col}")).map(String::from)
}

pub fn param_rows(input: &WebhookInput, errs: &crate::error::FieldErrors) -> Vec<RowView> {
    input
        .parameters
        .iter()
        .enumerate()
        .map(|(i, p)| RowView {
            uid: format!("p{i}"),
            a: p.name.clone(),
            b: p.label.clone(),
            c: p.default_template.clone(),
            flag1: p.read_only,
            flag2: p.multi_line,
            err_a: row_err(errs, "parameters", i, "name"),
            err_b: None,
            err_c: row_err(errs, "parameters", i, "default_template"),
        })
        .collect()
}

pub fn condition_rows(input: &WebhookInput, errs: &crate::error::FieldErrors) -> Vec<RowView> {
    input
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| RowView {
            uid: format!("c{i}"),
            a: c.field.clone(),
            b: c.operator.clone(),
            c: c.value.clone(),
            err_a: row_err(errs, "conditions", i, "field"),
            err_b: row_err(errs, "conditions", i, "operator"),
            err_c: row_err(errs, "conditions", i, "value"),
            ..RowView::default()
        })
        .collect()
}

pub fn response_field_rows(input: &WebhookInput, errs: &crate::error::FieldErrors) -> Vec<RowView> {
    input
        .response_fields
        .iter()
        .enumerate()
        .map(|(i, f)| RowView {
            uid: format!("f{i}"),
            a: f.path.clone(),
            b: f.target.clone(),
            err_a: row_err(errs, "response_fields", i, "path"),
            err_b: row_err(errs, "response_fields", i, "target"),
            ..RowView::default()
        })
        .collect()
}

pub fn action_rows(input: &WebhookInput, errs: &crate::error::FieldErrors) -> Vec<RowView> {
    input
        .response_actions
        .iter()
        .enumerate()
        .map(|(i, a)| RowView {
            uid: format!("a{i}"),
            a: a.kind.clone(),
            b: a.target.clone(),
            c: a.value_template.clone(),
            err_a: row_err(errs, "response_actions", i, "kind"),
            err_b: row_err(errs, "response_actions", i, "target"),
            err_c: row_err(errs, "response_actions", i, "value_template"),
            ..RowView::default()
        })
        .collect()
}

/// How the page asks for one preset field.
#[derive(Debug, Clone)]
pub struct PresetFieldView {
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// A textarea rather than a line.
    pub area: bool,
    /// A select with these (value, label) choices.
    pub choices: &'static [(&'static str, &'static str)],
}

#[derive(Debug, Clone)]
pub struct PresetView {
    pub code: &'static str,
    pub label: &'static str,
    pub fields: Vec<PresetFieldView>,
}

const fn line(key: &'static str, label: &'static str, hint: &'static str) -> PresetFieldView {
    PresetFieldView {
        key,
        label,
        hint,
        area: false,
        choices: &[],
    }
}

const fn area(key: &'static str, label: &'static str, hint: &'static str) -> PresetFieldView {
    PresetFieldView {
        key,
        label,
        hint,
        area: true,
        choices: &[],
    }
}

const URL_HINT: &str = "{{ticket.url}} is the ticket's page at the console's public_url; \
     no button when empty.";

/// The fields each preset asks for, in the order the page shows them.
pub fn preset_views() -> Vec<PresetView> {
    PresetKind::ALL
        .iter()
        .map(|k| PresetView {
            code: k.as_str(),
            label: k.label(),
            fields: match k {
                PresetKind::Generic => vec![],
                PresetKind::Slack => vec![
                    area("text", "Message", "Slack mrkdwn; also the notification text."),
                    line("title", "Header", "Optional, above the message."),
                    line("button_label", "Button label", ""),
                    line("ticket_url", "Button link", URL_HINT),
                ],
                PresetKind::MicrosoftTeams => vec![
                    line("title", "Title", ""),
                    area("text", "Text", ""),
                    PresetFieldView {
                        key: "colour",
                        label: "Title colour",
                        hint: "",
                        area: false,
                        choices: &[
                            ("default", "Default"),
                            ("accent", "Accent"),
                            ("good", "Good"),
                            ("warning", "Warning"),
                            ("attention", "Attention"),
                        ],
                    },
                    area("facts", "Facts", "One `Title: value` per line."),
                    line("button_label", "Button label", ""),
                    line("ticket_url", "Button link", URL_HINT),
                ],
                PresetKind::RocketChat => vec![
                    area("text", "Message", ""),
                    line("alias", "Alias", "Overrides the integration's display name."),
                    line("emoji", "Emoji", "Such as :ticket:."),
                    line("avatar", "Avatar URL", ""),
                    line("attachment_title", "Attachment title", ""),
                    area("attachment_text", "Attachment text", ""),
                    line("ticket_url", "Attachment link", URL_HINT),
                    line("colour", "Colour", "#rgb or #rrggbb."),
                ],
                PresetKind::GoogleChat => vec![area("text", "Message", "Plain text.")],
                PresetKind::RemoteHookdesk => vec![
                    PresetFieldView {
                        key: "mode",
                        label: "Mode",
                        hint: "Create: POST /api/v1/tickets. Update: PATCH /api/v1/tickets/{id} (put the remote id in the URL).",
                        area: false,
                        choices: &[("create", "Create a ticket"), ("update", "Update a ticket")],
                    },
                    line("ticket_type", "Ticket type", "Sent on create."),
                    line("subject", "Subject", ""),
                    area("description", "Description", ""),
                    line("status", "Status", ""),
                    line("priority", "Priority", "P1 … P4"),
                    line("category", "Category", ""),
                    line("requester_name", "Requester name", ""),
                    line("requester_email", "Requester email", ""),
                    area("forms", "Forms (JSON template)", "Optional."),
                ],
            },
        })
        .collect()
}

/// A preset's field values as the page shows them: the webhook's own when it uses that
/// preset, else the preset's defaults.
pub fn preset_values(current: &Preset, kind: PresetKind) -> serde_json::Map<String, Value> {
    let preset = if current.kind() == kind {
        current.clone()
    } else {
        Preset::new(kind)
    };
    let mut obj = match serde_json::to_value(&preset) {
        Ok(Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    if let Some(Value::Array(facts)) = obj.get("facts") {
        let lines: Vec<String> = facts
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["title"].as_str().unwrap_or_default(),
                    f["value"].as_str().unwrap_or_default()
                )
            })
            .collect();
        obj.insert("facts".into(), Value::String(lines.join("\n")));
    }
    obj
}
