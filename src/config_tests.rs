//! Tests of `config`: files, environment, command line and validation.
use super::*;

#[test]
fn file_then_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nsecure_cookies = true\n").unwrap();
    let args = ConfigArgs {
        config: Some(path),
        secure_cookies: Some(false),
        ..Default::default()
    };
    let cfg = Config::load(&args).unwrap();
    assert_eq!(cfg.listen, "0.0.0.0:9000");
    assert!(!cfg.secure_cookies);
    assert_eq!(cfg.database_url, "sqlite://hookdesk.db");
}

#[test]
fn unknown_key_in_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(&path, "listn = \"x\"\n").unwrap();
    let err = Config::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn delivery_lists_are_comma_separated() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConfigArgs,
    }
    let cli = <Cli as clap::Parser>::try_parse_from([
        "hookdesk",
        "--allowed-networks",
        "127.0.0.1/32,10.0.0.0/8",
        "--retry-schedule",
        "0s,1m",
    ])
    .unwrap();
    let mut cfg = Config::default();
    cfg.apply(&cli.args);
    assert_eq!(cfg.allowed_networks, vec!["127.0.0.1/32", "10.0.0.0/8"]);
    assert_eq!(cfg.retry_schedule, vec!["0s", "1m"]);
    assert!(cfg.validate().is_ok());
    assert_eq!(Config::default().retry_schedule.len(), 8);
}

#[test]
fn zero_lifetime_refused() {
    let cfg = Config {
        session_idle_minutes: 0,
        ..Config::default()
    };
    assert!(cfg.validate().is_err());
}
