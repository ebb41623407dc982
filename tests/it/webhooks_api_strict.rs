//! `/api/v1/webhooks` reads its bodies strictly, like the rest of the API: a key the
//! webhook does not have, at any depth, is a 422 naming its path and nothing is saved;
//! a GET's body goes back as a PUT unchanged; a body that is not JSON is a 415.

use hookdesk::auth::User;
use hookdesk::auth::tokens::ApiToken;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::tickets_api::api;
use crate::webhooks::{BODY, slack_connection, ticket_with_forms};

crate::db_tests!(
    a_misspelt_key_anywhere_is_refused_by_its_path,
    a_get_body_puts_back_unchanged,
    a_patch_refuses_a_misspelt_nested_key,
    a_body_that_is_not_json_is_refused,
);

fn admin_token(app: &TestApp) -> String {
    app.with_conn(|c| {
        let u = User::find_by_username(c, "admin").unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "test")
            .unwrap()
            .1
    })
}

/// An administrator's token and a webhook body that saves as is.
async fn setup(app: &TestApp) -> (String, Value) {
    app.login_admin().await;
    ticket_with_forms(app);
    let conn_id = slack_connection(app, "https://hooks.slack.example/api").await;
    let hook = json!({
        "name": "Strict hook",
        "connection_id": conn_id,
        "method": "POST",
        "request_content_type": "json",
        "body_template": BODY,
        "retry_schedule": "60, 300",
        "parameters": [{"name": "customer_ref", "label": "Customer"}, {"name": "note"}],
        "conditions": [{"field": "ticket.status", "operator": "not_equals", "value": "Closed"}],
        "response_fields": [{"path": "items[0].id", "target": "ticket.inventory.serialnumber"}],
        "response_actions": [{"kind": "change_status", "value_template": "In Progress"}],
    });
    (admin_token(app), hook)
}

/// The one field a 422 names.
fn refused_field(status: u16, body: &Value) -> String {
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{body}");
    fields[0]["field"].as_str().unwrap().to_string()
}

async fn a_misspelt_key_anywhere_is_refused_by_its_path(app: TestApp) {
    let (token, hook) = setup(&app).await;
    let slack = json!({"preset": "slack", "txt": "hello"});
    let teams = json!({"preset": "microsoft_teams", "facts": [{"title": "a", "valeu": "b"}]});
    let cases: [(&str, Value, &str); 8] = [
        ("retry_schedul", json!("60"), "retry_schedul"),
        (
            "parameters",
            json!([{"name": "a", "lable": "x"}]),
            "parameters.0.lable",
        ),
        (
            "response_fields",
            json!([{"path": "id", "taget": "ticket.subject"}]),
            "response_fields.0.taget",
        ),
        (
            "response_actions",
            json!([{"kind": "change_status", "value": "Open"}]),
            "response_actions.0.value",
        ),
        (
            "conditions",
            json!([{"field": "ticket.status", "operator": "equals", "vale": "x"}]),
            "conditions.0.vale",
        ),
        ("preset", slack, "preset.txt"),
        ("preset", teams, "preset.facts.0.valeu"),
        (
            "preset",
            json!({"preset": "generic", "text": "x"}),
            "preset.text",
        ),
    ];
    for (key, value, path) in cases {
        let mut body = hook.clone();
        body[key] = value;
        let (s, err) = api(&app, M::POST, &token, "/api/v1/webhooks", Some(body)).await;
        assert_eq!(refused_field(s, &err), path);
    }
    let (s, all) = api(&app, M::GET, &token, "/api/v1/webhooks", None).await;
    assert_eq!(s, 200);
    assert_eq!(all, json!([]), "nothing saved");

    // The same body, spelt right, saves.
    let (s, created) = api(&app, M::POST, &token, "/api/v1/webhooks", Some(hook)).await;
    assert_eq!(s, 201, "{created}");
}

async fn a_get_body_puts_back_unchanged(app: TestApp) {
    let (token, mut hook) = setup(&app).await;
    hook["preset"] = json!({"preset": "slack", "text": "{{ticket.subject}}"});
    let (s, created) = api(&app, M::POST, &token, "/api/v1/webhooks", Some(hook)).await;
    assert_eq!(s, 201, "{created}");
    let path = format!("/api/v1/webhooks/{}", created["id"]);
    let (s, got) = api(&app, M::GET, &token, &path, None).await;
    assert_eq!(s, 200);
    assert!(got.get("id").is_some() && got.get("updated_at").is_some());

    let (s, put) = api(&app, M::PUT, &token, &path, Some(got.clone())).await;
    assert_eq!(s, 200, "{put}");
    let (_, after) = api(&app, M::GET, &token, &path, None).await;
    let settings = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("updated_at");
        v
    };
    assert_eq!(settings(&after), settings(&got));

    // A PUT is as strict as a POST.
    let mut bad = got.clone();
    bad["parameters"][0]["lable"] = json!("x");
    let (s, err) = api(&app, M::PUT, &token, &path, Some(bad)).await;
    assert_eq!(refused_field(s, &err), "parameters.0.lable");
    let (_, after) = api(&app, M::GET, &token, &path, None).await;
    assert_eq!(settings(&after), settings(&got));
}

async fn a_patch_refuses_a_misspelt_nested_key(app: TestApp) {
    let (token, hook) = setup(&app).await;
    let (s, created) = api(&app, M::POST, &token, "/api/v1/webhooks", Some(hook)).await;
    assert_eq!(s, 201, "{created}");
    let path = format!("/api/v1/webhooks/{}", created["id"]);
    for (change, at) in [
        (
            json!({"parameters": [{"name": "a", "lable": "x"}]}),
            "parameters.0.lable",
        ),
        (
            json!({"preset": {"preset": "slack", "txt": "x"}}),
            "preset.txt",
        ),
        (json!({"retry_schedul": "5"}), "retry_schedul"),
    ] {
        let (s, err) = api(&app, M::PATCH, &token, &path, Some(change)).await;
        assert_eq!(refused_field(s, &err), at);
    }
    let (_, after) = api(&app, M::GET, &token, &path, None).await;
    assert_eq!(after, created, "unchanged");
}

async fn a_body_that_is_not_json_is_refused(app: TestApp) {
    let (token, hook) = setup(&app).await;
    let (s, created) = api(
        &app,
        M::POST,
        &token,
        "/api/v1/webhooks",
        Some(hook.clone()),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let path = format!("/api/v1/webhooks/{}", created["id"]);
    let mut other = hook;
    other["name"] = json!("Other");
    for (method, at) in [
        (M::POST, "/api/v1/webhooks".to_string()),
        (M::PUT, path.clone()),
        (M::PATCH, path.clone()),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(&at))
            .bearer_auth(&token)
            .header("Content-Type", "text/plain")
            .body(other.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{method} {at}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "unsupported_media_type", "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{err}"
        );
    }
    let (_, all) = api(&app, M::GET, &token, "/api/v1/webhooks", None).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
}
