//! A development server: a config endpoint that serves a snapshot file (or a folder of them) with
//! ETags, signed when given a signing key (contract/snapshot.md "Signed snapshots"), and an ingestion endpoint that appends events to a JSONL file, exactly once per
//! `event_id`. Run it with `vario dev-server` or start it in-process (tests, the demo).
//!
//! It speaks a small subset of HTTP/1.1 itself (keep-alive, `Content-Length` and chunked request
//! bodies) with one thread per connection. A thread-pool server would let idle keep-alive
//! connections (every client process holds two: config and ingestion) starve new ones; here a
//! connection never waits for another.

use flate2::read::GzDecoder;
use rustc_hash::FxHashSet;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vario_core::signing::{SigningKey, sign_snapshot};

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
    /// Ingestion requests being answered right now.
    pub ingest_in_flight: AtomicU64,
    /// The most ingestion requests ever answered at once (how many batches a client had in flight).
    pub ingest_in_flight_max: AtomicU64,
    /// Bytes of ingestion bodies received, as sent (compressed or not).
    pub ingest_bytes: AtomicU64,
}

/// How the ingestion endpoint answers. The default answers at once, after writing the events.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestMode {
    /// Every ingestion request is answered this long after it was read: an endpoint that far
    /// away. Each connection has its own thread, so concurrent requests wait side by side.
    pub delay: Duration,
    /// Answer 200 without decompressing, parsing or writing the batch (only `batches` and
    /// `ingest_bytes` count it): an endpoint that queues the work elsewhere, so a benchmark
    /// measures the client rather than this server's share of a 2-core machine.
    pub ack_only: bool,
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
    /// Serve each snapshot signed with this key: the signed envelope
    /// ([`vario_core::signing::sign_snapshot`]) of the file's bytes, for clients with
    /// `snapshot_public_key`. `None`: the file as it is.
    pub signing_key: Option<SigningKey>,
}

/// A running dev server; stops when dropped (open connections are shut down).
pub struct DevServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<HashMap<u64, TcpStream>>>,
    /// What it received.
    pub stats: Arc<DevStats>,
}

struct State {
    opts: DevServerOptions,
    mode: IngestMode,
    /// 128-bit hashes of the event ids written (a collision is a 2^-128 event; a dev server that
    /// ingests millions of events keeps 16 bytes each instead of a string).
    seen: Mutex<(FxHashSet<u128>, std::io::BufWriter<std::fs::File>)>,
    stats: Arc<DevStats>,
}

impl DevServer {
    /// Binds and starts serving.
    pub fn start(opts: DevServerOptions) -> std::io::Result<DevServer> {
        Self::start_with(opts, IngestMode::default())
    }

