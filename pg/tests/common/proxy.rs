//! A TCP proxy between the store and the test server that really drops
//! connections at chosen points of a transaction: it reads the client's
//! PostgreSQL protocol messages, and when armed, cuts both sockets
//!
//! - right after forwarding a `BEGIN` (the statements pipelined behind it
//!   never reach the server: nothing can be written),
//! - instead of forwarding a `COMMIT` (the server never commits, but the
//!   client cannot know that), or
//! - after forwarding a `COMMIT` and seeing the server confirm it, without
//!   passing the confirmation on (committed, and the client cannot know).
//!
//! Each arming fires once, on the first matching message of any connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    CutAfterBegin,
    CutBeforeCommit,
    CutAfterCommit,
}

struct Shared {
    upstream: SocketAddr,
    mode: Mutex<Mode>,
    fired: AtomicU64,
}

impl Shared {
    /// Takes the armed mode if `want` matches it.
    fn take(&self, want: Mode) -> bool {
        let mut m = self.mode.lock().unwrap();
        if *m == want {
            *m = Mode::Pass;
            true
        } else {
            false
        }
    }
}

pub struct Proxy {
    pub port: u16,
    url: String,
    shared: Arc<Shared>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    /// A proxy to the server of `ALLOT_PG_URL`.
    pub fn start() -> Self {
        let cfg: tokio_postgres::Config = super::pg_url().parse().unwrap();
        let host = match &cfg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => panic!("the test server must be reached over TCP"),
        };
        let port = cfg.get_ports()[0];
        let upstream: SocketAddr = format!("{host}:{port}").parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let my_port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared { upstream, mode: Mutex::new(Mode::Pass), fired: AtomicU64::new(0) });
        rt.spawn(accept(listener, shared.clone()));
        let user = cfg.get_user().unwrap_or("postgres");
        let password = cfg.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let db = cfg.get_dbname().unwrap_or(user);
        let url = format!("postgres://{user}:{password}@127.0.0.1:{my_port}/{db}");
        Self { port: my_port, url, shared, _rt: rt }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn arm(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Whether the armed cut is still waiting for its message.
    pub fn armed(&self) -> bool {
        *self.shared.mode.lock().unwrap() != Mode::Pass
    }

    /// How many cuts happened.
    pub fn fired(&self) -> u64 {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(relay(client, shared.clone()));
    }
}

/// Length of the first whole message in `buf`, if there is one. Before the
/// startup message, messages have no type byte.
fn frame_len(buf: &[u8], typed: bool) -> Option<usize> {
    let (skip, at) = if typed { (1, 1) } else { (0, 0) };
    if buf.len() < at + 4 {
        return None;
    }
    let len = u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
    let total = skip + len;
    (buf.len() >= total).then_some(total)
}

/// The text of a simple-protocol query message, upper-cased.
fn query_text(msg: &[u8]) -> Option<String> {
    if msg.first() != Some(&b'Q') || msg.len() < 6 {
        return None;
    }
    let body = &msg[5..];
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    Some(String::from_utf8_lossy(&body[..end]).trim().to_ascii_uppercase())
}

const COMMIT_DONE: &[u8] = b"C\x00\x00\x00\x0bCOMMIT\x00";
const ROLLBACK_DONE: &[u8] = b"C\x00\x00\x00\x0dROLLBACK\x00";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(shared.upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let withhold = AtomicBool::new(false);
    let commit_seen = Notify::new();

    let server_to_client = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut held = Vec::new();
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if withhold.load(Ordering::SeqCst) {
                held.extend_from_slice(&buf[..n]);
                if contains(&held, COMMIT_DONE) || contains(&held, ROLLBACK_DONE) {
                    commit_seen.notify_one();
                }
                continue;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };

    let client_to_server = async {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut typed = false;
        let mut cut_next = false;
        loop {
            let n = match cr.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while let Some(len) = frame_len(&buf, typed) {
                let msg: Vec<u8> = buf.drain(..len).collect();
                if !typed {
                    // The startup message carries protocol 3.0; SSL and
                    // GSS requests before it do not.
                    typed = msg.len() >= 8 && msg[4..8] == [0, 3, 0, 0];
                } else if cut_next {
                    shared.fired.fetch_add(1, Ordering::SeqCst);
                    return;
                } else if let Some(q) = query_text(&msg) {
                    if q.starts_with("BEGIN") && shared.take(Mode::CutAfterBegin) {
                        cut_next = true;
                    } else if q == "COMMIT" && shared.take(Mode::CutBeforeCommit) {
                        shared.fired.fetch_add(1, Ordering::SeqCst);
                        return;
                    } else if q == "COMMIT" && shared.take(Mode::CutAfterCommit) {
                        withhold.store(true, Ordering::SeqCst);
                        if sw.write_all(&msg).await.is_err() {
                            return;
                        }
                        let _ = tokio::time::timeout(Duration::from_secs(10), commit_seen.notified()).await;
                        shared.fired.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
                if sw.write_all(&msg).await.is_err() {
                    return;
                }
            }
        }
    };

    // When either side ends (or a cut returns), both sockets are dropped.
    tokio::select! {
        _ = server_to_client => {}
        _ = client_to_server => {}
    }
}
