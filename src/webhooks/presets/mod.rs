//! Presets: the request body each chat service or a remote Hookdesk documents, built from
//! a few fields the administrator fills in. Every text field is itself a template (text
//! kind; URL fields URL kind with the literal text kept as written), so
//! `{{ticket.subject}}` works everywhere.
//!
//! - Slack incoming webhook: `text` (the notification fallback) plus `blocks`: an
//!   optional header, a `mrkdwn` section, and an actions block whose button opens the
//!   ticket URL. Values (not the literal text) are escaped as Slack asks (`&`, `<`, `>`),
//!   and block texts are cut to Slack's limits so a long ticket never gets the message
//!   refused.
//! - Microsoft Teams: `{"type":"message","attachments":[{adaptive card}]}`, which
//!   Teams incoming webhooks and Workflows ("post to a channel when a webhook request is
//!   received") both accept. The card (version 1.4) has the title as a bold TextBlock
//!   whose `color` is the chosen colour (Adaptive Cards only know named colours, so that
//!   is the choice offered), the text, a FactSet, and an `Action.OpenUrl` button.
//! - Rocket.Chat incoming webhook: `text`, `alias`, `emoji`, `avatar` and one attachment
//!   (`title`, `title_link`, `text`, `color`); empty fields are left out so the
//!   integration's own settings apply.
//! - Google Chat incoming webhook: `{"text": …}` (plain text).
//! - Remote Hookdesk: the body of another Hookdesk's `POST /api/v1/tickets` (create) or
//!   `PATCH /api/v1/tickets/{id}` (update): `type` (create only), `subject`,
//!   `description`, `status`, `priority` (`P1`…`P4`), `category`, `requester_name`,
//!   `requester_email`, and `forms` from an optional JSON template. Fields that render
//!   empty are left out, so an update only touches what has a value.
//! - Generic: no preset; the webhook's own body template is sent.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod payloads;

use payloads::{Rendered, remote_hookdesk, rocket_chat, slack, teams};

use crate::error::{FieldErrors, Result};
use crate::templating::{Kind, KnownNames, RenderContext, Template};

/// Which preset, for storage and pickers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetKind {
    Generic,
    Slack,
    MicrosoftTeams,
    RocketChat,
    GoogleChat,
    RemoteHookdesk,
}

