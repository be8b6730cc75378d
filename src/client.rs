//! The client: lock-free decisions on the current snapshot, non-blocking event enqueue.

use crate::config::{self, SyncParams};
use crate::options::{ConfigSpec, LocalSink, Options};
use crate::pipeline::{self, Control, History, Item, Outcome, QueuedExposure};
use crate::stats::{ConfigErrorKind, ConfigSource, Shared, Stats, inc};
use arc_swap::{ArcSwap, ArcSwapOption};
use crossbeam_channel::{Sender, TrySendError};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vario_core::{Decision, FlagDecision, Pseudonymizer, Request, Sdk, Snapshot, TokenError};

/// Wall-clock milliseconds for decisions and events. On Linux this reads the coarse realtime clock
/// (updated every tick, 1-4 ms; no syscall, ~5 ns instead of ~26 ns): every consumer of this value
/// (time windows, schedules, event timestamps) works at millisecond granularity or coarser.
pub fn now_ms() -> i64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec and CLOCK_REALTIME_COARSE is a clock id every
        // Linux kernel since 2.6.32 provides; the call writes only into `ts`.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return ts.tv_sec * 1_000 + ts.tv_nsec / 1_000_000;
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bumped in every child process a `fork()` creates (a `pthread_atfork` child handler), so a client
/// can tell in one atomic load that its background threads were left behind in the parent.
static FORK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many `fork()`s separate this process from the one that first started a client (0 in that
/// process). Bindings compare it with [`Client::fork_generation`] to know when to call
/// [`Client::after_fork`].
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

fn watch_forks() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        extern "C" fn in_child() {
            // Only an atomic add: async-signal-safe, as a child handler must be.
            FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
        }
        ONCE.call_once(|| {
            // SAFETY: registers a handler that performs one atomic add; no pointer outlives the
            // call. A failure (ENOMEM) only means forks go unnoticed, as without this call.
            unsafe {
                libc::pthread_atfork(None, None, Some(in_child));
            }
        });
    }
}

/// Exponential backoff with jitter: a delay in `[d/2, d]` with `d = min(cap, base * 2^n)`.
pub(crate) fn backoff(base: Duration, n: u32, cap: Duration) -> Duration {
    let d = base.saturating_mul(1u32 << n.min(20)).min(cap);
    d.mul_f64(0.5 + 0.5 * fastrand::f64())
}

/// A reqwest error without its URL (which can carry a key in a query string).
pub(crate) fn redact(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "bad body"
    } else {
        "request error"
    };
    let mut e2 = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = e2 {
        detail = s.to_string();
        e2 = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

/// When the exposure of a decision is logged (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expose {
    /// Log it now (default).
    #[default]
    Now,
    /// Do not log it; hand back an exposure token for [`Client::expose`] when the unit actually
    /// sees the treatment.
    Later,
}

/// Why `wait_for_init` returned without a snapshot.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no snapshot after {waited:?}: {}", last_error.as_ref().map_or("no attempt finished yet".to_owned(), |e| format!("{:?}: {}", e.0, e.1)))]
pub struct InitError {
    /// How long it waited.
    pub waited: Duration,
    /// The last config error, the likely cause.
    pub last_error: Option<(ConfigErrorKind, String)>,
}

/// `flush` or `close` did not finish in time; what was not delivered stays queued (flush) or is
/// counted as dropped (close).
#[derive(Debug, Clone, thiserror::Error)]
#[error("events not delivered within {0:?}")]
pub struct TimeoutError(pub Duration);

pub(crate) struct Inner {
    pub snapshot: ArcSwapOption<Snapshot>,
    pub history: Arc<History>,
    pub shared: Arc<Shared>,
    pub pseudo: Arc<ArcSwap<Pseudonymizer>>,
    /// Serialises snapshot swaps (config thread vs `update_snapshot`); never taken by readers.
    pub swap_lock: Mutex<()>,
    key_from_options: bool,
    init: (Mutex<bool>, Condvar),
    defaults: HashMap<String, Map<String, Value>>,
    empty: Map<String, Value>,
    /// Answers flags (`FLAG_NOT_FOUND`) before the first snapshot.
    empty_snapshot: Snapshot,
    context_keys: Vec<crate::pipeline::ContextKey>,
}

