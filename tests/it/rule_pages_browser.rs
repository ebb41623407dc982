//! The trigger-rule form in headless Chromium: rows drawn and moved by htmx, a webhook
//! chosen and its parameter typed, saved, tested in place, and listed.

use std::collections::BTreeMap;

use fantoccini::Locator;
use hookdesk::rules::{Action, store};

use crate::browser::{browser_login, start_browser};
use crate::helpers::{ADMIN_PASSWORD, Backend, spawn_app};
use crate::rule_pages::slack_webhook;
use crate::webhooks::ticket_with_forms;

/// Builds a rule in Chromium: adds an action row, chooses the webhook (the row redraws
/// with its parameters), types a parameter, saves, and finds the rule listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_a_rule_with_a_webhook_action_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    app.login_admin().await;
    let ticket = ticket_with_forms(&app);
    let webhook = slack_webhook(&app).await;
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    b.goto(&app.url("/admin/rules")).await.unwrap();
    b.find(Locator::LinkText("New rule"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css("#rule-form"))
        .await
        .unwrap();

    b.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Fires to Slack")
        .await
        .unwrap();
    b.find(Locator::Css("input[name=events][value='ticket.created']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The new form starts with one action row; add a second and remove the first.
    b.find(Locator::XPath("//button[text()='Add action']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = Locator::Css("#action-rows [data-row]");
    for _ in 0..100 {
        if b.find_all(rows).await.unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(b.find_all(rows).await.unwrap().len(), 2);
    b.find(Locator::Css("#action-rows [data-row] [data-remove-row]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(b.find_all(rows).await.unwrap().len(), 1);

    // Choosing the webhook redraws the row with an input per parameter.
    let select = b
        .find(Locator::Css("#action-rows select[name=act_webhook]"))
        .await
        .unwrap();
    select.select_by_value(&webhook.to_string()).await.unwrap();
    let param = b
        .wait()
        .for_element(Locator::Css("#action-rows [data-param=customer_ref]"))
        .await
        .unwrap();
    param.send_keys("R-{{ticket.displayid}}").await.unwrap();
    let read_only = b
        .find(Locator::Css("#action-rows input[disabled]"))
        .await
        .unwrap();
    assert_eq!(
        read_only.prop("value").await.unwrap().unwrap(),
        "from {{actor.name}}"
    );

    // A second action, switched to "Add note" (the row redraws for its kind), typed,
    // then moved above the webhook: both rows keep what was typed.
    b.find(Locator::XPath("//button[text()='Add action']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let second = "#action-rows > [data-row]:nth-child(2)";
    b.wait()
        .for_element(Locator::Css(&format!("{second} select[name=act_kind]")))
        .await
        .unwrap()
        .select_by_value("add_note")
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css(&format!("{second} textarea[name=act_text]")))
        .await
        .unwrap()
        .send_keys("Sent to Slack")
        .await
        .unwrap();
    b.find(Locator::Css(&format!("{second} button[hx-post$='dir=up']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css(
            "#action-rows > [data-row]:first-child textarea[name=act_text]",
        ))
        .await
        .unwrap();
    let kept = b
        .find(Locator::Css("#action-rows [data-param=customer_ref]"))
        .await
        .unwrap();
    assert_eq!(
        kept.prop("value").await.unwrap().unwrap(),
        "R-{{ticket.displayid}}"
    );
    b.execute(
        "document.getElementById('action-rows').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    crate::browser::screenshot(&b, "rule-form").await;

    b.find(Locator::XPath("//button[text()='Create rule']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let flash = b
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    assert_eq!(
        flash.text().await.unwrap(),
        "Trigger rule Fires to Slack created."
    );

    // "Test this rule" on the page it lands on answers in place.
    b.find(Locator::Css("#test_ticket"))
        .await
        .unwrap()
        .send_keys(&ticket.display_id)
        .await
        .unwrap();
    b.find(Locator::Css("#test-run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let verdict = b
        .wait()
        .for_element(Locator::Css("#dry-run-verdict"))
        .await
        .unwrap();
    let verdict = verdict.text().await.unwrap();
    assert!(verdict.starts_with("Would run"), "{verdict}");
    let request = b
        .find(Locator::Css(".dry-run-request"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        request.contains(&format!("R-{}", ticket.display_id)),
        "{request}"
    );
    b.execute(
        "document.getElementById('dry-run').scrollIntoView()",
        Vec::new(),
    )
    .await
    .unwrap();
    crate::browser::screenshot(&b, "rule-test").await;

    b.find(Locator::Css(".breadcrumb a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = b
        .wait()
        .for_element(Locator::Css("#rules tbody tr"))
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    assert!(text.contains("Fires to Slack"), "{text}");
    assert!(
        text.contains("Add note; Execute webhook “Post to Slack”"),
        "{text}"
    );
    crate::browser::screenshot(&b, "rules").await;

    let rule = app.with_conn(|c| store::list(c).unwrap().remove(0));
    assert_eq!(
        rule.actions,
        vec![
            Action::AddNote {
                text: "Sent to Slack".into(),
                internal: false,
            },
            Action::ExecuteWebhook {
                webhook_id: webhook,
                params: BTreeMap::from([(
                    "customer_ref".to_string(),
                    "R-{{ticket.displayid}}".to_string()
                )]),
            }
        ]
    );
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
