//! Headless Chromium against the real server: pages render under the strict CSP, forms
//! post with their CSRF token, and htmx (vendored, no eval) drives the filters.

use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp, spawn_app};

/// Chromedriver on a free loopback port, killed when dropped. A test that fails leaves
/// a screenshot of the page it failed on, named after the test, in
/// `HOOKDESK_FAILURE_SCREENSHOT_DIR` (default `target/browser-failures`).
pub struct Driver {
    child: std::process::Child,
    pub url: String,
    session: Option<String>,
    /// A handle on the session, so it is still open when a failing test's own client
    /// (dropped first) is gone and the screenshot is taken.
    _keep: Option<fantoccini::Client>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = &self.session {
            if std::thread::panicking() {
                failure_screenshot(&self.url, session);
            }
            // Ends the session (and its Chromium) before chromedriver goes; a test that
            // closed it already gets a harmless error.
            let _ = chromedriver_call(&self.url, "DELETE", &format!("/session/{session}"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One blocking request to chromedriver (this runs while a test unwinds, outside any
/// runtime); the answer's body. Chromedriver keeps the connection open after answering,
/// so the body is read by its length.
fn chromedriver_call(base: &str, method: &str, path: &str) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut tcp = std::net::TcpStream::connect(addr).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        tcp,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = tcp.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))?
            .trim()
            .parse()
            .ok()?;
        if raw.len() >= at + 4 + len {
            return Some(raw[at + 4..at + 4 + len].to_vec());
        }
    }
}

/// Saves a PNG of the page a failing test was on; a failure to do so only says so.
fn failure_screenshot(base: &str, session: &str) {
    use base64::Engine;
    let shot = chromedriver_call(base, "GET", &format!("/session/{session}/screenshot"))
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v["value"].as_str()?)
                .ok()
        });
    let dir = std::env::var("HOOKDESK_FAILURE_SCREENSHOT_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/browser-failures").into());
    let name = std::thread::current()
        .name()
        .unwrap_or("browser-test")
        .replace("::", "-");
    match shot {
        Some(png) => {
            let path = std::path::Path::new(&dir).join(format!("{name}.png"));
            if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot of the failed page: {}", path.display());
            }
        }
        None => eprintln!("no screenshot of the failed page could be taken"),
    }
}

fn chromedriver_path() -> Option<String> {
    let p =
        std::env::var("HOOKDESK_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&p).exists() {
        Some(p)
    } else if std::env::var("CI").is_ok() {
        panic!("chromedriver not found at {p}: CI must install chromium and chromium-driver");
    } else {
        None
    }
}

pub async fn start_browser() -> Option<(Driver, fantoccini::Client)> {
    let path = chromedriver_path()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        session: None,
        _keep: None,
    };
    let profile = tempfile::tempdir().unwrap().keep();
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        // The page's console (errors, CSP violations) for `console_errors`.
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": std::env::var("HOOKDESK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    }))
    .unwrap();
    // Chromedriver needs a moment to listen; retry the session until it answers.
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(c) => {
                driver.session = c.session_id().await.ok().flatten();
                driver._keep = Some(c.clone());
                return Some((driver, c));
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("cannot start a browser session: {last:?}");
}

