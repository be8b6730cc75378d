//! Push (SPEC §9): the `vario-push` thread, which holds the one push channel the options name and
//! turns its notifications into snapshots, exactly as a poll would.
//!
//! - **stream** (`stream_url`): a long-lived `GET` of the control plane's SSE stream. A `version`
//!   event that names a version above the one in use wakes the `vario-config` thread, which runs
//!   its normal conditional fetch of `config_url` (one fetch path, one ETag). Every byte (the
//!   server's `: ping` comments included) proves the stream alive; none for `push_idle_timeout`
//!   and it is declared dead and reconnected.
//! - **redis** (`redis_url` + `environment`): one connection `SUBSCRIBE`d to `config:updates`,
//!   one for reads. The hash `env:{environment}:config` is read at every (re)connect, on a message
//!   for this environment with a higher version, and every `push_poll_interval` as the backstop;
//!   its `snapshot` goes to [`Store::offer`] like a fetched body. A `PING` every few seconds on
//!   the subscriber proves the connection alive (a killed or restarted server surfaces as an
//!   error and a reconnect).
//!
//! Either way the store decides what is installed: never a lower version, never an invalid
//! snapshot (refused, counted, the good one kept). Duplicate, late or foreign notifications cost
//! a comparison. Reconnects back off with jitter; messages sent while disconnected are caught by
//! the read at reconnect (the stream announces the current version at connect; Redis is re-read).
//!
//! Blocking I/O on its own thread with short read timeouts, so it sees `close` within a tick and
//! needs no async runtime from the host; the caller's decisions never wait for it. Imports the
//! store and config sync below it.

use crate::config::{offer_recorded, persist};
use crate::options::{Options, PushSpec};
use crate::retry::{backoff, jitter, redact};
use crate::stats::{ConfigErrorKind, ConfigSource, PushState, inc};
use crate::store::{Installed, Store};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Redis channel every publish is announced on (SPEC §8).
pub(crate) const UPDATES_CHANNEL: &str = "config:updates";

/// The longest SSE line kept (a `version` event's data is about 150 bytes); a longer line is
/// skipped to its end, so a misbehaving server cannot grow the buffer.
const MAX_LINE: usize = 64 << 10;

/// First reconnect delay (jittered, doubling up to `max_backoff`).
const RECONNECT_BASE: Duration = Duration::from_millis(100);

/// A channel that stayed up this long reconnects from the first backoff step again.
const HEALTHY_FOR: Duration = Duration::from_secs(10);

/// A version notification: the stream's `version` event data and the Redis message are the same
/// object (SPEC §8).
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Notice {
    /// The environment the publish was for (absent: the stream's own).
    #[serde(default)]
    pub environment: Option<String>,
    /// The version published.
    pub version: u64,
    /// Lowercase hex SHA-256 of the snapshot as served.
    #[serde(default)]
    pub digest: Option<String>,
}

impl Notice {
    /// Reads a notification (JSON); `None` when it is not one.
    pub fn parse(bytes: &[u8]) -> Option<Notice> {
        serde_json::from_slice(bytes).ok()
    }

    /// True when it announces something the client does not have: for `env` (when both name
    /// one), a version above the one in use (`current`) whose digest is not the one in use.
    pub fn is_news(&self, env: Option<&str>, current: (Option<u64>, Option<&str>)) -> bool {
        if let (Some(mine), Some(theirs)) = (env, self.environment.as_deref())
            && mine != theirs
        {
            return false;
        }
        match current {
            (None, _) => true,
            (Some(v), digest) => self.version > v && (digest.is_none() || digest != self.digest.as_deref()),
        }
    }
}

/// An incremental reader of a `text/event-stream` body: bytes in, complete events out. Only the
/// `event` and `data` fields matter here; comments (`: ping`) and other fields are read and
/// dropped. Lines end in LF, CRLF or CR.
#[derive(Debug, Default)]
pub struct SseReader {
    line: Vec<u8>,
    /// Skipping the rest of a line past [`MAX_LINE`].
    overlong: bool,
    /// The byte before was a CR (a following LF belongs to it).
    after_cr: bool,
    event: String,
    data: Vec<u8>,
    has_data: bool,
}

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Its `event` field (`message` when absent).
    pub event: String,
    /// Its `data` lines, joined by LF.
    pub data: Vec<u8>,
}

impl SseReader {
    /// Feeds a chunk; every event it completes is pushed to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        for &b in chunk {
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                if !std::mem::take(&mut self.overlong) {
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                    self.line = line;
                }
                self.line.clear();
            } else if self.line.len() >= MAX_LINE {
                self.overlong = true;
                self.line.clear();
            } else if !self.overlong {
                self.line.push(b);
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event) };
                out.push(SseEvent { event, data: std::mem::take(&mut self.data) });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                // Bounded with its separators: a run of empty `data:` lines must not grow it.
                if self.data.len() + value.len() < MAX_LINE {
                    if self.has_data {
                        self.data.push(b'\n');
                    }
                    self.data.extend_from_slice(value);
                }
                self.has_data = true;
            }
            _ => {}
        }
    }
}

