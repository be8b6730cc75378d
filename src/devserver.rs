//! A development server: a config endpoint that serves a snapshot file (or a folder of them) with
//! ETags, and an ingestion endpoint that appends events to a JSONL file, exactly once per
//! `event_id`. Run it with `vario dev-server` or start it in-process (tests, the demo).

use flate2::read::GzDecoder;
use rustc_hash::FxHashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, Server};

/// Counters of what the dev server received.
#[derive(Debug, Default)]
pub struct DevStats {
    /// Config requests answered 200.
    pub config_served: AtomicU64,
    /// Config requests answered 304.
    pub config_not_modified: AtomicU64,
    /// Ingestion batches accepted.
    pub batches: AtomicU64,
    /// Events written (first time their `event_id` was seen).
    pub events: AtomicU64,
    /// Events skipped because their `event_id` was already written.
    pub duplicates: AtomicU64,
}

/// Options of a [`DevServer`].
#[derive(Debug, Clone)]
pub struct DevServerOptions {
    /// A snapshot file (served at every GET path) or a folder (GET `/<file name>`).
    pub snapshot: PathBuf,
    /// Where accepted events are appended, one JSON object per line.
    pub events_out: PathBuf,
    /// Address to bind; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Worker threads.
    pub workers: usize,
}

/// A running dev server; stops when dropped.
pub struct DevServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
    /// What it received.
    pub stats: Arc<DevStats>,
}

struct State {
    opts: DevServerOptions,
    /// 128-bit hashes of the event ids written (a collision is a 2^-128 event; a dev server that
    /// ingests millions of events keeps 16 bytes each instead of a string).
    seen: Mutex<(FxHashSet<u128>, std::io::BufWriter<std::fs::File>)>,
    stats: Arc<DevStats>,
}

