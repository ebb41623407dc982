//! "Test this rule" on the rule's page: each condition against a chosen ticket, the
//! request each webhook would send (redacted, escaped), and nothing sent, queued or
//! changed; on SQLite and PostgreSQL.

use hookdesk::tickets::{ChangeActor, Ticket, TicketInput};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::rule_pages::{count, id_in, rule_form, slack_webhook};
use crate::webhooks::{post, text_of, ticket_with_forms};

db_tests!(test_this_rule_shows_each_condition_and_the_request_and_sends_nothing);

async fn test_this_rule_shows_each_condition_and_the_request_and_sends_nothing(app: TestApp) {
    app.login_admin().await;
    let ticket = ticket_with_forms(&app);
    let webhook = slack_webhook(&app).await;
    let mut form = rule_form("Fires to Slack", webhook);
    form.retain(|(k, _)| k != "condition_match");
    form.push(("condition_match".into(), "any".into()));
    for (k, v) in [
        ("cond_field", "ticket.priority.id"),
        ("cond_operator", "equals"),
        ("cond_value", "P1"),
    ] {
        form.push((k.into(), v.into()));
    }
    let resp = post(&app, "/admin/rules", &form).await;
    assert_eq!(resp.status(), 303);
    let id = id_in(&resp);
    let edit = app
        .get(&format!("/admin/rules/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("Test this rule"));
    assert!(edit.contains(&format!(r#"hx-post="/admin/rules/{id}/test""#)));

    // A subject that must come back escaped, not as markup.
    let other = app.with_conn(|c| {
        Ticket::create_as(
            c,
            &ChangeActor::system("test"),
            &TicketInput {
                ticket_type: "Incident".into(),
                subject: "<script>alert(1)</script> fire".into(),
                status: "Open".into(),
                priority: "P3".into(),
                ..TicketInput::default()
            },
            &hookdesk::tickets::events::NoRules,
        )
        .unwrap()
    });
    let before: Vec<i64> = ["deliveries", "ticket_history", "events", "rule_firings"]
        .iter()
        .map(|t| count(&app, t))
        .collect();

    let test = |ticket: String, event: &'static str| {
        let app = &app;
        async move {
            let token = app.csrf_of(&app.client).await;
            let resp = app
                .client
                .post(app.url(&format!("/admin/rules/{id}/test")))
                .header("HX-Request", "true")
                .form(&[
                    ("ticket", ticket.as_str()),
                    ("event", event),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }
    };

    let html = test(ticket.display_id.clone(), "ticket.updated").await;
    let verdict = text_of(&html, "#dry-run-verdict").unwrap();
    assert!(verdict.starts_with("Would run"), "{verdict}");
    assert!(verdict.contains(&ticket.display_id), "{verdict}");
    let doc = scraper::Html::parse_fragment(&html);
    let sel = scraper::Selector::parse("#dry-run-conditions tbody tr").unwrap();
    let rows: Vec<String> = doc
        .select(&sel)
        .map(|r| r.text().collect::<String>())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("ticket.subject contains fire"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].contains("Printer \"Big Bertha\" on fire"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("matched") && !rows[0].contains("not matched"));
    assert!(
        rows[1].contains("ticket.priority.id equals P1"),
        "{}",
        rows[1]
    );
    assert!(rows[1].contains("P2"), "the ticket's value: {}", rows[1]);
    assert!(rows[1].contains("not matched"), "{}", rows[1]);

    let actions = text_of(&html, "#dry-run-actions").unwrap();
    assert!(
        actions.contains("would send webhook “Post to Slack”"),
        "{actions}"
    );
    assert!(
        actions.contains(&format!(
            "would add an internal note: Sent {} to Slack",
            ticket.display_id
        )),
        "{actions}"
    );
    let request = text_of(&html, ".dry-run-request").unwrap();
    assert!(
        request.starts_with("POST https://hooks.slack.example/x"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\"ref\":\"R-{}\"", ticket.display_id)),
        "{request}"
    );
    assert!(request.contains("Bearer ••••"), "{request}");
    assert!(
        !html.contains("xoxb-very-secret-token"),
        "secrets stay hidden"
    );

    // Markup in the ticket is shown as text.
    let html = test(other.display_id.clone(), "ticket.updated").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        text_of(&html, ".dry-run-request")
            .unwrap()
            .contains("<script>alert(1)</script> fire")
    );

    // An event the rule does not listen to, and a ticket that does not exist.
    let html = test(ticket.display_id.clone(), "ticket.deleted").await;
    let verdict = text_of(&html, "#dry-run-verdict").unwrap();
    assert!(verdict.starts_with("Would not run"), "{verdict}");
    assert!(verdict.contains("does not listen"), "{verdict}");
    let html = test("IN9999".into(), "ticket.updated").await;
    assert!(
        text_of(&html, "#dry-run-result")
            .unwrap()
            .contains("there is no ticket IN9999")
    );

    let after: Vec<i64> = ["deliveries", "ticket_history", "events", "rule_firings"]
        .iter()
        .map(|t| count(&app, t))
        .collect();
    assert_eq!(before, after, "a test sends, queues and changes nothing");
}
