//! A webhook receiver tests start on 127.0.0.1:0: a small HTTP/1.1 server written on raw
//! TCP so it can misbehave on purpose (hang, trickle, endless bodies, gzip bombs, NTLM),
//! and that records every request with the connection it came on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Answer with `status` after `delay`.
    Delay(Duration, u16),
    /// Read the request, never answer.
    Hang,
    /// Headers at once, then a `len`-byte body one byte per `every`.
    Trickle {
        len: usize,
        every: Duration,
    },
    /// A 200 claiming `len` bytes, written in 64 KiB chunks until the client goes away.
    Huge {
        len: u64,
    },
    /// A small gzip body that inflates to 1 GiB, sent with `Content-Encoding: gzip`.
    GzipBomb,
    /// `302` to `location`.
    Redirect(String),
    /// 503 to the first attempt of every `n`th new `webhook-id` (in order of first
    /// arrival), 200 to everything else: a receiver that fails now and then.
    FailFirstOfEvery(usize),
    /// Whatever the function answers to each request: a token endpoint, a receiver that
    /// accepts only some bearer tokens.
    Custom(Respond),
    /// Demand NTLM; after a valid NTLMv2 handshake on one connection, answer `then`.
    Ntlm {
        user: String,
        password: String,
        domain: String,
        then: u16,
    },
}

/// Status, headers and body of an answer.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// An answer computed from the request.
#[derive(Clone)]
pub struct Respond(pub Arc<dyn Fn(&Received) -> Answer + Send + Sync>);

impl std::fmt::Debug for Respond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Respond(..)")
    }
}

