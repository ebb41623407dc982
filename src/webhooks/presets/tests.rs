use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::error::Error;

const TICKET_NAMES: [&str; 15] = [
    "ticket.id",
    "ticket.displayid",
    "ticket.type",
    "ticket.subject",
    "ticket.description",
    "ticket.status",
    "ticket.priority",
    "ticket.priority.id",
    "ticket.category",
    "ticket.assignee",
    "ticket.requestername",
    "ticket.requesteremail",
    "ticket.it.site",
    "ticket.linkedassets",
    "ticket.url",
];

fn known() -> KnownNames {
    KnownNames::new(TICKET_NAMES, ["note"])
}

fn ctx() -> RenderContext {
    let ticket: BTreeMap<String, Value> = BTreeMap::from([
        ("ticket.id".into(), json!(12)),
        ("ticket.displayid".into(), json!("IN164")),
        ("ticket.type".into(), json!("Incident")),
        ("ticket.subject".into(), json!("Printer <3rd floor> & jams")),
        (
            "ticket.description".into(),
            json!("Paper everywhere.\nSend help."),
        ),
        ("ticket.status".into(), json!("Open")),
        ("ticket.priority".into(), json!("P2 High")),
        ("ticket.priority.id".into(), json!("P2")),
        ("ticket.category".into(), json!("Hardware")),
        ("ticket.assignee".into(), Value::Null),
        ("ticket.requestername".into(), json!("Ada Lovelace")),
        ("ticket.requesteremail".into(), json!("ada@example.com")),
        ("ticket.it.site".into(), json!("Lyon / 3")),
        (
            "ticket.linkedassets".into(),
            json!([{"asset": "P2425"}, {"asset": "FH6354"}]),
        ),
        (
            "ticket.url".into(),
            json!("https://desk.example.com/tickets/12"),
        ),
    ]);
    let now: DateTime<Utc> = "2026-11-25T02:00:00Z".parse().unwrap();
    RenderContext::new(ticket, now).with_param("note", "Escalated by phone")
}

fn payload(p: &Preset) -> Value {
    p.validate(&known()).unwrap();
    p.payload(&ctx()).unwrap().unwrap()
}

