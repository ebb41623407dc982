//! The SSRF probe table: hostile URLs in every notation are refused — by the literal
//! check or by the guarded resolver — and public destinations pass. Nothing here sends
//! traffic anywhere: refused probes never connect, public ones are only classified.

use std::net::{IpAddr, SocketAddr};

use hookdesk::config::Config;
use hookdesk::delivery::ssrf::{Category, NetworkPolicy, classify};
use hookdesk::delivery::{ErrorClass, Sender, SenderConfig};

use crate::sender::request;

/// (probe URL, what the refusal must name).
const REFUSED: &[(&str, &str)] = &[
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.0.0.1.:8080/", "loopback"),
    ("http://①②⑦.0.0.1/", "loopback"),
    ("http://127.254.3.4/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::127.0.0.1]/", "loopback"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://[64:ff9b::169.254.169.254]/", "link-local"),
    ("http://[2002:a9fe:a9fe::1]/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://10.255.255.255:8443/x", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[::ffff:192.168.0.1]/", "private"),
    ("http://[fec0::1]/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://[fc00::1]/", "unique-local"),
    ("http://[fd12:3456:789a::1]/", "unique-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://0.1.2.3/", "this network"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250:1900/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://192.0.2.10/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.0.8/", "reserved"),
    ("http://[2001::1]/", "reserved"),
    ("http://[100::1]/", "reserved"),
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST:9000/", "loopback"),
];

/// Public destinations: classified as fine, never contacted.
const ALLOWED: &[&str] = &[
    "https://8.8.8.8/",
    "http://1.1.1.1/hook",
    "http://93.184.216.34/",
    "http://11.0.0.1/",
    "http://172.32.0.1/",
    "http://172.15.255.255/",
    "http://192.169.0.1/",
    "http://100.128.0.1/",
    "http://100.63.255.255/",
    "http://169.255.0.1/",
    "http://[2606:4700:4700::1111]/",
    "http://[2001:4860:4860::8888]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::808:808]/",
    "http://[2002:808:808::1]/",
    "https://example.com/hooks",
];

#[tokio::test]
async fn the_probe_table() {
    assert!(REFUSED.len() + ALLOWED.len() >= 25);
    let policy = NetworkPolicy::default();
    let sender = Sender::new(&SenderConfig::default()).unwrap();
    for (probe, why) in REFUSED {
        let url = url::Url::parse(probe).unwrap_or_else(|e| panic!("{probe}: {e}"));
        let is_name = matches!(url.host(), Some(url::Host::Domain(_)));
        // IP literals are caught before any connection; names by the resolver.
        assert_eq!(
            policy.check_url(&url).is_err(),
            !is_name,
            "{probe} (parsed host {:?})",
            url.host_str()
        );
        let mut req = request(probe.to_string());
        req.timeout = std::time::Duration::from_secs(5);
        let a = sender.send(&req).await;
        let err = a.error.unwrap_or_else(|| panic!("{probe} was sent"));
        assert_eq!(
            err.class,
            ErrorClass::RefusedByPolicy,
            "{probe}: {}",
            err.message
        );
        assert!(err.message.contains(why), "{probe}: {}", err.message);
        assert_eq!(a.status, None);
    }
    for probe in ALLOWED {
        let url = url::Url::parse(probe).unwrap();
        assert!(policy.check_url(&url).is_ok(), "{probe}");
        if let Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) = url.host() {
            let ip: IpAddr = url
                .host_str()
                .unwrap()
                .trim_matches(['[', ']'])
                .parse()
                .unwrap();
            assert_eq!(classify(ip), None, "{probe}");
        }
    }
}

#[test]
fn the_allow_list_opens_only_its_ranges() {
    let policy =
        NetworkPolicy::from_strings(&["127.0.0.1/32".into(), "10.20.0.0/16".into()]).unwrap();
    let check = |s: &str| policy.check_url(&url::Url::parse(s).unwrap()).is_ok();
    assert!(check("http://127.0.0.1:8080/"));
    assert!(
        check("http://[::ffff:127.0.0.1]/"),
        "the mapped form of an allowed address"
    );
    assert!(check("http://10.20.3.4/"));
    assert!(!check("http://127.0.0.2/"));
    assert!(!check("http://10.21.0.1/"));
    assert!(!check("http://[::1]/"));
    assert!(!check("http://169.254.169.254/"));
}

#[test]
fn resolved_addresses_are_filtered() {
    let policy = NetworkPolicy::default();
    let a = |s: &str| -> SocketAddr { format!("{s}:443").parse().unwrap() };
    // A name answering with private and public records: only the public one is dialled.
    let kept = policy
        .filter("mixed.example", vec![a("10.0.0.1"), a("93.184.216.34")])
        .unwrap();
    assert_eq!(kept, vec![a("93.184.216.34")]);
    // Only private records: refused, naming the name and the address.
    let err = policy
        .filter("rebind.example", vec![a("169.254.169.254")])
        .unwrap_err();
    assert_eq!(err.category, Category::LinkLocal);
    assert!(
        err.to_string()
            .starts_with("rebind.example resolves to 169.254.169.254")
    );
}

#[test]
fn allowed_networks_setting_is_validated() {
    let ok = Config {
        allowed_networks: vec!["127.0.0.1/32".into(), "10.0.0.0/8".into(), "::1".into()],
        ..Config::default()
    };
    assert!(ok.validate().is_ok());
    let bad = Config {
        allowed_networks: vec!["10.0.0.0/33".into()],
        ..Config::default()
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(
        err.contains("allowed_networks") && err.contains("10.0.0.0/33"),
        "{err}"
    );
    let bad = Config {
        retry_schedule: vec!["5s".into(), "soon".into()],
        ..Config::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("retry_schedule")
    );
}