/// What ended a push session.
enum Ended {
    /// `close` (or the client was dropped).
    Stop,
    /// The channel failed or went silent; reconnect. Whether it had connected, and why it ended.
    Lost { connected: bool, why: String },
}

/// True once `stop` fired or its sender is gone.
fn stopped(stop: &Receiver<()>) -> bool {
    !matches!(stop.try_recv(), Err(TryRecvError::Empty))
}

/// The `vario-push` thread's body: connect, follow, reconnect with backoff, until `stop`.
/// `wake` reaches the config thread (the stream's fetches, and a poll when the channel is lost).
pub(crate) fn run(store: Arc<Store>, opts: Arc<Options>, wake: Option<Sender<u64>>, stop: Receiver<()>) {
    let Some(spec) = opts.sync.push() else { return };
    let shared = store.shared();
    let mut failures = 0u32;
    loop {
        shared.set_push_state(PushState::Reconnecting);
        let started = Instant::now();
        let ended = match &spec {
            PushSpec::Stream(url) => stream_session(&store, &opts, url, wake.as_ref(), &stop),
            PushSpec::Redis { url, environment } => redis_session(&store, &opts, url, environment, &stop),
        };
        match ended {
            Ended::Stop => {
                shared.set_push_state(PushState::Off);
                return;
            }
            Ended::Lost { connected, why } => {
                if connected {
                    inc(&shared.c.push_disconnects);
                    shared.set_push_state(PushState::Reconnecting);
                    // Polling is the backstop again at its normal cadence: the config thread
                    // slept on the push interval, so wake it for a poll now.
                    if let Some(w) = &wake {
                        let _ = w.try_send(0);
                    }
                }
                store.record_push_error(why);
                if connected && started.elapsed() >= HEALTHY_FOR {
                    failures = 0;
                }
            }
        }
        let delay = backoff(RECONNECT_BASE, failures, opts.http.max_backoff);
        failures = failures.saturating_add(1);
        store.check_stale(opts.sync.stale_after);
        if !matches!(stop.recv_timeout(delay), Err(RecvTimeoutError::Timeout)) {
            shared.set_push_state(PushState::Off);
            return;
        }
    }
}

/// How long one blocking read may take: short enough to see `close` and to time the idle limit,
/// never more than a request's timeout.
fn read_tick(opts: &Options) -> Duration {
    opts.http.request_timeout.min(opts.sync.push_idle_timeout / 3).min(MAX_TICK).max(Duration::from_millis(5))
}

/// The longest blocking read: how long a closed client's push thread may linger, and the wait
/// for a stream's response head (an SSE endpoint answers its head at once).
const MAX_TICK: Duration = Duration::from_secs(2);

/// The environment a notification must name: the option, else the snapshot's.
fn own_environment(store: &Store, opts: &Options) -> Option<String> {
    opts.sync
        .environment
        .clone()
        .or_else(|| store.load().as_ref().map(|s| s.environment().to_owned()).filter(|e| !e.is_empty()))
}

/// Counts a notification; the version it announces when it is news.
fn judge(store: &Store, env: Option<&str>, payload: &[u8]) -> Option<u64> {
    let c = &store.shared().c;
    let news = Notice::parse(payload).filter(|n| {
        let (v, d) = store.in_use();
        n.is_news(env, (v, d.as_deref()))
    });
    // Judged before it is counted, so a reader who sees a notification counted also sees
    // whether it was ignored (a test reading both in between once saw the one without the other).
    if news.is_none() {
        inc(&c.push_notifications_ignored);
    }
    inc(&c.push_notifications);
    news.map(|n| n.version)
}

/// True when the version in use is at least `announced`: only then does a live channel prove
/// the config fresh (a channel announcing what the client cannot get is no comfort).
fn caught_up(store: &Store, announced: u64) -> bool {
    store.in_use().0.unwrap_or(0) >= announced
}

/// A reqwest read timeout (surfaced as an I/O error wrapping the client's timeout).
fn is_read_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)
        || e.get_ref().and_then(|r| r.downcast_ref::<reqwest::Error>()).is_some_and(reqwest::Error::is_timeout)
}

