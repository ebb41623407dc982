//! An administrator in headless Chromium creates an OAuth 2.0 connection and a
//! mutual-TLS connection and tests each from its page: the form shows only the chosen
//! method's fields, and "Test connection" shows the token steps and the answer.

use fantoccini::{Client, Locator};

use crate::browser::{browser_login, click, fill, screenshot, start_browser, text_when};
use crate::helpers::{ADMIN_PASSWORD, Backend};

async fn displayed(b: &Client, css: &str) -> bool {
    b.find(Locator::Css(css))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

/// Submits the connection form (its first submit button) and waits for the saved page.
async fn save(b: &Client) {
    click(b, "form[action^='/admin/connections'] button[type=submit]").await;
    text_when(b, "#test-connection", "Test connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_and_client_certificate_connections_in_chromium() {
    let app = crate::buttons_support::buttons_app(Backend::Sqlite)
        .await
        .unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    let w = crate::oauth::world(3600).await;

    // OAuth 2.0: only its fields are on show once it is chosen.
    b.goto(&app.url("/admin/connections/new")).await.unwrap();
    assert!(!displayed(&b, "#oauth_token_url").await);
    assert!(!displayed(&b, "#auth_username").await);
    b.find(Locator::Css("#auth_kind"))
        .await
        .unwrap()
        .select_by_value("oauth2")
        .await
        .unwrap();
    assert!(displayed(&b, "#oauth_token_url").await);
    assert!(displayed(&b, "#auth_username").await);
    assert!(
        !displayed(&b, "#auth_domain").await,
        "NTLM's domain is hidden"
    );
    assert!(
        !displayed(&b, "#auth_header").await,
        "the API key header is hidden"
    );
    let label = b
        .find(Locator::Css("label[for=auth_username]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(label.trim(), "Client ID");
    fill(&b, "#name", "ITSM over OAuth").await;
    fill(&b, "#base_url", &w.api_rx.url("/api")).await;
    fill(&b, "#auth_username", "hookdesk-client").await;
    fill(&b, "#auth_secret", "browser-client-secret").await;
    fill(&b, "#oauth_token_url", &w.token_rx.url("/token")).await;
    fill(&b, "#oauth_scope", "tickets.write").await;
    screenshot(&b, "connection-oauth").await;
    save(&b).await;
    let page = b.source().await.unwrap();
    assert!(
        !page.contains("browser-client-secret"),
        "the secret is not shown back"
    );
    click(&b, "#test-connection-button").await;
    let steps = text_when(&b, "#test-auth-steps", "Token obtained").await;
    assert!(steps.contains("Token request: POST"), "{steps}");
    assert!(steps.contains("expires in 3600 s"), "{steps}");
    assert!(steps.contains("The request with the token: GET"), "{steps}");
    text_when(&b, "#test-result", "Delivered").await;
    assert_eq!(w.token_rx.received().len(), 1);

    // Mutual TLS: certificate, key and CA bundle pasted; the page then describes it.
    let p = crate::mtls::pki();
    let rx = crate::mtls::receiver(&p).await;
    b.goto(&app.url("/admin/connections/new")).await.unwrap();
    fill(&b, "#name", "Vault with a client certificate").await;
    fill(&b, "#base_url", &rx.url("/")).await;
    fill(&b, "#tls_client_cert", &p.client_cert).await;
    fill(&b, "#tls_client_key", &p.client_key).await;
    fill(&b, "#tls_ca_bundle", &p.ca_pem).await;
    save(&b).await;
    let info = text_when(&b, "#cert-info", "CN=hookdesk-client").await;
    assert!(info.contains("CN=Hookdesk Test CA"), "{info}");
    let key = b
        .find(Locator::Css("#tls_client_key"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(key.is_empty(), "the key field stays empty");
    click(&b, "#test-connection-button").await;
    text_when(&b, "#test-result", "Delivered").await;
    assert_eq!(rx.answered(), 1);
    screenshot(&b, "connection-client-certificate").await;
    crate::browser::assert_console_clean(&b).await;
}
