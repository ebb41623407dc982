//! The trigger-rule page's form as the browser posts it, and the rows it shows.
//!
//! Conditions come as parallel lists (`cond_field`, …) like the webhook page's. Action
//! rows differ by kind, so every row sends every column (the inputs of the kinds not
//! chosen ride along hidden, which also keeps them while the kind is switched back and
//! forth), anchored by `act_uid`. What varies per row is keyed by that uid: a webhook
//! parameter as `act_param_key = <uid>.<name>` beside `act_param_value`, and the
//! "internal" checkbox sends the uid of its row.

use std::collections::BTreeMap;

use super::form::checked;
use super::webhooks_form::RowView;
use crate::conditions::{ConditionInput, Operator};
use crate::error::{Error, FieldErrors};
use crate::rules::{Action, RuleInput};
use crate::webhooks::model::Parameter;

/// The action kinds as the form offers them (the codes are `Action`'s serde tags).
pub const ACTION_KINDS: [(&str, &str); 5] = [
    ("execute_webhook", "Execute webhook"),
    ("add_note", "Add note"),
    ("set_field", "Set field"),
    ("change_status", "Change status"),
    ("assign", "Assign"),
];

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub name: String,
    pub description: String,
    pub enabled: Option<String>,
    pub events: Vec<String>,
    pub condition_match: String,
    pub cond_field: Vec<String>,
    pub cond_operator: Vec<String>,
    pub cond_value: Vec<String>,
    pub act_uid: Vec<String>,
    pub act_kind: Vec<String>,
    pub act_webhook: Vec<String>,
    pub act_param_key: Vec<String>,
    pub act_param_value: Vec<String>,
    pub act_text: Vec<String>,
    /// The uids of the rows whose note is internal.
    pub act_internal: Vec<String>,
    pub act_field: Vec<String>,
    pub act_value: Vec<String>,
    pub act_status: Vec<String>,
    pub act_assignee: Vec<String>,
    pub act_group: Vec<String>,
    pub stop_processing: Option<String>,
    pub ignore_integration: Option<String>,
    pub ignored_users: Vec<String>,
}

fn at(v: &[String], i: usize) -> String {
    v.get(i).cloned().unwrap_or_default()
}

/// A row id safe in element ids and URLs; a new one when the posted one is not.
fn clean_uid(s: &str) -> String {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { s.to_string() } else { new_uid() }
}

pub fn new_uid() -> String {
    format!("n{}", crate::auth::random_token(6))
}

/// One action row as typed: every column, whatever the kind.
#[derive(Debug, Clone, Default)]
pub struct ActionDraft {
    pub uid: String,
    pub kind: String,
    pub webhook: String,
    /// Parameter values by name, in the order typed.
    pub params: Vec<(String, String)>,
    pub text: String,
    pub internal: bool,
    pub field: String,
    pub value: String,
    pub status: String,
    pub assignee: String,
    pub group: String,
}

impl ActionDraft {
    /// A new row: "Execute webhook" is what most rules are for.
    pub fn blank() -> Self {
        Self {
            uid: new_uid(),
            kind: "execute_webhook".into(),
            ..Self::default()
        }
    }

    pub fn from_action(i: usize, a: &Action) -> Self {
        let mut d = Self {
            uid: format!("a{i}"),
            kind: kind_code(a).into(),
            ..Self::default()
        };
        match a {
            Action::ExecuteWebhook { webhook_id, params } => {
                d.webhook = webhook_id.to_string();
                d.params = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            }
            Action::AddNote { text, internal } => {
                d.text = text.clone();
                d.internal = *internal;
            }
            Action::SetField { field, value } => {
                d.field = field.clone();
                d.value = value.clone();
            }
            Action::ChangeStatus { status } => d.status = status.clone(),
            Action::Assign { assignee, group } => {
                d.assignee = assignee.clone();
                d.group = group.clone();
            }
        }
        d
    }