impl PresetKind {
    pub const ALL: [PresetKind; 6] = [
        PresetKind::Generic,
        PresetKind::Slack,
        PresetKind::MicrosoftTeams,
        PresetKind::RocketChat,
        PresetKind::GoogleChat,
        PresetKind::RemoteHookdesk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PresetKind::Generic => "generic",
            PresetKind::Slack => "slack",
            PresetKind::MicrosoftTeams => "microsoft_teams",
            PresetKind::RocketChat => "rocket_chat",
            PresetKind::GoogleChat => "google_chat",
            PresetKind::RemoteHookdesk => "remote_hookdesk",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PresetKind::Generic => "Generic",
            PresetKind::Slack => "Slack",
            PresetKind::MicrosoftTeams => "Microsoft Teams",
            PresetKind::RocketChat => "Rocket.Chat",
            PresetKind::GoogleChat => "Google Chat",
            PresetKind::RemoteHookdesk => "Remote Hookdesk",
        }
    }

    pub fn parse(s: &str) -> Option<PresetKind> {
        PresetKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A preset with its fields; stored as JSON (`{"preset":"slack", …fields}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "preset", rename_all = "snake_case")]
pub enum Preset {
    Generic,
    Slack(SlackFields),
    MicrosoftTeams(TeamsFields),
    RocketChat(RocketChatFields),
    GoogleChat(GoogleChatFields),
    RemoteHookdesk(RemoteHookdeskFields),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlackFields {
    /// The message (Slack `mrkdwn`); also the notification text.
    pub text: String,
    /// An optional header above the message.
    pub title: String,
    pub button_label: String,
    /// Where the button goes; no button when empty.
    pub ticket_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamsFields {
    pub title: String,
    pub text: String,
    pub colour: CardColour,
    pub facts: Vec<Fact>,
    pub button_label: String,
    pub ticket_url: String,
}

/// One line of a Teams FactSet; left out when both render empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fact {
    pub title: String,
    pub value: String,
}

/// The named colours an Adaptive Card TextBlock accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardColour {
    #[default]
    Default,
    Accent,
    Good,
    Warning,
    Attention,
}

impl CardColour {
    pub const ALL: [CardColour; 5] = [
        CardColour::Default,
        CardColour::Accent,
        CardColour::Good,
        CardColour::Warning,
        CardColour::Attention,
    ];

    /// The value written into the card.
    pub fn card_value(self) -> &'static str {
        match self {
            CardColour::Default => "Default",
            CardColour::Accent => "Accent",
            CardColour::Good => "Good",
            CardColour::Warning => "Warning",
            CardColour::Attention => "Attention",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RocketChatFields {
    pub text: String,
    /// Overrides the integration's display name.
    pub alias: String,
    /// Overrides the avatar with an emoji such as `:ticket:`.
    pub emoji: String,
    /// Overrides the avatar with an image URL.
    pub avatar: String,
    pub attachment_title: String,
    pub attachment_text: String,
    /// The attachment title's link.
    pub ticket_url: String,
    /// The attachment's side bar, `#rgb` or `#rrggbb`.
    pub colour: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GoogleChatFields {
    pub text: String,
}

/// Whether the remote ticket is created (`POST /api/v1/tickets`) or updated
/// (`PATCH /api/v1/tickets/{id}`, the id usually kept in a form field from the create
/// response).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteMode {
    #[default]
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteHookdeskFields {
    pub mode: RemoteMode,
    /// Ticket type name (`Incident`, `Service Request`, `Problem`, `Change`); sent on create.
    pub ticket_type: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    /// `P1` … `P4`.
    pub priority: String,
    pub category: String,
    pub requester_name: String,
    pub requester_email: String,
    /// A JSON template for the remote ticket's `forms` object; nothing sent when empty.
    pub forms: String,
}

impl Default for SlackFields {
    fn default() -> Self {
        Self {
            text: "*{{ticket.displayid}}* {{ticket.subject}}\nStatus: {{ticket.status}} · \
                   Priority: {{ticket.priority}}"
                .into(),
            title: String::new(),
            button_label: "Open ticket".into(),
            ticket_url: "{{ticket.url}}".into(),
        }
    }
}

impl Default for TeamsFields {
    fn default() -> Self {
        let fact = |title: &str, value: &str| Fact {
            title: title.into(),
            value: value.into(),
        };
        Self {
            title: "{{ticket.displayid}}: {{ticket.subject}}".into(),
            text: "{{ticket.description}}".into(),
            colour: CardColour::Accent,
            facts: vec![
                fact("Status", "{{ticket.status}}"),
                fact("Priority", "{{ticket.priority}}"),
                fact("Assignee", "{{ticket.assignee}}"),
            ],
            button_label: "Open ticket".into(),
            ticket_url: "{{ticket.url}}".into(),
        }
    }
}

impl Default for RocketChatFields {
    fn default() -> Self {
        Self {
            text: "Ticket {{ticket.displayid}}: {{ticket.subject}}".into(),
            alias: "Hookdesk".into(),
            emoji: ":ticket:".into(),
            avatar: String::new(),
            attachment_title: "{{ticket.displayid}} {{ticket.subject}}".into(),
            attachment_text: "{{ticket.description}}".into(),
            ticket_url: "{{ticket.url}}".into(),
            colour: "#1d74f5".into(),
        }
    }
}

impl Default for GoogleChatFields {
    fn default() -> Self {
        Self {
            text: "Ticket {{ticket.displayid}}: {{ticket.subject}} ({{ticket.status}})".into(),
        }
    }
}

impl Default for RemoteHookdeskFields {
    fn default() -> Self {
        Self {
            mode: RemoteMode::Create,
            ticket_type: "{{ticket.type}}".into(),
            subject: "{{ticket.subject}}".into(),
            description: "{{ticket.description}}".into(),
            status: "{{ticket.status}}".into(),
            priority: "{{ticket.priority.id}}".into(),
            category: "{{ticket.category}}".into(),
            requester_name: "{{ticket.requestername}}".into(),
            requester_email: "{{ticket.requesteremail}}".into(),
            forms: String::new(),
        }
    }
}

/// One template field of a preset: its name (for errors beside the field), source and kind.
struct Field<'a> {
    name: String,
    text: &'a str,
    kind: Kind,
}

const TEXT: Kind = Kind::Text;
/// A pasted link is taken as written; only values are encoded.
const URL: Kind = Kind::Url {
    already_encoded: true,
};

fn field(name: impl Into<String>, text: &str, kind: Kind) -> Field<'_> {
    Field {
        name: name.into(),
        text,
        kind,
    }
}

impl Preset {
    /// A preset of `kind` with its default fields.
    pub fn new(kind: PresetKind) -> Preset {
        match kind {
            PresetKind::Generic => Preset::Generic,
            PresetKind::Slack => Preset::Slack(SlackFields::default()),
            PresetKind::MicrosoftTeams => Preset::MicrosoftTeams(TeamsFields::default()),
            PresetKind::RocketChat => Preset::RocketChat(RocketChatFields::default()),
            PresetKind::GoogleChat => Preset::GoogleChat(GoogleChatFields::default()),
            PresetKind::RemoteHookdesk => Preset::RemoteHookdesk(RemoteHookdeskFields::default()),
        }
    }