/// Waits (up to 15 s) until `css` exists and its text contains `wanted`; after a click
/// the old page may still show for a moment, so a read right away can read the page
/// before.
pub async fn text_when(b: &fantoccini::Client, css: &str, wanted: &str) -> String {
    let mut last = None;
    for _ in 0..150 {
        if let Ok(e) = b.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(wanted) {
                return t;
            }
            last = Some(t);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = b.source().await.unwrap_or_default();
    panic!("{css} never said {wanted:?}; last: {last:?}; page: {page}");
}

/// Replaces the value of the field `css` with `text`, typed.
pub async fn fill(b: &fantoccini::Client, css: &str, text: &str) {
    let e = b.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

pub async fn click(b: &fantoccini::Client, css: &str) {
    b.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Chromedriver's own command for the browser console (not in the W3C protocol).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// Errors the console logged since the last call: script errors, failed loads, CSP
/// violations ("Refused to …").
pub async fn console_errors(b: &fantoccini::Client) -> Vec<String> {
    let entries = b.issue_cmd(BrowserLog).await.unwrap();
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        // A form sent back with its errors answers 422 by design; Chromium logs every
        // 4xx page load, so that one status is not an error of the page.
        .filter(|m| !m.contains("the server responded with a status of 422"))
        .collect()
}

/// Every flow ends with this: the console stayed free of errors, with the CSP on.
pub async fn assert_console_clean(b: &fantoccini::Client) {
    let errors = console_errors(b).await;
    assert!(
        errors.is_empty(),
        "browser console errors:\n{}",
        errors.join("\n")
    );
}

/// Saves a PNG of the current page when `HOOKDESK_SCREENSHOT_DIR` is set (used to make
/// the README's screenshots); does nothing otherwise.
pub async fn screenshot(b: &fantoccini::Client, name: &str) {
    if let Ok(dir) = std::env::var("HOOKDESK_SCREENSHOT_DIR") {
        let png = b.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

pub async fn browser_login(app: &TestApp, b: &fantoccini::Client, user: &str, password: &str) {
    b.goto(&app.url("/login")).await.unwrap();
    b.find(Locator::Css("#username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    b.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    b.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css("form[action='/logout']"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_signs_in_creates_a_role_and_filters_the_audit_log_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let Some((_driver, b)) = start_browser().await else {
        eprintln!("skipped: chromedriver not installed");
        return;
    };
    browser_login(&app, &b, "admin", ADMIN_PASSWORD).await;
    assert!(b.source().await.unwrap().contains("Welcome, Administrator"));

    // htmx loaded from the binary, under the CSP.
    let htmx_version = b
        .execute("return window.htmx ? htmx.version : null", vec![])
        .await
        .unwrap();
    assert_eq!(htmx_version, serde_json::json!("2.0.11"));

    // A plain form post carries its CSRF token.
    b.goto(&app.url("/admin/roles")).await.unwrap();
    b.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Field engineers")
        .await
        .unwrap();
    b.find(Locator::Css("#description"))
        .await
        .unwrap()
        .send_keys("On-site work")
        .await
        .unwrap();
    b.find(Locator::XPath("//button[text()='Create role']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let flash = b
        .wait()
        .for_element(Locator::Css(".flash-success"))
        .await
        .unwrap();
    assert_eq!(flash.text().await.unwrap(), "Role Field engineers created.");
    screenshot(&b, "roles").await;

    // An invalid form shows the error beside the field.
    b.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Field engineers")
        .await
        .unwrap();
    b.find(Locator::XPath("//button[text()='Create role']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let err = b
        .wait()
        .for_element(Locator::Css("#name-error"))
        .await
        .unwrap();
    assert_eq!(err.text().await.unwrap(), "is already taken");

    // The audit log filters live: typing replaces only the table and updates the URL.
    b.goto(&app.url("/admin/audit")).await.unwrap();
    let before = b
        .find_all(Locator::Css("#audit-results tbody tr"))
        .await
        .unwrap()
        .len();
    assert!(before >= 2, "login and role creation are listed");
    b.find(Locator::Css("#f-action"))
        .await
        .unwrap()
        .send_keys("role.create")
        .await
        .unwrap();
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_url(
            &url::Url::parse(&app.url("/admin/audit?action=role.create&actor=&outcome=&from=&to="))
                .unwrap(),
        )
        .await
        .unwrap();
    let rows = b
        .find_all(Locator::Css("#audit-results tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains("Field engineers"));
    screenshot(&b, "audit-log").await;

    // Sign out through the header form.
    b.find(Locator::Css("form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .for_element(Locator::Css("#username"))
        .await
        .unwrap();
    crate::browser::assert_console_clean(&b).await;
    b.close().await.unwrap();
}
