//! OAuth 2.0 client credentials (RFC 6749 §4.4) for a connection: the token request,
//! built by the `oauth2` crate and sent through the sender's own client (SSRF guard,
//! proxy, TLS settings, client certificate, deadline, response cap), and the cache that
//! shares one token per client across concurrent deliveries.
//!
//! Rules, and why:
//! 1. One token request at a time per client: the client's slot is an async mutex held
//!    across the fetch, so a burst of a hundred deliveries makes one request and the
//!    others take the token it got.
//! 2. A token is used until shortly before its `expires_in` (a tenth of its lifetime, at
//!    most [`REFRESH_MARGIN`]), so it does not expire in flight. A token endpoint that
//!    gives no `expires_in` gets [`DEFAULT_LIFETIME`].
//! 3. A 401 from the receiver drops the token that was sent — not a newer one another
//!    delivery fetched meanwhile — and the sender retries that attempt once with a fresh
//!    token (`Sender::send`).
//! 4. A failed token request is remembered for [`FAILURE_HOLD`]: a burst against a broken
//!    token endpoint makes one request, and every attempt in the burst fails with the
//!    same error (class `auth`), which counts towards the connection's breaker.
//! 5. A client is known by a SHA-256 of everything that identifies it (token URL, client
//!    id and secret, scope, audience, resource, client authentication), so a connection
//!    edited in any of these never sends a token obtained with its old settings.
//! 6. Tokens live in memory only, inside [`Secret`]: never stored, logged or shown; the
//!    stored request says `Authorization: Bearer ••••`.
//! 7. Time is passed in (`now`), so tests move it without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, Scope, StandardErrorResponse,
    TokenResponse, TokenUrl,
};
use sha2::{Digest, Sha256};

use super::attempt::{AttemptError, ErrorClass};
use crate::config::Secret;

pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
pub const FAILURE_HOLD: Duration = Duration::from_secs(5);
/// The most bytes of a token endpoint's answer read (tokens are small; JWTs a few KiB).
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// How the client proves itself to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the url-encoded id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// A connection's OAuth 2.0 client, secret in the clear (memory only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated, as the token endpoint expects it; may be empty.
    pub scope: String,
    /// Sent as `audience` when set (Auth0, Okta and others).
    pub audience: String,
    /// Sent as `resource` when set (RFC 8707; Microsoft Entra v1).
    pub resource: String,
    pub client_auth: ClientAuth,
}

impl OAuthClient {
    /// Rule 5: what tells two clients apart, hashed (the secret never leaves as is).
    fn key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [
            self.token_url.as_str(),
            self.client_id.as_str(),
            self.client_secret.expose(),
            self.scope.as_str(),
            self.audience.as_str(),
            self.resource.as_str(),
            match self.client_auth {
                ClientAuth::Basic => "basic",
                ClientAuth::Post => "post",
            },
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }
}

/// An access token and what the token endpoint said about it.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub obtained_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `expires_in` as the endpoint gave it.
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the endpoint said (it may grant fewer than asked).
    pub scopes: Option<Vec<String>>,
}

impl Token {
    /// Rule 2.
    fn usable_at(&self, now: DateTime<Utc>) -> bool {
        let lifetime = (self.expires_at - self.obtained_at)
            .to_std()
            .unwrap_or_default();
        let margin = (lifetime / 10).min(REFRESH_MARGIN);
        now + margin < self.expires_at
    }

    /// "expires in 3600 s (at …); scopes granted: a b" — for "Test connection".
    pub fn describe(&self) -> String {
        let expiry = match self.expires_in {
            Some(d) => format!(
                "expires in {} s (at {} UTC)",
                d.as_secs(),
                self.expires_at.format("%Y-%m-%d %H:%M:%S")
            ),
            None => format!("no expiry given; used for {} s", DEFAULT_LIFETIME.as_secs()),
        };
        let scopes = match &self.scopes {
            Some(s) if !s.is_empty() => format!("scopes granted: {}", s.join(" ")),
            Some(_) => "no scopes granted".to_owned(),
            None => "scopes granted: as requested (the endpoint did not list them)".to_owned(),
        };
        format!("{expiry}; {scopes}")
    }
}

enum Slot {
    Empty,
    Ready(Token),
    Failed {
        error: AttemptError,
        until: DateTime<Utc>,
    },
}

/// Where a token came from, for the attempt's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Fetched,
    Cached,
}

/// Tokens per client (rules 1, 2, 4, 5). Shared by every clone of a `Sender`.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<Slot>>>>,
}

/// Slots kept before idle ones are dropped (connections edited many times).
const MAX_SLOTS: usize = 256;