impl Inner {
    pub(crate) fn notify_init(&self) {
        let mut ready = self.init.0.lock().unwrap_or_else(|p| p.into_inner());
        *ready = true;
        self.init.1.notify_all();
    }

    /// Without a key in the options, pseudonyms use the snapshot's `privacy.id_hash_key`.
    pub(crate) fn adopt_privacy_key(&self, snap: &Snapshot) {
        if self.key_from_options {
            return;
        }
        match snap.id_hash_key() {
            Some(k) => self.pseudo.store(Arc::new(Pseudonymizer::new(Some(k)))),
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

/// How long `close` waits for the config thread to notice the stop before detaching it.
const CONFIG_JOIN_WAIT: Duration = Duration::from_millis(100);

struct Threads {
    config_stop: Option<Sender<()>>,
    /// The config thread is never joined by `close`: it may sit in a request for up to
    /// `request_timeout`; once told to stop, it ends on its own.
    config: Option<JoinHandle<()>>,
    pipeline: Vec<JoinHandle<()>>,
}

/// The Vario client. Cheap to share (`Arc<Client>` or `&Client` across threads): decisions take no
/// lock and never wait on the network; events are queued without blocking.
///
/// Dropping the client closes it (delivering queued events for up to 2 s).
pub struct Client {
    inner: Arc<Inner>,
    tx: Sender<Item>,
    ctl: Sender<Control>,
    threads: Mutex<Option<Threads>>,
    closed: AtomicBool,
    /// [`fork_generation`] when this client started: a different value means this is a forked
    /// child and the background threads are in the parent.
    generation: u64,
    opts: Options,
    close_deadline_ms: Arc<std::sync::atomic::AtomicI64>,
    /// Recently queued exposures, by fingerprint: a lossy, lock-free filter that lets a repeat
    /// within the de-dup window be skipped on the caller's thread instead of being queued and
    /// dropped by the pipeline's exact LRU. Each slot holds 40 bits of fingerprint and a 24-bit
    /// minute stamp; a collision only costs a filter miss (the LRU still de-duplicates).
    recent: Box<[std::sync::atomic::AtomicU64]>,
    /// The de-dup window in whole minutes; 0 disables the filter (windows under a minute).
    recent_window_min: u64,
    sdk_name: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("sdk", &self.sdk_name).finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn start(o: Options, inherited: Option<Arc<Snapshot>>) -> Result<Client, crate::options::BuildError> {
        watch_forks();
        let generation = fork_generation();
        let shared = Arc::new(Shared::default());
        let history: Arc<History> = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let pseudo = Arc::new(ArcSwap::from_pointee(Pseudonymizer::new(o.id_hash_key.as_deref())));
        let inner = Arc::new(Inner {
            snapshot: ArcSwapOption::empty(),
            history: history.clone(),
            shared: shared.clone(),
            pseudo: pseudo.clone(),
            swap_lock: Mutex::new(()),
            key_from_options: o.id_hash_key.is_some(),
            init: (Mutex::new(false), Condvar::new()),
            defaults: o.default_params.clone(),
            empty: Map::new(),
            empty_snapshot: Snapshot::from_json(r#"{"schema_version":1,"version":0}"#)
                .map_err(|e| crate::options::BuildError::InvalidOption(e.to_string()))?,
            context_keys: o.exposure_context_keys.iter().map(|k| crate::pipeline::ContextKey::new(k)).collect(),
        });
        let spec = o.config.clone().ok_or(crate::options::BuildError::NoConfigSource)?;
        // Local sources load before `build` returns; only the network is left to the thread.
        if let Some(path) = &o.persist_path {
            config::load_persisted(&inner, path);
        }
        let mut file_fingerprint = None;
        if let Some(snap) = inherited {
            // The parent's snapshot serves the child from its first decision; the config thread
            // then polls as usual. Failure means a newer persisted one is in use already.
            let _ = config::install(&inner, snap, ConfigSource::Inherited);
        }
        match &spec {
            ConfigSpec::Bootstrap(_) if inner.snapshot.load().is_some() => {}
            ConfigSpec::Bootstrap(text) => {
                if let Err((kind, msg)) = config::offer(&inner, text, ConfigSource::Bootstrap) {
                    config::record_error(&inner, kind, format!("bootstrap: {msg}"));
                }
            }
            ConfigSpec::Path(path) => {
                config::load_file(&inner, path, &mut file_fingerprint);
            }
            ConfigSpec::Url(_) => {}
        }

        let (tx, rx) = crossbeam_channel::bounded(o.queue_capacity);
        let close_deadline_ms = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let sdk = Sdk { name: o.sdk_name.clone(), version: o.sdk_version.clone() };
        let pcfg = pipeline::Config {
            sdk,
            batch_size: o.batch_size,
            batch_interval: o.batch_interval,
            dedup_window_ms: i64::try_from(o.dedup_window.as_millis()).unwrap_or(i64::MAX),
            dedup_capacity: o.dedup_capacity,
            assignment_capacity: o.assignment_capacity,
            pseudo,
            ingest_url: o.ingest_url.clone(),
            sdk_key: o.sdk_key.clone(),
            local_sink: o.local_sink.clone().unwrap_or(LocalSink::File("vario-events.jsonl".into())),
            request_timeout: o.request_timeout,
            max_attempts: o.max_attempts,
            retry_base: o.retry_base,
            max_backoff: o.max_backoff,
            gzip_threshold: o.gzip_threshold,
            close_deadline_ms: close_deadline_ms.clone(),
        };
        let pipeline = pipeline::spawn(pcfg, shared, history, rx, ctl_rx)?;
        let mut config_handle = None;
        let mut config_stop = None;
        if !matches!(spec, ConfigSpec::Bootstrap(_)) {
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
            let params = SyncParams {
                spec,
                sdk_key: o.sdk_key.clone(),
                poll_interval: o.poll_interval,
                request_timeout: o.request_timeout,
                max_backoff: o.max_backoff,
                persist_path: o.persist_path.clone(),
                file_fingerprint,
            };
            let inner2 = inner.clone();
            config_handle = Some(
                std::thread::Builder::new()
                    .name("vario-config".into())
                    .spawn(move || config::run(inner2, params, stop_rx))?,
            );
            config_stop = Some(stop_tx);
        }
        Ok(Client {
            inner,
            tx,
            ctl: ctl_tx,
            threads: Mutex::new(Some(Threads { config_stop, config: config_handle, pipeline })),
            close_deadline_ms,
            recent: (0..o.dedup_capacity.clamp(1, 1 << 16).next_power_of_two())
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
            recent_window_min: (o.dedup_window.as_secs() / 60).min(0xFF_FFFF),
            closed: AtomicBool::new(false),
            generation,
            sdk_name: o.sdk_name.clone(),
            opts: o,
        })
    }

    /// Decides `req` on the current snapshot and hands the decision to `f`.
    ///
    /// No lock, no network, no allocation beyond what the exposure needs. Before the first
    /// snapshot the decision is `NO_CONFIG` with the caller's default params for the placement.
    /// With [`Expose::Now`] an `ASSIGNED` decision's exposure is queued; with [`Expose::Later`] `f`
    /// gets an exposure token instead.
    pub fn decide_with<R>(
        &self,
        req: &Request<'_>,
        expose: Expose,
        f: impl FnOnce(&Decision<'_>, Option<&str>) -> R,
    ) -> R {
        self.decide_in(req, expose, |_, d, token| f(d, token))
    }

    /// Decides and returns the decision as SPEC JSON (plus `exposure_token` with
    /// [`Expose::Later`]). Convenient for tests and bindings; [`Client::decide_with`] avoids the
    /// serialisation.
    pub fn decide_json(&self, req: &Request<'_>, expose: Expose) -> String {
        self.decide_with(req, expose, |d, token| match token {
            None => d.to_json(),
            Some(t) => {
                let mut v: Value = serde_json::from_str(&d.to_json()).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("exposure_token".into(), Value::String(t.to_owned()));
                }
                v.to_string()
            }
        })
    }

    fn context_keys(&self) -> Vec<&str> {
        self.inner.context_keys.iter().map(|k| k.name.as_str()).collect()
    }

    fn enqueue_exposure(&self, d: &Decision<'_>, req: &Request<'_>, now: i64) {
        let Some(key) = d.exposure_key() else { return };
        const MINUTES: u64 = 0xFF_FFFF;
        let filter = match d.exposure_fingerprint() {
            Some(fp) if self.recent_window_min > 0 => {
                let slot = &self.recent[(fp as usize) & (self.recent.len() - 1)];
                let (tag, minute) = (fp >> 24, (now.max(0) as u64 / 60_000) & MINUTES);
                let seen = slot.load(Ordering::Relaxed);
                // Skipped only when certainly within the window: the stamp is the minute it was
                // queued, so `minute - stamp < window` bounds the real age below the window.
                if seen >> 24 == tag && minute.wrapping_sub(seen & MINUTES) & MINUTES < self.recent_window_min {
                    inc(&self.inner.shared.c.exposures_deduplicated_early);
                    return;
                }
                Some((slot, tag << 24 | minute))
            }
            _ => None,
        };
        let item = QueuedExposure::new(
            key,
            now,
            [req.user_id.filter(|s| !s.is_empty()), req.session_id.filter(|s| !s.is_empty()), d.page_type()],
            req.context,
            &self.inner.context_keys,
        );
        if self.send(Item::Exposure(item), &self.inner.shared.c.exposures_enqueued) {
            if let Some((slot, entry)) = filter {
                slot.store(entry, Ordering::Relaxed);
            }
        }
    }

    fn send(&self, item: Item, counter: &std::sync::atomic::AtomicU64) -> bool {
        if self.generation != fork_generation() {
            inc(&self.inner.shared.c.dropped_after_fork);
            return false;
        }
        if self.closed.load(Ordering::Relaxed) {
            inc(&self.inner.shared.c.dropped_at_close);
            return false;
        }
        match self.tx.try_send(item) {
            Ok(()) => {
                inc(counter);
                true
            }
            Err(TrySendError::Full(_)) => {
                inc(&self.inner.shared.c.dropped_queue_full);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                inc(&self.inner.shared.c.dropped_at_close);
                false
            }
        }
    }

    /// Logs the exposure carried by a token from [`Expose::Later`] (any process, any surface).
    pub fn expose(&self, token: &str) -> Result<bool, TokenError> {
        // With the key coming from the snapshot, a token cannot be verified before it arrives:
        // refuse rather than accept it unverified.
        if !self.inner.key_from_options && self.inner.snapshot.load().is_none() {
            inc(&self.inner.shared.c.tokens_rejected);
            return Err(TokenError::KeyUnavailable);
        }
        let data = match self.inner.pseudo.load().decode_token(token) {
            Ok(d) => d,
            Err(e) => {
                inc(&self.inner.shared.c.tokens_rejected);
                return Err(e);
            }
        };
        Ok(self.send(Item::Token(Box::new(data), now_ms()), &self.inner.shared.c.exposures_enqueued))
    }

    /// Evaluates a flag on the current snapshot (`FLAG_NOT_FOUND` before the first snapshot).
    pub fn flag_with<R>(&self, key: &str, req: &Request<'_>, f: impl FnOnce(&FlagDecision<'_>) -> R) -> R {
        let guard = self.inner.snapshot.load();
        let snap = guard.as_deref().unwrap_or(&self.inner.empty_snapshot);
        f(&snap.flag(key, req, now_ms()))
    }

    /// Queues an outcome with the unit's recent assignments attached (SPEC §5). Returns false
    /// when the queue was full (counted).
    pub fn track(&self, outcome: Outcome) -> bool {
        self.send(Item::Outcome(Box::new(outcome), now_ms()), &self.inner.shared.c.outcomes_enqueued)
    }

    /// Blocks until the first snapshot is in use, or `timeout`.
    pub fn wait_for_init(&self, timeout: Duration) -> Result<(), InitError> {
        let start = Instant::now();
        let mut ready = self.inner.init.0.lock().unwrap_or_else(|p| p.into_inner());
        while !*ready {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                let last = self.inner.shared.config.lock().unwrap_or_else(|p| p.into_inner()).last_error.clone();
                return Err(InitError { waited: start.elapsed(), last_error: last });
            }
            ready = self.inner.init.1.wait_timeout(ready, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        Ok(())
    }

    /// Delivers everything queued before this call, waiting up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), TimeoutError> {
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        if self.ctl.send(Control::Flush(ack_tx)).is_err() {
            return Ok(());
        }
        ack_rx.recv_timeout(timeout).map_err(|_| TimeoutError(timeout))
    }

    /// Stops polling, delivers what is queued (up to `timeout`; the rest is counted as
    /// `dropped_at_close`), and stops the background threads. `Err` when anything had to be given
    /// up. Idempotent.
    pub fn close(&self, timeout: Duration) -> Result<(), TimeoutError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if self.is_forked_copy() {
            // The threads to stop live in the parent; waiting for them would only stall. The
            // parent delivers what was queued before the fork.
            self.forget_parent_threads();
            return Ok(());
        }
        let Some(mut threads) = self.threads.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(());
        };
        if let Some(stop) = threads.config_stop.take() {
            let _ = stop.send(());
        }
        let dropped_before = self.inner.shared.c.dropped_at_close.load(Ordering::SeqCst);
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        self.close_deadline_ms.store(now_ms().saturating_add(timeout_ms).max(1), Ordering::SeqCst);
        let deadline =
            Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        let _ = self.ctl.send(Control::Close(deadline, ack_tx));
        if ack_rx.recv_timeout(timeout).is_err() {
            // The sender is still in a request or a retry; it gives up at the deadline and counts
            // what it could not deliver. The threads are detached.
            return Err(TimeoutError(timeout));
        }
        for h in threads.pipeline.drain(..) {
            let _ = h.join();
        }
        if let Some(h) = threads.config.take() {
            // Told to stop above: idle, it ends within microseconds, so a short wait lets it be
            // joined (nothing left running, no thread stack left behind). In a request it ends
            // when the request does (up to `request_timeout`); close does not wait for that.
            let until = (Instant::now() + CONFIG_JOIN_WAIT).min(deadline);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        // Anything accepted by the queue that the pipeline never picked up (a caller racing with
        // close) is lost: count it.
        let c = &self.inner.shared.c;
        // Every queued item is an exposure (direct or token) or an outcome.
        let queued = c.exposures_enqueued.load(Ordering::SeqCst) + c.outcomes_enqueued.load(Ordering::SeqCst);
        let lost = queued.saturating_sub(c.picked_up.load(Ordering::SeqCst));
        crate::stats::add(&c.dropped_at_close, lost);
        // Ok means nothing was given up: whatever was queued was delivered (or refused by the
        // endpoint, which is counted separately).
        if c.dropped_at_close.load(Ordering::SeqCst) > dropped_before {
            return Err(TimeoutError(timeout));
        }
        Ok(())
    }

    /// Offers a snapshot pushed by the caller (for config delivered through the caller's own
    /// channel). It is validated like a fetched one: `Ok(true)` when swapped in, `Ok(false)` when its
    /// version is already in use, `Err` (with the kind) when rejected; the good snapshot stays.
    pub fn update_snapshot(&self, json: &str) -> Result<bool, (ConfigErrorKind, String)> {
        match config::offer(&self.inner, json, ConfigSource::Manual) {
            Ok(config::Installed::Swapped) => Ok(true),
            Ok(config::Installed::Unchanged) => Ok(false),
            Err((kind, msg)) => {
                config::record_error(&self.inner, kind, msg.clone());
                Err((kind, msg))
            }
        }
    }

    /// The [`fork_generation`] this client was started in.
    pub fn fork_generation(&self) -> u64 {
        self.generation
    }

    /// True in a process forked from the one that started this client: its background threads
    /// stayed in the parent, so events given to it are dropped (counted as `dropped_after_fork`)
    /// until it is replaced by [`Client::after_fork`].
    pub fn is_forked_copy(&self) -> bool {
        self.generation != fork_generation()
    }

    /// In a forked child (gunicorn preload, `multiprocessing` with fork): a new client with the
    /// same options, fresh background threads and HTTP connections, serving the parent's current
    /// snapshot from its first decision. The events queued before the fork are the parent's to
    /// deliver; the old client may be dropped in the child without waiting (it stops nothing).
    pub fn after_fork(&self) -> Result<Client, crate::options::BuildError> {
        self.closed.store(true, Ordering::SeqCst);
        if self.is_forked_copy() {
            self.forget_parent_threads();
        }
        Client::start(self.opts.clone(), self.inner.snapshot.load_full())
    }

    /// In a forked child, the parent's thread handles must never be joined or detached: glibc
    /// recycles the dead threads' descriptors for the child's new threads, so detaching a stale
    /// handle could detach a live thread of the replacement client.
    fn forget_parent_threads(&self) {
        if let Some(t) = self.threads.lock().unwrap_or_else(|p| p.into_inner()).take() {
            std::mem::forget(t);
        }
    }

    /// Like [`Client::decide_with`], also handing `f` the snapshot that decided (`None` before the
    /// first one), so bindings can resolve the decision's indices ([`Decision::params_id`],
    /// [`Decision::experiment_index`]) against objects they cached per snapshot.
    pub fn decide_in<R>(
        &self,
        req: &Request<'_>,
        expose: Expose,
        f: impl FnOnce(Option<&Arc<Snapshot>>, &Decision<'_>, Option<&str>) -> R,
    ) -> R {
        let guard = self.inner.snapshot.load();
        self.decide_on(guard.as_ref(), req, expose, f)
    }

    /// Like [`Client::decide_in`] on a snapshot the caller loaded with [`Client::snapshot`] (or
    /// `None` for the no-config answer), so a binding can read exactly the context attributes
    /// that snapshot targets before deciding on it. The exposure is resolved against that
    /// snapshot's version, which the client keeps for the last 1,024 swaps.
    pub fn decide_on<R>(
        &self,
        snap: Option<&Arc<Snapshot>>,
        req: &Request<'_>,
        expose: Expose,
        f: impl FnOnce(Option<&Arc<Snapshot>>, &Decision<'_>, Option<&str>) -> R,
    ) -> R {
        inc(&self.inner.shared.c.decisions);
        let Some(snap) = snap else {
            inc(&self.inner.shared.c.decisions_no_config);
            let defaults = self.inner.defaults.get(req.placement).unwrap_or(&self.inner.empty);
            return f(None, &Decision::no_config(req.placement, defaults), None);
        };
        let now = now_ms();
        let d = snap.decide(req, now);
        match expose {
            Expose::Now => {
                self.enqueue_exposure(&d, req, now);
                f(Some(snap), &d, None)
            }
            Expose::Later => {
                let token = self.token_for(&d, req, now);
                f(Some(snap), &d, token.as_deref())
            }
        }
    }

    fn token_for(&self, d: &Decision<'_>, req: &Request<'_>, now: i64) -> Option<String> {
        d.exposure(now, &self.context_keys(), req.context).map(|raw| {
            let p = self.inner.pseudo.load();
            let event_id = uuid::Uuid::new_v4().to_string();
            p.encode_token(&vario_core::TokenPayload { event_id, data: raw.pseudonymize(&p) })
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Every counter and the config status.
    pub fn stats(&self) -> Stats {
        self.inner.shared.snapshot(self.tx.len(), now_ms())
    }

    /// The snapshot in use, if any (for inspection: lints, version).
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.inner.snapshot.load_full()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.close(Duration::from_secs(2));
    }
}