impl Respond {
    pub fn new(f: impl Fn(&Received) -> Answer + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

/// What the receiver saw in a type 3 message.
#[derive(Debug, Clone)]
pub struct NtlmSeen {
    pub user: String,
    pub domain: String,
    pub workstation: String,
    /// The NTLMv2 proof matched the password the receiver was given.
    pub proof_ok: bool,
}

#[derive(Debug, Clone)]
pub struct Received {
    /// Which TCP connection (1, 2, …) it arrived on.
    pub conn: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub ntlm: Option<NtlmSeen>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    reply: Mutex<Reply>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    conns: AtomicU64,
    /// Body bytes written by `Huge` before the client closed.
    huge_written: AtomicU64,
    huge_closed: Notify,
    huge_done: Mutex<bool>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Receiver {
    pub async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            reply: Mutex::new(reply),
            received: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            conns: AtomicU64::new(0),
            huge_written: AtomicU64::new(0),
            huge_closed: Notify::new(),
            huge_done: Mutex::new(false),
        });
        let (stop, stop_rx) = watch::channel(false);
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let mut stop_rx2 = stop_rx.clone();
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { return };
                        let conn = st.conns.fetch_add(1, Ordering::SeqCst) + 1;
                        let st = st.clone();
                        let mut stop_rx3 = stop_rx.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = serve(stream, conn, st) => {}
                                _ = stop_rx3.changed() => {}
                            }
                        });
                    }
                    _ = stop_rx2.changed() => return,
                }
            }
        });
        Self { addr, state, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_reply(&self, reply: Reply) {
        *self.state.reply.lock().unwrap() = reply;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u64 {
        self.state.conns.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let waiting = async {
            loop {
                let notified = self.state.arrived.notified();
                let got = self.received();
                if got.len() >= n {
                    return got;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .unwrap_or_else(|_| panic!("{n} request(s) did not arrive; got {:?}", self.received()))
    }

    /// Waits (up to 10 s) until the client dropped a `Huge` answer; returns bytes written.
    pub async fn huge_closed(&self) -> u64 {
        let waiting = async {
            loop {
                let notified = self.state.huge_closed.notified();
                if *self.state.huge_done.lock().unwrap() {
                    return self.state.huge_written.load(Ordering::SeqCst);
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the client never closed the huge response")
    }
}

async fn serve(stream: TcpStream, conn: u64, st: Arc<State>) {
    let mut reader = BufReader::new(stream);
    // The NTLM server challenge issued on this connection, if any.
    let mut pending_challenge: Option<[u8; 8]> = None;
    loop {
        let Some(mut req) = read_request(&mut reader, conn).await else {
            return;
        };
        let reply = st.reply.lock().unwrap().clone();
        let mut recorded = false;
        let response = match &reply {
            Reply::Ntlm {
                user,
                password,
                domain,
                then,
            } => {
                let (seen, resp) =
                    ntlm_step(&req, &mut pending_challenge, user, password, domain, *then);
                req.ntlm = seen;
                Some(resp)
            }
            Reply::FailFirstOfEvery(n) => {
                // Decided and recorded under one lock: two requests arriving together
                // must not both count as the same "nth new one".
                let mut got = st.received.lock().unwrap();
                let id = req.header("webhook-id").unwrap_or_default().to_owned();
                let first = !got
                    .iter()
                    .any(|r| r.header("webhook-id") == Some(id.as_str()));
                let mut ids: Vec<&str> =
                    got.iter().filter_map(|r| r.header("webhook-id")).collect();
                ids.sort_unstable();
                ids.dedup();
                let k = ids.len() + 1;
                let fail = first && k.is_multiple_of(*n);
                got.push(req.clone());
                recorded = true;
                Some(head(if fail { 503 } else { 200 }, &[], 0))
            }
            Reply::Custom(f) => {
                let (status, headers, body) = (f.0)(&req);
                let mut out = head(status, &headers, body.len() as u64);
                out.extend_from_slice(&body);
                Some(out)
            }
            _ => None,
        };
        if !recorded {
            st.received.lock().unwrap().push(req);
        }
        st.arrived.notify_waiters();
        let stream = reader.get_mut();
        let ok = match (response, reply) {
            (Some(bytes), _) => stream.write_all(&bytes).await.is_ok(),
            (None, Reply::Status(s)) => stream.write_all(&head(s, &[], 0)).await.is_ok(),
            (
                None,
                Reply::Full {
                    status,
                    headers,
                    body,
                },
            ) => {
                let mut out = head(status, &headers, body.len() as u64);
                out.extend_from_slice(&body);
                stream.write_all(&out).await.is_ok()
            }
            (None, Reply::Delay(d, s)) => {
                tokio::time::sleep(d).await;
                stream.write_all(&head(s, &[], 0)).await.is_ok()
            }
            (None, Reply::Hang) => std::future::pending().await,
            (None, Reply::Trickle { len, every }) => {
                if stream.write_all(&head(200, &[], len as u64)).await.is_err() {
                    return;
                }
                for _ in 0..len {
                    tokio::time::sleep(every).await;
                    if stream.write_all(b"x").await.is_err() {
                        return;
                    }
                }
                true
            }
            (None, Reply::Huge { len }) => {
                let _ = stream.write_all(&head(200, &[], len)).await;
                let chunk = vec![b'h'; 64 * 1024];
                let mut written = 0u64;
                while written < len {
                    if stream.write_all(&chunk).await.is_err() {
                        break;
                    }
                    written += chunk.len() as u64;
                    st.huge_written.store(written, Ordering::SeqCst);
                }
                *st.huge_done.lock().unwrap() = true;
                st.huge_closed.notify_waiters();
                return;
            }
            (None, Reply::GzipBomb) => {
                let body = gzip_bomb();
                let headers = vec![("Content-Encoding".to_owned(), "gzip".to_owned())];
                let mut out = head(200, &headers, body.len() as u64);
                out.extend_from_slice(&body);
                stream.write_all(&out).await.is_ok()
            }
            (None, Reply::Redirect(location)) => {
                let headers = vec![("Location".to_owned(), location)];
                stream.write_all(&head(302, &headers, 0)).await.is_ok()
            }
            (None, Reply::Ntlm { .. } | Reply::FailFirstOfEvery(_) | Reply::Custom(_)) => {
                unreachable!()
            }
        };
        if !ok {
            return;
        }
    }
}

async fn read_request(reader: &mut BufReader<TcpStream>, conn: u64) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await.ok()?;
    Some(Received {
        conn,
        method,
        path,
        headers,
        body,
        ntlm: None,
    })
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever")
}

fn head(status: u16, headers: &[(String, String)], len: u64) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    out.into_bytes()
}

/// 1,024 concatenated gzip members of 1 MiB of zeros each: ~1 MiB on the wire, 1 GiB
/// once inflated (any gzip decoder reads concatenated members as one stream).
fn gzip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1024 * 1024]).unwrap();
    let member = enc.finish().unwrap();
    member.repeat(1024)
}

/// One step of the server side of NTLM on this connection: returns what it saw and the
/// raw response to write.
fn ntlm_step(
    req: &Received,
    pending: &mut Option<[u8; 8]>,
    user: &str,
    password: &str,
    domain: &str,
    then: u16,
) -> (Option<NtlmSeen>, Vec<u8>) {
    let demand = || {
        head(
            401,
            &[("WWW-Authenticate".to_owned(), "NTLM".to_owned())],
            0,
        )
    };
    let Some(token) = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("NTLM "))
    else {
        return (None, demand());
    };
    let bytes = B64.decode(token.trim()).unwrap();
    match ntlmclient::Message::try_from(bytes.as_slice()).unwrap() {
        ntlmclient::Message::Negotiate(_) => {
            let challenge: [u8; 8] = rand::random();
            *pending = Some(challenge);
            let msg = ntlmclient::Message::Challenge(ntlmclient::ChallengeMessage {
                target_name: domain.to_owned(),
                flags: ntlmclient::Flags::NEGOTIATE_UNICODE
                    | ntlmclient::Flags::NEGOTIATE_NTLM
                    | ntlmclient::Flags::REQUEST_TARGET
                    | ntlmclient::Flags::NEGOTIATE_TARGET_INFO,
                challenge,
                context: (0, 0),
                target_information: vec![
                    ntlmclient::TargetInfoEntry::from_string(
                        ntlmclient::TargetInfoType::NtDomain,
                        domain,
                    ),
                    ntlmclient::TargetInfoEntry::from_string(
                        ntlmclient::TargetInfoType::NtServer,
                        "RECEIVER",
                    ),
                ],
                os_version: Default::default(),
            });
            let b64 = B64.encode(msg.to_bytes().unwrap());
            let headers = vec![("WWW-Authenticate".to_owned(), format!("NTLM {b64}"))];
            (None, head(401, &headers, 0))
        }
        ntlmclient::Message::Authenticate(a) => {
            // Type 3 is only valid on the connection that got the challenge.
            let Some(challenge) = pending.take() else {
                return (None, demand());
            };
            let proof_ok = verify_ntlmv2(&a, challenge, user, password, domain);
            let seen = NtlmSeen {
                user: a.user_name.clone(),
                domain: a.domain_name.clone(),
                workstation: a.workstation_name.clone(),
                proof_ok,
            };
            let ok = proof_ok && a.user_name == user && a.domain_name == domain;
            (Some(seen), if ok { head(then, &[], 0) } else { demand() })
        }
        other => panic!("unexpected NTLM message {other:?}"),
    }
}

/// NTLMv2 (MS-NLMP 3.3.2), written out here rather than taken from the client crate:
/// NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain));
/// the response is NTProofStr (16 bytes) + blob, NTProofStr = HMAC-MD5(NTOWFv2,
/// server challenge + blob).
fn verify_ntlmv2(
    a: &ntlmclient::AuthenticateMessage,
    challenge: [u8; 8],
    user: &str,
    password: &str,
    domain: &str,
) -> bool {
    use hmac::{Hmac, Mac};
    use md4::Digest;
    type HmacMd5 = Hmac<md5::Md5>;
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    if a.ntlm_response.len() <= 16 {
        return false;
    }
    let nt_hash = md4::Md4::digest(utf16(password));
    let mut mac = HmacMd5::new_from_slice(&nt_hash).unwrap();
    mac.update(&utf16(&format!("{}{domain}", user.to_uppercase())));
    let ntowf = mac.finalize().into_bytes();
    let (proof, blob) = a.ntlm_response.split_at(16);
    let mut mac = HmacMd5::new_from_slice(&ntowf).unwrap();
    mac.update(&challenge);
    mac.update(blob);
    mac.verify_slice(proof).is_ok()
}