/// One connection to the SSE stream, followed until it fails, goes silent or `stop`.
fn stream_session(store: &Store, opts: &Options, url: &str, wake: Option<&Sender<u64>>, stop: &Receiver<()>) -> Ended {
    use std::io::Read;
    let lost = |connected, why: String| Ended::Lost { connected, why };
    let idle = opts.sync.push_idle_timeout;
    // The client-level timeout is reqwest's per-read limit on a blocking body (and the wait for
    // the response head), so a read returns every tick; the connect has the request timeout.
    let client = match reqwest::blocking::Client::builder()
        .timeout(read_tick(opts))
        .connect_timeout(opts.http.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return lost(false, format!("HTTP client: {e}")),
    };
    let mut req = client.get(url).header("accept", "text/event-stream");
    if let Some(k) = &opts.http.sdk_key {
        req = req.bearer_auth(k);
    }
    let mut resp = match req.send() {
        Ok(r) => r,
        Err(e) => return lost(false, format!("stream request failed: {}", redact(&e))),
    };
    if resp.status().as_u16() != 200 {
        return lost(false, format!("stream answered HTTP {}", resp.status().as_u16()));
    }
    let shared = store.shared();
    inc(&shared.c.push_connects);
    shared.set_push_state(PushState::Connected);
    store.mark_synced();
    let env = own_environment(store, opts);
    let mut reader = SseReader::default();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 8 << 10];
    let mut last_byte = Instant::now();
    // The highest version announced as news on this connection.
    let mut announced = 0u64;
    loop {
        if stopped(stop) {
            return Ended::Stop;
        }
        match resp.read(&mut buf) {
            Ok(0) => return lost(true, "stream closed by the server".into()),
            Ok(n) => {
                last_byte = Instant::now();
                reader.feed(&buf[..n], &mut events);
                let mut fetch = None;
                for ev in events.drain(..) {
                    if ev.event == "version"
                        && let Some(v) = judge(store, env.as_deref(), &ev.data)
                    {
                        fetch = fetch.max(Some(v));
                    }
                }
                if let Some(v) = fetch {
                    announced = announced.max(v);
                    if let Some(w) = wake {
                        // A full slot holds a wake already; the config thread chases the highest
                        // version it has been told of, and this one is at most a moment newer.
                        if w.try_send(v).is_err() {
                            let _ = w.send_timeout(v, Duration::from_millis(50));
                        }
                    }
                }
                if caught_up(store, announced) {
                    store.mark_synced();
                }
            }
            Err(e) if is_read_timeout(&e) => {
                if last_byte.elapsed() >= idle {
                    inc(&shared.c.push_idle_timeouts);
                    return lost(true, format!("stream silent for {} ms: declared dead", idle.as_millis()));
                }
            }
            Err(e) => return lost(true, format!("stream read failed: {e}")),
        }
        store.check_stale(opts.sync.stale_after);
    }
}

/// Reads the environment's hash and offers its snapshot when its version is above the one in
/// use (first `HGET version`, so the backstop costs a few bytes while nothing changed). `Ok(true)`
/// when what is in use is now what the hash holds (the config is fresh), `Ok(false)` when the
/// hash holds a newer snapshot that was refused.
fn read_hash(store: &Store, opts: &Options, con: &mut redis::Connection, key: &str) -> redis::RedisResult<bool> {
    let version: Option<String> = redis::cmd("HGET").arg(key).arg("version").query(con)?;
    // Nothing published yet: nothing newer to miss.
    let Some(version) = version else {
        store.mark_synced();
        return Ok(true);
    };
    let (current, _) = store.in_use();
    if let (Some(cur), Ok(v)) = (current, version.trim().parse::<u64>())
        && v <= cur
    {
        store.mark_synced();
        return Ok(true);
    }
    let snapshot: Option<Vec<u8>> = redis::cmd("HGET").arg(key).arg("snapshot").query(con)?;
    let Some(bytes) = snapshot else { return Ok(false) };
    if bytes.len() > opts.sync.max_config_bytes {
        inc(&store.shared().c.config_too_large);
        store.record_error(
            ConfigErrorKind::TooLarge,
            format!("Redis snapshot of {} bytes exceeds max_config_bytes; refused", bytes.len()),
        );
        return Ok(false);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        inc(&store.shared().c.config_rejected);
        store.record_error(ConfigErrorKind::Invalid, "Redis snapshot: not UTF-8".into());
        return Ok(false);
    };
    let installed = offer_recorded(store, &text, ConfigSource::Redis, "Redis snapshot");
    if let (Some(Installed::Swapped), Some(path)) = (installed, &opts.sync.persist_path) {
        persist(path, &text);
    }
    if installed.is_some() {
        store.clear_error();
        store.mark_synced();
    }
    Ok(installed.is_some())
}