#[test]
fn every_default_preset_validates_against_the_ticket_names() {
    for kind in PresetKind::ALL {
        let p = Preset::new(kind);
        assert_eq!(p.kind(), kind);
        assert_eq!(PresetKind::parse(kind.as_str()), Some(kind));
        p.validate(&known())
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
    assert_eq!(Preset::Generic.payload(&ctx()).unwrap(), None);
}

#[test]
fn default_presets_link_to_the_ticket_page_as_a_link() {
    let p = payload(&Preset::new(PresetKind::Slack));
    let text = p.to_string();
    assert!(
        text.contains(r#""url":"https://desk.example.com/tickets/12""#),
        "{text}"
    );
}

#[test]
fn slack_sends_text_and_blocks_with_a_button_to_the_ticket() {
    let p = Preset::Slack(SlackFields {
        text: "*{{ticket.displayid}}* {{ticket.subject}} <https://wiki|runbook>".into(),
        title: "New {{ticket.type}}".into(),
        button_label: "Open {{ticket.displayid}}".into(),
        ticket_url: "https://desk.example.com/tickets/{{ticket.id}}?site={{ticket.it.site}}".into(),
    });
    let v = payload(&p);
    let text = "*IN164* Printer &lt;3rd floor&gt; &amp; jams <https://wiki|runbook>";
    assert_eq!(v["text"], text);
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[0]["text"],
        json!({"type": "plain_text", "text": "New Incident", "emoji": true})
    );
    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(blocks[1]["text"], json!({"type": "mrkdwn", "text": text}));
    assert_eq!(blocks[2]["type"], "actions");
    let button = &blocks[2]["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(
        button["text"],
        json!({"type": "plain_text", "text": "Open IN164", "emoji": true})
    );
    assert_eq!(
        button["url"],
        "https://desk.example.com/tickets/12?site=Lyon%20%2F%203"
    );
    assert_eq!(button["action_id"], "open_ticket");
    assert_eq!(v.as_object().unwrap().len(), 2);
}

#[test]
fn slack_without_url_or_title_has_only_the_section_and_cuts_long_text() {
    let p = Preset::Slack(SlackFields {
        text: "{{ticket.description}} {{param.note}}".into(),
        title: String::new(),
        button_label: "Open".into(),
        ticket_url: String::new(),
    });
    let v = payload(&p);
    assert_eq!(
        v["text"],
        "Paper everywhere.\nSend help. Escalated by phone"
    );
    assert_eq!(v["blocks"].as_array().unwrap().len(), 1);
    assert_eq!(v["blocks"][0]["type"], "section");

    let long = "x".repeat(5000);
    let ctx = RenderContext::new(
        BTreeMap::from([("ticket.subject".into(), json!(long))]),
        Utc::now(),
    );
    let p = Preset::Slack(SlackFields {
        text: "{{ticket.subject}}".into(),
        ..SlackFields::default()
    });
    let v = p.payload(&ctx).unwrap().unwrap();
    let section = v["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(section.chars().count(), 3000);
    assert!(section.ends_with('…'));
    assert_eq!(v["text"].as_str().unwrap().len(), 5000);
}

#[test]
fn teams_sends_an_adaptive_card_message() {
    let p = Preset::MicrosoftTeams(TeamsFields {
        title: "{{ticket.displayid}}: {{ticket.subject}}".into(),
        text: "{{ticket.description}}".into(),
        colour: CardColour::Attention,
        facts: vec![
            Fact {
                title: "Status".into(),
                value: "{{ticket.status}}".into(),
            },
            Fact {
                title: "Priority".into(),
                value: "{{ticket.priority}}".into(),
            },
            Fact {
                title: String::new(),
                value: "{{ticket.assignee}}".into(),
            },
        ],
        button_label: "Open ticket".into(),
        ticket_url: "https://desk.example.com/tickets/{{ticket.id}}".into(),
    });
    let v = payload(&p);
    assert_eq!(v["type"], "message");
    let attachments = v["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachments[0]["contentUrl"], Value::Null);
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(
        card["body"],
        json!([
            {"type": "TextBlock", "text": "IN164: Printer <3rd floor> & jams", "weight": "Bolder",
             "size": "Medium", "wrap": true, "color": "Attention"},
            {"type": "TextBlock", "text": "Paper everywhere.\nSend help.", "wrap": true},
            {"type": "FactSet", "facts": [
                {"title": "Status", "value": "Open"},
                {"title": "Priority", "value": "P2 High"}
            ]}
        ])
    );
    assert_eq!(
        card["actions"],
        json!([{"type": "Action.OpenUrl", "title": "Open ticket",
                "url": "https://desk.example.com/tickets/12"}])
    );
}

#[test]
fn rocket_chat_sends_text_alias_emoji_avatar_and_an_attachment() {
    let p = Preset::RocketChat(RocketChatFields {
        text: "Ticket {{ticket.displayid}} is {{ticket.status}}".into(),
        alias: "Hookdesk ({{ticket.category}})".into(),
        emoji: ":ticket:".into(),
        avatar: "https://desk.example.com/avatar.png".into(),
        attachment_title: "{{ticket.subject}}".into(),
        attachment_text: "{{ticket.description}}".into(),
        ticket_url: "https://desk.example.com/tickets/{{ticket.id}}".into(),
        colour: "#ff0000".into(),
    });
    assert_eq!(
        payload(&p),
        json!({
            "text": "Ticket IN164 is Open",
            "alias": "Hookdesk (Hardware)",
            "emoji": ":ticket:",
            "avatar": "https://desk.example.com/avatar.png",
            "attachments": [{
                "title": "Printer <3rd floor> & jams",
                "title_link": "https://desk.example.com/tickets/12",
                "text": "Paper everywhere.\nSend help.",
                "color": "#ff0000"
            }]
        })
    );
    let bare = Preset::RocketChat(RocketChatFields {
        text: "hi".into(),
        alias: String::new(),
        emoji: String::new(),
        avatar: String::new(),
        attachment_title: String::new(),
        attachment_text: String::new(),
        ticket_url: String::new(),
        colour: "#abc".into(),
    });
    assert_eq!(payload(&bare), json!({"text": "hi"}));
}

#[test]
fn google_chat_sends_text() {
    let p = Preset::GoogleChat(GoogleChatFields {
        text: "{{ticket.displayid}} {{ticket.subject}} ({{ticket.priority}})".into(),
    });
    assert_eq!(
        payload(&p),
        json!({"text": "IN164 Printer <3rd floor> & jams (P2 High)"})
    );
}

#[test]
fn remote_hookdesk_creates_with_every_field_and_updates_without_type_or_empties() {
    let mut fields = RemoteHookdeskFields {
        forms:
            r#"{"it": {"site": "{{ticket.it.site}}"}, "linkedassets": "{{ticket.linkedassets}}"}"#
                .into(),
        ..RemoteHookdeskFields::default()
    };
    assert_eq!(
        payload(&Preset::RemoteHookdesk(fields.clone())),
        json!({
            "type": "Incident",
            "subject": "Printer <3rd floor> & jams",
            "description": "Paper everywhere.\nSend help.",
            "status": "Open",
            "priority": "P2",
            "category": "Hardware",
            "requester_name": "Ada Lovelace",
            "requester_email": "ada@example.com",
            "forms": {"it": {"site": "Lyon / 3"}, "linkedassets": [{"asset": "P2425"}, {"asset": "FH6354"}]}
        })
    );
    fields.mode = RemoteMode::Update;
    fields.forms = String::new();
    fields.category = "{{ticket.assignee}}".into();
    fields.description = String::new();
    assert_eq!(
        payload(&Preset::RemoteHookdesk(fields)),
        json!({
            "subject": "Printer <3rd floor> & jams",
            "status": "Open",
            "priority": "P2",
            "requester_name": "Ada Lovelace",
            "requester_email": "ada@example.com"
        })
    );
}

#[test]
fn validation_reports_each_field() {
    let p = Preset::MicrosoftTeams(TeamsFields {
        title: "{{ticket.subjet}}".into(),
        facts: vec![Fact {
            title: "A".into(),
            value: "{{ticket.status".into(),
        }],
        ..TeamsFields::default()
    });
    let Err(Error::Validation(errors)) = p.validate(&known()) else {
        panic!("accepted")
    };
    assert!(
        errors
            .get("title")
            .unwrap()
            .contains("unknown placeholder {{ticket.subjet}}")
    );
    assert!(
        errors
            .get("facts[0].value")
            .unwrap()
            .contains("is not closed")
    );
    assert_eq!(errors.0.len(), 2);

    let p = Preset::RocketChat(RocketChatFields {
        colour: "red".into(),
        ..RocketChatFields::default()
    });
    let Err(Error::Validation(errors)) = p.validate(&known()) else {
        panic!("accepted")
    };
    assert!(errors.get("colour").is_some());

    let p = Preset::RemoteHookdesk(RemoteHookdeskFields {
        forms: "{'a': 1}".into(),
        ..Default::default()
    });
    let Err(Error::Validation(errors)) = p.validate(&known()) else {
        panic!("accepted")
    };
    assert!(
        errors
            .get("forms")
            .unwrap()
            .starts_with("line 1, column 2:"),
        "{errors}"
    );

    let p = Preset::Slack(SlackFields {
        text: " ".into(),
        ..SlackFields::default()
    });
    let Err(Error::Validation(errors)) = p.validate(&known()) else {
        panic!("accepted")
    };
    assert_eq!(errors.get("text"), Some("Slack needs a message"));
}

#[test]
fn presets_round_trip_through_their_stored_json() {
    let p = Preset::new(PresetKind::MicrosoftTeams);
    let stored = serde_json::to_value(&p).unwrap();
    assert_eq!(stored["preset"], "microsoft_teams");
    assert_eq!(stored["colour"], "accent");
    assert_eq!(serde_json::from_value::<Preset>(stored).unwrap(), p);
    let generic: Preset = serde_json::from_value(json!({"preset": "generic"})).unwrap();
    assert_eq!(generic, Preset::Generic);
    let partial: Preset = serde_json::from_value(json!({"preset": "google_chat"})).unwrap();
    assert_eq!(partial, Preset::new(PresetKind::GoogleChat));
}
