//! A webhook's secret header values do not follow it to another host unconfirmed, as a
//! connection's do not: an edit that sends the headers somewhere new — another URL,
//! another connection, a test connection — and keeps a stored value (sent back blank or
//! as `••••`) is refused with 422, naming the header, on the page and in the API, and
//! nothing is saved. Typing the value again, or removing the header, saves; the new host
//! then gets the value typed. A connection moved to another host takes its webhooks'
//! secret header values along only when the administrator confirms it.

use serde_json::{Value, json};

use crate::connections::admin_token;
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::redaction::api;
use crate::webhooks::{post, text_of, ticket_with_forms, webhook_form};

crate::db_tests!(
    spawn = crate::responses::loopback_app;
    an_api_edit_to_another_host_needs_the_secret_headers_again,
    a_page_edit_to_another_connection_needs_the_secret_header_again,
    a_connection_moved_to_another_host_takes_its_webhooks_secrets_only_when_confirmed,
    a_host_hidden_in_placeholders_is_a_new_host,
);

/// A connection (no credentials of its own) through the API; returns its id.
async fn connection(app: &TestApp, token: &str, name: &str, base_url: &str) -> i64 {
    let (s, body) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/connections",
        Some(json!({"name": name, "base_url": base_url})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Sends the saved webhook now (`POST /api/v1/webhooks/{id}/test`).
async fn test_send(app: &TestApp, token: &str, id: i64) {
    let (s, body) = api(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

fn last_header(rx: &Receiver, name: &str) -> String {
    let got = rx.received();
    let last = got.last().expect("the receiver got a request");
    last.header(name).unwrap_or_default().to_string()
}

/// The messages of a 422 answer's field errors for `field`.
fn field_errors(body: &str, field: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["code"], "validation_failed", "{v}");
    v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["field"] == field)
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

async fn an_api_edit_to_another_host_needs_the_secret_headers_again(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let (old_rx, new_rx) = (
        Receiver::start(Reply::Status(200)).await,
        Receiver::start(Reply::Status(200)).await,
    );
    let conn = connection(&app, &token, "old host", &old_rx.url("/in")).await;
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({
            "name": "Secret headers",
            "connection_id": conn,
            "headers": "X-Ticket: {{ticket.id}}\nAuthorization: Bearer first-value\nX-Api-Key: key-one",
            "body_template": "{\"t\": \"{{ticket.id}}\"}",
        })),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/webhooks/{id}");
    let get = || async {
        let (s, body) = api(&app, &token, reqwest::Method::GET, &path, None).await;
        assert_eq!(s, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let saved = get().await;

    // A PATCH of the URL alone to another host keeps both values: refused, each named.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"url": new_rx.url("/moved")})),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    let errs = field_errors(&body, "headers");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("line 2: the host changed")
            && errs[0].contains("secret header Authorization again"),
        "{errs:?}"
    );
    assert!(
        errs[1].contains("line 3: the host changed")
            && errs[1].contains("secret header X-Api-Key again"),
        "{errs:?}"
    );
    // Nothing changed: the definition reads as before and still sends to the old host.
    assert_eq!(get().await, saved);
    test_send(&app, &token, id).await;
    assert_eq!(last_header(&old_rx, "authorization"), "Bearer first-value");
    assert!(new_rx.received().is_empty());

    // A PUT of the whole definition as GET reads it, with only the URL changed: the same.
    let mut whole = get().await;
    whole["url"] = json!(new_rx.url("/moved"));
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PUT,
        &path,
        Some(whole.clone()),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(field_errors(&body, "headers").len(), 2, "{body}");
    assert_eq!(get().await, saved);

    // Another path on the same host (relative, or written out whole) keeps the values.
    for url in ["/elsewhere".to_string(), old_rx.url("/in/whole")] {
        let (s, body) = api(
            &app,
            &token,
            reqwest::Method::PATCH,
            &path,
            Some(json!({ "url": url })),
        )
        .await;
        assert_eq!(s, 200, "{url}: {body}");
        test_send(&app, &token, id).await;
        assert_eq!(last_header(&old_rx, "authorization"), "Bearer first-value");
    }

    // Typed again, the move is saved and the new host gets the values typed.
    whole["headers"] =
        json!("X-Ticket: {{ticket.id}}\nAuthorization: Bearer second-value\nX-Api-Key: key-two");
    let (s, body) = api(&app, &token, reqwest::Method::PUT, &path, Some(whole)).await;
    assert_eq!(s, 200, "{body}");
    test_send(&app, &token, id).await;
    assert_eq!(last_header(&new_rx, "authorization"), "Bearer second-value");
    assert_eq!(last_header(&new_rx, "x-api-key"), "key-two");

    // Back to the old host: one value removed, the other typed, saves.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"url": "", "headers": "X-Api-Key: key-three"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let before = old_rx.received().len();
    test_send(&app, &token, id).await;
    assert_eq!(old_rx.received().len(), before + 1);
    assert_eq!(last_header(&old_rx, "x-api-key"), "key-three");
    assert_eq!(last_header(&old_rx, "authorization"), "");
}

async fn a_page_edit_to_another_connection_needs_the_secret_header_again(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let (old_rx, new_rx) = (
        Receiver::start(Reply::Status(200)).await,
        Receiver::start(Reply::Status(200)).await,
    );
    let old_conn = connection(&app, &token, "old host", &old_rx.url("/in")).await;
    let same_host = connection(&app, &token, "old host too", &old_rx.url("/other")).await;
    let new_conn = connection(&app, &token, "new host", &new_rx.url("/in")).await;
    let form = |changes: &[(&str, &str)]| {
        let mut f = webhook_form(old_conn, &[("name", "Moved")]);
        f.retain(|(k, _)| !changes.iter().any(|(c, _)| c == k));
        f.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        f
    };
    let resp = post(
        &app,
        "/admin/webhooks",
        &form(&[("headers", "Authorization: Bearer page-first")]),
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let stored = || app.with_conn(|c| hookdesk::webhooks::store::list(c).unwrap().remove(0));
    let saved = stored();
    let edit = format!("/admin/webhooks/{}", saved.id);
    let new_conn_s = new_conn.to_string();
    let old_conn_s = old_conn.to_string();

    // Another connection (the URL is relative to it), or another test connection,
    // with the value kept: refused in the page, the rest of the form as typed.
    for changes in [
        vec![("connection_id", new_conn_s.as_str())],
        vec![("test_connection_id", new_conn_s.as_str())],
    ] {
        let mut changes = changes;
        changes.push(("headers", "Authorization: Bearer ••••"));
        changes.push(("description", "Moved with its token"));
        let resp = post(&app, &edit, &form(&changes)).await;
        assert_eq!(resp.status(), 422, "{changes:?}");
        let html = resp.text().await.unwrap();
        let err = text_of(&html, "#headers-error").unwrap_or_default();
        assert!(
            err.contains(
                "the host changed: enter the value of the secret header Authorization again"
            ),
            "{changes:?}: {err}"
        );
        let doc = scraper::Html::parse_document(&html);
        let selected = |name: &str| {
            let sel =
                scraper::Selector::parse(&format!("select[name={name}] option[selected]")).unwrap();
            doc.select(&sel)
                .next()
                .and_then(|o| o.value().attr("value"))
                .unwrap_or_default()
                .to_string()
        };
        let (key, id) = changes[0];
        assert_eq!(selected(key), id, "the choice is shown as made");
        assert!(
            html.contains("Moved with its token"),
            "the description is kept"
        );
        assert!(html.contains("Authorization: Bearer ••••"));
        assert!(!html.contains("page-first"));
        // Nothing saved.
        let now = stored();
        assert_eq!(
            (now.connection_id, now.test_connection_id),
            (Some(old_conn), None)
        );
        assert_eq!(now.description, saved.description);
        assert_eq!(now.sealed_headers, saved.sealed_headers);
    }

    // The form's test-send of the unsaved move does not send the stored value either.
    let mut test = form(&[
        ("connection_id", new_conn_s.as_str()),
        ("headers", "Authorization: Bearer ••••"),
    ]);
    test.push(("preview_ticket".into(), String::new()));
    let resp = post(
        &app,
        &format!("/admin/webhooks/test?webhook={}", saved.id),
        &test,
    )
    .await;
    let html = resp.text().await.unwrap();
    let err = text_of(&html, "#test-result").unwrap_or_default();
    assert!(err.contains("host changed"), "{err}");
    assert!(new_rx.received().is_empty());

    // Another connection on the same host keeps the value.
    let resp = post(
        &app,
        &edit,
        &form(&[
            ("connection_id", &same_host.to_string()),
            ("headers", "Authorization: Bearer ••••"),
        ]),
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    test_send(&app, &token, saved.id).await;
    assert_eq!(last_header(&old_rx, "authorization"), "Bearer page-first");

    // Typed again, the move saves and the new host gets it.
    let resp = post(
        &app,
        &edit,
        &form(&[
            ("connection_id", new_conn_s.as_str()),
            ("headers", "Authorization: Bearer page-second"),
        ]),
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    test_send(&app, &token, saved.id).await;
    assert_eq!(last_header(&new_rx, "authorization"), "Bearer page-second");

    // Removed, the move back saves.
    let resp = post(
        &app,
        &edit,
        &form(&[
            ("connection_id", old_conn_s.as_str()),
            ("headers", "X-Ticket: {{ticket.id}}"),
        ]),
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(stored().connection_id, Some(old_conn));
}

/// Creates a webhook through the API; returns its id.
async fn webhook(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, body) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn a_connection_moved_to_another_host_takes_its_webhooks_secrets_only_when_confirmed(
    app: TestApp,
) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let (old_rx, new_rx) = (
        Receiver::start(Reply::Status(200)).await,
        Receiver::start(Reply::Status(200)).await,
    );
    let conn = connection(&app, &token, "vendor", &old_rx.url("/api")).await;
    let body = "{\"t\": \"{{ticket.id}}\"}";
    // Through the connection, with a secret header: it moves with the connection.
    let moving = webhook(
        &app,
        &token,
        json!({"name": "Relative", "connection_id": conn, "url": "/hook",
               "headers": "X-Api-Key: key-one", "body_template": body}),
    )
    .await;
    // An absolute URL stays where it is; no secret header has nothing to move.
    webhook(
        &app,
        &token,
        json!({"name": "Absolute", "connection_id": conn, "url": old_rx.url("/fixed"),
               "headers": "X-Api-Key: key-two", "body_template": body}),
    )
    .await;
    webhook(
        &app,
        &token,
        json!({"name": "Plain", "connection_id": conn, "url": "/plain",
               "headers": "X-Trace: 1", "body_template": body}),
    )
    .await;
    let path = format!("/api/v1/connections/{conn}");

    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"base_url": new_rx.url("/api")})),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    let why = field_errors(&body, "move_webhook_secrets").join(" ");
    assert!(why.contains("“Relative”"), "{why}");
    assert!(!why.contains("Absolute") && !why.contains("Plain"), "{why}");
    let (_, got) = api(&app, &token, reqwest::Method::GET, &path, None).await;
    assert!(got.contains(&old_rx.url("/api")), "nothing saved: {got}");
    test_send(&app, &token, moving).await;
    assert_eq!(last_header(&old_rx, "x-api-key"), "key-one");

    // Another path on the same host needs no confirmation.
    let (s, body) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"base_url": old_rx.url("/api/v2")})),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // The page shows the question beside the base URL, and a tick answers it.
    let page_path = format!("/admin/connections/{conn}");
    let mut form: Vec<(&str, String)> = vec![
        ("name", "vendor".into()),
        ("app_type", "generic".into()),
        ("environment", "production".into()),
        ("base_url", new_rx.url("/api")),
        ("timeout_ms", "5000".into()),
        ("verify_tls", "on".into()),
        ("auth_kind", "none".into()),
    ];
    let fields = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let send = |f: Vec<(&'static str, String)>| {
        let app = &app;
        let page_path = page_path.clone();
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.post_form(&page_path, &pairs).await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = send(fields(&form)).await;
    assert_eq!(status, 422, "{html}");
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#move_webhook_secrets-error").unwrap();
    let shown: String = doc
        .select(&sel)
        .next()
        .expect("the question")
        .text()
        .collect();
    assert!(shown.contains("“Relative”"), "{shown}");
    let tick = scraper::Selector::parse("input[type=checkbox]#move_webhook_secrets").unwrap();
    assert!(doc.select(&tick).next().is_some(), "{html}");

    form.push(("move_webhook_secrets", "on".into()));
    let (status, html) = send(fields(&form)).await;
    assert_eq!(status, 303, "{html}");
    test_send(&app, &token, moving).await;
    assert_eq!(last_header(&new_rx, "x-api-key"), "key-one");
}

/// A PATCH of webhook `id`; the status and the messages of its `headers` errors.
async fn patch(app: &TestApp, token: &str, id: i64, body: Value) -> (u16, Vec<String>) {
    let (s, body) = api(
        app,
        token,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(body),
    )
    .await;
    let errors = if s == 422 {
        field_errors(&body, "headers")
    } else {
        Vec::new()
    };
    (s, errors)
}

async fn a_host_hidden_in_placeholders_is_a_new_host(app: TestApp) {
    app.login_admin().await;
    ticket_with_forms(&app);
    let token = admin_token(&app).await;
    let (old_rx, new_rx) = (
        Receiver::start(Reply::Status(200)).await,
        Receiver::start(Reply::Status(200)).await,
    );
    let conn = connection(&app, &token, "vendor", &old_rx.url("/api")).await;
    let body = "{\"t\": \"{{ticket.id}}\"}";
    let relative = webhook(
        &app,
        &token,
        json!({"name": "Relative", "connection_id": conn, "url": "/hook",
               "headers": "X-Api-Key: key-one", "body_template": body}),
    )
    .await;

    // A scheme split by an empty placeholder renders absolute, but is joined to the
    // base as typed: the key never reaches the other host.
    let new_host = new_rx.url("").trim_start_matches("http://").to_string();
    let split = format!("http:{{{{event.note}}}}//{new_host}/hook");
    let (s, errors) = patch(&app, &token, relative, json!({"url": split})).await;
    assert_eq!(s, 200, "{errors:?}");
    test_send(&app, &token, relative).await;
    assert_eq!(last_header(&old_rx, "x-api-key"), "key-one");
    assert!(
        new_rx.received().is_empty(),
        "nothing went to the other host"
    );

    // The host from a parameter: a new default, or another placeholder, is a new host.
    let port = new_host.rsplit(':').next().unwrap().to_string();
    let by_param = webhook(
        &app,
        &token,
        json!({"name": "By parameter", "connection_id": conn,
               "url": format!("http://{{{{param.host}}}}:{port}/hook"),
               "parameters": [{"name": "host", "default_template": "127.0.0.1", "read_only": true}],
               "headers": "X-Api-Key: key-two", "body_template": body}),
    )
    .await;
    let (s, errors) = patch(
        &app,
        &token,
        by_param,
        json!({"parameters": [{"name": "host", "default_template": "localhost", "read_only": true}]}),
    )
    .await;
    assert_eq!(s, 422);
    assert!(errors.iter().any(|e| e.contains("X-Api-Key")), "{errors:?}");
    let (s, errors) = patch(
        &app,
        &token,
        by_param,
        json!({"url": format!("http://{{{{ticket.subject}}}}:{port}/hook")}),
    )
    .await;
    assert_eq!(s, 422);
    assert!(errors.iter().any(|e| e.contains("X-Api-Key")), "{errors:?}");
    // Another label with the same default keeps it.
    let (s, errors) = patch(
        &app,
        &token,
        by_param,
        json!({"parameters": [{"name": "host", "label": "Host", "default_template": "127.0.0.1", "read_only": true}]}),
    )
    .await;
    assert_eq!(s, 200, "{errors:?}");

    // A host that cannot be read (a placeholder in the port) compares with nothing.
    let unreadable = webhook(
        &app,
        &token,
        json!({"name": "Port", "connection_id": conn,
               "url": "http://127.0.0.1:{{param.port}}/hook",
               "parameters": [{"name": "port", "default_template": "1", "read_only": true}],
               "headers": "X-Api-Key: key-three", "body_template": body}),
    )
    .await;
    let (s, errors) = patch(
        &app,
        &token,
        unreadable,
        json!({"url": "http://localhost:{{param.port}}/hook"}),
    )
    .await;
    assert_eq!(s, 422);
    assert!(errors.iter().any(|e| e.contains("X-Api-Key")), "{errors:?}");
    let (s, errors) = patch(
        &app,
        &token,
        unreadable,
        json!({"description": "same route"}),
    )
    .await;
    assert_eq!(s, 200, "{errors:?}");
}
