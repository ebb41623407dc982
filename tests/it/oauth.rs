//! OAuth 2.0 client credentials against a token endpoint and a receiver the tests start
//! on loopback: one token for a burst, refreshed at expiry (time moved, not slept),
//! fetched once more on a 401, both client authentication methods, a refusing token
//! endpoint on the attempt, and — through the real server and its worker — no client
//! secret or token anywhere a person or the database could see it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hookdesk::config::Secret;
use hookdesk::delivery::{Attempt, Auth, ClientAuth, ErrorClass, OAuthClient, Sender};
use serde_json::{Value, json};

use crate::receiver::{Received, Receiver, Reply, Respond};
use crate::sender::{loopback_sender, request};

const CLIENT_ID: &str = "hookdesk-client";
/// Characters that `client_secret_basic` must form-encode before base64 (RFC 6749 §2.3.1).
const CLIENT_SECRET: &str = "cs:/secret+42 é";

/// The authorization server and the API it protects, sharing what tokens are valid.
#[derive(Default)]
pub(crate) struct Idp {
    issued: usize,
    valid: HashSet<String>,
    expires_in: u64,
    /// Answer token requests with this status and JSON error instead.
    refuse: Option<(u16, Value)>,
    /// The API refuses every token (a misconfigured audience, say).
    refuse_all: bool,
}

pub(crate) struct World {
    pub(crate) idp: Arc<Mutex<Idp>>,
    pub(crate) token_rx: Receiver,
    pub(crate) api_rx: Receiver,
}

/// A JSON answer for the test receivers.
pub(crate) fn json_answer(status: u16, v: &Value) -> crate::receiver::Answer {
    (
        status,
        vec![("Content-Type".into(), "application/json".into())],
        v.to_string().into_bytes(),
    )
}

pub(crate) async fn world(expires_in: u64) -> World {
    let idp = Arc::new(Mutex::new(Idp {
        expires_in,
        ..Idp::default()
    }));
    let st = idp.clone();
    let token_rx = Receiver::start(Reply::Custom(Respond::new(move |_r: &Received| {
        let mut s = st.lock().unwrap();
        if let Some((status, body)) = &s.refuse {
            return json_answer(*status, body);
        }
        s.issued += 1;
        let token = format!("tok-{}", s.issued);
        s.valid.insert(token.clone());
        json_answer(
            200,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": s.expires_in,
                "scope": "tickets.write",
            }),
        )
    })))
    .await;
    let st = idp.clone();
    let api_rx = Receiver::start(Reply::Custom(Respond::new(move |r: &Received| {
        let s = st.lock().unwrap();
        let token = r
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !s.refuse_all && s.valid.contains(token) {
            (200, Vec::new(), b"ok".to_vec())
        } else {
            (
                401,
                vec![(
                    "WWW-Authenticate".into(),
                    "Bearer error=\"invalid_token\"".into(),
                )],
                Vec::new(),
            )
        }
    })))
    .await;
    World {
        idp,
        token_rx,
        api_rx,
    }
}

fn client(w: &World, how: ClientAuth) -> OAuthClient {
    OAuthClient {
        token_url: w.token_rx.url("/oauth2/token"),
        client_id: CLIENT_ID.into(),
        client_secret: Secret(CLIENT_SECRET.into()),
        scope: "tickets.write tickets.read".into(),
        audience: "https://api.example/".into(),
        resource: String::new(),
        client_auth: how,
    }
}

/// A sender whose token cache reads a clock the test moves (seconds ahead of now).
fn sender_with_clock() -> (Sender, Arc<AtomicI64>) {
    let ahead = Arc::new(AtomicI64::new(0));
    let a = ahead.clone();
    let s = loopback_sender().with_clock(move || {
        chrono::Utc::now() + chrono::Duration::seconds(a.load(Ordering::SeqCst))
    });
    (s, ahead)
}

async fn send(s: &Sender, w: &World, c: &OAuthClient) -> Attempt {
    let mut req = request(w.api_rx.url("/api/tickets"));
    req.auth = Auth::OAuth2(Arc::new(c.clone()));
    s.send(&req).await
}

fn tokens_sent(w: &World) -> Vec<String> {
    w.api_rx
        .received()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect()
}

