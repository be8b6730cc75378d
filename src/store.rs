//! The snapshot store: everything the client, config sync and the pipeline share about "the
//! current snapshot".
//!
//! - the snapshot in use, an `ArcSwapOption` that decisions load without a lock;
//! - the swap lock, so two sources (the config thread, [`Client::update_snapshot`](crate::Client::update_snapshot))
//!   can never store a lower version last; readers never take it;
//! - the history of the exposure dictionaries of recent snapshots, so an exposure queued before
//!   later swaps still resolves against the snapshot that decided it;
//! - the pseudonymiser, whose key follows the snapshot's `privacy.id_hash_key` unless the
//!   options give one;
//! - the wait-for-init condition, signalled by the first swap.
//!
//! Every swap goes through [`Store::install`]: version check, lint logging, history, store,
//! status, signal. Config sync decides *when* to offer a snapshot; this module decides whether it
//! is taken. No thread of its own: it runs on the thread that offers (caller or `vario-config`).

use crate::clock::now_ms;
use crate::error::{InitError, UpdateError};
use crate::stats::{ConfigErrorKind, ConfigSource, Shared, inc};
use arc_swap::{ArcSwap, ArcSwapOption, Guard};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};
use vario_core::signing::{PublicKey, open_snapshot};
use vario_core::{ExposureDict, Pseudonymizer, Severity, Snapshot};

/// Lowercase hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the store checks offered snapshots and exposure tokens with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// Every offered snapshot must be a signed envelope verifying with this key.
    pub snapshot_key: Option<PublicKey>,
    /// Signs tokens while no id key is known (random per process; `None` with
    /// `allow_unsigned_tokens`, where tokens stay unsigned as before).
    pub token_secret: Option<[u8; 32]>,
    /// Redeem unsigned tokens unverified when no key signs them.
    pub allow_unsigned_tokens: bool,
    /// `SyncOptions::max_version_jump` (0, the `Default` of tests that build a store by hand:
    /// no bound).
    pub max_version_jump: u64,
}

impl Security {
    /// From the options: the parsed public key, and a fresh random token secret unless unsigned
    /// tokens are allowed.
    pub(crate) fn from_options(opts: &crate::options::Options) -> Result<Security, crate::error::BuildError> {
        let allow = opts.processing.allow_unsigned_tokens;
        let token_secret = if allow {
            None
        } else {
            let mut s = [0u8; 32];
            getrandom::getrandom(&mut s).map_err(|e| crate::error::BuildError::Random(e.to_string()))?;
            Some(s)
        };
        Ok(Security {
            snapshot_key: opts.sync.public_key()?,
            token_secret,
            allow_unsigned_tokens: allow,
            max_version_jump: opts.sync.max_version_jump,
        })
    }

    fn pseudonymizer(&self, key: Option<&str>) -> Pseudonymizer {
        let p = Pseudonymizer::new(key).allow_unsigned_tokens(self.allow_unsigned_tokens);
        match &self.token_secret {
            Some(s) => p.with_token_secret(s),
            None => p,
        }
    }
}

/// Versions kept in the history: at one publish per 30 s poll, over eight hours of queued backlog.
pub(crate) const HISTORY_LEN: usize = 1024;

/// The empty snapshot (`{"schema_version":1,"version":0}`): what answers flags (`FLAG_NOT_FOUND`)
/// before the first snapshot, and what bindings decide on for their no-config view. One per
/// process, shared.
pub fn empty_snapshot() -> &'static Arc<Snapshot> {
    // A constant document, not input: it compiles on every build (the store's tests use it).
    #[allow(clippy::expect_used)]
    static EMPTY: LazyLock<Arc<Snapshot>> = LazyLock::new(|| {
        Arc::new(Snapshot::from_json(r#"{"schema_version":1,"version":0}"#).expect("the empty snapshot compiles"))
    });
    &EMPTY
}

/// What offering a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Installed {
    /// It is the snapshot in use now.
    Swapped,
    /// That version is in use already.
    Unchanged,
}

pub(crate) struct Store {
    current: ArcSwapOption<Snapshot>,
    /// Serialises swaps; never taken by readers.
    swap_lock: Mutex<()>,
    /// Exposure dictionaries of the snapshots recently swapped in, newest last. Appended before a
    /// snapshot is published. Consecutive versions with identical dictionaries share one `Arc`,
    /// so a long history of publishes that did not touch experiments costs a few bytes each.
    history: Mutex<VecDeque<(u64, Arc<ExposureDict>)>>,
    pseudo: ArcSwap<Pseudonymizer>,
    /// The options gave an `id_hash_key`: the snapshot's is ignored.
    key_from_options: bool,
    security: Security,
    init: (Mutex<bool>, Condvar),
    shared: Arc<Shared>,
}

