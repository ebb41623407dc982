//! The webhook receiver of `hookdesk bench-e2e`, in a process of its own (the same
//! executable run as `hookdesk bench-e2e-receiver`), so its CPU is never counted as
//! Hookdesk's and a slow receiver shows as one.
//!
//! One HTTP listener answers `POST /{tag}/…` with 200 and records, per request, the
//! arrival time, the `webhook-id`, the `stamp` the bench put in the body, and whether
//! the Standard Webhooks signature and the bearer token check out. It verifies every
//! request rather than a sample: HMAC-SHA256 of a few hundred bytes costs about a
//! microsecond, less than the HTTP parsing around it. A second listener accepts
//! connections and reads requests but never answers: the noisy neighbour.
//!
//! `/_ctl/…` is the bench's control channel: the keys to verify with, running counts,
//! and the records (taken and cleared once per run).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::now_us;

/// What the receiver saw of one request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Arrival, microseconds since the Unix epoch (the bench's clock: same machine).
    pub at_us: i64,
    /// The first path segment: `a` and `b` are Hookdesk's two healthy connections, `raw`
    /// the bare client that measures the ceiling.
    pub tag: String,
    /// The `webhook-id` header.
    pub id: String,
    /// The body's `stamp`: `<run>-<seq>-<sent µs>`.
    pub stamp: String,
    /// The signature verified against the connection's signing secret.
    pub signed: bool,
    /// `Authorization: Bearer <the connection's token>` was sent.
    pub authed: bool,
}

/// The secret and token the requests must carry (known once the bench configured the
/// connection through the API).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Keys {
    /// `whsec_…`
    pub secret: String,
    pub bearer: String,
}

/// Requests seen so far, by tag, and what the hung listener has swallowed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub by_tag: BTreeMap<String, u64>,
    pub hung_connections: u64,
    pub hung_bytes: u64,
}

#[derive(Default)]
struct State {
    records: Mutex<Vec<Record>>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// Key bytes and the whole expected `Authorization` value.
    keys: RwLock<Option<(Vec<u8>, String)>>,
    hung_connections: AtomicU64,
    hung_bytes: AtomicU64,
}

/// Standard Webhooks verification, written here rather than borrowed from the sender so
/// that the bench checks Hookdesk's signing instead of agreeing with it: `v1,<base64
/// HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, any of the space-separated
/// signatures, and a timestamp within the usual five minutes.
pub fn verify(key: &[u8], id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now_us() / 1_000_000 - ts).abs() > 300 {
        return false;
    }
    let expected = format!("v1,{}", B64.encode(hmac(key, id, timestamp, body)));
    signatures.split(' ').any(|s| s == expected)
}

fn hmac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; an empty result simply never matches.
        return Vec::new();
    };
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The signature header value for the raw-ceiling client's requests.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        B64.encode(hmac(key, id, &timestamp.to_string(), body))
    )
}

/// Key bytes of a `whsec_` secret.
pub fn secret_key(secret: &str) -> anyhow::Result<Vec<u8>> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    Ok(B64.decode(b64.trim())?)
}

#[derive(serde::Deserialize)]
struct Probe {
    #[serde(default)]
    stamp: String,
}

async fn hook(
    req: HttpRequest,
    tag: web::Path<(String, String)>,
    body: web::Bytes,
    st: web::Data<State>,
) -> HttpResponse {
    let at_us = now_us();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = header("webhook-id");
    let (signed, authed) = match &*st.keys.read().unwrap_or_else(PoisonError::into_inner) {
        Some((key, auth)) => (
            verify(
                key,
                id,
                header("webhook-timestamp"),
                &body,
                header("webhook-signature"),
            ),
            header("authorization") == auth,
        ),
        None => (false, false),
    };
    let stamp = serde_json::from_slice::<Probe>(&body)
        .map(|p| p.stamp)
        .unwrap_or_default();
    let tag = tag.into_inner().0;
    *st.counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(tag.clone())
        .or_default() += 1;
    st.records
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Record {
            at_us,
            tag,
            id: id.to_owned(),
            stamp,
            signed,
            authed,
        });
    HttpResponse::Ok().finish()
}