fn stored_auth(a: &Attempt) -> &str {
    a.request_headers_redacted
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_shares_one_token_until_shortly_before_it_expires() {
    let w = world(3600).await;
    let c = client(&w, ClientAuth::Basic);
    let (s, ahead) = sender_with_clock();
    let attempts = futures_util::future::join_all((0..100).map(|_| send(&s, &w, &c))).await;
    for a in &attempts {
        assert!(a.succeeded(), "{:?}", a.error);
        assert_eq!(stored_auth(a), "Bearer ••••");
    }
    assert_eq!(w.token_rx.received().len(), 1, "one token request for 100");
    let sent = tokens_sent(&w);
    assert_eq!(sent.len(), 100);
    assert!(sent.iter().all(|t| t == "Bearer tok-1"), "{sent:?}");
    let fetched: Vec<_> = attempts
        .iter()
        .filter(|a| a.steps.iter().any(|s| s.starts_with("Token request: POST")))
        .collect();
    assert_eq!(fetched.len(), 1, "exactly one attempt fetched the token");
    assert!(
        fetched[0].steps[1].starts_with("Token obtained: expires in 3600 s"),
        "{:?}",
        fetched[0].steps
    );

    // 50 minutes on: still the same token.
    ahead.store(3000, Ordering::SeqCst);
    assert!(send(&s, &w, &c).await.succeeded());
    assert_eq!(w.token_rx.received().len(), 1);
    // Within the last minute of its life: a new one, before it can expire in flight.
    ahead.store(3545, Ordering::SeqCst);
    let a = send(&s, &w, &c).await;
    assert!(a.succeeded(), "{:?}", a.error);
    assert_eq!(w.token_rx.received().len(), 2);
    assert_eq!(tokens_sent(&w).last().unwrap(), "Bearer tok-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fetches_one_new_token_and_tries_once_more() {
    let w = world(3600).await;
    let c = client(&w, ClientAuth::Basic);
    let (s, _) = sender_with_clock();
    assert!(send(&s, &w, &c).await.succeeded());
    // The authorization server revokes tok-1 early.
    w.idp.lock().unwrap().valid.remove("tok-1");
    let a = send(&s, &w, &c).await;
    assert!(a.succeeded(), "{:?}", a.error);
    assert_eq!(a.status, Some(200));
    assert_eq!(w.token_rx.received().len(), 2);
    assert_eq!(
        tokens_sent(&w)[1..],
        ["Bearer tok-1".to_owned(), "Bearer tok-2".to_owned()]
    );
    assert!(a.steps.iter().any(|s| s.contains("401")), "{:?}", a.steps);

    // An API that refuses every token: one new token, one more try, and the 401 stands.
    w.idp.lock().unwrap().refuse_all = true;
    let before = w.api_rx.received().len();
    let a = send(&s, &w, &c).await;
    assert_eq!(a.status, Some(401));
    assert_eq!(a.error_class(), Some(ErrorClass::Http));
    assert_eq!(w.token_rx.received().len(), 3, "one refetch, not a loop");
    assert_eq!(w.api_rx.received().len(), before + 2);
}

fn form(r: &Received) -> Vec<(String, String)> {
    form_urlencoded::parse(&r.body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_client_authentication_methods() {
    let w = world(600).await;
    let (s, _) = sender_with_clock();

    // client_secret_basic: id and secret form-encoded, then base64, in the header.
    assert!(
        send(&s, &w, &client(&w, ClientAuth::Basic))
            .await
            .succeeded()
    );
    let r = &w.token_rx.received()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/oauth2/token")
    );
    let basic = r
        .header("authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let pair = String::from_utf8(B64.decode(basic).unwrap()).unwrap();
    let (id, secret) = pair.split_once(':').unwrap();
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(
        (decode(id), decode(secret)),
        (CLIENT_ID.into(), CLIENT_SECRET.into())
    );
    let f = form(r);
    assert_eq!(field(&f, "grant_type"), Some("client_credentials"));
    assert_eq!(field(&f, "scope"), Some("tickets.write tickets.read"));
    assert_eq!(field(&f, "audience"), Some("https://api.example/"));
    assert_eq!(field(&f, "client_secret"), None, "not in the body as well");

    // client_secret_post: both in the body, no Authorization header; `resource` sent.
    let mut post = client(&w, ClientAuth::Post);
    post.resource = "https://graph.example".into();
    assert!(send(&s, &w, &post).await.succeeded());
    let r = &w.token_rx.received()[1];
    assert_eq!(r.header("authorization"), None);
    let f = form(r);
    assert_eq!(field(&f, "client_id"), Some(CLIENT_ID));
    assert_eq!(field(&f, "client_secret"), Some(CLIENT_SECRET));
    assert_eq!(field(&f, "resource"), Some("https://graph.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_token_endpoint_is_an_auth_error_on_the_attempt() {
    let w = world(600).await;
    w.idp.lock().unwrap().refuse = Some((
        400,
        json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
    ));
    let c = client(&w, ClientAuth::Basic);
    let (s, ahead) = sender_with_clock();
    let a = send(&s, &w, &c).await;
    let e = a.error.clone().unwrap();
    assert_eq!(e.class, ErrorClass::Auth);
    assert!(
        e.message.contains("invalid_client") && e.message.contains("Client authentication failed"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(CLIENT_SECRET));
    assert_eq!(a.status, None, "nothing reached the receiver");
    assert!(w.api_rx.received().is_empty());
    // A burst right after makes no second token request…
    let again = send(&s, &w, &c).await;
    assert_eq!(again.error_class(), Some(ErrorClass::Auth));
    assert_eq!(w.token_rx.received().len(), 1);
    // …and once the endpoint is fixed, the next attempt a few seconds on goes out.
    w.idp.lock().unwrap().refuse = None;
    ahead.store(6, Ordering::SeqCst);
    let ok = send(&s, &w, &c).await;
    assert!(ok.succeeded(), "{:?}", ok.error);

    // A 200 whose token cannot be read (`expires_in` as a string) is an auth error that
    // says why, and never repeats the token it carried: the message is stored and shown.
    w.idp.lock().unwrap().refuse = Some((
        200,
        json!({"access_token": "tok-LEAK", "token_type": "Bearer", "expires_in": "3600"}),
    ));
    ahead.store(60, Ordering::SeqCst);
    let odd = send(&s, &w, &client(&w, ClientAuth::Post)).await;
    let e = odd.error.unwrap();
    assert_eq!(e.class, ErrorClass::Auth);
    assert!(e.message.contains("expires_in"), "{}", e.message);
    assert!(!e.message.contains("tok-LEAK"), "{}", e.message);

    // An endpoint that is down altogether is an auth error too, naming the endpoint.
    let mut gone = client(&w, ClientAuth::Basic);
    gone.token_url = "http://127.0.0.1:9/token".into();
    let a = send(&s, &w, &gone).await;
    let e = a.error.unwrap();
    assert_eq!(e.class, ErrorClass::Auth);
    assert!(e.message.contains("127.0.0.1:9"), "{}", e.message);
}
