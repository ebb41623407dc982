//! The one outgoing HTTP client. Everything Hookdesk sends — deliveries, test-sends,
//! "test connection" — goes through [`Sender::send`], so every request gets the same
//! limits, the SSRF guard, authentication, signatures and an [`Attempt`] on record.
//!
//! Limits, and why:
//! - connect timeout (client-wide) and a total deadline per request that also covers
//!   reading the response body, so a receiver trickling bytes cannot hold a worker slot;
//! - the response body is read chunk by chunk and reading stops at the cap, so a huge or
//!   endless answer costs at most the cap in memory;
//! - no `Accept-Encoding` is sent and nothing is decompressed (reqwest is built without
//!   its `gzip` feature): a gzip bomb is stored as the first compressed bytes, never inflated;
//! - request bodies over the limit are refused before anything is sent;
//! - redirects are not followed (a 3xx is a failure naming its `Location`): following one
//!   would send the body, signature and credentials somewhere nobody configured;
//! - proxy environment variables are ignored: only the `outgoing_proxy` setting counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::attempt::{Attempt, AttemptError, ErrorClass};
use super::auth::{self, Auth, Secret};
use super::classify::{classify, status_error};
use super::client_tls::{ClientTls, Clients};
use super::oauth::{self, OAuthClient, Source, TokenCache};
use super::redact::{REDACTED, redact_headers};
use super::signing;
use super::ssrf::{GuardedResolver, NetworkPolicy};
use crate::config::Config;

/// Response bytes kept per attempt.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 64 * 1024;
/// Largest request body sent (60 MiB).
pub const DEFAULT_MAX_REQUEST_BODY: usize = 60 * 1024 * 1024;

/// NTLM: the pause that lets a finished connection go back to the pool, and the most
/// handshakes per request when the pool handed the authenticate message another
/// connection (which holds no challenge, so the server refuses it before any password
/// check). A refusal on the negotiating connection itself is final: the credentials are
/// wrong, and trying again would only count towards an account lockout.
const NTLM_POOL_SETTLE: Duration = Duration::from_millis(1);
const NTLM_ROUNDS: u32 = 5;

/// The client side of the connection a response came on.
fn local_addr(r: &reqwest::Response) -> Option<std::net::SocketAddr> {
    r.extensions()
        .get::<hyper_util::client::legacy::connect::HttpInfo>()
        .map(hyper_util::client::legacy::connect::HttpInfo::local_addr)
}

pub fn user_agent() -> String {
    format!("Hookdesk/{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub connect_timeout: Duration,
    pub max_response_body: usize,
    pub max_request_body: usize,
    pub policy: NetworkPolicy,
    /// `http://host:port` of an outgoing proxy; `None` connects directly.
    pub proxy: Option<String>,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            policy: NetworkPolicy::default(),
            proxy: None,
        }
    }
}

impl SenderConfig {
    pub fn from_config(cfg: &Config) -> Result<Self, String> {
        Ok(Self {
            connect_timeout: Duration::from_secs(cfg.delivery_connect_timeout_seconds),
            policy: NetworkPolicy::from_strings(&cfg.allowed_networks)?,
            proxy: cfg.outgoing_proxy.clone(),
            ..Self::default()
        })
    }
}

/// One request to send. The worker builds it from a delivery row and its connection.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Total deadline: connect, send, and read the response body.
    pub timeout: Duration,
    /// Skip certificate verification (the connection's "Verify TLS" is off).
    pub accept_invalid_certs: bool,
    pub auth: Auth,
    /// Active signing secrets (`whsec_…`); empty sends no `webhook-signature`.
    pub signing: Vec<Secret>,
    /// The delivery's stable id, sent as `webhook-id` on every attempt.
    pub message_id: String,
    /// Further header names (besides authentication) whose values are stored redacted.
    pub secret_headers: Vec<String>,
    /// The connection's client certificate and extra CA roots, if it has any.
    pub client_tls: Option<Arc<ClientTls>>,
}

/// Cheap to clone: the client and its connection pool are shared.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    /// The same client without certificate verification, for connections that turned
    /// it off; built once, so those connections keep their keep-alive pool too.
    insecure: reqwest::Client,
    /// Clients for connections with their own TLS settings (mutual TLS, a CA bundle).
    tls_clients: Arc<Clients>,
    /// OAuth 2.0 tokens per client (see `oauth`).
    tokens: Arc<TokenCache>,
    /// The time tokens are cached against; tests move it.
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    cfg: Arc<SenderConfig>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("cfg", &self.cfg).finish()
    }
}

/// What went wrong inside the deadline, before classification.
enum Failure {
    Reqwest(reqwest::Error),
    Classified(AttemptError),
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        Failure::Reqwest(e)
    }
}