/// One Redis session: subscribe, read the hash, follow messages until an error or `stop`.
fn redis_session(store: &Store, opts: &Options, url: &str, environment: &str, stop: &Receiver<()>) -> Ended {
    let lost = |connected, why: String| Ended::Lost { connected, why };
    let timeout = opts.http.request_timeout;
    let client = match redis::Client::open(url) {
        Ok(c) => c,
        Err(e) => return lost(false, format!("redis_url: {e}")),
    };
    let connect = || -> redis::RedisResult<redis::Connection> {
        let con = client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        Ok(con)
    };
    let (mut data, mut sub) = match connect().and_then(|d| Ok((d, connect()?))) {
        Ok(pair) => pair,
        Err(e) => return lost(false, format!("Redis connect: {e}")),
    };
    let mut ps = sub.as_pubsub();
    let tick = read_tick(opts);
    if let Err(e) = ps.subscribe(UPDATES_CHANNEL).and_then(|_| ps.set_read_timeout(Some(tick))) {
        return lost(false, format!("Redis SUBSCRIBE: {e}"));
    }
    let shared = store.shared();
    inc(&shared.c.push_connects);
    shared.set_push_state(PushState::Connected);
    let key = format!("env:{environment}:config");
    // Subscribed first, then read: a publish between the two is in the hash or in a message.
    let mut fresh = match read_hash(store, opts, &mut data, &key) {
        Ok(f) => f,
        Err(e) => return lost(true, format!("Redis read: {e}")),
    };
    let ping_every = (opts.sync.push_idle_timeout / 3).min(Duration::from_secs(15));
    let backstop = opts.sync.push_poll_interval.max(opts.sync.poll_interval);
    let mut last_ping = Instant::now();
    let mut next_backstop = Instant::now() + jitter(backstop);
    loop {
        if stopped(stop) {
            return Ended::Stop;
        }
        match ps.get_message() {
            Ok(msg) => {
                if msg.get_channel_name() == UPDATES_CHANNEL
                    && judge(store, Some(environment), msg.get_payload_bytes()).is_some()
                {
                    match read_hash(store, opts, &mut data, &key) {
                        Ok(f) => fresh = f,
                        Err(e) => return lost(true, format!("Redis read: {e}")),
                    }
                }
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return lost(true, format!("Redis subscription: {e}")),
        }
        if last_ping.elapsed() >= ping_every {
            // A dead peer (a half-open connection, a killed server) shows up here as an error.
            if let Err(e) = ps.ping::<redis::Value>() {
                return lost(true, format!("Redis PING: {e}"));
            }
            last_ping = Instant::now();
            if fresh {
                store.mark_synced();
            }
        }
        if Instant::now() >= next_backstop {
            match read_hash(store, opts, &mut data, &key) {
                Ok(f) => fresh = f,
                Err(e) => return lost(true, format!("Redis read: {e}")),
            }
            next_backstop = Instant::now() + jitter(backstop);
        }
        store.check_stale(opts.sync.stale_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, &mut out);
        }
        out
    }

    #[test]
    fn sse_events_across_chunks_and_line_endings() {
        let got = events(&[b": ping\n\nevent: ver", b"sion\r\ndata: {\"version\":3}\r\n\r", b"\ndata: x\ndata: y\n\n"]);
        assert_eq!(
            got,
            [
                SseEvent { event: "version".into(), data: b"{\"version\":3}".to_vec() },
                SseEvent { event: "message".into(), data: b"x\ny".to_vec() },
            ]
        );
        // CR alone ends lines too; a field without a colon is a name with an empty value.
        assert_eq!(events(&[b"event:version\rdata\r\r"]), [SseEvent { event: "version".into(), data: vec![] }]);
    }

    #[test]
    fn an_overlong_line_is_skipped_not_buffered() {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        r.feed(b"data: ", &mut out);
        for _ in 0..100 {
            r.feed(&[b'a'; 4096], &mut out);
        }
        assert!(r.line.len() <= MAX_LINE);
        r.feed(b"\nevent: version\ndata: ok\n\n", &mut out);
        assert_eq!(out, [SseEvent { event: "version".into(), data: b"ok".to_vec() }]);
        // Empty data lines cost nothing past the bound either.
        out.clear();
        for _ in 0..100_000 {
            r.feed(b"data:\n", &mut out);
        }
        r.feed(b"\n", &mut out);
        assert!(out[0].data.len() <= MAX_LINE);
    }

    #[test]
    fn news_is_a_higher_version_of_this_environment() {
        let n = Notice::parse(br#"{"environment":"prod","version":5,"digest":"ab"}"#).expect("a notice");
        assert!(n.is_news(Some("prod"), (Some(4), Some("cd"))));
        assert!(n.is_news(None, (None, None)));
        assert!(!n.is_news(Some("staging"), (Some(4), None)), "another environment");
        assert!(!n.is_news(Some("prod"), (Some(5), Some("cd"))), "the version in use");
        assert!(!n.is_news(Some("prod"), (Some(7), None)), "older than the one in use");
        assert!(!n.is_news(Some("prod"), (Some(4), Some("ab"))), "the digest in use");
        assert!(Notice::parse(b"not json").is_none());
        assert!(Notice::parse(br#"{"version":-1}"#).is_none());
    }
}