    /// The action this row describes. A webhook not chosen is id 0, which the domain
    /// refuses beside the field; a kind the form does not offer is a malformed form.
    pub fn to_action(&self) -> Result<Action, Error> {
        Ok(match self.kind.as_str() {
            "execute_webhook" => Action::ExecuteWebhook {
                webhook_id: self.webhook.trim().parse().unwrap_or(0),
                // An empty value takes the parameter's default, as if not given.
                params: self
                    .params
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
            },
            "add_note" => Action::AddNote {
                text: self.text.clone(),
                internal: self.internal,
            },
            "set_field" => Action::SetField {
                field: self.field.clone(),
                value: self.value.clone(),
            },
            "change_status" => Action::ChangeStatus {
                status: self.status.clone(),
            },
            "assign" => Action::Assign {
                assignee: self.assignee.clone(),
                group: self.group.clone(),
            },
            other => {
                return Err(Error::BadRequest(format!(
                    "malformed form: `{other}` is not an action"
                )));
            }
        })
    }
}

pub fn kind_code(a: &Action) -> &'static str {
    match a {
        Action::ExecuteWebhook { .. } => "execute_webhook",
        Action::AddNote { .. } => "add_note",
        Action::SetField { .. } => "set_field",
        Action::ChangeStatus { .. } => "change_status",
        Action::Assign { .. } => "assign",
    }
}

impl RuleForm {
    /// The action rows in the order posted.
    pub fn drafts(&self) -> Vec<ActionDraft> {
        let mut params: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for (i, key) in self.act_param_key.iter().enumerate() {
            if let Some((uid, name)) = key.split_once('.') {
                params
                    .entry(uid)
                    .or_default()
                    .push((name.to_string(), at(&self.act_param_value, i)));
            }
        }
        self.act_uid
            .iter()
            .enumerate()
            .map(|(i, raw)| ActionDraft {
                uid: clean_uid(raw),
                kind: at(&self.act_kind, i),
                webhook: at(&self.act_webhook, i),
                params: params.get(raw.as_str()).cloned().unwrap_or_default(),
                text: at(&self.act_text, i),
                internal: self.act_internal.iter().any(|u| u == raw),
                field: at(&self.act_field, i),
                value: at(&self.act_value, i),
                status: at(&self.act_status, i),
                assignee: at(&self.act_assignee, i),
                group: at(&self.act_group, i),
            })
            .collect()
    }

    pub fn to_input(&self) -> Result<RuleInput, Error> {
        Ok(RuleInput {
            name: self.name.clone(),
            description: self.description.clone(),
            enabled: checked(&self.enabled),
            events: self.events.clone(),
            condition_match: self.condition_match.clone(),
            conditions: (0..self.cond_field.len())
                .map(|i| ConditionInput {
                    field: at(&self.cond_field, i),
                    operator: at(&self.cond_operator, i),
                    value: at(&self.cond_value, i),
                })
                .collect(),
            actions: self
                .drafts()
                .iter()
                .map(ActionDraft::to_action)
                .collect::<Result<_, _>>()?,
            stop_processing: checked(&self.stop_processing),
            ignore_integration: checked(&self.ignore_integration),
            ignored_users: self.ignored_users.clone(),
        })
    }
}

/// A webhook a rule may run, with what its row asks for.
#[derive(Debug, Clone)]
pub struct WebhookChoice {
    pub id: i64,
    pub name: String,
    /// "disabled" or "test" when not simply enabled, to say so in the list.
    pub status_note: &'static str,
    pub parameters: Vec<Parameter>,
}

/// The choices the rule form offers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every ticket placeholder name (conditions may test any of them).
    pub fields: Vec<String>,
    /// Those "Set field" may write (status and assignee have actions of their own).
    pub settable_fields: Vec<String>,
    pub webhooks: Vec<WebhookChoice>,
    pub statuses: Vec<&'static str>,
    /// Active technicians: (username, display name).
    pub assignees: Vec<(String, String)>,
    /// Every user, for "ignored users": (username, display name).
    pub users: Vec<(String, String)>,
}

