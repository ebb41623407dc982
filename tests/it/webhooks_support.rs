//! Set-up shared by the webhook tests: a connection made the way an administrator makes
//! one, through the connections page.

use hookdesk::connections::Connection;

use crate::helpers::TestApp;

/// Creates a connection with a bearer token and a secret default header through
/// `/admin/connections` (the caller is signed in as an administrator); returns its id.
pub async fn create_connection(
    app: &TestApp,
    name: &str,
    app_type: &str,
    base_url: &str,
    token: &str,
) -> i64 {
    let resp = app
        .post_form(
            "/admin/connections",
            &[
                ("name", name),
                ("app_type", app_type),
                ("environment", "production"),
                ("base_url", base_url),
                ("timeout_ms", "5000"),
                ("verify_tls", "on"),
                ("auth_kind", "bearer"),
                ("auth_secret", token),
                ("header_name", "X-Desk-Key"),
                ("header_value", "desk-key-secret-value"),
                ("header_secret", "0"),
                ("header_name", "X-Source"),
                ("header_value", "hookdesk"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let name = name.to_string();
    app.with_conn(move |c| Connection::find_by_name(c, &name).unwrap().unwrap().id)
}
