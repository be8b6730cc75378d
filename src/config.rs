//! Config sync on a background thread (SPEC §7).
//!
//! Every candidate snapshot is compiled and validated before the swap; a document that fails, or
//! whose version is lower than the one in use, never replaces the good one. The swap is an
//! `ArcSwap::store`: readers on the decide path never wait for it.

use crate::client::{Inner, backoff, now_ms, redact};
use crate::options::ConfigSpec;
use crate::pipeline::HISTORY_LEN;
use crate::stats::{ConfigErrorKind, ConfigSource, inc};
use crossbeam_channel::Receiver;
use crossbeam_channel::RecvTimeoutError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vario_core::Coded;
use vario_core::{Severity, Snapshot};

/// Waits on `rx` for `d`; true when woken by a message or disconnection (time to stop).
fn sleep_or_stop(rx: &Receiver<()>, d: Duration) -> bool {
    !matches!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout))
}

/// Outcome of offering a snapshot to the client.
pub(crate) enum Installed {
    Swapped,
    Unchanged,
}

/// Validates `text` and swaps it in when it is newer. Used by every source.
pub(crate) fn offer(inner: &Inner, text: &str, source: ConfigSource) -> Result<Installed, (ConfigErrorKind, String)> {
    // Compile outside the lock; check-and-swap under it, so two sources (the poller and
    // `update_snapshot`) can never store a lower version last. Readers never take this lock.
    let snap = match Snapshot::from_json(text) {
        Ok(s) => s,
        Err(e) => {
            inc(&inner.shared.c.config_rejected);
            return Err((ConfigErrorKind::Invalid, format!("snapshot rejected ({}): {e}", e.code())));
        }
    };
    install(inner, Arc::new(snap), source)
}

/// Swaps in a compiled snapshot unless the one in use is newer (see [`offer`]).
pub(crate) fn install(
    inner: &Inner,
    snap: Arc<Snapshot>,
    source: ConfigSource,
) -> Result<Installed, (ConfigErrorKind, String)> {
    let _swap = inner.swap_lock.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cur) = inner.snapshot.load().as_ref() {
        if snap.version() < cur.version() {
            inc(&inner.shared.c.config_rejected);
            return Err((
                ConfigErrorKind::VersionRegression,
                format!("snapshot version {} is lower than the version in use, {}", snap.version(), cur.version()),
            ));
        }
        if snap.version() == cur.version() {
            return Ok(Installed::Unchanged);
        }
    }
    for l in snap.lints() {
        match l.severity {
            Severity::Error => {
                log::warn!("vario: snapshot v{}: {} disabled ({:?}): {}", snap.version(), l.item, l.code, l.message)
            }
            Severity::Warning => {
                log::info!("vario: snapshot v{}: {} ({:?}): {}", snap.version(), l.item, l.code, l.message)
            }
        }
    }
    let version = snap.version();
    inner.adopt_privacy_key(&snap);
    {
        // The history gets the snapshot before readers can see it, so the pipeline can always
        // resolve an exposure decided on it.
        let mut h = inner.history.lock().unwrap_or_else(|p| p.into_inner());
        let dict = match h.back() {
            Some((_, last)) if **last == **snap.exposure_dict() => last.clone(),
            _ => snap.exposure_dict().clone(),
        };
        h.push_back((version, dict));
        if h.len() > HISTORY_LEN {
            h.pop_front();
        }
    }
    inner.snapshot.store(Some(snap));
    inc(&inner.shared.c.config_updates);
    {
        let mut st = inner.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        st.source = Some(source);
        st.version = Some(version);
        st.updated_at_ms = Some(now_ms());
    }
    inner.notify_init();
    log::info!("vario: snapshot v{version} in use (source {source:?})");
    Ok(Installed::Swapped)
}

pub(crate) fn record_error(inner: &Inner, kind: ConfigErrorKind, msg: String) {
    log::warn!("vario: config: {msg}");
    let mut st = inner.shared.config.lock().unwrap_or_else(|p| p.into_inner());
    st.last_error = Some((kind, msg));
    st.last_error_at_ms = Some(now_ms());
}

