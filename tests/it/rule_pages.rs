//! The trigger-rule pages: the list in evaluation order, the form (conditions, actions
//! drawn by htmx, errors beside the fields), reordering, enabling, cloning, deleting,
//! and "Test this rule", which shows what would happen and changes nothing; on SQLite
//! and PostgreSQL (the Chromium run is in `rule_pages_browser`).

use std::collections::BTreeMap;

use hookdesk::rules::{Action, RuleInput, store};

use crate::db_tests;
use crate::helpers::TestApp;
use crate::webhooks::{post, slack_connection, text_of, ticket_with_forms, webhook_form};

db_tests!(
    a_rule_made_in_the_form_is_listed_in_evaluation_order,
    a_refused_form_shows_each_error_beside_its_field_and_keeps_what_was_typed,
    action_rows_are_drawn_and_reordered_by_htmx,
    rules_move_toggle_clone_and_delete_from_the_list,
    a_technician_cannot_reach_the_rule_pages,
);

/// The webhook page's "Post to Slack" (parameters `customer_ref`, and `note`, which is
/// read-only), through a connection with a bearer token; returns its id.
pub async fn slack_webhook(app: &TestApp) -> i64 {
    let conn = slack_connection(app, "https://hooks.slack.example/x").await;
    let resp = post(app, "/admin/webhooks", &webhook_form(conn, &[])).await;
    assert_eq!(resp.status(), 303);
    id_in(&resp)
}

pub fn id_in(resp: &reqwest::Response) -> i64 {
    resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, x)| (k.to_string(), x.to_string()))
        .collect()
}

/// One action row as the page posts it: every column, whatever the kind.
pub fn action(uid: &str, kind: &str, cols: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut row = vec![("act_uid", uid), ("act_kind", kind)];
    for col in [
        "act_webhook",
        "act_text",
        "act_field",
        "act_value",
        "act_status",
        "act_assignee",
        "act_group",
    ] {
        row.push((
            col,
            cols.iter()
                .find(|(k, _)| *k == col)
                .map(|(_, v)| *v)
                .unwrap_or(""),
        ));
    }
    let mut row = pairs(&row);
    row.extend(pairs(
        &cols
            .iter()
            .filter(|(k, _)| k.starts_with("act_param") || *k == "act_internal")
            .copied()
            .collect::<Vec<_>>(),
    ));
    row
}

/// A rule that runs the Slack webhook and then adds an internal note, for a ticket
/// whose subject mentions fire.
pub fn rule_form(name: &str, webhook: i64) -> Vec<(String, String)> {
    let wid = webhook.to_string();
    let mut f = pairs(&[
        ("name", name),
        ("description", "Fires go to the desk channel"),
        ("enabled", "on"),
        ("events", "ticket.created"),
        ("events", "ticket.updated"),
        ("condition_match", "all"),
        ("cond_field", "ticket.subject"),
        ("cond_operator", "contains"),
        ("cond_value", "fire"),
        ("ignore_integration", "on"),
    ]);
    f.extend(action(
        "a0",
        "execute_webhook",
        &[
            ("act_webhook", &wid),
            ("act_param_key", "a0.customer_ref"),
            ("act_param_value", "R-{{ticket.displayid}}"),
        ],
    ));
    f.extend(action(
        "a1",
        "add_note",
        &[
            ("act_text", "Sent {{ticket.displayid}} to Slack"),
            ("act_internal", "a1"),
        ],
    ));
    f
}

pub fn note_rule(name: &str) -> RuleInput {
    RuleInput {
        name: name.into(),
        events: vec!["ticket.created".into()],
        actions: vec![Action::AddNote {
            text: format!("{name} was here"),
            internal: true,
        }],
        ..RuleInput::default()
    }
}

pub fn actor() -> hookdesk::audit::Actor {
    hookdesk::audit::Actor::system("test")
}