    /// Binds and starts serving, the ingestion endpoint answering as `mode` says.
    pub fn start_with(opts: DevServerOptions, mode: IngestMode) -> std::io::Result<DevServer> {
        let listener = TcpListener::bind(opts.bind)?;
        let addr = listener.local_addr()?;
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
            // A batch is written in one go (flushed per batch): with the default 8 KiB buffer,
            // most page-cache pages were written partially, and the kernel zeroed each first.
            seen: Mutex::new((seen, std::io::BufWriter::with_capacity(4 << 20, file))),
            stats: stats.clone(),
            opts: opts.clone(),
            mode,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let (stop2, conns2) = (stop.clone(), conns.clone());
        let accept = std::thread::Builder::new().name("vario-dev-accept".into()).spawn(move || {
            let mut next_id = 0u64;
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                next_id += 1;
                let id = next_id;
                if let Ok(clone) = stream.try_clone() {
                    conns2.lock().unwrap_or_else(|p| p.into_inner()).insert(id, clone);
                }
                let (state, conns) = (state.clone(), conns2.clone());
                let spawned = std::thread::Builder::new().name("vario-dev-conn".into()).spawn(move || {
                    serve_connection(&state, stream);
                    conns.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                });
                if spawned.is_err() {
                    conns2.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                }
            }
        })?;
        Ok(DevServer { addr, stop, accept: Some(accept), conns, stats })
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
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection of our own, then end every open connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for (_, c) in self.conns.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A response to write.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn json(status: u16, body: &str) -> Response {
    Response { status, headers: vec![("content-type", "application/json".into())], body: body.as_bytes().to_vec() }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 512 * 1024 * 1024;

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

/// Reads one line (CRLF or LF), counting it against the head budget.
fn read_line(r: &mut impl BufRead, budget: &mut usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = r.by_ref().take(*budget as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(bad("request head too large"));
    }
    *budget -= n;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map(Some).map_err(|_| bad("request head is not UTF-8"))
}

/// Reads the next request of a connection; `None` at a clean end of the connection.
fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue, // tolerated between requests
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("malformed request line"));
    };
    let mut headers = Vec::new();
    loop {
        let Some(h) = read_line(r, &mut budget)? else { return Err(bad("connection closed in the head")) };
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else { return Err(bad("malformed header")) };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut req = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        keep_alive: version == "HTTP/1.1",
        headers,
        body: Vec::new(),
    };
    match req.header("connection").map(str::to_ascii_lowercase) {
        Some(c) if c.contains("close") => req.keep_alive = false,
        Some(c) if c.contains("keep-alive") => req.keep_alive = true,
        _ => {}
    }
    if req.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        loop {
            let size_line = read_line(r, &mut budget)?.ok_or_else(|| bad("truncated chunk"))?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                while read_line(r, &mut budget)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            let at = req.body.len();
            req.body.resize(at + size, 0);
            r.read_exact(&mut req.body[at..])?;
            read_line(r, &mut budget)?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if len > MAX_BODY {
            return Err(bad("body too large"));
        }
        req.body = vec![0; len];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn write_response(w: &mut impl Write, resp: &Response, keep_alive: bool) -> std::io::Result<()> {
    let reason = match resp.status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\ncontent-length: {}\r\n", resp.status, resp.body.len());
    head.push_str(if keep_alive { "connection: keep-alive\r\n" } else { "connection: close\r\n" });
    for (k, v) in &resp.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body)?;
    w.flush()
}

fn serve_connection(state: &State, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    // An idle keep-alive connection is closed after a minute.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(write_half) = stream.try_clone() else { return };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut writer = std::io::BufWriter::new(write_half);
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let _ = write_response(&mut writer, &json(400, r#"{"error":"malformed request"}"#), false);
                return;
            }
            Err(_) => return,
        };
        let resp = handle(state, &req);
        if write_response(&mut writer, &resp, req.keep_alive).is_err() || !req.keep_alive {
            return;
        }
    }
}