fn fail(class: ErrorClass, message: impl Into<String>) -> Failure {
    Failure::Classified(AttemptError {
        class,
        message: message.into(),
    })
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    truncated: bool,
}

impl Sender {
    pub fn new(cfg: &SenderConfig) -> Result<Self, String> {
        Ok(Self {
            client: Self::client(cfg, false, None)?,
            insecure: Self::client(cfg, true, None)?,
            tls_clients: Arc::default(),
            tokens: Arc::default(),
            clock: Arc::new(Utc::now),
            cfg: Arc::new(cfg.clone()),
        })
    }

    /// The token cache, to share with another sender of the same process (the worker's
    /// and the pages' run on different runtimes, so they keep their own clients).
    pub fn tokens(&self) -> Arc<TokenCache> {
        self.tokens.clone()
    }

    /// The same sender using `tokens` (one token per client for the whole process).
    pub fn with_tokens(mut self, tokens: Arc<TokenCache>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The same sender reading the time from `clock` for its token cache (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn client(
        cfg: &SenderConfig,
        accept_invalid_certs: bool,
        tls: Option<&ClientTls>,
    ) -> Result<reqwest::Client, String> {
        let policy = Arc::new(cfg.policy.clone());
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(cfg.connect_timeout)
            .dns_resolver(Arc::new(GuardedResolver::new(policy)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .tls_danger_accept_invalid_certs(accept_invalid_certs);
        if let Some(p) = &cfg.proxy {
            let proxy = reqwest::Proxy::all(p).map_err(|e| format!("outgoing_proxy: {e}"))?;
            builder = builder.proxy(proxy);
        }
        if let Some(tls) = tls {
            builder = tls.apply(builder)?;
        }
        builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    }

    pub fn config(&self) -> &SenderConfig {
        &self.cfg
    }

    /// Sends `req` once and records what happened. Never panics, never returns early
    /// without an [`Attempt`]: refusals and timeouts are attempts too.
    pub async fn send(&self, req: &OutgoingRequest) -> Attempt {
        let started_at = Utc::now();
        let t0 = Instant::now();
        let headers = self.headers_for(req, started_at.timestamp());
        let mut secret_names: Vec<&str> = req.secret_headers.iter().map(String::as_str).collect();
        secret_names.extend(req.auth.secret_header());
        let mut shown = redact_headers(&headers, &secret_names);
        match req.auth {
            // Set per handshake step in `ntlm`, or once the token is known; recorded here
            // so the log shows it was sent.
            Auth::Ntlm { .. } => shown.push(("authorization".into(), format!("NTLM {REDACTED}"))),
            Auth::OAuth2(_) => {
                shown.push(("authorization".into(), format!("Bearer {REDACTED}")));
            }
            _ => {}
        }
        let mut attempt = Attempt {
            started_at,
            duration: Duration::ZERO,
            method: req.method.clone(),
            url: req.url.clone(),
            request_headers_redacted: shown,
            status: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            truncated: false,
            error: None,
            steps: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + req.timeout;
        let outcome = match tokio::time::timeout_at(
            deadline,
            self.exchange(req, &headers, req.timeout, &mut attempt.steps),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(fail(
                ErrorClass::Timeout,
                format!(
                    "no complete response within {} s",
                    req.timeout.as_secs_f64()
                ),
            )),
        };
        attempt.duration = t0.elapsed();
        match outcome {
            Ok(answer) => {
                attempt.status = Some(answer.status);
                attempt.error = status_error(answer.status, &answer.headers);
                attempt.response_headers = redact_headers(&answer.headers, &[]);
                attempt.response_body = answer.body;
                attempt.truncated = answer.truncated;
            }
            Err(Failure::Classified(e)) => attempt.error = Some(e),
            Err(Failure::Reqwest(e)) => {
                let with_cert = req
                    .client_tls
                    .as_deref()
                    .is_some_and(|t| !t.cert_pem.trim().is_empty() || !t.ca_pem.trim().is_empty());
                attempt.error = Some(super::classify::with_client_tls(classify(&e), with_cert));
            }
        }
        attempt
    }

    /// The caller's headers, minus any it must not set, plus authentication and the
    /// Standard Webhooks headers.
    fn headers_for(&self, req: &OutgoingRequest, timestamp: i64) -> Vec<(String, String)> {
        let auth_header = req.auth.secret_header();
        let reserved = |k: &str| {
            k.eq_ignore_ascii_case(signing::HEADER_ID)
                || k.eq_ignore_ascii_case(signing::HEADER_TIMESTAMP)
                || k.eq_ignore_ascii_case(signing::HEADER_SIGNATURE)
                || k.eq_ignore_ascii_case("user-agent")
                || auth_header.is_some_and(|a| k.eq_ignore_ascii_case(a))
        };
        let mut out: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(k, _)| !reserved(k))
            .cloned()
            .collect();
        out.push(("user-agent".into(), user_agent()));
        out.extend(req.auth.header());
        out.extend(signing::headers(
            &req.message_id,
            timestamp,
            &req.body,
            &req.signing,
        ));
        out
    }

    async fn exchange(
        &self,
        req: &OutgoingRequest,
        headers: &[(String, String)],
        timeout: Duration,
        steps: &mut Vec<String>,
    ) -> Result<Answer, Failure> {
        if req.body.len() > self.cfg.max_request_body {
            return Err(fail(
                ErrorClass::TooLarge,
                format!(
                    "request body is {} bytes; the limit is {} bytes",
                    req.body.len(),
                    self.cfg.max_request_body
                ),
            ));
        }
        let url = self.guard(&req.url).await?;
        let http = self.client_for(req)?;
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| fail(ErrorClass::Http, format!("invalid method {:?}", req.method)))?;
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| fail(ErrorClass::Http, format!("invalid header name {k:?}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| fail(ErrorClass::Http, format!("invalid value for header {k}")))?;
            map.append(name, value);
        }
        let build = |auth: Option<String>, body: Vec<u8>| {
            let mut m = map.clone();
            if let Some(a) = auth.and_then(|a| HeaderValue::from_str(&a).ok()) {
                m.insert(reqwest::header::AUTHORIZATION, a);
            }
            http.request(method.clone(), url.clone())
                .headers(m)
                .timeout(timeout)
                .body(body)
        };
        let mut resp = match &req.auth {
            Auth::Ntlm {
                user,
                password,
                domain,
            } => self.ntlm(&build, req, user, password, domain).await?,
            Auth::OAuth2(client) => {
                let token = self.oauth_token(&http, client, timeout, steps).await?;
                let resp = build(Some(format!("Bearer {}", token.0)), req.body.clone())
                    .send()
                    .await?;
                if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
                    resp
                } else {
                    // Rule 3 of `oauth`: the token may have been revoked early; one
                    // fresh token, one more try, and that answer stands.
                    drop(resp);
                    self.tokens.reject(client, &token).await;
                    steps.push("The receiver answered 401 Unauthorized: the token is dropped and the request sent once more with a new one".into());
                    let token = self.oauth_token(&http, client, timeout, steps).await?;
                    build(Some(format!("Bearer {}", token.0)), req.body.clone())
                        .send()
                        .await?
                }
            }
            _ => build(None, req.body.clone()).send().await?,
        };
        self.read_answer(&mut resp).await
    }

    /// A URL the policy allows: http(s), not refused by the SSRF guard.
    async fn guard(&self, raw: &str) -> Result<url::Url, Failure> {
        let url = url::Url::parse(raw)
            .map_err(|e| fail(ErrorClass::RefusedByPolicy, format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(fail(
                ErrorClass::RefusedByPolicy,
                format!("scheme {:?} is not http or https", url.scheme()),
            ));
        }
        self.cfg
            .policy
            .check_url(&url)
            .map_err(|r| fail(ErrorClass::RefusedByPolicy, r.to_string()))?;
        if self.cfg.proxy.is_some() {
            // Through a proxy our resolver only sees the proxy's name, so check the
            // destination here; the proxy then is the boundary against a DNS answer
            // changing between this check and its own lookup.
            self.precheck_name(&url).await?;
        }
        Ok(url)
    }

    /// The client for this request's TLS settings: the shared one, the one without
    /// verification, or one built for the connection's certificate and CA bundle.
    fn client_for(&self, req: &OutgoingRequest) -> Result<reqwest::Client, Failure> {
        match req.client_tls.as_deref().filter(|t| !t.is_empty()) {
            None if req.accept_invalid_certs => Ok(self.insecure.clone()),
            None => Ok(self.client.clone()),
            Some(tls) => self
                .tls_clients
                .get_or_build(tls, req.accept_invalid_certs, || {
                    Self::client(&self.cfg, req.accept_invalid_certs, Some(tls))
                })
                .map_err(|m| fail(ErrorClass::Tls, m)),
        }
    }

    /// A token for `client`: cached, or asked of its token endpoint through `http` (the
    /// connection's own client, so its TLS settings apply there too), with the SSRF
    /// guard checking the token URL like any other.
    async fn oauth_token(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        timeout: Duration,
        steps: &mut Vec<String>,
    ) -> Result<Secret, Failure> {
        let now = (self.clock)();
        let fetch = || async {
            self.guard(&client.token_url).await.map_err(|f| match f {
                Failure::Classified(mut e) => {
                    e.message = format!("token URL {}: {}", client.token_url, e.message);
                    e
                }
                Failure::Reqwest(e) => classify(&e),
            })?;
            oauth::fetch(client, now, |r| oauth::exchange(http, r, timeout)).await
        };
        let (token, source) = self
            .tokens
            .token(client, now, fetch)
            .await
            .map_err(Failure::Classified)?;
        let how = match client.client_auth {
            oauth::ClientAuth::Basic => "client_secret_basic",
            oauth::ClientAuth::Post => "client_secret_post",
        };
        match source {
            Source::Fetched => {
                steps.push(format!(
                    "Token request: POST {} (client credentials, {how})",
                    client.token_url
                ));
                steps.push(format!("Token obtained: {}", token.describe()));
            }
            Source::Cached => steps.push(format!("Token reused from cache: {}", token.describe())),
        }
        Ok(token.value)
    }

    /// NTLM authenticates a connection, not a request: negotiate (type 1, empty body),
    /// read the 401 challenge to the end so the connection goes back to the pool, then
    /// send the real request with the authenticate message (type 3), which the pool
    /// hands the same idle keep-alive connection. Should another connection be used after
    /// all (the pool is shared; told apart by the local port), the handshake is repeated
    /// (at most [`NTLM_ROUNDS`]); a 401 on the same connection is final, since every
    /// failed type 3 may count towards an account lockout on the directory.
    async fn ntlm(
        &self,
        build: &impl Fn(Option<String>, Vec<u8>) -> reqwest::RequestBuilder,
        req: &OutgoingRequest,
        user: &str,
        password: &Secret,
        domain: &str,
    ) -> Result<reqwest::Response, Failure> {
        let negotiate = auth::ntlm_negotiate_header().map_err(|m| fail(ErrorClass::Http, m))?;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut first = build(Some(negotiate.clone()), Vec::new()).send().await?;
            let negotiated_on = local_addr(&first);
            if first.status() != reqwest::StatusCode::UNAUTHORIZED {
                if first.status().is_success() {
                    return Err(fail(
                        ErrorClass::Http,
                        format!(
                            "the server answered the NTLM negotiation with {} instead of a challenge; the body was not sent",
                            first.status()
                        ),
                    ));
                }
                return Ok(first);
            }
            let challenge = first
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(auth::ntlm_challenge);
            let Some(challenge) = challenge else {
                // A 401 without an NTLM challenge: the server does not do NTLM here.
                return Ok(first);
            };
            while first.chunk().await?.is_some() {}
            drop(first);
            // The connection returns to the pool from a task hyper spawned, which may run
            // on another runtime thread; give it a moment before asking the pool, or a
            // fresh connection may win the race (seen on a loaded 2-core machine with a
            // bare `yield_now`). A lost race costs one more round, below, and each round
            // waits twice as long (1, 2, 4, 8, 16 ms): under a full test suite on 2 cores
            // five rounds of 1 ms were all lost now and then.
            tokio::time::sleep(NTLM_POOL_SETTLE * 2u32.pow(tries - 1)).await;
            let answer = auth::ntlm_authenticate_header(&challenge, user, password, domain)
                .map_err(|m| fail(ErrorClass::Http, m))?;
            let resp = build(Some(answer), req.body.clone()).send().await?;
            let other_connection = match (negotiated_on, local_addr(&resp)) {
                (Some(a), Some(b)) => a != b,
                // Not knowable (through a proxy): one more round at most.
                _ => tries < 2,
            };
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED
                && other_connection
                && tries < NTLM_ROUNDS
            {
                continue;
            }
            return Ok(resp);
        }
    }

    async fn precheck_name(&self, url: &url::Url) -> Result<(), Failure> {
        let Some(url::Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        let addrs: Vec<_> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| fail(ErrorClass::Dns, format!("cannot resolve {host}: {e}")))?
            .collect();
        self.cfg
            .policy
            .filter(host, addrs)
            .map(|_| ())
            .map_err(|r| fail(ErrorClass::RefusedByPolicy, r.to_string()))
    }

    /// Status and headers, then the body up to the cap; reading stops there.
    async fn read_answer(&self, resp: &mut reqwest::Response) -> Result<Answer, Failure> {
        let cap = self.cfg.max_response_body;
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await? {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
            if body.len() == cap {
                // Exactly full: one more chunk tells whether anything was cut off.
                truncated = resp.chunk().await?.is_some_and(|c| !c.is_empty());
                break;
            }
        }
        Ok(Answer {
            status: resp.status().as_u16(),
            headers,
            body,
            truncated,
        })
    }
}
