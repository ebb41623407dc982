//! The sender against real receivers on loopback: what arrives, what is recorded, and how
//! each kind of hostile answer ends.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use hookdesk::config::Secret;
use hookdesk::delivery::redact::REDACTED;
use hookdesk::delivery::ssrf::NetworkPolicy;
use hookdesk::delivery::{
    Attempt, Auth, ErrorClass, Outcome, OutgoingRequest, Sender, SenderConfig,
};

use crate::receiver::{Receiver, Reply};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A sender whose allow-list opens 127.0.0.1 — the receivers live there.
pub fn loopback_sender() -> Sender {
    Sender::new(&SenderConfig {
        policy: NetworkPolicy::from_strings(&["127.0.0.1/32".into()]).unwrap(),
        ..SenderConfig::default()
    })
    .unwrap()
}

pub fn request(url: String) -> OutgoingRequest {
    OutgoingRequest {
        method: "POST".into(),
        url,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"ticket":42}"#.to_vec(),
        timeout: Duration::from_secs(5),
        accept_invalid_certs: false,
        auth: Auth::None,
        signing: Vec::new(),
        message_id: "msg_test_1".into(),
        secret_headers: Vec::new(),
        client_tls: None,
    }
}

fn stored<'a>(a: &'a Attempt, name: &str) -> Option<&'a str> {
    a.request_headers_redacted
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn class(a: &Attempt) -> Option<ErrorClass> {
    a.error_class()
}

