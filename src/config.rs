//! Config sync (SPEC §7): where snapshots come from and when they are offered to the
//! [store](crate::store), which validates and swaps them.
//!
//! Local sources (a persisted last-good snapshot, a config file, a bootstrap) load on the caller's
//! thread before `build` returns; only polling is left to the `vario-config` thread: a conditional
//! GET (ETag) every `poll_interval` (jittered ±10 %), or a re-read of the config file when its
//! content changed. Failures back off exponentially (with jitter, capped by `max_backoff`); an
//! endpoint that answers with a bad document keeps the normal cadence. A snapshot fetched and
//! swapped in is persisted (owner-only file) when `persist_path` is set.

use crate::options::{ConfigSpec, Options};
use crate::retry::{backoff, jitter, redact};
use crate::stats::PushState;
use crate::stats::{ConfigErrorKind, ConfigSource, inc};
use crate::store::{Installed, Store};
use crossbeam_channel::Receiver;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vario_core::Snapshot;

/// How a wait of the config thread ended.
enum Woken {
    /// `stop` fired or disconnected: time to stop.
    Stop,
    /// The push thread announced this version (0: poll now, the push channel was lost).
    Push(u64),
    /// The wait is over.
    Timeout,
}

/// Waits on `stop` for `d`, or until `wake` (the push thread asks for a fetch now).
fn sleep_or_stop(stop: &Receiver<()>, wake: &Receiver<u64>, d: Duration) -> Woken {
    let deadline = std::time::Instant::now() + d;
    let stopped = |r: Result<(), crossbeam_channel::RecvTimeoutError>| match r {
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => Woken::Timeout,
        _ => Woken::Stop,
    };
    crossbeam_channel::select! {
        recv(stop) -> _ => Woken::Stop,
        recv(wake) -> r => match r {
            Ok(v) => Woken::Push(v),
            // The push thread is gone: only the stop can cut the wait short now.
            Err(_) => stopped(stop.recv_deadline(deadline)),
        },
        default(d) => Woken::Timeout,
    }
}

/// A fetch after a notice that still did not bring the announced version (a 304 from a replica
/// a moment behind, a refused body) is retried this often, this many times, before the backstop
/// poll takes over.
const CHASE_DELAY: Duration = Duration::from_millis(250);
const CHASE_TRIES: u32 = 8;

/// Offers `text` from `source`; a rejection is recorded in the config status with `context`
/// before the message (e.g. the file it came from).
pub(crate) fn offer_recorded(store: &Store, text: &str, source: ConfigSource, context: &str) -> Option<Installed> {
    match store.offer(text, source) {
        Ok(installed) => Some(installed),
        Err(e) => {
            let msg = if context.is_empty() { e.to_string() } else { format!("{context}: {e}") };
            store.record_error(e.kind(), msg);
            None
        }
    }
}

/// Loads the local sources before the client starts: the persisted snapshot (best effort), the
/// snapshot `inherited` from the parent of a forked process, then the bootstrap or the config
/// file. Returns the config file's content fingerprint, so the config thread does not offer it
/// again unchanged.
pub(crate) fn load_local(
    store: &Store,
    opts: &Options,
    inherited: Option<(Arc<Snapshot>, Option<String>)>,
) -> Option<u64> {
    if let Some(path) = &opts.sync.persist_path {
        load_persisted(store, path);
    }
    if let Some((snap, digest)) = inherited {
        // The parent's snapshot serves the child from its first decision; the config thread then
        // polls as usual. Failure means a newer persisted one is in use already.
        let _ = store.install(snap, ConfigSource::Inherited, digest);
    }
    let mut file_fingerprint = None;
    match &opts.sync.config {
        Some(ConfigSpec::Bootstrap(_)) if store.load().is_some() => {}
        Some(ConfigSpec::Bootstrap(text)) => {
            offer_recorded(store, text, ConfigSource::Bootstrap, "bootstrap");
        }
        Some(ConfigSpec::Path(path)) => {
            load_file(store, path, &mut file_fingerprint);
        }
        Some(ConfigSpec::Url(_)) | None => {}
    }
    file_fingerprint
}

