//! Helpers for the runtime tests: a scripted HTTP server on 127.0.0.1 (a real server whose replies
//! the test chooses, to play a failing config or ingestion endpoint), snapshots, temp dirs.
#![allow(dead_code)]

pub mod admin;
#[allow(unused_imports)]
pub use admin::Admin;

use flate2::read::GzDecoder;
use serde_json::{Value, json};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the server saw it (body gunzipped when it was gzipped).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub gzipped: bool,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A reply the script chooses.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply { status, headers: Vec::new(), body: body.into(), delay: Duration::ZERO }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

type Script = Box<dyn FnMut(usize, &Seen) -> Reply + Send>;

/// A real HTTP server on 127.0.0.1 that answers each request with `script(n, request)`.
///
/// axum on a tokio runtime of its own thread: every connection is served as it opens, however
/// many open at once. (tiny_http 0.12, used here before, can leave a connection unserved behind
/// kept-alive ones when several open together; a client then times out and retries a batch the
/// server already has, which the spool tests would count as a duplicate.)
pub struct Scripted {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

struct ScriptState {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Mutex<Script>,
}

async fn scripted_reply(
    axum::extract::State(st): axum::extract::State<Arc<ScriptState>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let raw = axum::body::to_bytes(body, usize::MAX).await.map(|b| b.to_vec()).unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let gzipped = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip");
    let body = if gzipped {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..]).read_to_end(&mut out).expect("valid gzip");
        out
    } else {
        raw
    };
    let url = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let s = Seen { method: parts.method.to_string(), url, headers, body, gzipped, at: Instant::now() };
    let reply = {
        let mut g = st.seen.lock().expect("lock");
        g.push(s.clone());
        let n = g.len() - 1;
        // The script runs in arrival order, under the same lock as the record of the request.
        (st.script.lock().expect("lock"))(n, &s)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut r = axum::response::Response::new(axum::body::Body::from(reply.body));
    *r.status_mut() = axum::http::StatusCode::from_u16(reply.status).expect("status");
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) =
            (axum::http::HeaderName::from_bytes(k.as_bytes()), axum::http::HeaderValue::from_str(&v))
        {
            r.headers_mut().append(k, v);
        }
    }
    r
}

impl Scripted {
    pub fn start(script: impl FnMut(usize, &Seen) -> Reply + Send + 'static) -> Scripted {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), script)
    }

    pub fn start_on(addr: SocketAddr, script: impl FnMut(usize, &Seen) -> Reply + Send + 'static) -> Scripted {
        let listener = TcpListener::bind(addr).expect("bind scripted server");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let st = Arc::new(ScriptState { seen: seen.clone(), script: Mutex::new(Box::new(script)) });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(scripted_reply).with_state(st);
                // Stopping does not wait for replies still sleeping or connections still open.
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            // Connections a client still holds open are not waited for.
            rt.shutdown_background();
        });
        Scripted { addr, seen, stop: Some(stop), handle: Some(handle) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Every event of every POSTed batch, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|s| s.method == "POST")
            .flat_map(|s| s.json()["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A free port on 127.0.0.1 with nothing listening (bound, then released).
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A fresh temporary directory under target/ (removed by the next run of the same test).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A snapshot with one 50/50 experiment on `home` whose variant params carry the version, and a
/// flag `kill` (kill switch as given).
pub fn snapshot(version: u64) -> Value {
    json!({
        "schema_version": 1, "version": version,
        "placements": {"home": {"default_params": {"algo": "baseline", "v": version}}, "pdp": {"default_params": {"limit": 12}}},
        "experiments": [{
            "id": "e-home", "key": "home_algo", "status": "RUNNING", "placements": ["home"],
            "variants": [{"key": "control", "params": {"v": version}}, {"key": "treatment", "params": {"algo": "two_tower", "v": version}}],
            "allocation": {"weights": {"control": 50, "treatment": 50}}
        }],
        "flags": [{"key": "kill", "variants": {"off": false, "on": true}, "default_variant": "off", "kill_switch": false,
                   "rules": [{"kind": "target", "rollout": {"variant": "on"}}]}]
    })
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A `redis-server` of the test's own on 127.0.0.1 (so it can be killed and restarted), from
/// `VARIO_TEST_REDIS_SERVER` or the PATH. `None` (with a note) when there is none, unless
/// `VARIO_REQUIRE_SERVICES=1`, where that fails the test.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
    bin: String,
}

impl RedisServer {
    pub fn start() -> Option<RedisServer> {
        let bin = std::env::var("VARIO_TEST_REDIS_SERVER").ok().filter(|b| !b.is_empty()).or_else(|| {
            let out = std::process::Command::new("sh").args(["-c", "command -v redis-server"]).output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|p| !p.is_empty())
        });
        match bin {
            Some(b) => Some(RedisServer::start_on(&b, free_addr().port())),
            None if std::env::var("VARIO_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => {
                panic!("VARIO_REQUIRE_SERVICES=1 but redis-server is not installed")
            }
            None => {
                eprintln!("note: no redis-server: the Redis tests did not run");
                None
            }
        }
    }

    fn start_on(bin: &str, port: u16) -> RedisServer {
        let child = std::process::Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = RedisServer { child, port, bin: bin.to_string() };
        assert!(wait_until(Duration::from_secs(10), || r.conn().is_ok()), "redis-server did not come up on {port}");
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(1))
    }

    /// kill -9, then a new server on the same port (empty: nothing is saved).
    pub fn restart(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        *self = RedisServer::start_on(&self.bin.clone(), self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
