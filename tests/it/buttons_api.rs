//! The API side of firing by hand (issue 10, item 9): `GET /api/v1/tickets/{key}/webhooks`
//! lists what the token's user may fire, `POST …/webhooks/{webhook}/fire` fires it with
//! the same checks as the page (202 and a `status_url` that answers), on both backends.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::buttons_support::{
    ROLE, api, delivery_count, disable, fire_audits, plain_ticket, setup, token,
};
use crate::db_tests;
use crate::helpers::TestApp;
use crate::receiver::Reply;

db_tests!(spawn = crate::buttons_support::buttons_app;
    the_api_lists_and_fires_with_the_token_users_roles,
    refusals_in_the_api_are_enforced_and_audited,
);

async fn the_api_lists_and_fires_with_the_token_users_roles(app: TestApp) {
    let s = setup(&app, Reply::Status(200)).await;
    let (t, w) = (s.ticket.display_id.clone(), s.webhook);
    app.create_user("tess", &["Technician", ROLE]);
    app.create_user("rita", &["Technician"]);
    let tess = token(&app, "tess");
    let rita = token(&app, "rita");
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    let (status, list) = api(
        &app,
        &tess,
        get.clone(),
        &format!("/api/v1/tickets/{t}/webhooks"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], json!(w));
    assert_eq!(list[0]["name"], "Send to vendor");
    assert_eq!(list[0]["status"], "enabled");
    assert_eq!(list[0]["parameters"][0]["name"], "customer_ref");
    assert_eq!(
        list[0]["parameters"][0]["value"],
        format!("REF-{}", s.ticket.id)
    );
    assert_eq!(list[0]["parameters"][1]["read_only"], true);
    assert_eq!(list[0]["parameters"][1]["value"], "from tess name");
    let (status, none) = api(
        &app,
        &rita,
        get.clone(),
        &format!("/api/v1/tickets/{t}/webhooks"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(none, json!([]));
    let (status, _) = api(
        &app,
        &tess,
        get.clone(),
        "/api/v1/tickets/IN999999/webhooks",
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A read-only parameter may be given with its default value.
    let path = format!("/api/v1/tickets/{t}/webhooks/{w}/fire");
    let params: BTreeMap<&str, &str> =
        BTreeMap::from([("customer_ref", "API-7"), ("note", "from tess name")]);
    let resp = reqwest::Client::new()
        .post(app.url(&path))
        .bearer_auth(&tess)
        .json(&json!({ "params": params }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let accepted: Value = resp.json().await.unwrap();
    let id = accepted["delivery_id"].as_i64().unwrap();
    assert_eq!(accepted["status_url"], format!("/api/v1/deliveries/{id}"));
    assert_eq!(location, format!("/api/v1/deliveries/{id}"));
    assert!(accepted["uid"].as_str().unwrap().starts_with("msg_"));

    let got = s.rx.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["ref"], "API-7");
    assert_eq!(
        got[0].header("webhook-id"),
        accepted["uid"].as_str(),
        "the uid is the request's webhook-id"
    );

    // status_url answers the user who fired it (and administrators), no one else.
    let url = accepted["status_url"].as_str().unwrap();
    let mut delivered = Value::Null;
    for _ in 0..150 {
        let (status, d) = api(&app, &tess, get.clone(), url, None).await;
        assert_eq!(status, 200, "{d}");
        if d["status"] == "succeeded" {
            delivered = d;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered["trigger"], "manual", "{delivered}");
    assert_eq!(delivered["attempts"][0]["response_status"], 200);
    assert_eq!(api(&app, &rita, get.clone(), url, None).await.0, 403);
    let admin = token(&app, "admin");
    assert_eq!(api(&app, &admin, get.clone(), url, None).await.0, 200);

    // The history has the action description, by the token's user.
    let (_, history) = api(
        &app,
        &tess,
        get,
        &format!("/api/v1/tickets/{t}/history"),
        None,
    )
    .await;
    assert!(
        history
            .to_string()
            .contains(&format!("Sent {t} to the vendor as API-7")),
        "{history}"
    );
    // An empty body fires with the defaults.
    let (status, _) = api(&app, &tess, post, &path, None).await;
    assert_eq!(status, 202);
    let got = s.rx.wait_for(2).await;
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["ref"], format!("REF-{}", s.ticket.id));
}

async fn refusals_in_the_api_are_enforced_and_audited(app: TestApp) {
    let s = setup(&app, Reply::Status(200)).await;
    let w = s.webhook;
    app.create_user("tess", &["Technician", ROLE]);
    app.create_user("rita", &["Technician"]);
    let tess = token(&app, "tess");
    let rita = token(&app, "rita");
    let post = reqwest::Method::POST;
    let path = format!("/api/v1/tickets/{}/webhooks/{w}/fire", s.ticket.display_id);

    // Without a granted role.
    let (status, err) = api(&app, &rita, post.clone(), &path, None).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "forbidden");
    let admin = token(&app, "admin");
    assert_eq!(api(&app, &admin, post.clone(), &path, None).await.0, 403);

    // A changed read-only parameter and an unknown one, each named.
    let (status, err) = api(
        &app,
        &tess,
        post.clone(),
        &path,
        Some(json!({"params": {"note": "hacked", "bogus": "1"}})),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    let fields: Vec<&str> = err["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["params.bogus", "params.note"], "{err}");
    // Strict body: an unknown field 422, not JSON 415, a non-string value 422.
    let (status, err) = api(
        &app,
        &tess,
        post.clone(),
        &path,
        Some(json!({"params": {}, "parms": {}})),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["fields"][0]["field"], "parms");
    let resp = reqwest::Client::new()
        .post(app.url(&path))
        .bearer_auth(&tess)
        .header("content-type", "text/plain")
        .body("params")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (status, _) = api(
        &app,
        &tess,
        post.clone(),
        &path,
        Some(json!({"params": {"customer_ref": 7}})),
    )
    .await;
    assert_eq!(status, 422);

    // Another ticket type, a ticket failing the conditions, a disabled webhook.
    let request = plain_ticket(&app, "Service Request", "Open");
    let closed = plain_ticket(&app, "Incident", "Closed");
    for t in [&request, &closed] {
        let p = format!("/api/v1/tickets/{}/webhooks/{w}/fire", t.display_id);
        let (status, err) = api(&app, &tess, post.clone(), &p, None).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["fields"][0]["field"], "webhook");
    }
    disable(&app, w).await;
    let (status, err) = api(&app, &tess, post.clone(), &path, None).await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is disabled")
    );
    // Unknown ticket or webhook: 404, nothing to audit.
    let (status, _) = api(
        &app,
        &tess,
        post.clone(),
        "/api/v1/tickets/IN999999/webhooks/1/fire",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let p = format!(
        "/api/v1/tickets/{}/webhooks/999999/fire",
        s.ticket.display_id
    );
    assert_eq!(api(&app, &tess, post, &p, None).await.0, 404);

    assert_eq!(delivery_count(&app), 0);
    let audits = fire_audits(&app);
    let by = |who: &str| audits.iter().filter(|a| a.0 == who).count();
    assert_eq!(by("rita"), 1, "{audits:?}");
    assert_eq!(by("admin"), 1, "{audits:?}");
    assert_eq!(by("tess"), 4, "{audits:?}");
    assert!(audits.iter().all(|a| a.1 == "failure"), "{audits:?}");
}