fn handle(state: &State, req: &Request) -> Response {
    match req.method.as_str() {
        "GET" => serve_config(state, req),
        "POST" => {
            let s = &state.stats;
            let now = s.ingest_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            s.ingest_in_flight_max.fetch_max(now, Ordering::SeqCst);
            s.ingest_bytes.fetch_add(req.body.len() as u64, Ordering::Relaxed);
            if !state.mode.delay.is_zero() {
                std::thread::sleep(state.mode.delay);
            }
            let resp = if state.mode.ack_only {
                s.batches.fetch_add(1, Ordering::Relaxed);
                json(200, r#"{"accepted":null}"#)
            } else {
                ingest(state, req)
            };
            s.ingest_in_flight.fetch_sub(1, Ordering::SeqCst);
            resp
        }
        _ => json(405, r#"{"error":"method not allowed"}"#),
    }
}

fn serve_config(state: &State, req: &Request) -> Response {
    let path = if state.opts.snapshot.is_dir() {
        let name = req.path.trim_start_matches('/').split('?').next().unwrap_or("");
        if name.is_empty() || name.contains("..") || name.contains('/') {
            return json(404, r#"{"error":"no such snapshot"}"#);
        }
        state.opts.snapshot.join(name)
    } else {
        state.opts.snapshot.clone()
    };
    let Ok(mut body) = std::fs::read(&path) else {
        return json(404, r#"{"error":"no such snapshot"}"#);
    };
    if let Some(key) = &state.opts.signing_key {
        let Ok(text) = std::str::from_utf8(&body) else {
            return json(500, r#"{"error":"the snapshot file is not UTF-8"}"#);
        };
        // Signed per request: the file may change between polls (the ETag follows the envelope).
        body = sign_snapshot(key, text).into_bytes();
    }
    let etag = format!("\"{:08x}-{}\"", xxhash_rust::xxh32::xxh32(&body, 0), body.len());
    if req.header("if-none-match") == Some(etag.as_str()) {
        state.stats.config_not_modified.fetch_add(1, Ordering::Relaxed);
        return Response { status: 304, headers: vec![("etag", etag)], body: Vec::new() };
    }
    let gzip = req.header("accept-encoding").is_some_and(|v| v.contains("gzip")) && body.len() > 1024;
    let mut headers = vec![("etag", etag), ("content-type", "application/json".to_owned())];
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match enc.write_all(&body).and_then(|_| enc.finish()) {
            Ok(z) => {
                headers.push(("content-encoding", "gzip".into()));
                z
            }
            Err(_) => return json(500, r#"{"error":"gzip"}"#),
        }
    } else {
        body
    };
    state.stats.config_served.fetch_add(1, Ordering::Relaxed);
    Response { status: 200, headers, body }
}

fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// Fast path: an `event_id` without escapes near the start of the event (where Vario writes it),
/// found without parsing the rest; anything else (an escape, or the key spelled otherwise before
/// it, e.g. with spaces) takes the full parse.
fn event_id(ev: &str) -> Option<std::borrow::Cow<'_, str>> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"event_id\":\""));
    static NAME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"event_id\""));
    let head = &ev.as_bytes()[..ev.len().min(160)];
    let start = KEY.find(head)?;
    if NAME.find(&head[..start]).is_some() {
        return None;
    }
    let at = start + KEY.needle().len();
    let end = memchr::memchr2(b'"', b'\\', &ev.as_bytes()[at..])?;
    if ev.as_bytes()[at + end] != b'"' {
        return None;
    }
    // Both ends are next to ASCII quotes, so on char boundaries.
    ev.get(at..at + end).map(std::borrow::Cow::Borrowed)
}

fn ingest(state: &State, req: &Request) -> Response {
    let gz = req.header("content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let unzipped;
    let body: &[u8] = if gz {
        let mut out = Vec::new();
        if GzDecoder::new(&req.body[..]).read_to_end(&mut out).is_err() {
            return json(400, r#"{"error":"bad gzip"}"#);
        }
        unzipped = out;
        &unzipped
    } else {
        &req.body
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
    let Ok(batch) = serde_json::from_slice::<Batch<'_>>(body) else {
        return json(400, r#"{"error":"body is not a batch"}"#);
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
    json(200, &format!(r#"{{"accepted":{accepted},"duplicates":{dup}}}"#))
}

#[cfg(test)]
mod tests {
    use super::event_id;

    #[test]
    fn event_id_fast_path_and_its_refusals() {
        let plain = r#"{"type":"exposure","event_id":"e-1","context":{"event_id":"inner"}}"#;
        assert_eq!(event_id(plain).as_deref(), Some("e-1"));
        // An escape inside the id: left to the full parse.
        assert_eq!(event_id(r#"{"event_id":"e\"1"}"#), None);
        // The key spelled with a space first: the later match may be a nested one.
        assert_eq!(event_id(r#"{"event_id" : "a","x":{"event_id":"b"}}"#), None);
        // Not near the start, or absent.
        assert_eq!(event_id(&format!(r#"{{"pad":"{}","event_id":"late"}}"#, "x".repeat(200))), None);
        assert_eq!(event_id(r#"{"type":"exposure"}"#), None);
        // Non-ASCII around the id keeps char boundaries.
        assert_eq!(event_id(r#"{"é":"ü","event_id":"ñ-2"}"#).as_deref(), Some("ñ-2"));
    }
}
