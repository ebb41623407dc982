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

#[test]
fn public_url_from_file_flag_or_the_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(&path, "public_url = \"https://desk.example.com/\"\n").unwrap();
    let from_file = Config::load(&ConfigArgs {
        config: Some(path.clone()),
        ..Default::default()
    })
    .unwrap();
    let bound: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
    assert_eq!(from_file.public_base(bound), "https://desk.example.com");

    let flag = Config::load(&ConfigArgs {
        config: Some(path),
        public_url: Some("http://hd.internal:9000/desk".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(flag.public_base(bound), "http://hd.internal:9000/desk");

    // Unset: where the server listens; an unspecified address is reached on loopback.
    let d = Config::default();
    assert_eq!(d.public_base(bound), "http://127.0.0.1:8080");
    assert_eq!(
        d.public_base("192.0.2.7:81".parse().unwrap()),
        "http://192.0.2.7:81"
    );

    for bad in ["desk.example.com", "ftp://x", "https://x/?a=1", "http://"] {
        let cfg = Config {
            public_url: Some(bad.into()),
            ..Config::default()
        };
        assert!(cfg.validate().is_err(), "{bad}");
    }
}
