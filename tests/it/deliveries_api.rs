//! `/api/v1/deliveries/{id}`: read with attempts, replay, cancel — administrators only.

use hookdesk::auth::User;
use hookdesk::auth::tokens::ApiToken;
use hookdesk::delivery::queue::{self, NewDelivery, Trigger};

use crate::helpers::TestApp;
use crate::queue::{no_worker, request};

fn token(app: &TestApp, username: &str) -> String {
    app.with_conn(|c| {
        let u = User::find_by_username(c, username).unwrap().unwrap();
        ApiToken::create(c, &hookdesk::audit::Actor::system("test"), u.id, "t")
            .unwrap()
            .1
    })
}

async fn api_reads_replays_and_cancels(app: TestApp) {
    let id = app.with_conn(|c| {
        let n = NewDelivery::new(
            Trigger::Manual,
            None,
            request("http://127.0.0.1:9/x", "{\"a\":1}"),
        );
        queue::enqueue(c, &n, 3, hookdesk::db::now()).unwrap().0
    });
    let admin = token(&app, "admin");
    let http = reqwest::Client::new();
    let r = http
        .get(app.url(&format!("/api/v1/deliveries/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "pending");
    assert_eq!(v["body"], "{\"a\":1}");
    assert!(v["uid"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["attempts"], serde_json::json!([]));

    // Still queued, it will be sent by itself: a replay now would send it twice.
    let replay = || {
        http.post(app.url(&format!("/api/v1/deliveries/{id}/replay")))
            .bearer_auth(&admin)
            .send()
    };
    let r = replay().await.unwrap();
    assert_eq!(r.status(), 409);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("twice"),
        "{v}"
    );

    let r = http
        .post(app.url(&format!("/api/v1/deliveries/{id}/cancel")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "cancelled");

    // Settled, it may be sent again: a new delivery linked to it.
    let r = replay().await.unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["replay_of"], id);
    assert_eq!(v["trigger"], "replay");

    // A test-send resent is a test still: its answer never changes the ticket.
    let test = app.with_conn(|c| {
        let n = NewDelivery::new(
            Trigger::Test,
            None,
            request("http://127.0.0.1:9/x", "{\"a\":1}"),
        );
        queue::enqueue(c, &n, 3, hookdesk::db::now()).unwrap().0
    });
    for step in ["cancel", "replay"] {
        let r = http
            .post(app.url(&format!("/api/v1/deliveries/{test}/{step}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{step}: {}", r.status());
        if step == "replay" {
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(
                (v["trigger"].as_str(), v["replay_of"].as_i64()),
                (Some("test"), Some(test))
            );
        }
    }
    // Cancelling twice is a conflict with a readable message.
    let r = http
        .post(app.url(&format!("/api/v1/deliveries/{id}/cancel")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{v}"
    );

    let r = http
        .get(app.url("/api/v1/deliveries/999999"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A technician's token may not.
    app.create_user("tech", &["Technician"]);
    let tech = token(&app, "tech");
    let r = http
        .get(app.url(&format!("/api/v1/deliveries/{id}")))
        .bearer_auth(&tech)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

mod api_reads_replays_and_cancels {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = super::no_worker(crate::helpers::Backend::Sqlite)
            .await
            .unwrap();
        super::api_reads_replays_and_cancels(app).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        match super::no_worker(crate::helpers::Backend::Postgres).await {
            Some(app) => super::api_reads_replays_and_cancels(app).await,
            None => eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set"),
        }
    }
}

/// A bulk replay of "the last hour" replays what its confirmation counted, however
/// long it runs: its window is anchored when it starts, not at each step.
async fn a_bulk_replay_keeps_the_window_it_started_with(app: TestApp) {
    use diesel::prelude::*;
    use hookdesk::db::schema::deliveries;
    use hookdesk::execution_log::bulk;
    use hookdesk::execution_log::filter::LogQuery;
    let now = hookdesk::db::now();
    app.with_conn(|c| {
        let n = NewDelivery::new(
            Trigger::Manual,
            None,
            request("http://127.0.0.1:9/x", "{\"a\":1}"),
        );
        let old = now - chrono::Duration::seconds(3590);
        let id = queue::enqueue(c, &n, 3, old).unwrap().0;
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::status.eq("failed"),
                deliveries::completed_at.eq(Some(old)),
            ))
            .execute(c)
            .unwrap();
        let q = LogQuery {
            last: "1h".into(),
            status: vec!["failed".into()],
            ..LogQuery::default()
        };
        let job = bulk::start(c, &hookdesk::audit::Actor::system("test"), &q, None, now).unwrap();
        assert_eq!(job.total, 1);
        let later = now + chrono::Duration::seconds(15);
        assert!(bulk::step(c, job.id, &[], later).unwrap(), "finished");
        assert_eq!(bulk::get(c, job.id).unwrap().done, 1, "{:?}", job.filter);
    });
}

mod a_bulk_replay_keeps_the_window_it_started_with {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = super::no_worker(crate::helpers::Backend::Sqlite)
            .await
            .unwrap();
        super::a_bulk_replay_keeps_the_window_it_started_with(app).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        match super::no_worker(crate::helpers::Backend::Postgres).await {
            Some(app) => super::a_bulk_replay_keeps_the_window_it_started_with(app).await,
            None => eprintln!("skipped: HOOKDESK_TEST_DATABASE_URL is not set"),
        }
    }
}