pub(crate) fn persist(path: &Path, text: &str) {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    // Owner-only: the snapshot can carry the pseudonymisation key and override ids.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let res = opts.open(&tmp).and_then(|mut f| f.write_all(text.as_bytes())).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        log::warn!("vario: could not persist the snapshot to {}: {e}", path.display());
    }
}

/// Loads a previously persisted snapshot at cold start (best effort).
fn load_persisted(store: &Store, path: &Path) {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            offer_recorded(store, &text, ConfigSource::Persisted, &format!("persisted snapshot {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => store.record_error(ConfigErrorKind::Io, format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads a config file and offers it unless its content fingerprint is `last`; true unless the
/// read or the snapshot failed.
fn load_file(store: &Store, path: &Path, last: &mut Option<u64>) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let fp = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                h.finish()
            };
            if *last == Some(fp) {
                store.mark_synced();
                return true;
            }
            *last = Some(fp);
            let ok = offer_recorded(store, &text, ConfigSource::File, &path.display().to_string()).is_some();
            if ok {
                store.mark_synced();
            }
            ok
        }
        Err(e) => {
            inc(&store.shared().c.config_errors);
            store.record_error(ConfigErrorKind::Io, format!("cannot read {}: {e}", path.display()));
            false
        }
    }
}

/// True when the source needs the `vario-config` thread (a bootstrap is never refreshed).
pub(crate) fn needs_thread(opts: &Options) -> bool {
    matches!(opts.sync.config, Some(ConfigSpec::Url(_) | ConfigSpec::Path(_)))
}

/// The `vario-config` thread's body. Returns when `stop` fires or disconnects. `wake` (from the
/// push thread) cuts a wait short for an immediate poll; while the push channel is connected
/// the wait is the longer `push_poll_interval`, since polling is only the backstop then.
pub(crate) fn run(
    store: Arc<Store>,
    opts: Arc<Options>,
    file_fingerprint: Option<u64>,
    stop: Receiver<()>,
    wake: Receiver<u64>,
) {
    let (sync, http) = (&opts.sync, &opts.http);
    let base = sync.poll_interval.min(Duration::from_secs(1));
    let mut failures = 0u32;
    let mut etag: Option<String> = None;
    // `load_local` already loaded the file once; start from its fingerprint.
    let mut file_fp: Option<u64> = file_fingerprint;
    let mut client: Option<reqwest::blocking::Client> = None;
    // The version a push announced and the fetches made since to get it.
    let mut chase: Option<(u64, u32)> = None;
    loop {
        let ok = match &sync.config {
            Some(ConfigSpec::Bootstrap(_)) | None => return,
            Some(ConfigSpec::Path(path)) => load_file(&store, path, &mut file_fp),
            Some(ConfigSpec::Url(url)) => {
                if client.is_none() {
                    client = reqwest::blocking::Client::builder()
                        .timeout(http.request_timeout)
                        .gzip(true)
                        .redirect(redirect_policy(sync.follow_redirects))
                        .build()
                        .map_err(|e| store.record_error(ConfigErrorKind::Network, format!("HTTP client: {e}")))
                        .ok();
                }
                match &client {
                    Some(c) => fetch(&store, c, url, &opts, &mut etag),
                    None => false,
                }
            }
        };
        failures = if ok { 0 } else { failures.saturating_add(1) };
        store.check_stale(sync.stale_after);
        // Only a config endpoint is what the push channel announces; a file keeps its cadence.
        let pushed =
            store.shared().push_state() == PushState::Connected && matches!(sync.config, Some(ConfigSpec::Url(_)));
        let interval = if pushed { sync.poll_interval.max(sync.push_poll_interval) } else { sync.poll_interval };
        let behind = chase.is_some_and(|(want, _)| store.in_use().0.is_none_or(|v| v < want));
        let delay = match chase {
            Some((want, tries)) if behind && tries < CHASE_TRIES => {
                chase = Some((want, tries + 1));
                jitter(CHASE_DELAY)
            }
            _ => {
                chase = None;
                if ok { jitter(interval) } else { backoff(base, failures - 1, http.max_backoff) }
            }
        };
        match sleep_or_stop(&stop, &wake, delay) {
            Woken::Stop => return,
            Woken::Push(v) if v > 0 => chase = Some((chase.map_or(v, |(w, _)| w.max(v)), 0)),
            Woken::Push(_) | Woken::Timeout => {}
        }
    }
}