impl Options {
    /// Every operator, the `changed…` ones included: a rule handles an event.
    pub fn operators(&self) -> Vec<(&'static str, &'static str)> {
        Operator::ALL
            .iter()
            .map(|o| (o.code(), o.label()))
            .collect()
    }
    pub fn has_field(&self, f: &str) -> bool {
        self.fields.iter().any(|x| x == f)
    }
    pub fn has_settable(&self, f: &str) -> bool {
        self.settable_fields.iter().any(|x| x == f)
    }
    pub fn has_assignee(&self, u: &str) -> bool {
        self.assignees.iter().any(|(x, _)| x == u)
    }
    pub fn has_status(&self, s: &str) -> bool {
        self.statuses.contains(&s)
    }
    pub fn action_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &ACTION_KINDS
    }
    fn webhook(&self, id: &str) -> Option<&WebhookChoice> {
        let id: i64 = id.trim().parse().ok()?;
        self.webhooks.iter().find(|w| w.id == id)
    }
}

/// One webhook parameter in an action row.
#[derive(Debug, Clone, Default)]
pub struct ParamView {
    pub name: String,
    pub label: String,
    pub value: String,
    /// Its default template: the value when left empty, and always when read-only.
    pub default: String,
    pub read_only: bool,
    pub multi_line: bool,
    /// False for a value typed for a parameter the webhook no longer has.
    pub known: bool,
    pub err: Option<String>,
}

/// One action row as the page shows it, with its errors beside its inputs.
#[derive(Debug, Clone, Default)]
pub struct ActionRow {
    pub d: ActionDraft,
    pub params: Vec<ParamView>,
    /// The chosen webhook is not in the list (deleted since).
    pub webhook_missing: bool,
    pub err_webhook: Option<String>,
    pub err_text: Option<String>,
    pub err_field: Option<String>,
    pub err_value: Option<String>,
    pub err_status: Option<String>,
    pub err_assignee: Option<String>,
    pub err_group: Option<String>,
}

impl ActionRow {
    pub fn kind_is(&self, k: &str) -> bool {
        self.d.kind == k
    }
    pub fn webhook_is(&self, id: &i64) -> bool {
        self.d.webhook.trim() == id.to_string()
    }
    pub fn param_key(&self, p: &ParamView) -> String {
        format!("{}.{}", self.d.uid, p.name)
    }
}

/// Builds the row for `d` (the `i`th action). `keep_unknown` keeps values typed for
/// parameters the chosen webhook does not have, with their error, so a refused save
/// loses nothing; a row redrawn because another webhook was chosen drops them.
pub fn action_row(
    i: usize,
    d: ActionDraft,
    opts: &Options,
    errs: &FieldErrors,
    keep_unknown: bool,
) -> ActionRow {
    let err = |col: &str| errs.get(&format!("actions.{i}.{col}")).map(String::from);
    let mut params = Vec::new();
    let chosen = opts.webhook(&d.webhook);
    if d.kind == "execute_webhook" {
        if let Some(w) = chosen {
            for p in &w.parameters {
                let typed = d
                    .params
                    .iter()
                    .find(|(n, _)| n.trim().eq_ignore_ascii_case(&p.name));
                params.push(ParamView {
                    name: p.name.clone(),
                    label: if p.label.trim().is_empty() {
                        p.name.clone()
                    } else {
                        p.label.clone()
                    },
                    value: if p.read_only {
                        p.default_template.clone()
                    } else {
                        typed.map(|(_, v)| v.clone()).unwrap_or_default()
                    },
                    default: p.default_template.clone(),
                    read_only: p.read_only,
                    multi_line: p.multi_line,
                    known: true,
                    err: typed.and_then(|(n, _)| err(&format!("params.{n}"))),
                });
            }
        }
        if keep_unknown {
            for (n, v) in &d.params {
                let known = chosen.is_some_and(|w| {
                    w.parameters
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case(n.trim()))
                });
                if !known && !v.is_empty() {
                    params.push(ParamView {
                        name: n.clone(),
                        label: n.clone(),
                        value: v.clone(),
                        known: false,
                        err: err(&format!("params.{n}")),
                        ..ParamView::default()
                    });
                }
            }
        }
    }
    ActionRow {
        webhook_missing: !d.webhook.trim().is_empty() && chosen.is_none(),
        err_webhook: err("webhook_id"),
        err_text: err("text"),
        err_field: err("field"),
        err_value: err("value"),
        err_status: err("status"),
        err_assignee: err("assignee"),
        err_group: err("group"),
        params,
        d,
    }
}