#[tokio::test]
async fn signed_request_arrives_and_verifies_independently() {
    let rx = Receiver::start(Reply::Status(204)).await;
    let sender = loopback_sender();
    let mut req = request(rx.url("/hooks/itop?x=1"));
    req.signing = vec![Secret(SECRET.into())];
    req.headers.push(("X-Custom".into(), "yes".into()));
    let a = sender.send(&req).await;
    assert_eq!(a.status, Some(204), "{:?}", a.error);
    assert!(a.succeeded());

    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/itop?x=1");
    assert_eq!(r.body, br#"{"ticket":42}"#);
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(format!("Hookdesk/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(
        r.header("accept-encoding"),
        None,
        "never asks for compression"
    );
    assert_eq!(r.header("webhook-id"), Some("msg_test_1"));
    let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() <= 5);
    assert_eq!(ts, a.started_at.timestamp());

    // Recompute the signature here, from what arrived, without Hookdesk's code.
    let key = B64.decode(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("msg_test_1.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("webhook-signature"), Some(expected.as_str()));
    // The stored request shows the same headers (a signature is no secret).
    assert_eq!(stored(&a, "webhook-signature"), Some(expected.as_str()));
    assert_eq!(stored(&a, "x-custom"), Some("yes"));
}

#[tokio::test]
async fn webhook_id_is_sent_without_a_secret_and_kept_across_retries() {
    let rx = Receiver::start(Reply::Status(500)).await;
    let sender = loopback_sender();
    let req = request(rx.url("/"));
    let first = sender.send(&req).await;
    let second = sender.send(&req).await;
    assert_eq!(class(&first), Some(ErrorClass::Http));
    assert_eq!(
        first.error.as_ref().unwrap().message,
        "HTTP 500 Internal Server Error"
    );
    assert_eq!(second.status, Some(500));
    let got = rx.wait_for(2).await;
    for r in &got {
        assert_eq!(r.header("webhook-id"), Some("msg_test_1"));
        assert!(r.header("webhook-timestamp").is_some());
        assert_eq!(r.header("webhook-signature"), None);
    }
    // Both went over one pooled keep-alive connection.
    assert_eq!(rx.connections(), 1);
}

#[tokio::test]
async fn authentication_is_sent_and_never_stored() {
    let rx = Receiver::start(Reply::Status(200)).await;
    let sender = loopback_sender();
    let cases = [
        (
            Auth::Basic {
                user: "svc".into(),
                password: Secret("pa55".into()),
            },
            "authorization",
            "Basic c3ZjOnBhNTU=",
        ),
        (
            Auth::Bearer {
                token: Secret("tok-123".into()),
            },
            "authorization",
            "Bearer tok-123",
        ),
        (
            Auth::ApiKey {
                header: "X-Desk-Key".into(),
                value: Secret("key-456".into()),
            },
            "x-desk-key",
            "key-456",
        ),
    ];
    for (i, (auth, header, value)) in cases.into_iter().enumerate() {
        let mut req = request(rx.url("/"));
        req.auth = auth;
        // A caller-supplied header of the same name never overrides the connection's.
        req.headers.push((header.to_owned(), "spoofed".into()));
        req.headers
            .push(("X-Flagged".into(), "flagged-secret".into()));
        req.secret_headers = vec!["x-flagged".into()];
        let a = sender.send(&req).await;
        assert!(a.succeeded(), "{:?}", a.error);
        let got = rx.wait_for(i + 1).await;
        assert_eq!(got[i].header(header), Some(value));
        let shown = match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {REDACTED}"),
            None => REDACTED.to_string(),
        };
        assert_eq!(stored(&a, header), Some(shown.as_str()));
        assert_eq!(stored(&a, "x-flagged"), Some(REDACTED));
        let all = format!("{:?}", a.request_headers_redacted);
        assert!(
            !all.contains(value) && !all.contains("flagged-secret"),
            "{all}"
        );
    }
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list() {
    let rx = Receiver::start(Reply::Status(200)).await;
    let sender = Sender::new(&SenderConfig::default()).unwrap();
    let a = sender.send(&request(rx.url("/"))).await;
    assert_eq!(class(&a), Some(ErrorClass::RefusedByPolicy));
    assert!(
        a.error
            .unwrap()
            .message
            .contains("127.0.0.1 is a loopback address")
    );
    // By name too: the resolver refuses what `localhost` resolves to.
    let a = sender
        .send(&request(format!("http://localhost:{}/", rx.addr.port())))
        .await;
    assert_eq!(
        class(&a),
        Some(ErrorClass::RefusedByPolicy),
        "{:?}",
        a.error
    );
    let msg = a.error.unwrap().message;
    assert!(msg.contains("localhost resolves to"), "{msg}");
    assert_eq!(rx.connections(), 0, "nothing reached the receiver");
    assert_eq!(a.status, None);
}

#[tokio::test]
async fn response_body_is_capped_and_marked_truncated() {
    let sender = loopback_sender();
    for (len, truncated) in [(10, false), (64 * 1024, false), (100 * 1024, true)] {
        let rx = Receiver::start(Reply::Full {
            status: 200,
            headers: vec![("X-Answer".into(), "ok".into())],
            body: vec![b'b'; len],
        })
        .await;
        let a = sender.send(&request(rx.url("/"))).await;
        assert!(a.succeeded());
        assert_eq!(a.response_body.len(), len.min(64 * 1024), "{len}");
        assert_eq!(a.truncated, truncated, "{len}");
        assert_eq!(a.response_header("x-answer"), Some("ok"));
    }
}

#[tokio::test]
async fn an_endless_body_is_dropped_at_the_cap() {
    let rx = Receiver::start(Reply::Huge { len: 1 << 30 }).await;
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert_eq!(a.status, Some(200));
    assert_eq!(a.response_body.len(), 64 * 1024);
    assert!(a.truncated);
    // The client hung up: the receiver managed only what the socket buffers took.
    let written = rx.huge_closed().await;
    assert!(
        written < 64 << 20,
        "{written} bytes written before the client hung up"
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_never_inflated() {
    let rx = Receiver::start(Reply::GzipBomb).await;
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert_eq!(a.status, Some(200));
    assert_eq!(a.response_header("content-encoding"), Some("gzip"));
    // The stored bytes are the compressed ones, capped: nothing was decompressed.
    assert_eq!(&a.response_body[..2], &[0x1f, 0x8b]);
    assert_eq!(a.response_body.len(), 64 * 1024);
    assert!(a.truncated);
}

#[tokio::test]
async fn a_hung_receiver_times_out() {
    let rx = Receiver::start(Reply::Hang).await;
    let mut req = request(rx.url("/"));
    req.timeout = Duration::from_millis(500);
    let a = loopback_sender().send(&req).await;
    assert_eq!(class(&a), Some(ErrorClass::Timeout), "{:?}", a.error);
    assert!(a.duration >= Duration::from_millis(500) && a.duration < Duration::from_secs(3));
    rx.wait_for(1).await;
}

#[tokio::test]
async fn the_total_timeout_covers_a_trickled_body() {
    let rx = Receiver::start(Reply::Trickle {
        len: 100,
        every: Duration::from_millis(50),
    })
    .await;
    let mut req = request(rx.url("/"));
    req.timeout = Duration::from_millis(800);
    let a = loopback_sender().send(&req).await;
    assert_eq!(class(&a), Some(ErrorClass::Timeout), "{:?}", a.error);
    assert!(a.duration < Duration::from_secs(3), "{:?}", a.duration);

    // Slow but within the deadline is fine.
    rx.set_reply(Reply::Delay(Duration::from_millis(200), 200));
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert!(a.succeeded(), "{:?}", a.error);
}

#[tokio::test]
async fn redirects_are_recorded_not_followed() {
    let internal = Receiver::start(Reply::Status(200)).await;
    let rx = Receiver::start(Reply::Redirect(internal.url("/admin"))).await;
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert_eq!(a.status, Some(302));
    assert_eq!(class(&a), Some(ErrorClass::Redirect));
    let msg = a.error.unwrap().message;
    assert!(msg.contains(&internal.url("/admin")), "{msg}");
    assert_eq!(internal.connections(), 0);
}

#[tokio::test]
async fn status_and_retry_after_reach_the_policy() {
    let rx = Receiver::start(Reply::Full {
        status: 429,
        headers: vec![("Retry-After".into(), "120".into())],
        body: b"slow down".to_vec(),
    })
    .await;
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert_eq!(class(&a), Some(ErrorClass::Http));
    assert_eq!(a.response_body, b"slow down");
    let o = Outcome::of(&a);
    assert_eq!(o.status, Some(429));
    assert_eq!(o.retry_after.as_deref(), Some("120"));

    rx.set_reply(Reply::Status(410));
    let a = loopback_sender().send(&request(rx.url("/"))).await;
    assert_eq!(a.status, Some(410));
    assert_eq!(class(&a), Some(ErrorClass::Http));
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_sending() {
    let rx = Receiver::start(Reply::Status(200)).await;
    let mut req = request(rx.url("/"));
    req.body = vec![b'a'; 60 * 1024 * 1024 + 1];
    let a = loopback_sender().send(&req).await;
    assert_eq!(class(&a), Some(ErrorClass::TooLarge));
    assert_eq!(rx.connections(), 0);
    // Exactly at the limit is sent.
    req.body.pop();
    let a = loopback_sender().send(&req).await;
    assert!(a.succeeded(), "{:?}", a.error);
    assert_eq!(rx.wait_for(1).await[0].body.len(), 60 * 1024 * 1024);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let a = loopback_sender()
        .send(&request(format!("http://127.0.0.1:{port}/?token=s3cret")))
        .await;
    assert_eq!(class(&a), Some(ErrorClass::Connect), "{:?}", a.error);
    let msg = a.error.unwrap().message;
    assert!(
        !msg.contains("s3cret"),
        "the URL's query stays out of the message: {msg}"
    );
}

#[tokio::test]
async fn invalid_destinations_are_refused() {
    let sender = loopback_sender();
    for url in ["ftp://127.0.0.1/x", "not a url", "file:///etc/passwd"] {
        let a = sender.send(&request(url.into())).await;
        assert_eq!(class(&a), Some(ErrorClass::RefusedByPolicy), "{url}");
    }
}

fn ntlm_request(rx: &Receiver, password: &str) -> OutgoingRequest {
    let mut req = request(rx.url("/EWS/hook"));
    req.auth = Auth::Ntlm {
        user: "svc-hookdesk".into(),
        password: Secret(password.into()),
        domain: "CORP".into(),
    };
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntlm_handshake_over_one_connection() {
    let rx = Receiver::start(Reply::Ntlm {
        user: "svc-hookdesk".into(),
        password: "Corr3ct-Horse".into(),
        domain: "CORP".into(),
        then: 201,
    })
    .await;
    let a = loopback_sender()
        .send(&ntlm_request(&rx, "Corr3ct-Horse"))
        .await;
    assert_eq!(a.status, Some(201), "{:?}", a.error);
    let got = rx.received();
    // Negotiate then authenticate (a pool race may add one more round; never more).
    assert!(got.len() == 2 || got.len() == 4, "{got:?}");
    let (negotiate, authenticate) = (&got[got.len() - 2], &got[got.len() - 1]);
    assert_eq!(
        negotiate.conn, authenticate.conn,
        "one keep-alive connection"
    );
    assert!(
        negotiate.body.is_empty(),
        "the body waits for the authenticated request"
    );
    assert_eq!(authenticate.body, br#"{"ticket":42}"#);
    let seen = authenticate.ntlm.clone().expect("a type 3 message");
    assert_eq!(seen.user, "svc-hookdesk");
    assert_eq!(seen.domain, "CORP");
    assert_eq!(seen.workstation, "HOOKDESK");
    assert!(seen.proof_ok, "the NTLMv2 proof verifies");
    assert_eq!(stored(&a, "authorization"), Some("NTLM ••••"));

    // A wrong password ends as the server's 401, after one handshake only: a refusal
    // on the negotiating connection is final (every failed type 3 may count towards a
    // lockout).
    let before = rx.received().len();
    let a = loopback_sender().send(&ntlm_request(&rx, "wrong")).await;
    assert_eq!(a.status, Some(401));
    assert_eq!(
        rx.received().len() - before,
        2,
        "negotiate + one authenticate"
    );
    assert_eq!(class(&a), Some(ErrorClass::Http));
    let last = rx.received().pop().unwrap();
    assert!(!last.ntlm.unwrap().proof_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntlm_handshakes_in_a_row_reuse_the_pool() {
    let rx = Receiver::start(Reply::Ntlm {
        user: "svc-hookdesk".into(),
        password: "pw".into(),
        domain: "CORP".into(),
        then: 200,
    })
    .await;
    let sender = loopback_sender();
    for i in 0..20 {
        let a = sender.send(&ntlm_request(&rx, "pw")).await;
        assert_eq!(a.status, Some(200), "handshake {i}: {:?}", a.error);
    }
    let got = rx.received();
    // Each send is one negotiate + one authenticate; should the pool hand the second
    // another connection, one more round follows — never a failure. On a loaded 2-core
    // machine that happened up to 5 times in 20 sends, so the bound is on what "reuse"
    // means: a couple of keep-alive connections, not one per handshake.
    assert!(got.len() >= 40, "{} requests", got.len());
    assert!(rx.connections() <= 4, "{} connections", rx.connections());
    eprintln!(
        "{} requests over {} connections",
        got.len(),
        rx.connections()
    );
}

#[tokio::test]
async fn the_allow_list_comes_from_configuration() {
    let rx = Receiver::start(Reply::Status(200)).await;
    let cfg = hookdesk::config::Config {
        allowed_networks: vec!["127.0.0.0/8".into()],
        ..Default::default()
    };
    let sender = Sender::new(&SenderConfig::from_config(&cfg).unwrap()).unwrap();
    assert_eq!(sender.config().connect_timeout, Duration::from_secs(10));
    let a = sender.send(&request(rx.url("/"))).await;
    assert!(a.succeeded(), "{:?}", a.error);
    // `localhost` resolves to 127.0.0.1 (allowed) and perhaps ::1 (not): the allowed
    // address is the one dialled.
    let a = sender
        .send(&request(format!("http://localhost:{}/", rx.addr.port())))
        .await;
    assert!(a.succeeded(), "{:?}", a.error);
    assert_eq!(rx.wait_for(2).await.len(), 2);
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_a_tls_failure() {
    let rx = Receiver::start(Reply::Status(200)).await;
    let a = loopback_sender()
        .send(&request(format!("https://127.0.0.1:{}/", rx.addr.port())))
        .await;
    assert_eq!(class(&a), Some(ErrorClass::Tls), "{:?}", a.error);
}

#[tokio::test]
async fn a_configured_proxy_is_used_and_the_guard_still_applies() {
    let proxy = Receiver::start(Reply::Status(202)).await;
    let sender = Sender::new(&SenderConfig {
        proxy: Some(proxy.url("")),
        ..SenderConfig::default()
    })
    .unwrap();
    // A public destination goes through the proxy (which answers itself: nothing leaves
    // the machine).
    let a = sender
        .send(&request("http://93.184.216.34/hook".into()))
        .await;
    assert_eq!(a.status, Some(202), "{:?}", a.error);
    let got = proxy.wait_for(1).await;
    assert_eq!(got[0].path, "http://93.184.216.34/hook");
    // A private one is refused before the proxy sees it.
    let a = sender.send(&request("http://10.1.2.3/".into())).await;
    assert_eq!(class(&a), Some(ErrorClass::RefusedByPolicy));
    let a = sender.send(&request("http://localhost/".into())).await;
    assert_eq!(
        class(&a),
        Some(ErrorClass::RefusedByPolicy),
        "{:?}",
        a.error
    );
    assert_eq!(proxy.received().len(), 1);
}