async fn set_keys(keys: web::Json<Keys>, st: web::Data<State>) -> actix_web::Result<HttpResponse> {
    let key = secret_key(&keys.secret).map_err(actix_web::error::ErrorBadRequest)?;
    *st.keys.write().unwrap_or_else(PoisonError::into_inner) =
        Some((key, format!("Bearer {}", keys.bearer)));
    Ok(HttpResponse::NoContent().finish())
}

async fn counts(st: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(Counts {
        by_tag: st
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
        hung_connections: st.hung_connections.load(Ordering::Relaxed),
        hung_bytes: st.hung_bytes.load(Ordering::Relaxed),
    })
}

async fn take(st: web::Data<State>) -> HttpResponse {
    let records = std::mem::take(&mut *st.records.lock().unwrap_or_else(PoisonError::into_inner));
    HttpResponse::Ok().json(records)
}

/// Accepts connections and reads whatever comes, never answering, until the client
/// gives up.
async fn hang(listener: tokio::net::TcpListener, st: web::Data<State>) {
    use tokio::io::AsyncReadExt;
    while let Ok((mut sock, _)) = listener.accept().await {
        st.hung_connections.fetch_add(1, Ordering::Relaxed);
        let st = st.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = sock.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                st.hung_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
    }
}

/// The receiver process: prints `READY <port> <hung port>`, serves until its standard
/// input closes (the bench exited, however it exited).
pub fn main(workers: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let st = web::Data::new(State::default());
        let data = st.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .route("/_ctl/keys", web::post().to(set_keys))
                .route("/_ctl/counts", web::get().to(counts))
                .route("/_ctl/take", web::post().to(take))
                .route("/{tag}/{rest:.*}", web::post().to(hook))
        })
        .workers(workers.max(1))
        .backlog(4096)
        .bind("127.0.0.1:0")?;
        let port = server
            .addrs()
            .first()
            .map(|a| a.port())
            .ok_or_else(|| anyhow::anyhow!("the receiver has no address"))?;
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let hung_port = hung.local_addr()?.port();
        tokio::spawn(hang(hung, st));
        let server = server.run();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            // The bench is gone: stop rather than linger as an orphan.
            std::process::exit(0);
        });
        println!("READY {port} {hung_port}");
        std::io::stdout().flush()?;
        server.await?;
        Ok(())
    })
}

/// The bench's side: the child process and its control channel.
pub struct Receiver {
    child: Child,
    pub port: u16,
    pub hung_port: u16,
    ctl: reqwest::Client,
}

impl Receiver {
    pub fn spawn(
        exe: &std::path::Path,
        dir: &std::path::Path,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let mut child = Command::new(exe)
            .args(["bench-e2e-receiver", "--workers", &workers.to_string()])
            .env_clear()
            .current_dir(dir)
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no receiver stdout"))?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let (Some("READY"), Some(p), Some(h)) = (parts.next(), parts.next(), parts.next()) else {
            let _ = child.kill();
            anyhow::bail!("the receiver did not start: {line:?}");
        };
        Ok(Self {
            port: p.parse()?,
            hung_port: h.parse()?,
            child,
            ctl: reqwest::Client::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn set_keys(&self, keys: &Keys) -> anyhow::Result<()> {
        self.ctl
            .post(self.url("/_ctl/keys"))
            .json(keys)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    pub async fn counts(&self) -> anyhow::Result<Counts> {
        Ok(self
            .ctl
            .get(self.url("/_ctl/counts"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Every record since the last take.
    pub async fn take(&self) -> anyhow::Result<Vec<Record>> {
        Ok(self
            .ctl
            .post(self.url("/_ctl/take"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Waits until the requests tagged `tag` reach `target` (counted from the start), or
    /// `limit` passes without progress; returns the count reached.
    pub async fn wait_for(&self, tag: &str, target: u64, limit: Duration) -> anyhow::Result<u64> {
        let mut last = 0;
        let mut progress_at = Instant::now();
        loop {
            let n = self.counts().await?.by_tag.get(tag).copied().unwrap_or(0);
            if n >= target {
                return Ok(n);
            }
            if n != last {
                last = n;
                progress_at = Instant::now();
            } else if progress_at.elapsed() > limit {
                return Ok(n);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