/// Redirects are refused unless asked for, and then only to the same host and port: a misrouted
/// endpoint must not hand the client another server's snapshot.
fn redirect_policy(follow: bool) -> reqwest::redirect::Policy {
    if !follow {
        return reqwest::redirect::Policy::none();
    }
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same || attempt.previous().len() > 5 { attempt.stop() } else { attempt.follow() }
    })
}

/// Content types a snapshot may be served as: JSON, or the generic types of static file hosts.
/// Absent is accepted too. Anything else (an HTML error page from a proxy, XML) is refused.
fn acceptable_content_type(value: Option<&str>) -> bool {
    let Some(v) = value else { return true };
    let mime = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime.is_empty()
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "text/json"
        || mime == "text/plain"
        || mime == "application/octet-stream"
}

/// Why the body of a config answer (status 200) was refused before it reached the store.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRefusal {
    /// A content type that is not a JSON snapshot's (at most 80 characters of it).
    ContentType(String),
    /// Longer than `max_config_bytes` (after decompression).
    TooLarge,
    /// The body is not UTF-8.
    NotUtf8,
}

/// The `content-type` header of a config answer (its raw bytes; `None` when absent): `Err` with
/// what to show when it is not a snapshot's. Bytes other than visible ASCII and tab make the
/// value unreadable as text (as `HeaderValue::to_str` says), which is refused.
fn check_content_type(header: Option<&[u8]>) -> Result<(), BodyRefusal> {
    let text = header.map(|b| {
        let visible = b.iter().all(|&c| c == b'\t' || (0x20..0x7f).contains(&c));
        // Visible ASCII is UTF-8.
        if visible { std::str::from_utf8(b).unwrap_or("(not text)") } else { "(not text)" }
    });
    if acceptable_content_type(text) {
        Ok(())
    } else {
        Err(BodyRefusal::ContentType(text.unwrap_or_default().chars().take(80).collect()))
    }
}

/// A body read with [`read_capped`] (at most `cap` + 1 bytes) as the text to offer.
fn body_text(buf: Vec<u8>, cap: usize) -> Result<String, BodyRefusal> {
    if buf.len() > cap {
        return Err(BodyRefusal::TooLarge);
    }
    String::from_utf8(buf).map_err(|_| BodyRefusal::NotUtf8)
}

/// The pure part of handling a config answer with status 200: its `content-type` header and its
/// decompressed body in, the snapshot text to offer to the store out. [`fetch`] runs exactly
/// these two checks (the header before reading the body). Public for the fuzz target
/// `config_response` (`fuzz/`); not a stable API.
#[doc(hidden)]
pub fn config_body(content_type: Option<&[u8]>, body: Vec<u8>, cap: usize) -> Result<String, BodyRefusal> {
    check_content_type(content_type)?;
    body_text(body, cap)
}

/// Reads the body as it streams in (decompressed), stopping past `cap` bytes so a small gzip
/// body that inflates to gigabytes costs at most `cap` + 1. `Err(Some)` for a failed read;
/// `Err(None)` when the announced length is already too large.
pub(crate) fn read_capped(resp: reqwest::blocking::Response, cap: usize) -> Result<Vec<u8>, Option<String>> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(None);
    }
    let mut buf = Vec::with_capacity(resp.content_length().map_or(64 << 10, |n| n as usize).min(cap));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    resp.take(limit).read_to_end(&mut buf).map_err(|e| Some(e.to_string()))?;
    Ok(buf)
}

