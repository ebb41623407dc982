//! The ticket page's Actions in headless Chromium: the menu lists exactly the webhooks
//! the technician may fire there, and firing from the dialog shows "delivered" without a
//! page reload.

use fantoccini::Locator;

use crate::browser::{browser_login, start_browser, text_when};
use crate::buttons_support::{ROLE, buttons_app, create_webhook, setup};
use crate::helpers::{Backend, PASSWORD};
use crate::receiver::Reply;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actions_menu_offers_exactly_the_allowed_webhooks_and_fires_in_chromium() {
    let app = buttons_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    let s = setup(&app, Reply::Status(200)).await;
    let conn = app.with_conn(|c| {
        hookdesk::webhooks::store::get(c, s.webhook)
            .unwrap()
            .connection_id
            .unwrap()
    });
    // Granted to every technician: offered too.
    let escalate = create_webhook(
        &app,
        conn,
        &[("name", "Escalate to L2"), ("roles", "Technician")],
    )
    .await;
    // Granted to a role she lacks; for another ticket type; disabled: not offered.
    let others = [
        create_webhook(
            &app,
            conn,
            &[("name", "Tell the managers"), ("roles", "Administrator")],
        )
        .await,
        create_webhook(
            &app,
            conn,
            &[
                ("name", "Order hardware"),
                ("roles", ROLE),
                ("ticket_types", "SR"),
                // The Incident forms' placeholders are unknown on Service Requests.
                ("body_template", r#"{"ref": "{{param.customer_ref}}"}"#),
            ],
        )
        .await,
        create_webhook(
            &app,
            conn,
            &[
                ("name", "Old vendor"),
                ("roles", ROLE),
                ("status", "disabled"),
            ],
        )
        .await,
    ];
    app.create_user("tess", &["Technician", ROLE]);

    browser_login(&app, &b, "tess", PASSWORD).await;
    b.goto(&app.url(&format!("/tickets/{}", s.ticket.id)))
        .await
        .unwrap();
    b.find(Locator::Css("#actions-menu summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let menu = b
        .find_all(Locator::Css("#actions-menu a[data-webhook]"))
        .await
        .unwrap();
    let mut offered = Vec::new();
    for a in menu {
        offered.push((
            a.attr("data-webhook").await.unwrap().unwrap(),
            a.text().await.unwrap(),
        ));
    }
    let mut wanted = vec![
        (escalate.to_string(), "Escalate to L2".to_string()),
        (s.webhook.to_string(), "Send to vendor".to_string()),
    ];
    wanted.sort();
    offered.sort();
    assert_eq!(offered, wanted, "exactly the allowed webhooks, by name");
    for id in others {
        assert!(
            b.find_all(Locator::Css(&format!("[data-webhook='{id}']")))
                .await
                .unwrap()
                .is_empty()
        );
    }

    // Pick "Send to vendor" from the open menu: the dialog opens in place.
    b.find(Locator::Css(&format!(
        "#actions-menu a[data-webhook='{}']",
        s.webhook
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    text_when(&b, "#fire-dialog-title", "Send to vendor").await;
    let dialog = b.find(Locator::Css("#fire-dialog")).await.unwrap();
    assert!(dialog.is_displayed().await.unwrap());
    let note = b.find(Locator::Css("#param-note")).await.unwrap();
    assert_eq!(
        note.attr("readonly").await.unwrap().as_deref(),
        Some("true")
    );
    let field = b.find(Locator::Css("#param-customer_ref")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("CUST-77").await.unwrap();

    b.find(Locator::Css("#fire-show-request"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_when(&b, "#fire-preview-body", "CUST-77").await;
    crate::browser::screenshot(&b, "ticket-fire-dialog").await;

    // Fire: the dialog follows the delivery to "delivered"; the page never reloads.
    b.execute("window.__same_page = true;", Vec::new())
        .await
        .unwrap();
    b.find(Locator::Css("#fire-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_when(&b, "#fired-status .delivery-status", "delivered").await;
    text_when(&b, "#fired-status .http-status", "200").await;
    text_when(&b, "#deliveries .delivery-status", "delivered").await;
    text_when(&b, "#history", "to the vendor as CUST-77").await;
    let same = b
        .execute("return window.__same_page === true;", Vec::new())
        .await
        .unwrap();
    assert_eq!(same, serde_json::json!(true), "no page reload");
    crate::browser::screenshot(&b, "ticket-fired").await;

    let got = s.rx.wait_for(1).await;
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["ref"], "CUST-77");
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
