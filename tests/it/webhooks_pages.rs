//! Webhook pages beyond creation: clone and delete, when batching is offered, and the
//! rows htmx adds to the repeated sections; on SQLite and PostgreSQL.

use crate::db_tests;
use crate::helpers::TestApp;
use crate::webhooks::*;

db_tests!(
    clone_copies_everything_and_delete_removes_it,
    batching_is_offered_only_for_json_posts_without_linked_objects,
    rows_are_added_by_htmx_fragments,
);

async fn clone_copies_everything_and_delete_removes_it(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/x").await;
    let form = webhook_form(
        conn_id,
        &[
            ("cond_field", "ticket.status"),
            ("cond_operator", "in_list"),
            ("cond_value", "Open, Pending"),
            ("rf_path", "result.number"),
            ("rf_target", "ticket.inventory.serialnumber"),
            ("ra_kind", "add_note"),
            ("ra_target", ""),
            ("ra_value", "Slack said {{ticket.displayid}}"),
            ("retry_max_attempts", "4"),
            ("retry_schedule", "10, 60, 600"),
        ],
    );
    let resp = post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303);
    let id: i64 = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let resp = app
        .post_form(&format!("/admin/webhooks/{id}/clone"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    let copy_loc = resp.headers()["location"].to_str().unwrap().to_string();
    let copy_id: i64 = copy_loc.rsplit('/').next().unwrap().parse().unwrap();
    assert_ne!(copy_id, id);
    let (orig, copy) = app.with_conn(|c| {
        (
            hookdesk::webhooks::store::get(c, id).unwrap(),
            hookdesk::webhooks::store::get(c, copy_id).unwrap(),
        )
    });
    assert_eq!(copy.name, "Post to Slack (copy)");
    assert_eq!(copy.status, hookdesk::webhooks::Status::Disabled);
    assert_eq!(copy.parameters, orig.parameters);
    assert_eq!(copy.conditions, orig.conditions);
    assert_eq!(copy.response_fields, orig.response_fields);
    assert_eq!(copy.response_actions, orig.response_actions);
    assert_eq!(copy.roles, vec!["Technician".to_string()]);
    assert_eq!(copy.retry_schedule, Some(vec![10, 60, 600]));
    assert_eq!(copy.body_template, BODY);
    // A second copy gets a name of its own.
    let resp = app
        .post_form(&format!("/admin/webhooks/{id}/clone"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    assert!(
        app.get("/admin/webhooks")
            .await
            .text()
            .await
            .unwrap()
            .contains("Post to Slack (copy 2)")
    );

    let resp = app
        .post_form(&format!("/admin/webhooks/{copy_id}/delete"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.get(&copy_loc).await.status(), 404);
    assert_eq!(webhook_count(&app), 2);

    let audit = app
        .get("/admin/audit?action=webhook.")
        .await
        .text()
        .await
        .unwrap();
    for action in ["webhook.create", "webhook.clone", "webhook.delete"] {
        assert!(audit.contains(action), "{action} not audited");
    }

    // Editing saves every tab, and the audit names what changed.
    let form = webhook_form(
        conn_id,
        &[("description", "changed"), ("retry_max_attempts", "")],
    );
    let resp = post(&app, &format!("/admin/webhooks/{id}"), &form).await;
    assert_eq!(resp.status(), 303);
    let w = app.with_conn(|c| hookdesk::webhooks::store::get(c, id).unwrap());
    assert_eq!(w.description, "changed");
    assert!(w.conditions.is_empty());
    assert_eq!(w.retry_max_attempts, None);
    let audit = app
        .get("/admin/audit?action=webhook.update")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("description"), "{audit}");

    // A technician cannot reach any of it.
    let tech = app.client_as("tess", &["Technician"]).await;
    assert_eq!(app.get_with(&tech, "/admin/webhooks").await.status(), 403);
    assert_eq!(
        app.get_with(&tech, &format!("/admin/webhooks/{id}"))
            .await
            .status(),
        403
    );
}

async fn batching_is_offered_only_for_json_posts_without_linked_objects(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let conn_id = slack_connection(&app, "https://hooks.slack.example/x").await;
    let bad = [
        ("PUT", "json", "custom", "only for POST"),
        ("POST", "xml", "custom", "only for JSON"),
        ("POST", "json", "ticket_linked", "linked objects"),
    ];
    for (method, ct, mode, why) in bad {
        let body = if ct == "xml" {
            "<a>{{ticket.subject}}</a>"
        } else {
            BODY
        };
        let form = webhook_form(
            conn_id,
            &[
                ("method", method),
                ("request_content_type", ct),
                ("payload_mode", mode),
                ("body_template", body),
                ("batch_mode", "any_event"),
            ],
        );
        let resp = post(&app, "/admin/webhooks", &form).await;
        assert_eq!(resp.status(), 422, "{method} {ct} {mode}");
        let html = resp.text().await.unwrap();
        assert!(text_of(&html, "#batch_mode-error").unwrap().contains(why));
        assert!(text_of(&html, "#batching-reason").unwrap().contains(why));
        // The live preview says the same while editing.
        let pv = webhook_form(
            conn_id,
            &[
                ("method", method),
                ("request_content_type", ct),
                ("payload_mode", mode),
                ("body_template", body),
            ],
        );
        let html = post(&app, "/admin/webhooks/preview", &pv)
            .await
            .text()
            .await
            .unwrap();
        assert!(text_of(&html, "#batching-reason").unwrap().contains(why));
    }
    let form = webhook_form(
        conn_id,
        &[
            ("batch_mode", "same_event_type"),
            ("batch_wait_seconds", "5"),
            ("batch_max_items", "20"),
        ],
    );
    let resp = post(&app, "/admin/webhooks", &form).await;
    assert_eq!(resp.status(), 303);
    let w = app.with_conn(|c| hookdesk::webhooks::store::list(c).unwrap().remove(0));
    assert_eq!(w.batch_mode, hookdesk::webhooks::BatchMode::SameEventType);
    assert_eq!((w.batch_wait_seconds, w.batch_max_items), (5, 20));
}

async fn rows_are_added_by_htmx_fragments(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    for kind in [
        "parameter",
        "condition",
        "response_field",
        "response_action",
    ] {
        let resp = app
            .client
            .get(app.url(&format!("/admin/webhooks/rows/{kind}")))
            .header("HX-Request", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let html = resp.text().await.unwrap();
        assert!(html.contains("data-row"), "{kind}");
        assert!(html.contains("data-remove-row"), "{kind}");
        assert!(!html.contains("<html"), "{kind} is a fragment");
    }
    let html = app
        .get("/admin/webhooks/rows/condition")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"ticket.inventory.location.id\""));
    assert!(
        !html.contains("value=\"changed_to\""),
        "event operators are for rules"
    );
    assert_eq!(app.get("/admin/webhooks/rows/other").await.status(), 404);
}
