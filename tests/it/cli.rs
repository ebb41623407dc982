//! The `hookdesk` binary itself: first start, configuration errors, user and token
//! commands.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::helpers::{Backend, client, fresh_database};

fn hookdesk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hookdesk"));
    c.env_remove("HOOKDESK_ADMIN_PASSWORD")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_admin_with_a_printed_password() {
    let (url, _g) = fresh_database(Backend::Sqlite).unwrap();
    let port = free_port();
    let mut child = Child(
        hookdesk()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("Created administrator `admin` with password: ") {
            password = Some(p.to_string());
        }
        if line.starts_with("Hookdesk is listening") {
            break;
        }
    }
    let password = password.expect("the generated password is printed");
    assert!(password.len() >= 20);

    let c = client();
    let base = format!("http://127.0.0.1:{port}");
    let page = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::helpers::csrf_from(&page);
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("username", "admin"),
            ("password", password.as_str()),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the printed password signs in");
    drop(child);

    // A second start prints no password and keeps the admin.
    let out = hookdesk()
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password"));
}

#[test]
fn admin_password_from_the_environment_is_not_printed() {
    let (url, _g) = fresh_database(Backend::Sqlite).unwrap();
    let mut child = Child(
        hookdesk()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env("HOOKDESK_ADMIN_PASSWORD", "from-the-env-123")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let first = BufReader::new(stdout).lines().next().unwrap().unwrap();
    assert!(first.starts_with("Hookdesk is listening"), "{first}");
    drop(child);
    let pool = hookdesk::db::connect(&url, 1).unwrap();
    let u = hookdesk::auth::User::find_by_username(&mut pool.get().unwrap(), "admin")
        .unwrap()
        .unwrap();
    assert!(hookdesk::auth::password::verify(
        "from-the-env-123",
        &u.password_hash
    ));
}

#[test]
fn unsupported_database_url_is_a_clear_startup_error() {
    let out = hookdesk()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", "mysql://root@127.0.0.1/test")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported database URL scheme `mysql`"),
        "{err}"
    );
}

#[test]
fn help_documents_options_and_their_environment_variables() {
    let out = hookdesk().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for env in [
        "DATABASE_URL",
        "HOOKDESK_LISTEN",
        "HOOKDESK_LOG_FORMAT",
        "HOOKDESK_SESSION_IDLE_MINUTES",
        "HOOKDESK_SESSION_ABSOLUTE_MINUTES",
        "HOOKDESK_SECURE_COOKIES",
        "HOOKDESK_ADMIN_PASSWORD",
        "HOOKDESK_CONFIG",
    ] {
        assert!(help.contains(env), "--help lacks {env}:\n{help}");
    }
}

#[test]
fn user_and_token_commands() {
    let (url, _g) = fresh_database(Backend::Sqlite).unwrap();
    let mut child = hookdesk()
        .args([
            "user",
            "create",
            "--username",
            "robot",
            "--role",
            "Technician",
            "--integration",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &url)
        .env("HOOKDESK_ADMIN_PASSWORD", "admin-password-123")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"robot-password-1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = hookdesk()
        .args(["token", "create", "--user", "robot", "--name", "sync"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("hdk_"));

    let pool = hookdesk::db::connect(&url, 1).unwrap();
    let mut c = pool.get().unwrap();
    let p = hookdesk::auth::tokens::ApiToken::authenticate(&mut c, &token, hookdesk::db::now())
        .unwrap();
    assert_eq!(p.user.username, "robot");
    assert!(p.user.integration);
    assert!(hookdesk::auth::password::verify(
        "robot-password-1",
        &p.user.password_hash
    ));

    let mut child = hookdesk()
        .args(["user", "set-password", "robot"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"second-password-2\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let u = hookdesk::auth::User::find_by_username(&mut c, "robot")
        .unwrap()
        .unwrap();
    assert!(hookdesk::auth::password::verify(
        "second-password-2",
        &u.password_hash
    ));

    let out = hookdesk()
        .args(["user", "create", "--username", "bad", "--role", "Nope"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role `Nope`"));
}