/// The rule names in the order the list shows them.
pub async fn listed(app: &TestApp) -> Vec<String> {
    let html = app.get("/admin/rules").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#rules tbody tr td:nth-child(2) a").unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

pub fn count(app: &TestApp, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.with_conn(|c| {
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<N>(c)
            .unwrap()
            .n
    })
}

async fn a_rule_made_in_the_form_is_listed_in_evaluation_order(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let webhook = slack_webhook(&app).await;

    let page = app.get("/admin/rules/new").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<a href="/admin/rules" aria-current="page">Trigger rules</a>"#),
        "the menu names the page"
    );
    assert!(
        html.contains(r#"name="ignore_integration" checked"#),
        "ignoring integration users is on by default"
    );
    assert!(html.contains("what prevents loops"));

    let resp = post(&app, "/admin/rules", &rule_form("Fires to Slack", webhook)).await;
    assert_eq!(resp.status(), 303);
    let id = id_in(&resp);
    let rule = app.with_conn(|c| store::get(c, id).unwrap());
    assert_eq!(rule.events, vec!["ticket.created", "ticket.updated"]);
    assert_eq!(rule.conditions.len(), 1);
    assert_eq!(rule.conditions[0].field, "ticket.subject");
    assert_eq!(
        rule.actions,
        vec![
            Action::ExecuteWebhook {
                webhook_id: webhook,
                params: BTreeMap::from([(
                    "customer_ref".to_string(),
                    "R-{{ticket.displayid}}".to_string()
                )]),
            },
            Action::AddNote {
                text: "Sent {{ticket.displayid}} to Slack".into(),
                internal: true,
            },
        ]
    );
    assert!(rule.enabled && rule.ignore_integration && !rule.stop_processing);

    // The edit page shows it back as saved.
    let html = app
        .get(&format!("/admin/rules/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"value="R-{{ticket.displayid}}""#));
    assert!(html.contains(r#"name="act_internal" value="a1" checked"#));
    assert!(html.contains(r#"value="ticket.updated" checked"#));

    let resp = post(&app, "/admin/rules", &rule_form("Second look", webhook)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(listed(&app).await, vec!["Fires to Slack", "Second look"]);

    // Firing counts: the last time, and how often in the last 24 hours.
    let now = hookdesk::db::now();
    app.with_conn(|c| {
        store::record_firing(c, id, now - chrono::Duration::hours(30)).unwrap();
        store::record_firing(c, id, now - chrono::Duration::minutes(5)).unwrap();
    });
    let html = app.get("/admin/rules").await.text().await.unwrap();
    let first = format!(r#"#rules tr[data-rule="{id}"]"#);
    assert_eq!(text_of(&html, &format!("{first} .fired-24h")).unwrap(), "1");
    let shown = (now - chrono::Duration::minutes(5))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert_eq!(
        text_of(&html, &format!("{first} .last-fired")).unwrap(),
        shown
    );
    let row = text_of(&html, &first).unwrap();
    assert!(row.contains("Ticket created, Ticket updated"), "{row}");
    assert!(
        row.contains("Execute webhook “Post to Slack”; Add internal note"),
        "{row}"
    );
    assert!(row.contains("Enabled"), "{row}");
    assert!(html.contains("never"), "the second rule never fired");
}

async fn a_refused_form_shows_each_error_beside_its_field_and_keeps_what_was_typed(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let webhook = slack_webhook(&app).await;
    let mut form: Vec<(String, String)> = rule_form("Half done", webhook)
        .into_iter()
        .filter(|(k, _)| k != "events" && !k.starts_with("act_"))
        .map(|(k, v)| match k.as_str() {
            "cond_field" => (k, "ticket.nope".into()),
            _ => (k, v),
        })
        .collect();
    form.extend(action("a0", "execute_webhook", &[]));
    form.extend(action(
        "a1",
        "add_note",
        &[("act_text", "Keep <this> note"), ("act_internal", "a1")],
    ));
    let resp = post(&app, "/admin/rules", &form).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        text_of(&html, "#form-errors")
            .unwrap()
            .contains("Nothing was saved")
    );
    assert_eq!(
        text_of(&html, "#events-error").unwrap(),
        "choose at least one event"
    );
    assert_eq!(
        text_of(&html, "#aw-a0-error").unwrap(),
        "choose a webhook",
        "beside the webhook select of the first action"
    );
    let cond = text_of(&html, "#condition-rows .row-item").unwrap();
    assert!(cond.contains("unknown field `ticket.nope`"), "{cond}");

    // Everything typed is still there.
    assert!(html.contains(r#"<input id="name" name="name" value="Half done""#));
    assert!(html.contains(">Fires go to the desk channel</textarea>"));
    assert!(html.contains(r#"<option value="ticket.nope" selected>"#));
    assert!(html.contains(r#"value="fire""#));
    assert!(
        html.contains(">Keep &#60;this&#62; note</textarea>")
            || html.contains(">Keep &lt;this&gt; note</textarea>")
    );
    assert!(html.contains(r#"name="act_internal" value="a1" checked"#));
    assert!(html.contains(r#"name="ignore_integration" checked"#));
    assert_eq!(count(&app, "rules"), 0);

    // A webhook parameter the webhook does not have, or a read-only one, is refused
    // beside that parameter.
    let mut form = rule_form("Half done", webhook);
    form.push(("act_param_key".into(), "a0.note".into()));
    form.push(("act_param_value".into(), "mine".into()));
    let resp = post(&app, "/admin/rules", &form).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    let row = text_of(&html, "#action-a0").unwrap();
    assert!(row.contains("`note` is read-only"), "{row}");
}

async fn action_rows_are_drawn_and_reordered_by_htmx(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let webhook = slack_webhook(&app).await;
    let fragment = |path: String| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(app.url(&path))
                .header("HX-Request", "true")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            let html = resp.text().await.unwrap();
            assert!(!html.contains("<html"), "{path} is a fragment");
            html
        }
    };

    let html = fragment("/admin/rules/rows/condition".into()).await;
    assert!(html.contains("data-row"));
    assert!(html.contains(r#"value="ticket.inventory.location""#));
    assert!(
        html.contains(r#"value="changed_to""#),
        "rules offer event operators"
    );
    assert!(html.contains(r#"value="changed_from""#));

    let html = fragment("/admin/rules/rows/action".into()).await;
    assert!(html.contains(r#"<option value="execute_webhook" selected>"#));
    assert!(html.contains("Post to Slack"));
    assert!(html.contains("data-remove-row"));

    // Choosing the webhook redraws the row with one input per parameter; the
    // read-only one is shown disabled and is not sent.
    let html = fragment(format!(
        "/admin/rules/rows/action?act_uid=x7&act_kind=execute_webhook&act_webhook={webhook}"
    ))
    .await;
    assert!(html.contains(r#"id="action-x7""#));
    assert!(html.contains(r#"name="act_param_key" value="x7.customer_ref""#));
    assert!(html.contains(r#"placeholder="REF-{{ticket.id}}""#));
    assert!(html.contains(r#"value="from {{actor.name}}" disabled"#));
    assert!(!html.contains("x7.note"));

    // Another kind keeps this row's other columns, hidden.
    let html = fragment(format!(
        "/admin/rules/rows/action?act_uid=x7&act_kind=change_status&act_webhook={webhook}&act_param_key=x7.customer_ref&act_param_value=kept"
    ))
    .await;
    assert!(html.contains(r#"name="act_status""#));
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="act_webhook" value="{webhook}">"#
    )));
    assert!(html.contains(r#"<input type="hidden" name="act_param_value" value="kept">"#));
    assert!(html.contains("In Progress"));
    assert_eq!(
        app.get("/admin/rules/rows/other").await.status(),
        404,
        "unknown row kind"
    );

    // Move down: the rows come back in the new order with what was typed.
    let resp = post(
        &app,
        "/admin/rules/actions?row=a0&dir=down",
        &rule_form("Any", webhook),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let (a0, a1) = (
        html.find(r#"id="action-a0""#).unwrap(),
        html.find(r#"id="action-a1""#).unwrap(),
    );
    assert!(a1 < a0, "a1 is now first");
    assert!(html.contains(r#"value="R-{{ticket.displayid}}""#));
    assert_eq!(count(&app, "rules"), 0, "moving a row saves nothing");
}

async fn rules_move_toggle_clone_and_delete_from_the_list(app: TestApp) {
    app.login_admin().await;
    let [a, b, c] = ["Alpha", "Beta", "Gamma"]
        .map(|n| app.with_conn(|conn| store::create(conn, &actor(), &note_rule(n)).unwrap().id));
    assert_eq!(listed(&app).await, vec!["Alpha", "Beta", "Gamma"]);

    let mv = |id: i64, dir: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .post_form(&format!("/admin/rules/{id}/move"), &[("direction", dir)])
                .await;
            assert_eq!(resp.status(), 303);
            assert_eq!(resp.headers()["location"], "/admin/rules");
        }
    };
    mv(c, "up").await;
    assert_eq!(listed(&app).await, vec!["Alpha", "Gamma", "Beta"]);
    mv(a, "down").await;
    assert_eq!(listed(&app).await, vec!["Gamma", "Alpha", "Beta"]);
    mv(c, "up").await;
    assert_eq!(
        listed(&app).await,
        vec!["Gamma", "Alpha", "Beta"],
        "the first stays first"
    );
    let order: Vec<i64> =
        app.with_conn(|conn| store::list(conn).unwrap().iter().map(|r| r.id).collect());
    assert_eq!(order, vec![c, a, b], "the engine sees the same order");

    let resp = app
        .post_form(
            &format!("/admin/rules/{b}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert!(!app.with_conn(|conn| store::get(conn, b).unwrap().enabled));
    let html = app.get("/admin/rules").await.text().await.unwrap();
    let row = text_of(&html, &format!(r#"tr[data-rule="{b}"]"#)).unwrap();
    assert!(row.contains("Disabled") && row.contains("Enable"), "{row}");
    assert!(html.contains("Trigger rule Beta disabled."));
    let resp = app
        .post_form(&format!("/admin/rules/{b}/enabled"), &[("enabled", "true")])
        .await;
    assert_eq!(resp.status(), 303);
    assert!(app.with_conn(|conn| store::get(conn, b).unwrap().enabled));

    let resp = app.post_form(&format!("/admin/rules/{a}/clone"), &[]).await;
    assert_eq!(resp.status(), 303);
    let copy = id_in(&resp);
    let rule = app.with_conn(|conn| store::get(conn, copy).unwrap());
    assert_eq!(rule.name, "Alpha (copy)");
    assert!(!rule.enabled, "a copy starts disabled");
    assert_eq!(rule.actions, note_rule("Alpha").actions);
    assert_eq!(
        listed(&app).await,
        vec!["Gamma", "Alpha", "Beta", "Alpha (copy)"]
    );

    let html = app.get("/admin/rules").await.text().await.unwrap();
    assert!(html.contains("data-confirm=\"Delete the trigger rule Alpha (copy)?"));
    let resp = app
        .post_form(&format!("/admin/rules/{copy}/delete"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.get(&format!("/admin/rules/{copy}")).await.status(), 404);
    assert_eq!(listed(&app).await, vec!["Gamma", "Alpha", "Beta"]);

    let audit = app
        .get("/admin/audit?action=rule.")
        .await
        .text()
        .await
        .unwrap();
    for action in [
        "rule.move",
        "rule.disable",
        "rule.enable",
        "rule.clone",
        "rule.delete",
    ] {
        assert!(audit.contains(action), "{action} not audited");
    }
}

async fn a_technician_cannot_reach_the_rule_pages(app: TestApp) {
    let id = app.with_conn(|c| store::create(c, &actor(), &note_rule("Alpha")).unwrap().id);
    let tech = app.client_as("tess", &["Technician"]).await;
    assert_eq!(app.get_with(&tech, "/admin/rules").await.status(), 403);
    assert_eq!(
        app.get_with(&tech, &format!("/admin/rules/{id}"))
            .await
            .status(),
        403
    );
    let resp = app
        .post_form_with(&tech, &format!("/admin/rules/{id}/delete"), &[])
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(count(&app, "rules"), 1);
    let home = app.get_with(&tech, "/").await.text().await.unwrap();
    assert!(
        !home.contains("Trigger rules"),
        "not in a technician's menu"
    );
}