impl DevServer {
    /// Binds and starts serving.
    pub fn start(opts: DevServerOptions) -> std::io::Result<DevServer> {
        let server = Arc::new(Server::http(opts.bind).map_err(std::io::Error::other)?);
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("dev server is not bound to an IP address"))?;
        if let Some(dir) = opts.events_out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Events already in the file count as seen, so a restarted server stays exactly-once.
        let mut seen = FxHashSet::default();
        if let Ok(text) = std::fs::read_to_string(&opts.events_out) {
            for line in text.lines() {
                if let Some(id) = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("event_id").and_then(|i| i.as_str()).map(str::to_owned))
                {
                    seen.insert(id_hash(&id));
                }
            }
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&opts.events_out)?;
        let stats = Arc::new(DevStats::default());
        let state = Arc::new(State {
            seen: Mutex::new((seen, std::io::BufWriter::new(file))),
            stats: stats.clone(),
            opts: opts.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for i in 0..opts.workers.max(1) {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            handles.push(std::thread::Builder::new().name(format!("vario-dev-{i}")).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(Duration::from_millis(100)) {
                        Ok(Some(req)) => handle(&state, req),
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })?);
        }
        Ok(DevServer { addr, server, stop, handles, stats })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn get_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().iter().find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

fn respond(req: Request, status: u16, body: &str) {
    let mut r = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("content-type", "application/json") {
        r.add_header(h);
    }
    let _ = req.respond(r);
}

fn handle(state: &State, req: Request) {
    match req.method() {
        Method::Get => serve_config(state, req),
        Method::Post => ingest(state, req),
        _ => respond(req, 405, r#"{"error":"method not allowed"}"#),
    }
}

fn serve_config(state: &State, req: Request) {
    let path = if state.opts.snapshot.is_dir() {
        let name = req.url().trim_start_matches('/').split('?').next().unwrap_or("");
        if name.is_empty() || name.contains("..") || name.contains('/') {
            return respond(req, 404, r#"{"error":"no such snapshot"}"#);
        }
        state.opts.snapshot.join(name)
    } else {
        state.opts.snapshot.clone()
    };
    let Ok(body) = std::fs::read(&path) else {
        return respond(req, 404, r#"{"error":"no such snapshot"}"#);
    };
    let etag = format!("\"{:08x}-{}\"", xxhash_rust::xxh32::xxh32(&body, 0), body.len());
    if get_header(&req, "if-none-match") == Some(etag.as_str()) {
        state.stats.config_not_modified.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::empty(304);
        if let Some(h) = header("etag", &etag) {
            r.add_header(h);
        }
        let _ = req.respond(r);
        return;
    }
    let gzip = get_header(&req, "accept-encoding").is_some_and(|v| v.contains("gzip")) && body.len() > 1024;
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match enc.write_all(&body).and_then(|_| enc.finish()) {
            Ok(z) => z,
            Err(_) => return respond(req, 500, r#"{"error":"gzip"}"#),
        }
    } else {
        body
    };
    state.stats.config_served.fetch_add(1, Ordering::Relaxed);
    let mut r = Response::from_data(body);
    for (k, v) in [("etag", etag.as_str()), ("content-type", "application/json")] {
        if let Some(h) = header(k, v) {
            r.add_header(h);
        }
    }
    if gzip {
        if let Some(h) = header("content-encoding", "gzip") {
            r.add_header(h);
        }
    }
    let _ = req.respond(r);
}

fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// Fast path: an `event_id` without escapes near the start of the event (where Vario writes it),
/// found without parsing the rest; anything else takes the full parse.
fn event_id(ev: &str) -> Option<std::borrow::Cow<'_, str>> {
    const KEY: &str = "\"event_id\":\"";
    let head = ev.get(..ev.len().min(160))?;
    let at = head.find(KEY)? + KEY.len();
    let rest = &ev[at..];
    let end = rest.find('"')?;
    let id = &rest[..end];
    if id.contains('\\') || head[..at - KEY.len()].contains("\"event_id\"") {
        return None;
    }
    Some(std::borrow::Cow::Borrowed(id))
}

fn ingest(state: &State, mut req: Request) {
    let gz = get_header(&req, "content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let mut raw = Vec::new();
    if req.as_reader().read_to_end(&mut raw).is_err() {
        return respond(req, 400, r#"{"error":"unreadable body"}"#);
    }
    let body = if gz {
        let mut out = Vec::new();
        if GzDecoder::new(&raw[..]).read_to_end(&mut out).is_err() {
            return respond(req, 400, r#"{"error":"bad gzip"}"#);
        }
        out
    } else {
        raw
    };
    #[derive(serde::Deserialize)]
    struct Batch<'a> {
        #[serde(borrow)]
        events: Vec<&'a serde_json::value::RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        event_id: std::borrow::Cow<'a, str>,
    }
    let Ok(batch) = serde_json::from_slice::<Batch<'_>>(&body) else {
        return respond(req, 400, r#"{"error":"body is not a batch"}"#);
    };
    let (mut accepted, mut dup) = (0u64, 0u64);
    {
        let mut g = state.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (seen, out) = &mut *g;
        for ev in &batch.events {
            let Some(id) =
                event_id(ev.get()).or_else(|| serde_json::from_str::<Id<'_>>(ev.get()).ok().map(|i| i.event_id))
            else {
                continue;
            };
            if seen.insert(id_hash(&id)) {
                let _ = out.write_all(ev.get().as_bytes());
                let _ = out.write_all(b"\n");
                accepted += 1;
            } else {
                dup += 1;
            }
        }
        let _ = out.flush();
    }
    state.stats.batches.fetch_add(1, Ordering::Relaxed);
    state.stats.events.fetch_add(accepted, Ordering::Relaxed);
    state.stats.duplicates.fetch_add(dup, Ordering::Relaxed);
    respond(req, 200, &format!(r#"{{"accepted":{accepted},"duplicates":{dup}}}"#));
}
