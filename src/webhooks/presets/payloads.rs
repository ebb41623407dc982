//! Building each preset's payload from its rendered fields.

use serde_json::{Map, Value, json};

use super::{Field, RemoteHookdeskFields, RemoteMode, RocketChatFields, TeamsFields};
use crate::error::{Error, FieldErrors, Result};
use crate::templating::{Kind, RenderContext, Template};

/// The parsed fields of a preset, rendered on demand by name.
pub(super) struct Rendered<'a> {
    fields: Vec<(String, Template)>,
    ctx: &'a RenderContext,
}

impl<'a> Rendered<'a> {
    pub(super) fn new(fields: Vec<Field<'_>>, ctx: &'a RenderContext) -> Result<Self> {
        let mut errors = FieldErrors::new();
        let mut parsed = Vec::new();
        for f in fields {
            if f.kind == Kind::Json && f.text.trim().is_empty() {
                continue;
            }
            match Template::parse(f.text, f.kind) {
                Ok(t) => parsed.push((f.name, t)),
                Err(e) => errors.add(f.name, e.to_string()),
            }
        }
        errors.into_result()?;
        Ok(Self {
            fields: parsed,
            ctx,
        })
    }

    fn template(&self, name: &str) -> Option<&Template> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub(super) fn text(&mut self, name: &str) -> Result<String> {
        self.escaped(name, |s| s.to_string())
    }

    fn escaped(&mut self, name: &str, escape: fn(&str) -> String) -> Result<String> {
        match self.template(name) {
            Some(t) => Ok(t.render_escaped(self.ctx, escape)?),
            None => Ok(String::new()),
        }
    }

    fn json(&mut self, name: &str) -> Result<Option<Value>> {
        self.template(name)
            .map(|t| t.render_value(self.ctx).map_err(Error::from))
            .transpose()
    }
}

/// Slack's escaping for message text: only these three, and only in values, so the
/// administrator's own `<https://…|links>` keep working.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `s` to `max` characters, marking the cut with an ellipsis.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

// Slack's documented limits for the objects used here.
const SLACK_TEXT_MAX: usize = 40_000;
const SLACK_SECTION_MAX: usize = 3_000;
const SLACK_HEADER_MAX: usize = 150;
const SLACK_BUTTON_MAX: usize = 75;
const SLACK_URL_MAX: usize = 3_000;

pub(super) fn slack(r: &mut Rendered) -> Result<Value> {
    let text = r.escaped("text", slack_escape)?;
    let title = r.text("title")?;
    let label = r.text("button_label")?;
    let url = r.text("ticket_url")?;
    let mut blocks = Vec::new();
    if !title.trim().is_empty() {
        blocks.push(json!({
            "type": "header",
            "text": {"type": "plain_text", "text": cut(&title, SLACK_HEADER_MAX), "emoji": true}
        }));
    }
    if !text.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&text, SLACK_SECTION_MAX)}
        }));
    }
    if !url.is_empty() && url.chars().count() <= SLACK_URL_MAX {
        let label = if label.trim().is_empty() {
            "Open ticket".to_string()
        } else {
            label
        };
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": cut(&label, SLACK_BUTTON_MAX), "emoji": true},
                "url": url,
                "action_id": "open_ticket"
            }]
        }));
    }
    Ok(json!({ "text": cut(&text, SLACK_TEXT_MAX), "blocks": blocks }))
}

pub(super) fn teams(f: &TeamsFields, r: &mut Rendered) -> Result<Value> {
    let title = r.text("title")?;
    let text = r.text("text")?;
    let mut body = Vec::new();
    if !title.trim().is_empty() {
        body.push(json!({
            "type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
            "wrap": true, "color": f.colour.card_value()
        }));
    }
    if !text.trim().is_empty() {
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    let mut facts = Vec::new();
    for i in 0..f.facts.len() {
        let title = r.text(&format!("facts[{i}].title"))?;
        let value = r.text(&format!("facts[{i}].value"))?;
        if !title.is_empty() || !value.is_empty() {
            facts.push(json!({"title": title, "value": value}));
        }
    }
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    let url = r.text("ticket_url")?;
    if !url.is_empty() {
        let label = r.text("button_label")?;
        let label = if label.trim().is_empty() {
            "Open ticket".to_string()
        } else {
            label
        };
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": label, "url": url}]);
    }
    Ok(json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    }))
}

pub(super) fn rocket_chat(f: &RocketChatFields, r: &mut Rendered) -> Result<Value> {
    let mut msg = Map::new();
    for (key, field) in [
        ("text", "text"),
        ("alias", "alias"),
        ("emoji", "emoji"),
        ("avatar", "avatar"),
    ] {
        let value = r.text(field)?;
        if !value.is_empty() {
            msg.insert(key.into(), Value::String(value));
        }
    }
    let mut attachment = Map::new();
    for (key, field) in [
        ("title", "attachment_title"),
        ("title_link", "ticket_url"),
        ("text", "attachment_text"),
    ] {
        let value = r.text(field)?;
        if !value.is_empty() {
            attachment.insert(key.into(), Value::String(value));
        }
    }
    if !attachment.is_empty() {
        if !f.colour.is_empty() {
            attachment.insert("color".into(), Value::String(f.colour.clone()));
        }
        msg.insert(
            "attachments".into(),
            Value::Array(vec![Value::Object(attachment)]),
        );
    }
    Ok(Value::Object(msg))
}

pub(super) fn remote_hookdesk(f: &RemoteHookdeskFields, r: &mut Rendered) -> Result<Value> {
    let mut body = Map::new();
    let mut fields = vec![
        ("subject", "subject"),
        ("description", "description"),
        ("status", "status"),
        ("priority", "priority"),
        ("category", "category"),
        ("requester_name", "requester_name"),
        ("requester_email", "requester_email"),
    ];
    if f.mode == RemoteMode::Create {
        fields.insert(0, ("type", "ticket_type"));
    }
    for (key, field) in fields {
        let value = r.text(field)?;
        if !value.trim().is_empty() {
            body.insert(key.into(), Value::String(value));
        }
    }
    if let Some(forms) = r.json("forms")? {
        body.insert("forms".into(), forms);
    }
    Ok(Value::Object(body))
}
