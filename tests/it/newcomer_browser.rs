//! A newcomer's first five minutes in headless Chromium, on a server started the way
//! `hookdesk serve --demo` starts it: a wrong password first, then the dashboard's
//! checklist, which offers the echo receiver; a connection to it with a bearer token that
//! is never shown back; Test connection; the echo receiver's page showing the signed
//! request; the checklist ticked; sign out.

use fantoccini::{Client, Locator};

use crate::browser::{assert_console_clean, click, fill, screenshot, start_browser, text_when};
use crate::helpers::{ADMIN_PASSWORD, Backend, spawn_app_with};

async fn sign_in(b: &Client, password: &str) {
    fill(b, "#username", "admin").await;
    fill(b, "#password", password).await;
    click(b, "button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_sends_a_first_webhook_to_the_echo_receiver_in_chromium() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.echo_receiver = true;
        c.allowed_networks = vec!["127.0.0.1/32".into(), "::1/128".into()];
    })
    .await
    .unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };

    b.goto(&app.url("/login")).await.unwrap();
    sign_in(&b, "not-the-password").await;
    let refused = text_when(&b, ".flash-error", "").await;
    assert!(!refused.is_empty());
    // The wrong password is reported, and logged as a 4xx page load only.
    crate::browser::console_errors(&b).await;
    sign_in(&b, ADMIN_PASSWORD).await;
    text_when(&b, "#getting-started", "Getting started").await;
    let offer = text_when(&b, "#echo-offer", "/_echo/demo").await;
    let echo_url = offer
        .split_whitespace()
        .find(|w| w.contains("/_echo/demo"))
        .unwrap()
        .trim_end_matches([',', '.'])
        .to_owned();
    screenshot(&b, "dashboard-checklist").await;

    // The checklist's step leads to the connection form.
    click(&b, "#step-connection a").await;
    text_when(&b, "h1", "New connection").await;
    fill(&b, "#name", "Echo").await;
    fill(&b, "#base_url", &echo_url).await;
    b.find(Locator::Css("#auth_kind"))
        .await
        .unwrap()
        .select_by_value("bearer")
        .await
        .unwrap();
    fill(&b, "#auth_secret", "newcomer-bearer-token").await;
    click(&b, "form[action='/admin/connections'] button[type=submit]").await;
    text_when(&b, "#test-connection", "Test connection").await;
    let page = b.source().await.unwrap();
    assert!(
        !page.contains("newcomer-bearer-token"),
        "the token is not shown back"
    );
    // A signing secret, shown once.
    click(&b, "form[action$='/signing-secret'] button").await;
    let secret = text_when(&b, "#signing-secret-value", "whsec_").await;
    assert!(secret.starts_with("whsec_"));
    // It can be copied, and the page is under the connection's own address (a reload
    // would not generate another).
    b.find(Locator::Css("button[data-copy='#signing-secret-value']"))
        .await
        .unwrap();
    let path = b.current_url().await.unwrap().path().to_owned();
    assert!(
        path.starts_with("/admin/connections/") && !path.ends_with("/signing-secret"),
        "{path}"
    );
    click(&b, "#test-connection-button").await;
    text_when(&b, "#test-result", "Delivered").await;

    // The echo receiver shows what arrived: signed, the token hidden.
    b.goto(&app.url("/admin/echo/demo")).await.unwrap();
    let got = text_when(
        &b,
        ".echo-request",
        "valid (signing secret of connection Echo)",
    )
    .await;
    assert!(got.contains("GET"), "{got}");
    assert!(got.contains("Bearer ••••"), "{got}");
    assert!(!got.contains("newcomer-bearer-token"));
    screenshot(&b, "echo-receiver").await;

    // Back on the dashboard the step is ticked.
    b.goto(&app.url("/")).await.unwrap();
    let class = b
        .find(Locator::Css("#step-connection"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(class, "step-done");

    click(&b, "form[action='/logout'] button").await;
    text_when(&b, "body", "Sign in").await;
    assert!(b.current_url().await.unwrap().path().starts_with("/login"));
    assert_console_clean(&b).await;
    b.close().await.unwrap();
}