    pub fn kind(&self) -> PresetKind {
        match self {
            Preset::Generic => PresetKind::Generic,
            Preset::Slack(_) => PresetKind::Slack,
            Preset::MicrosoftTeams(_) => PresetKind::MicrosoftTeams,
            Preset::RocketChat(_) => PresetKind::RocketChat,
            Preset::GoogleChat(_) => PresetKind::GoogleChat,
            Preset::RemoteHookdesk(_) => PresetKind::RemoteHookdesk,
        }
    }

    fn fields(&self) -> Vec<Field<'_>> {
        match self {
            Preset::Generic => vec![],
            Preset::Slack(f) => vec![
                field("text", &f.text, TEXT),
                field("title", &f.title, TEXT),
                field("button_label", &f.button_label, TEXT),
                field("ticket_url", &f.ticket_url, URL),
            ],
            Preset::MicrosoftTeams(f) => {
                let mut out = vec![
                    field("title", &f.title, TEXT),
                    field("text", &f.text, TEXT),
                    field("button_label", &f.button_label, TEXT),
                    field("ticket_url", &f.ticket_url, URL),
                ];
                for (i, fact) in f.facts.iter().enumerate() {
                    out.push(field(format!("facts[{i}].title"), &fact.title, TEXT));
                    out.push(field(format!("facts[{i}].value"), &fact.value, TEXT));
                }
                out
            }
            Preset::RocketChat(f) => vec![
                field("text", &f.text, TEXT),
                field("alias", &f.alias, TEXT),
                field("emoji", &f.emoji, TEXT),
                field("avatar", &f.avatar, URL),
                field("attachment_title", &f.attachment_title, TEXT),
                field("attachment_text", &f.attachment_text, TEXT),
                field("ticket_url", &f.ticket_url, URL),
            ],
            Preset::GoogleChat(f) => vec![field("text", &f.text, TEXT)],
            Preset::RemoteHookdesk(f) => vec![
                field("ticket_type", &f.ticket_type, TEXT),
                field("subject", &f.subject, TEXT),
                field("description", &f.description, TEXT),
                field("status", &f.status, TEXT),
                field("priority", &f.priority, TEXT),
                field("category", &f.category, TEXT),
                field("requester_name", &f.requester_name, TEXT),
                field("requester_email", &f.requester_email, TEXT),
                field("forms", &f.forms, Kind::Json),
            ],
        }
    }

    /// Checks every field, reporting each problem beside its field: template syntax,
    /// unknown placeholders, and the checks a service would refuse the message for.
    pub fn validate(&self, known: &KnownNames) -> Result<()> {
        let mut errors = FieldErrors::new();
        for f in self.fields() {
            if f.kind == Kind::Json && f.text.trim().is_empty() {
                continue;
            }
            if !crate::limits::check(&mut errors, &f.name, f.text, crate::limits::TEMPLATE) {
                continue;
            }
            if let Err(e) = Template::parse_known(f.text, f.kind, known) {
                errors.add(f.name, e.to_string());
            }
        }
        match self {
            Preset::Slack(f) if f.text.trim().is_empty() => {
                errors.add("text", "Slack needs a message")
            }
            Preset::GoogleChat(f) if f.text.trim().is_empty() => {
                errors.add("text", "Google Chat needs a message")
            }
            Preset::MicrosoftTeams(f) if f.title.trim().is_empty() && f.text.trim().is_empty() => {
                errors.add("title", "give the card a title or a text")
            }
            Preset::RocketChat(f) if !f.colour.is_empty() && !is_hex_colour(&f.colour) => errors
                .add(
                    "colour",
                    "a colour is written #rgb or #rrggbb, such as #1d74f5",
                ),
            Preset::RemoteHookdesk(f)
                if f.subject.trim().is_empty() && f.mode == RemoteMode::Create =>
            {
                errors.add("subject", "a new ticket needs a subject")
            }
            _ => {}
        }
        errors.into_result()
    }

    /// The request body for this ticket, or `None` for `Generic` (the webhook's own
    /// body template is sent). A field that no longer parses is a validation error.
    pub fn payload(&self, ctx: &RenderContext) -> Result<Option<Value>> {
        let mut rendered = Rendered::new(self.fields(), ctx)?;
        Ok(match self {
            Preset::Generic => None,
            Preset::Slack(_) => Some(slack(&mut rendered)?),
            Preset::MicrosoftTeams(f) => Some(teams(f, &mut rendered)?),
            Preset::RocketChat(f) => Some(rocket_chat(f, &mut rendered)?),
            Preset::GoogleChat(_) => Some(json!({ "text": rendered.text("text")? })),
            Preset::RemoteHookdesk(f) => Some(remote_hookdesk(f, &mut rendered)?),
        })
    }
}

fn is_hex_colour(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