impl Store {
    pub(crate) fn new(id_hash_key: Option<&str>, security: Security, shared: Arc<Shared>) -> Store {
        Store {
            pseudo: ArcSwap::from_pointee(security.pseudonymizer(id_hash_key)),
            security,
            current: ArcSwapOption::empty(),
            swap_lock: Mutex::new(()),
            history: Mutex::new(VecDeque::new()),
            key_from_options: id_hash_key.is_some(),
            init: (Mutex::new(false), Condvar::new()),
            shared,
        }
    }

    /// The snapshot in use, without a lock or a reference-count change (the decide path).
    pub(crate) fn load(&self) -> Guard<Option<Arc<Snapshot>>> {
        self.current.load()
    }

    /// The snapshot in use, as an owned reference.
    pub(crate) fn load_full(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// The counters and config status.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The pseudonymiser for ids and tokens (keyed by the options or the snapshot in use).
    pub(crate) fn pseudonymizer(&self) -> Guard<Arc<Pseudonymizer>> {
        self.pseudo.load()
    }

    /// True when the pseudonymisation key comes from the options (it is known before any snapshot).
    pub(crate) fn key_from_options(&self) -> bool {
        self.key_from_options
    }

    /// The exposure dictionary of the snapshot with this version, while it is in the history.
    pub(crate) fn exposure_dict(&self, version: u64) -> Option<Arc<ExposureDict>> {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        h.iter().rev().find(|(v, _)| *v == version).map(|(_, d)| d.clone())
    }

    /// Verifies `text` (with `snapshot_public_key`: a signed envelope), compiles it and swaps it
    /// in when it is newer (see [`Store::install`]). Used by every source, so no source can skip
    /// the signature check. Compiles outside the swap lock.
    pub(crate) fn offer(&self, text: &str, source: ConfigSource) -> Result<Installed, UpdateError> {
        let received = text;
        let text = match open_snapshot(text, self.security.snapshot_key.as_ref()) {
            Ok(t) => t,
            Err(e) => {
                inc(&self.shared.c.config_rejected);
                inc(&self.shared.c.config_signature_rejected);
                return Err(UpdateError::Signature(e));
            }
        };
        match Snapshot::from_json(text) {
            // The digest of the text as received (the envelope when signed): what the control
            // plane announces, so a push naming it is known to be in use.
            Ok(s) => self.install(Arc::new(s), source, Some(sha256_hex(received.as_bytes()))),
            Err(e) => {
                inc(&self.shared.c.config_rejected);
                Err(UpdateError::Rejected(e))
            }
        }
    }

    /// Swaps in a compiled snapshot unless the one in use is newer; an equal version is left as
    /// is. Check and swap happen under the swap lock.
    /// `digest` is that of the text the snapshot came from (`None` for one installed compiled).
    pub(crate) fn install(
        &self,
        snap: Arc<Snapshot>,
        source: ConfigSource,
        digest: Option<String>,
    ) -> Result<Installed, UpdateError> {
        let _swap = self.swap_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cur) = self.current.load().as_ref() {
            if snap.version() < cur.version() {
                inc(&self.shared.c.config_rejected);
                return Err(UpdateError::VersionRegression { offered: snap.version(), current: cur.version() });
            }
            if snap.version() == cur.version() {
                return Ok(Installed::Unchanged);
            }
            let max = self.security.max_version_jump;
            if max > 0 && snap.version() - cur.version() > max {
                inc(&self.shared.c.config_rejected);
                return Err(UpdateError::VersionJump { offered: snap.version(), current: cur.version(), max });
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
        self.adopt_privacy_key(&snap);
        {
            // The history gets the snapshot before readers can see it, so the pipeline can always
            // resolve an exposure decided on it.
            let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
            let dict = match h.back() {
                Some((_, last)) if **last == **snap.exposure_dict() => last.clone(),
                _ => snap.exposure_dict().clone(),
            };
            h.push_back((version, dict));
            if h.len() > HISTORY_LEN {
                h.pop_front();
            }
        }
        let published_at_ms = snap.published_at().and_then(vario_core::time::parse_rfc3339);
        self.current.store(Some(snap));
        inc(&self.shared.c.config_updates);
        {
            let mut st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
            st.source = Some(source);
            st.version = Some(version);
            st.updated_at_ms = Some(now_ms());
            st.published_at_ms = published_at_ms;
            // A compiled snapshot installed directly (inherited across a fork) has no text.
            st.digest = digest;
        }
        self.notify_init();
        log::info!("vario: snapshot v{version} in use (source {source:?})");
        Ok(Installed::Swapped)
    }

    /// Records a config error in the status ([`Stats::last_config_error`](crate::Stats)) and logs it.
    /// Forgets the last config error: the endpoint answered usefully again.
    pub(crate) fn clear_error(&self) {
        let mut st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        st.last_error = None;
        st.last_error_at_ms = None;
    }

    /// The source confirmed (an answered poll, a live push channel) that what is in use is the
    /// latest: the config is fresh again.
    pub(crate) fn mark_synced(&self) {
        let mut st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        st.synced_at_ms = Some(now_ms());
        drop(st);
        self.shared.stale_logged.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The version and digest in use (`None` before the first snapshot), for the push channel's
    /// "is this notification news?" check.
    pub(crate) fn in_use(&self) -> (Option<u64>, Option<String>) {
        let st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        (st.version, st.digest.clone())
    }

    /// Logs once per stale episode when `stale_after` has passed without a sync.
    pub(crate) fn check_stale(&self, stale_after: Option<Duration>) {
        let Some(limit) = stale_after else { return };
        let age = {
            let st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.sync_age_ms(&st, now_ms())
        };
        let limit_ms = i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
        if age > limit_ms && !self.shared.stale_logged.swap(true, std::sync::atomic::Ordering::Relaxed) {
            log::warn!(
                "vario: config is stale: no confirmation from the source for {age} ms (stale_after {limit_ms} ms)"
            );
        }
    }

    /// Blocks until a snapshot with a version of at least `version` is in use, or `timeout`;
    /// true when it is.
    pub(crate) fn wait_for_version(&self, version: u64, timeout: Duration) -> bool {
        let start = Instant::now();
        let mut ready = self.init.0.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.current.load().as_ref().is_some_and(|s| s.version() >= version) {
                return true;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            ready = self.init.1.wait_timeout(ready, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Records why the push channel was lost (logged; kept in `Stats::last_push_error`).
    pub(crate) fn record_push_error(&self, msg: String) {
        log::warn!("vario: push: {msg}");
        self.shared.config.lock().unwrap_or_else(|p| p.into_inner()).push_error = Some(msg);
    }

    pub(crate) fn record_error(&self, kind: ConfigErrorKind, msg: String) {
        log::warn!("vario: config: {msg}");
        let mut st = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        st.last_error = Some((kind, msg));
        st.last_error_at_ms = Some(now_ms());
    }

    /// Blocks until the first snapshot is in use, or `timeout`.
    pub(crate) fn wait_for_init(&self, timeout: Duration) -> Result<(), InitError> {
        let start = Instant::now();
        let mut ready = self.init.0.lock().unwrap_or_else(|p| p.into_inner());
        while !*ready {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                let last = self.shared.config.lock().unwrap_or_else(|p| p.into_inner()).last_error.clone();
                return Err(InitError { waited: start.elapsed(), last_error: last });
            }
            ready = self.init.1.wait_timeout(ready, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        Ok(())
    }

    fn notify_init(&self) {
        let mut ready = self.init.0.lock().unwrap_or_else(|p| p.into_inner());
        *ready = true;
        self.init.1.notify_all();
    }

    /// Without a key in the options, pseudonyms use the snapshot's `privacy.id_hash_key`.
    fn adopt_privacy_key(&self, snap: &Snapshot) {
        if self.key_from_options {
            return;
        }
        match snap.id_hash_key() {
            Some(k) => self.pseudo.store(Arc::new(self.security.pseudonymizer(Some(k)))),
            None if !self.pseudo.load().is_keyed() => {
                log::warn!(
                    "vario: no id_hash_key in the options or the snapshot: ids are pseudonymised with plain \
                     SHA-256, which small id spaces make reversible"
                );
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vario_core::{Coded, ErrorCode};

    fn snap(version: u64) -> String {
        format!(r#"{{"schema_version":1,"version":{version}}}"#)
    }

    #[test]
    fn install_is_monotonic_and_keeps_the_history() {
        let store = Store::new(None, Security::default(), Arc::new(Shared::default()));
        assert!(store.wait_for_init(Duration::ZERO).is_err());
        assert_eq!(store.offer(&snap(2), ConfigSource::Manual), Ok(Installed::Swapped));
        store.wait_for_init(Duration::ZERO).expect("signalled by the first swap");
        assert_eq!(store.offer(&snap(2), ConfigSource::Manual), Ok(Installed::Unchanged));
        let e = store.offer(&snap(1), ConfigSource::Manual).expect_err("lower");
        assert_eq!(e.code(), ErrorCode::VersionRegression);
        assert_eq!(store.offer("[]", ConfigSource::Manual).expect_err("not a snapshot").code(), ErrorCode::NotJson);
        assert_eq!(store.offer(&snap(3), ConfigSource::Http), Ok(Installed::Swapped));
        assert_eq!(store.load().as_ref().map(|s| s.version()), Some(3));
        // Both versions resolve, sharing one dictionary (neither has experiments).
        let (d2, d3) = (store.exposure_dict(2).expect("v2"), store.exposure_dict(3).expect("v3"));
        assert!(Arc::ptr_eq(&d2, &d3));
        assert!(store.exposure_dict(1).is_none());
        let c = &store.shared.c;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!((n(&c.config_updates), n(&c.config_rejected)), (2, 2));
    }

    #[test]
    fn the_empty_snapshot_is_shared() {
        assert!(Arc::ptr_eq(empty_snapshot(), empty_snapshot()));
        assert_eq!(empty_snapshot().version(), 0);
    }
}
