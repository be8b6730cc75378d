//! The client: lock-free decisions on the current snapshot, non-blocking event enqueue, and the
//! lifecycle (start, flush, close, fork) of the background threads.
//!
//! Runs on the caller's threads. A decision is an `ArcSwap` load of the [store](crate::store)'s
//! snapshot (no lock), a pure [`Snapshot::decide`], and for an exposure a `try_send` on the
//! [queue](crate::pipeline::queue). Nothing on that path waits for the network or another thread.

use crate::clock::{fork_generation, now_ms, watch_forks};
use crate::config;
use crate::error::{BuildError, InitError, TimeoutError, UpdateError};
use crate::options::Options;
use crate::outcome::Outcome;
use crate::pipeline::{self, queue::ContextKey, queue::Control, queue::Item, queue::QueuedExposure};
use crate::push;
use crate::stats::{ConfigSource, Shared, Stats, add, inc};
use crate::store::{Installed, Security, Store, empty_snapshot};
use crossbeam_channel::{Sender, TrySendError};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vario_core::{Decision, FlagDecision, Request, Snapshot, TokenError};

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

/// How long `close` waits for the config thread to notice the stop before detaching it.
const CONFIG_JOIN_WAIT: Duration = Duration::from_millis(100);

struct Threads {
    config_stop: Option<Sender<()>>,
    /// The push thread's stop, and its handle (detached like the config thread's: a read ends
    /// within its tick of the stop).
    push_stop: Option<Sender<()>>,
    push: Option<JoinHandle<()>>,
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
    store: Arc<Store>,
    shared: Arc<Shared>,
    tx: Sender<Item>,
    ctl: Sender<Control>,
    threads: Mutex<Option<Threads>>,
    closed: AtomicBool,
    /// [`fork_generation`] when this client started: a different value means this is a forked
    /// child and the background threads are in the parent.
    generation: u64,
    opts: Arc<Options>,
    /// The exposure context keys, each with its JSON key escaped once.
    context_keys: Vec<ContextKey>,
    empty: Map<String, Value>,
    close_deadline_ms: Arc<AtomicI64>,
    /// Recently queued exposures, by fingerprint: a lossy, lock-free filter that lets a repeat
    /// within the de-dup window be skipped on the caller's thread instead of being queued and
    /// dropped by the pipeline's exact LRU. Each slot holds 40 bits of fingerprint and a 24-bit
    /// minute stamp; a collision only costs a filter miss (the LRU still de-duplicates).
    recent: Box<[AtomicU64]>,
    /// The de-dup window in whole minutes; 0 disables the filter (windows under a minute).
    recent_window_min: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("sdk", &self.opts.sdk_name).finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a client from validated options (see [`ClientBuilder::build`](crate::ClientBuilder::build)),
    /// serving `inherited` (a forked parent's snapshot) from its first decision when given.
    pub(crate) fn start(o: Options, inherited: Option<(Arc<Snapshot>, Option<String>)>) -> Result<Client, BuildError> {
        o.validate()?;
        watch_forks();
        let generation = fork_generation();
        let opts = Arc::new(o);
        let shared = Arc::new(Shared::default());
        shared.started_at_ms.store(now_ms(), Ordering::Relaxed);
        let security = Security::from_options(&opts)?;
        let store = Arc::new(Store::new(opts.processing.id_hash_key.as_deref(), security, shared.clone()));
        // Local sources load before `build` returns; only the network is left to the thread.
        let file_fingerprint = config::load_local(&store, &opts, inherited);

        let (tx, rx) = crossbeam_channel::bounded(opts.delivery.queue_capacity);
        let close_deadline_ms = Arc::new(AtomicI64::new(0));
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let pipeline =
            pipeline::spawn(opts.clone(), shared.clone(), store.clone(), rx, ctl_rx, close_deadline_ms.clone())?;
        let mut config_handle = None;
        let mut config_stop = None;
        // The push thread's way to ask the config thread for a fetch now (coalesced: one pending).
        let mut wake = None;
        if config::needs_thread(&opts) {
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
            let (wake_tx, wake_rx) = if opts.sync.push().is_some() {
                crossbeam_channel::bounded::<u64>(1)
            } else {
                // No push thread: nothing ever wakes the config thread early.
                let (tx, _) = crossbeam_channel::bounded::<u64>(1);
                (tx, crossbeam_channel::never())
            };
            let (store2, opts2) = (store.clone(), opts.clone());
            config_handle = Some(
                std::thread::Builder::new()
                    .name("vario-config".into())
                    .spawn(move || config::run(store2, opts2, file_fingerprint, stop_rx, wake_rx))?,
            );
            config_stop = Some(stop_tx);
            wake = Some(wake_tx);
        }
        let (mut push_handle, mut push_stop) = (None, None);
        if opts.sync.push().is_some() {
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
            let (store2, opts2) = (store.clone(), opts.clone());
            push_handle = Some(
                std::thread::Builder::new()
                    .name("vario-push".into())
                    .spawn(move || push::run(store2, opts2, wake, stop_rx))?,
            );
            push_stop = Some(stop_tx);
        }
        let p = &opts.processing;
        Ok(Client {
            store,
            shared,
            tx,
            ctl: ctl_tx,
            threads: Mutex::new(Some(Threads {
                config_stop,
                config: config_handle,
                push_stop,
                push: push_handle,
                pipeline,
            })),
            close_deadline_ms,
            recent: (0..p.dedup_capacity.clamp(1, 1 << 16).next_power_of_two()).map(|_| AtomicU64::new(0)).collect(),
            recent_window_min: (p.dedup_window.as_secs() / 60).min(0xFF_FFFF),
            closed: AtomicBool::new(false),
            generation,
            context_keys: opts.exposure_context_keys.iter().map(|k| ContextKey::new(k)).collect(),
            empty: Map::new(),
            opts,
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

    fn context_key_names(&self) -> Vec<&str> {
        self.context_keys.iter().map(|k| k.name.as_str()).collect()
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
                    inc(&self.shared.c.exposures_deduplicated_early);
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
            &self.context_keys,
        );
        if self.send(Item::Exposure(item), &self.shared.c.exposures_enqueued)
            && let Some((slot, entry)) = filter
        {
            slot.store(entry, Ordering::Relaxed);
        }
    }

    fn send(&self, item: Item, counter: &AtomicU64) -> bool {
        if self.generation != fork_generation() {
            inc(&self.shared.c.dropped_after_fork);
            return false;
        }
        if self.closed.load(Ordering::Relaxed) {
            inc(&self.shared.c.dropped_at_close);
            return false;
        }
        match self.tx.try_send(item) {
            Ok(()) => {
                inc(counter);
                true
            }
            Err(TrySendError::Full(_)) => {
                inc(&self.shared.c.dropped_queue_full);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                inc(&self.shared.c.dropped_at_close);
                false
            }
        }
    }

    /// Logs the exposure carried by a token from [`Expose::Later`] (any process, any surface).
    /// `Ok(false)` when the event was dropped (queue full, closed, forked copy; counted).
    ///
    /// The token must be signed with this client's key: the `id_hash_key` (options or snapshot),
    /// shared by every process that uses it, or, with no key at all, this process's random token
    /// key. An unsigned token is `TOKEN_UNSIGNED` unless `allow_unsigned_tokens` is set and no key
    /// is configured (contract/decisions.md "Exposure timing and tokens").
    pub fn expose(&self, token: &str) -> Result<bool, TokenError> {
        // With the key coming from the snapshot, a token cannot be verified before it arrives:
        // refuse rather than accept it unverified.
        if !self.store.key_from_options() && self.store.load().is_none() {
            inc(&self.shared.c.tokens_rejected);
            return Err(TokenError::KeyUnavailable);
        }
        let data = match self.store.pseudonymizer().decode_token(token) {
            Ok(d) => d,
            Err(e) => {
                inc(&self.shared.c.tokens_rejected);
                return Err(e);
            }
        };
        Ok(self.send(Item::Token(Box::new(data), now_ms()), &self.shared.c.exposures_enqueued))
    }

    /// Logs the exposure of an interleaved impression: the token of a decision whose
    /// [`Decision::interleaving`] was set (from [`Expose::Later`]) and the record of the list it
    /// showed ([`vario_core::Impression::new`] over the merged picks). Each call is its own
    /// impression, so unlike plain exposures it is not de-duplicated per unit; redeeming one
    /// token twice still yields one `event_id`.
    ///
    /// `TOKEN_PAYLOAD` when the record is not self-consistent
    /// ([`vario_core::Impression::validate`]); the token's own errors as [`Client::expose`].
    pub fn expose_interleaved(&self, token: &str, impression: vario_core::Impression) -> Result<bool, TokenError> {
        if !self.store.key_from_options() && self.store.load().is_none() {
            inc(&self.shared.c.tokens_rejected);
            return Err(TokenError::KeyUnavailable);
        }
        let checked = impression.validate().map_err(|e| TokenError::Payload(e.to_string())).and_then(|()| {
            let mut data = self.store.pseudonymizer().decode_token(token)?;
            data.data.fields.interleaving = Some(impression);
            Ok(data)
        });
        match checked {
            Ok(data) => Ok(self.send(Item::Token(Box::new(data), now_ms()), &self.shared.c.exposures_enqueued)),
            Err(e) => {
                inc(&self.shared.c.tokens_rejected);
                Err(e)
            }
        }
    }

    /// Evaluates a flag on the current snapshot (`FLAG_NOT_FOUND` before the first snapshot).
    pub fn flag_with<R>(&self, key: &str, req: &Request<'_>, f: impl FnOnce(&FlagDecision<'_>) -> R) -> R {
        let guard = self.store.load();
        let snap = guard.as_deref().unwrap_or(empty_snapshot());
        f(&snap.flag(key, req, now_ms()))
    }

    /// Queues an outcome with the unit's recent assignments attached (SPEC §5). Returns false
    /// when it was dropped (queue full, closed, forked copy; counted).
    pub fn track(&self, outcome: Outcome) -> bool {
        self.send(Item::Outcome(Box::new(outcome), now_ms()), &self.shared.c.outcomes_enqueued)
    }

    /// Blocks until the first snapshot is in use, or `timeout` (code `TIMEOUT`, with the last
    /// config error).
    pub fn wait_for_init(&self, timeout: Duration) -> Result<(), InitError> {
        self.store.wait_for_init(timeout)
    }

    /// Delivers everything queued before this call, waiting up to `timeout`. With a spool
    /// (`spool_path`), it returns once each of those events is delivered *or* durable in the spool
    /// (written, and `fsync`ed), so with the endpoint down it returns as soon as the pipeline has
    /// written everything down.
    pub fn flush(&self, timeout: Duration) -> Result<(), TimeoutError> {
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        if self.ctl.send(Control::Flush(ack_tx)).is_err() {
            return Ok(());
        }
        ack_rx.recv_timeout(timeout).map_err(|_| TimeoutError(timeout))
    }

    /// Stops polling, delivers what is queued (up to `timeout`; the rest is counted as
    /// `dropped_at_close`), and stops the background threads. With a spool, what cannot be
    /// delivered in time is left in the spool instead (not a drop: `Ok`), for the next client on
    /// the same `spool_path`; the poster stops replaying 200 ms before the deadline to write it
    /// down. A host that wants this on SIGTERM calls `close` from its own handler: the library
    /// installs no signal handler. `Err` when anything had to be given
    /// up. Idempotent: a second call returns `Ok` at once.
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
        if let Some(stop) = threads.push_stop.take() {
            let _ = stop.send(());
            self.shared.set_push_state(crate::stats::PushState::Off);
        }
        let dropped_before = self.shared.c.dropped_at_close.load(Ordering::SeqCst);
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
        // Told to stop above: idle, each ends within microseconds, so a short wait lets it be
        // joined (nothing left running, no thread stack left behind). In a request (or a push
        // read) it ends when that does (up to `request_timeout`, a push read's tick); close
        // does not wait for that.
        let until = (Instant::now() + CONFIG_JOIN_WAIT).min(deadline);
        for h in [threads.config.take(), threads.push.take()].into_iter().flatten() {
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        // Anything accepted by the queue that the pipeline never picked up (a caller racing with
        // close) is lost: count it.
        let c = &self.shared.c;
        // Every queued item is an exposure (direct or token) or an outcome.
        let queued = c.exposures_enqueued.load(Ordering::SeqCst) + c.outcomes_enqueued.load(Ordering::SeqCst);
        let lost = queued.saturating_sub(c.picked_up.load(Ordering::SeqCst));
        add(&c.dropped_at_close, lost);
        // Ok means nothing was given up: whatever was queued was delivered (or refused by the
        // endpoint, which is counted separately).
        if c.dropped_at_close.load(Ordering::SeqCst) > dropped_before {
            return Err(TimeoutError(timeout));
        }
        Ok(())
    }

    /// Offers a snapshot pushed by the caller (for config delivered through the caller's own
    /// channel). It is validated like a fetched one: `Ok(true)` when swapped in, `Ok(false)` when
    /// its version is already in use, `Err` when rejected (the good snapshot stays):
    /// [`UpdateError::Rejected`] with the compilation error (codes `NOT_JSON`, `SCHEMA_VERSION`,
    /// `INVALID_SNAPSHOT`), [`UpdateError::Signature`] (code `SNAPSHOT_SIGNATURE`: with
    /// `snapshot_public_key` set, `json` must be a signed envelope) or
    /// [`UpdateError::VersionRegression`] (code `VERSION_REGRESSION`). The
    /// error is also recorded as the last config error in [`Client::stats`].
    pub fn update_snapshot(&self, json: &str) -> Result<bool, UpdateError> {
        match self.store.offer(json, ConfigSource::Manual) {
            Ok(Installed::Swapped) => Ok(true),
            Ok(Installed::Unchanged) => Ok(false),
            Err(e) => {
                self.store.record_error(e.kind(), e.to_string());
                Err(e)
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
    pub fn after_fork(&self) -> Result<Client, BuildError> {
        self.closed.store(true, Ordering::SeqCst);
        if self.is_forked_copy() {
            self.forget_parent_threads();
        }
        // With its digest, so a push announcing the same snapshot is known to be in use.
        Client::start((*self.opts).clone(), self.store.load_full().map(|s| (s, self.store.in_use().1)))
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
    /// [`Decision::experiment_index`]) against objects they cached per snapshot
    /// ([`host::SnapshotCache`](crate::host::SnapshotCache)).
    pub fn decide_in<R>(
        &self,
        req: &Request<'_>,
        expose: Expose,
        f: impl FnOnce(Option<&Arc<Snapshot>>, &Decision<'_>, Option<&str>) -> R,
    ) -> R {
        let guard = self.store.load();
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
        inc(&self.shared.c.decisions);
        let Some(snap) = snap else {
            inc(&self.shared.c.decisions_no_config);
            let defaults = self.opts.default_params.get(req.placement).unwrap_or(&self.empty);
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
        d.exposure(now, &self.context_key_names(), req.context).map(|raw| {
            let p = self.store.pseudonymizer();
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
        let stale_after = self.opts.sync.stale_after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.shared.snapshot(self.tx.len(), now_ms(), stale_after)
    }

    /// Blocks until a snapshot of at least `version` is in use, or `timeout`: true when it is.
    /// For a host that must not act before a publish it knows of has arrived (a deploy step, a
    /// test); decisions never need it.
    pub fn wait_for_version(&self, version: u64, timeout: Duration) -> bool {
        self.store.wait_for_version(version, timeout)
    }

    /// The snapshot in use, if any (for inspection: lints, version).
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.store.load_full()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.close(Duration::from_secs(2));
    }
}