/// One conditional GET. True when the endpoint answered usefully (200 accepted or refused, 304).
fn fetch(store: &Store, c: &reqwest::blocking::Client, url: &str, opts: &Options, etag: &mut Option<String>) -> bool {
    let counters = &store.shared().c;
    inc(&counters.config_fetches);
    let mut req = c.get(url);
    if let Some(k) = &opts.http.sdk_key {
        req = req.bearer_auth(k);
    }
    if let Some(t) = etag.as_deref() {
        req = req.header("if-none-match", t);
    }
    let resp = match req.send() {
        Ok(r) => r,
        Err(e) => {
            inc(&counters.config_errors);
            store.record_error(ConfigErrorKind::Network, format!("config request failed: {}", redact(&e)));
            return false;
        }
    };
    let status = resp.status().as_u16();
    match status {
        304 => {
            inc(&counters.config_not_modified);
            store.clear_error();
            store.mark_synced();
            true
        }
        200 => {
            let new_etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let content_type = resp.headers().get("content-type").map(|v| v.as_bytes());
            if let Err(BodyRefusal::ContentType(shown)) = check_content_type(content_type) {
                inc(&counters.config_errors);
                store.record_error(
                    ConfigErrorKind::ContentType,
                    format!("config endpoint answered content-type `{shown}`, not a JSON snapshot"),
                );
                return false;
            }
            let cap = opts.sync.max_config_bytes;
            let text = match read_capped(resp, cap).map(|buf| body_text(buf, cap)) {
                Ok(Ok(t)) => t,
                Err(None) | Ok(Err(BodyRefusal::TooLarge)) => {
                    inc(&counters.config_errors);
                    inc(&counters.config_too_large);
                    store.record_error(
                        ConfigErrorKind::TooLarge,
                        format!("config body exceeds max_config_bytes ({cap} bytes after decompression); refused"),
                    );
                    return false;
                }
                Err(Some(e)) => {
                    inc(&counters.config_errors);
                    store.record_error(ConfigErrorKind::Network, format!("config body: {e}"));
                    return false;
                }
                // `body_text` refuses only the size and the encoding.
                Ok(Err(_)) => {
                    inc(&counters.config_errors);
                    store.record_error(ConfigErrorKind::Network, "config body: the body is not UTF-8".to_owned());
                    return false;
                }
            };
            // A refused document: the endpoint answered, it is the content that is wrong. Keep the
            // normal cadence (no hammering), and keep the old ETag so the next poll re-fetches.
            // The endpoint answered with a body: whatever failed before is over. A refused body
            // records its own error in `offer_recorded`; cleared first, so a waiter woken by the
            // swap never sees a stale error.
            store.clear_error();
            if let Some(installed) = offer_recorded(store, &text, ConfigSource::Http, "") {
                store.mark_synced();
                *etag = new_etag;
                if let (Installed::Swapped, Some(path)) = (installed, &opts.sync.persist_path) {
                    persist(path, &text);
                }
            }
            true
        }
        401 | 403 => {
            inc(&counters.config_errors);
            store.record_error(
                ConfigErrorKind::Unauthorized,
                format!("config endpoint refused the SDK key (HTTP {status}); check sdk_key"),
            );
            false
        }
        300..=399 => {
            inc(&counters.config_errors);
            let to: String = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no location)")
                .chars()
                .take(200)
                .collect();
            store.record_error(
                ConfigErrorKind::Redirect,
                format!("config endpoint redirected (HTTP {status}) to {to}; not followed (follow_redirects follows same-host ones)"),
            );
            false
        }
        _ => {
            inc(&counters.config_errors);
            store.record_error(ConfigErrorKind::Http, format!("config endpoint answered HTTP {status}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BodyRefusal, config_body};

    #[test]
    fn config_body_accepts_json_types_and_refuses_the_rest() {
        let ok = |ct: Option<&[u8]>| config_body(ct, b"{}".to_vec(), 10);
        assert_eq!(ok(None), Ok("{}".to_owned()));
        assert_eq!(ok(Some(b"application/json; charset=utf-8")), Ok("{}".to_owned()));
        assert_eq!(ok(Some(b"Application/Vnd.Vario+JSON")), Ok("{}".to_owned()));
        assert_eq!(ok(Some(b"text/html")), Err(BodyRefusal::ContentType("text/html".into())));
        // Not visible ASCII: unreadable as text, refused (what `HeaderValue::to_str` decides).
        assert_eq!(ok(Some("application/json\u{e9}".as_bytes())), Err(BodyRefusal::ContentType("(not text)".into())));
        assert_eq!(config_body(None, vec![b' '; 11], 10), Err(BodyRefusal::TooLarge));
        assert_eq!(config_body(None, vec![0xff], 10), Err(BodyRefusal::NotUtf8));
    }
}