fn persist(path: &Path, text: &str) {
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
pub(crate) fn load_persisted(inner: &Inner, path: &Path) {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if let Err((kind, msg)) = offer(inner, &text, ConfigSource::Persisted) {
                record_error(inner, kind, format!("persisted snapshot {}: {msg}", path.display()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => record_error(inner, ConfigErrorKind::Io, format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads a config file and offers it; returns the content fingerprint to skip unchanged files.
pub(crate) fn load_file(inner: &Inner, path: &Path, last: &mut Option<u64>) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let fp = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                h.finish()
            };
            if *last == Some(fp) {
                return true;
            }
            *last = Some(fp);
            match offer(inner, &text, ConfigSource::File) {
                Ok(_) => true,
                Err((kind, msg)) => {
                    record_error(inner, kind, format!("{}: {msg}", path.display()));
                    false
                }
            }
        }
        Err(e) => {
            inc(&inner.shared.c.config_errors);
            record_error(inner, ConfigErrorKind::Io, format!("cannot read {}: {e}", path.display()));
            false
        }
    }
}

pub(crate) struct SyncParams {
    pub spec: ConfigSpec,
    pub sdk_key: Option<String>,
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub max_backoff: Duration,
    pub persist_path: Option<PathBuf>,
    pub file_fingerprint: Option<u64>,
}

/// The config thread's body. Returns when `stop` fires or disconnects.
pub(crate) fn run(inner: Arc<Inner>, p: SyncParams, stop: Receiver<()>) {
    let base = p.poll_interval.min(Duration::from_secs(1));
    let mut failures = 0u32;
    let mut etag: Option<String> = None;
    // `Client::start` already loaded the file once; start from its fingerprint.
    let mut file_fp: Option<u64> = p.file_fingerprint;
    let mut client: Option<reqwest::blocking::Client> = None;
    loop {
        let ok = match &p.spec {
            ConfigSpec::Bootstrap(_) => return,
            ConfigSpec::Path(path) => load_file(&inner, path, &mut file_fp),
            ConfigSpec::Url(url) => {
                if client.is_none() {
                    client = reqwest::blocking::Client::builder()
                        .timeout(p.request_timeout)
                        .gzip(true)
                        .build()
                        .map_err(|e| record_error(&inner, ConfigErrorKind::Network, format!("HTTP client: {e}")))
                        .ok();
                }
                match &client {
                    Some(c) => fetch(&inner, c, url, &p, &mut etag),
                    None => false,
                }
            }
        };
        failures = if ok { 0 } else { failures.saturating_add(1) };
        let delay = if ok { jitter(p.poll_interval) } else { backoff(base, failures - 1, p.max_backoff) };
        if sleep_or_stop(&stop, delay) {
            return;
        }
    }
}

/// ±10 % so a fleet started together does not poll in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// One conditional GET. True when the endpoint answered usefully (200 accepted or 304).
fn fetch(inner: &Inner, c: &reqwest::blocking::Client, url: &str, p: &SyncParams, etag: &mut Option<String>) -> bool {
    inc(&inner.shared.c.config_fetches);
    let mut req = c.get(url);
    if let Some(k) = &p.sdk_key {
        req = req.bearer_auth(k);
    }
    if let Some(t) = etag.as_deref() {
        req = req.header("if-none-match", t);
    }
    let resp = match req.send() {
        Ok(r) => r,
        Err(e) => {
            inc(&inner.shared.c.config_errors);
            record_error(inner, ConfigErrorKind::Network, format!("config request failed: {}", redact(&e)));
            return false;
        }
    };
    let status = resp.status().as_u16();
    match status {
        304 => {
            inc(&inner.shared.c.config_not_modified);
            true
        }
        200 => {
            let new_etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let text = match resp.text() {
                Ok(t) => t,
                Err(e) => {
                    inc(&inner.shared.c.config_errors);
                    record_error(inner, ConfigErrorKind::Network, format!("config body: {}", redact(&e)));
                    return false;
                }
            };
            match offer(inner, &text, ConfigSource::Http) {
                Ok(installed) => {
                    *etag = new_etag;
                    if let (Installed::Swapped, Some(path)) = (installed, &p.persist_path) {
                        persist(path, &text);
                    }
                    true
                }
                Err((kind, msg)) => {
                    record_error(inner, kind, msg);
                    // The endpoint answered; it is the content that is wrong. Keep the normal
                    // cadence (no hammering), and keep the old ETag so the next poll re-fetches.
                    true
                }
            }
        }
        401 | 403 => {
            inc(&inner.shared.c.config_errors);
            record_error(
                inner,
                ConfigErrorKind::Unauthorized,
                format!("config endpoint refused the SDK key (HTTP {status}); check sdk_key"),
            );
            false
        }
        _ => {
            inc(&inner.shared.c.config_errors);
            record_error(inner, ConfigErrorKind::Http, format!("config endpoint answered HTTP {status}"));
            false
        }
    }
}