pub fn action_rows(
    drafts: Vec<ActionDraft>,
    opts: &Options,
    errs: &FieldErrors,
    keep_unknown: bool,
) -> Vec<ActionRow> {
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| action_row(i, d, opts, errs, keep_unknown))
        .collect()
}

pub fn condition_rows(input: &RuleInput, errs: &FieldErrors) -> Vec<RowView> {
    let err = |i: usize, col: &str| errs.get(&format!("conditions.{i}.{col}")).map(String::from);
    input
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| RowView {
            uid: format!("c{i}"),
            a: c.field.clone(),
            b: c.operator.clone(),
            c: c.value.clone(),
            err_a: err(i, "field"),
            err_b: err(i, "operator"),
            err_c: err(i, "value"),
            ..RowView::default()
        })
        .collect()
}

/// Moves the row `uid` one place up or down; other rows keep their order.
pub fn move_draft(drafts: &mut [ActionDraft], uid: &str, up: bool) {
    let Some(i) = drafts.iter().position(|d| d.uid == uid) else {
        return;
    };
    let j = if up { i.checked_sub(1) } else { Some(i + 1) };
    if let Some(j) = j.filter(|j| *j < drafts.len()) {
        drafts.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> RuleForm {
        let body = serde_html_form::to_string(pairs).unwrap();
        serde_html_form::from_str(&body).unwrap()
    }

    #[test]
    fn rows_keep_their_own_columns_whatever_their_kind() {
        let f = form(&[
            ("act_uid", "x1"),
            ("act_kind", "add_note"),
            ("act_webhook", ""),
            ("act_text", "hello"),
            ("act_internal", "x1"),
            ("act_field", ""),
            ("act_value", ""),
            ("act_status", ""),
            ("act_assignee", ""),
            ("act_group", ""),
            ("act_uid", "x2"),
            ("act_kind", "execute_webhook"),
            ("act_webhook", "7"),
            ("act_param_key", "x2.ref"),
            ("act_param_value", "R-{{ticket.id}}"),
            ("act_param_key", "x2.empty"),
            ("act_param_value", ""),
            ("act_text", ""),
            ("act_field", ""),
            ("act_value", ""),
            ("act_status", ""),
            ("act_assignee", ""),
            ("act_group", ""),
        ]);
        let input = f.to_input().unwrap();
        assert_eq!(
            input.actions,
            vec![
                Action::AddNote {
                    text: "hello".into(),
                    internal: true
                },
                Action::ExecuteWebhook {
                    webhook_id: 7,
                    params: BTreeMap::from([("ref".into(), "R-{{ticket.id}}".into())]),
                },
            ]
        );
        assert!(!input.ignore_integration, "an unticked box is off");
    }

    #[test]
    fn a_missing_webhook_is_id_zero_and_an_unknown_kind_is_malformed() {
        let mut d = ActionDraft::blank();
        assert_eq!(
            d.to_action().unwrap(),
            Action::ExecuteWebhook {
                webhook_id: 0,
                params: BTreeMap::new()
            }
        );
        d.kind = "format_disk".into();
        assert!(matches!(d.to_action(), Err(Error::BadRequest(_))));
    }

    #[test]
    fn moving_swaps_with_the_neighbour_and_stops_at_the_ends() {
        let mut v: Vec<ActionDraft> = ["a", "b", "c"]
            .iter()
            .map(|u| ActionDraft {
                uid: (*u).into(),
                ..ActionDraft::default()
            })
            .collect();
        let order = |v: &[ActionDraft]| v.iter().map(|d| d.uid.clone()).collect::<String>();
        move_draft(&mut v, "c", true);
        assert_eq!(order(&v), "acb");
        move_draft(&mut v, "a", true);
        assert_eq!(order(&v), "acb");
        move_draft(&mut v, "b", false);
        assert_eq!(order(&v), "acb");
        move_draft(&mut v, "a", false);
        assert_eq!(order(&v), "cab");
    }

    #[test]
    fn posted_uids_that_could_break_out_of_an_attribute_are_replaced() {
        assert_eq!(clean_uid("a0"), "a0");
        assert_ne!(clean_uid("a\"><x"), "a\"><x");
        assert!(clean_uid("").starts_with('n'));
    }
}