impl TokenCache {
    fn slot(&self, key: [u8; 32]) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= MAX_SLOTS && !slots.contains_key(&key) {
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Slot::Empty)))
            .clone()
    }

    /// A usable token for `client` at `now`: the cached one, or the one `fetch` gets
    /// (only one fetch per client runs at a time; the others wait for it).
    pub async fn token<F, Fut>(
        &self,
        client: &OAuthClient,
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<(Token, Source), AttemptError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Token, AttemptError>>,
    {
        let slot = self.slot(client.key());
        let mut s = slot.lock().await;
        match &*s {
            Slot::Ready(t) if t.usable_at(now) => return Ok((t.clone(), Source::Cached)),
            Slot::Failed { error, until } if now < *until => return Err(error.clone()),
            _ => {}
        }
        match fetch().await {
            Ok(t) => {
                *s = Slot::Ready(t.clone());
                Ok((t, Source::Fetched))
            }
            Err(e) => {
                *s = Slot::Failed {
                    error: e.clone(),
                    until: now + FAILURE_HOLD,
                };
                Err(e)
            }
        }
    }

    /// Rule 3: forget `used` if it is still the client's token.
    pub async fn reject(&self, client: &OAuthClient, used: &Secret) {
        let slot = self.slot(client.key());
        let mut s = slot.lock().await;
        if matches!(&*s, Slot::Ready(t) if t.value == *used) {
            *s = Slot::Empty;
        }
    }
}

fn auth_error(message: impl Into<String>) -> AttemptError {
    AttemptError {
        class: ErrorClass::Auth,
        message: message.into(),
    }
}

/// Why the token request itself failed (no answer, or one that could not be read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenHttpError(pub String);

/// Asks the token endpoint for a token. `send` performs one HTTP exchange through the
/// sender's client; every failure is an [`ErrorClass::Auth`] error naming the endpoint
/// and, when it said so, its `error` and `error_description`.
pub async fn fetch<S, Fut>(
    client: &OAuthClient,
    now: DateTime<Utc>,
    send: S,
) -> Result<Token, AttemptError>
where
    S: Fn(oauth2::HttpRequest) -> Fut,
    Fut: std::future::Future<Output = Result<oauth2::HttpResponse, TokenHttpError>>,
{
    let url = TokenUrl::new(client.token_url.clone())
        .map_err(|e| auth_error(format!("the token URL is not valid: {e}")))?;
    let oauth = BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_client_secret(ClientSecret::new(client.client_secret.expose().to_owned()))
        .set_token_uri(url)
        .set_auth_type(match client.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        });
    let mut request = oauth.exchange_client_credentials();
    for s in client.scope.split_whitespace() {
        request = request.add_scope(Scope::new(s.to_owned()));
    }
    if !client.audience.is_empty() {
        request = request.add_extra_param("audience", client.audience.clone());
    }
    if !client.resource.is_empty() {
        request = request.add_extra_param("resource", client.resource.clone());
    }
    let endpoint = &client.token_url;
    let answer = request.request_async(&send).await.map_err(|e| match e {
        RequestTokenError::ServerResponse(r) => refused(endpoint, &r),
        RequestTokenError::Request(e) => {
            auth_error(format!("token request to {endpoint} failed: {e}"))
        }
        RequestTokenError::Parse(e, body) => auth_error(format!(
            "the token endpoint {endpoint} answered something that is not a token ({}): {}",
            e.path(),
            excerpt(&body)
        )),
        RequestTokenError::Other(m) => {
            auth_error(format!("the token endpoint {endpoint} answered badly: {m}"))
        }
    })?;
    let expires_in = answer.expires_in();
    let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME);
    Ok(Token {
        value: Secret(answer.access_token().secret().clone()),
        obtained_at: now,
        expires_at: now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX),
        expires_in,
        scopes: answer
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
    })
}

/// The token endpoint's refusal: `error` (and `error_description`) as it gave them.
fn refused(endpoint: &str, r: &BasicErrorResponse) -> AttemptError {
    let r: &StandardErrorResponse<_> = r;
    let mut m = format!("the token endpoint {endpoint} refused: {}", r.error());
    if let Some(d) = r.error_description() {
        m.push_str(&format!(" ({d})"));
    }
    auth_error(m)
}

/// What a token answer that could not be read looked like, for an error message that
/// is stored and shown (rule 6): a 200 whose token the crate could not parse (an
/// `expires_in` sent as a string, no `token_type`) still carries a live token, so a JSON
/// object is described by its keys and the kinds of their values, and other text is
/// quoted only when it does not mention a token.
fn excerpt(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(body) {
        let kinds: Vec<String> = m
            .iter()
            .map(|(k, v)| {
                let kind = match v {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "boolean",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::Object(_) => "object",
                };
                format!("{k:?}: {kind}")
            })
            .collect();
        return format!("a JSON object of {{{}}}", kinds.join(", "));
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "an empty body".to_owned()
    } else if text.to_ascii_lowercase().contains("token") {
        format!(
            "{} bytes that are not JSON (not shown: they mention a token)",
            body.len()
        )
    } else {
        format!("{text:?}")
    }
}

/// Sends one token request with `client` (the sender's, already guarded by its caller)
/// within `timeout`, reading at most [`MAX_TOKEN_RESPONSE`] bytes.
pub async fn exchange(
    http: &reqwest::Client,
    req: oauth2::HttpRequest,
    timeout: Duration,
) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let (parts, body) = req.into_parts();
    let mut resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| TokenHttpError(super::classify::classify(&e).message))?;
    let mut out = oauth2::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| TokenHttpError(super::classify::classify(&e).message))?
    {
        if bytes.len() + chunk.len() > MAX_TOKEN_RESPONSE {
            return Err(TokenHttpError(format!(
                "the answer is larger than {MAX_TOKEN_RESPONSE} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    out.body(bytes)
        .map_err(|e| TokenHttpError(format!("unreadable answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        OAuthClient {
            token_url: "https://idp.example/token".into(),
            client_id: "hookdesk".into(),
            client_secret: Secret("s3cret".into()),
            scope: "tickets.write".into(),
            audience: String::new(),
            resource: String::new(),
            client_auth: ClientAuth::Basic,
        }
    }

    fn token(now: DateTime<Utc>, secs: u64) -> Token {
        Token {
            value: Secret(format!("tok-{secs}")),
            obtained_at: now,
            expires_at: now + chrono::Duration::seconds(secs as i64),
            expires_in: Some(Duration::from_secs(secs)),
            scopes: None,
        }
    }

    #[test]
    fn refreshed_shortly_before_expiry() {
        let now = Utc::now();
        let t = token(now, 3600);
        assert!(t.usable_at(now + chrono::Duration::seconds(3500)));
        assert!(!t.usable_at(now + chrono::Duration::seconds(3541)));
        // A short-lived token keeps most of its life: a tenth as margin.
        let t = token(now, 30);
        assert!(t.usable_at(now + chrono::Duration::seconds(26)));
        assert!(!t.usable_at(now + chrono::Duration::seconds(27)));
    }

    #[test]
    fn any_setting_makes_another_client() {
        let a = client();
        let mut b = client();
        assert_eq!(a.key(), b.key());
        b.client_secret = Secret("other".into());
        assert_ne!(a.key(), b.key());
        let mut c = client();
        c.client_auth = ClientAuth::Post;
        assert_ne!(a.key(), c.key());
    }

    #[tokio::test]
    async fn one_fetch_serves_many_and_a_rejected_token_is_dropped() {
        let cache = TokenCache::default();
        let c = client();
        let now = Utc::now();
        let (t, src) = cache
            .token(&c, now, || async { Ok(token(now, 3600)) })
            .await
            .unwrap();
        assert_eq!(src, Source::Fetched);
        let (_, src) = cache
            .token(&c, now, || async { panic!("must not fetch") })
            .await
            .unwrap();
        assert_eq!(src, Source::Cached);
        // A stale rejection (another token) changes nothing; the token's own does.
        cache.reject(&c, &Secret("older".into())).await;
        let (_, src) = cache
            .token(&c, now, || async { panic!("must not fetch") })
            .await
            .unwrap();
        assert_eq!(src, Source::Cached);
        cache.reject(&c, &t.value).await;
        let (_, src) = cache
            .token(&c, now, || async { Ok(token(now, 60)) })
            .await
            .unwrap();
        assert_eq!(src, Source::Fetched);
    }

    #[tokio::test]
    async fn a_failure_is_held_briefly() {
        let cache = TokenCache::default();
        let c = client();
        let now = Utc::now();
        let err = cache
            .token(&c, now, || async { Err(auth_error("down")) })
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Auth);
        let again = cache
            .token(&c, now + chrono::Duration::seconds(1), || async {
                panic!("must not fetch")
            })
            .await
            .unwrap_err();
        assert_eq!(again.message, "down");
        let later = now + chrono::Duration::from_std(FAILURE_HOLD).unwrap();
        assert!(
            cache
                .token(&c, later, || async { Ok(token(later, 60)) })
                .await
                .is_ok()
        );
    }
}
