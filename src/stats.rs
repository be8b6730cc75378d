//! Counters for everything the client does, so nothing is lost silently.
//!
//! Hot-path counters are relaxed atomics (no lock). The config status (last error, source) sits
//! behind a mutex that only the config thread writes and only [`crate::Client::stats`] reads.

use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

/// Counters written by callers come first and are padded away from those written by the
/// pipeline and config threads, so the threads do not invalidate each other's cache lines.
#[derive(Debug, Default)]
#[repr(C, align(128))]
pub(crate) struct Counters {
    // Written on the caller's path.
    pub decisions: AtomicU64,
    pub decisions_no_config: AtomicU64,
    pub exposures_enqueued: AtomicU64,
    pub outcomes_enqueued: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub tokens_rejected: AtomicU64,
    pub dropped_after_fork: AtomicU64,
    pub exposures_deduplicated_early: AtomicU64,
    _pad: [u64; 16],
    // Written by background threads.
    /// Items the pipeline took off the queue.
    pub picked_up: AtomicU64,
    pub exposures_deduplicated: AtomicU64,
    pub events_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batch_retries: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub dropped_retries_exhausted: AtomicU64,
    pub dropped_stale_config: AtomicU64,
    pub dropped_at_close: AtomicU64,
    pub dropped_sink_error: AtomicU64,
    pub events_spooled: AtomicU64,
    pub events_replayed: AtomicU64,
    pub dropped_spool_full: AtomicU64,
    pub spool_corrupt_records: AtomicU64,
    pub config_fetches: AtomicU64,
    pub config_not_modified: AtomicU64,
    pub config_updates: AtomicU64,
    pub config_errors: AtomicU64,
    pub config_rejected: AtomicU64,
    pub config_too_large: AtomicU64,
    pub config_signature_rejected: AtomicU64,
    pub push_connects: AtomicU64,
    pub push_disconnects: AtomicU64,
    pub push_idle_timeouts: AtomicU64,
    pub push_notifications: AtomicU64,
    pub push_notifications_ignored: AtomicU64,
    /// Gauges set by the pipeline thread.
    pub dedup_entries: AtomicU64,
    pub assignment_units: AtomicU64,
    /// Gauge set by the spool.
    pub spool_bytes: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// Where the snapshot in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// No snapshot yet.
    None,
    /// A bootstrap JSON string given to the builder.
    Bootstrap,
    /// A local file (`config_path`).
    File,
    /// The last good snapshot persisted to disk by an earlier run.
    Persisted,
    /// Pushed by the caller with `Client::update_snapshot`.
    Manual,
    /// The config endpoint.
    Http,
    /// Carried over from the parent process by [`Client::after_fork`](crate::Client::after_fork).
    Inherited,
    /// The environment's config hash in Redis (`redis_url`).
    Redis,
}

/// The push channel's state (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// No push channel is configured.
    Off,
    /// Connecting for the first time, or again after the channel was lost (backing off).
    Reconnecting,
    /// Subscribed: a publish reaches the client without waiting for a poll.
    Connected,
}

impl PushState {
    fn from_u8(v: u8) -> PushState {
        match v {
            1 => PushState::Reconnecting,
            2 => PushState::Connected,
            _ => PushState::Off,
        }
    }
}

/// What kind of error the config sync last hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigErrorKind {
    /// 401 or 403: the SDK key is wrong or lacks access. Retrying will not help until it changes.
    Unauthorized,
    /// Another HTTP status.
    Http,
    /// Connection refused, DNS, TLS or timeout.
    Network,
    /// The body is not a valid snapshot (rejected whole; the last good one stays).
    Invalid,
    /// The snapshot's version is lower than the one in use.
    VersionRegression,
    /// The snapshot's version is more than `max_version_jump` ahead of the one in use.
    VersionJump,
    /// Reading a local file failed.
    Io,
    /// The body exceeded `max_config_bytes` after decompression (refused, never persisted).
    TooLarge,
    /// The endpoint redirected and redirects are not followed (see `follow_redirects`).
    Redirect,
    /// The response's content type is not one a snapshot is served as.
    ContentType,
    /// `snapshot_public_key` is set and the snapshot is unsigned or its signature does not verify.
    Signature,
}

#[derive(Debug, Default)]
pub(crate) struct ConfigState {
    pub source: Option<ConfigSource>,
    pub version: Option<u64>,
    pub updated_at_ms: Option<i64>,
    pub last_error: Option<(ConfigErrorKind, String)>,
    pub last_error_at_ms: Option<i64>,
    /// SHA-256 (lowercase hex) of the snapshot text in use, as received.
    pub digest: Option<String>,
    /// The snapshot's `published_at`, in ms since the epoch, when it has a readable one.
    pub published_at_ms: Option<i64>,
    /// The last time the source confirmed what is in use is the latest (see `stale_after`).
    pub synced_at_ms: Option<i64>,
    /// Why the push channel was last lost or could not connect.
    pub push_error: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub c: Counters,
    pub config: Mutex<ConfigState>,
    /// [`PushState`] as a number (0 off, 1 reconnecting, 2 connected): read by the config thread
    /// for its backstop cadence, written by the push thread.
    pub push_state: AtomicU8,
    /// A stale episode was logged already (cleared by the next sync).
    pub stale_logged: AtomicBool,
    /// When the client started (ms since the epoch): staleness before the first sync counts
    /// from here.
    pub started_at_ms: std::sync::atomic::AtomicI64,
    /// The SRM monitor's last summary, written by the processor thread (crate::srm).
    pub srm: Mutex<Vec<crate::srm::SrmStatus>>,
}

impl Shared {
    pub(crate) fn push_state(&self) -> PushState {
        PushState::from_u8(self.push_state.load(Relaxed))
    }

    pub(crate) fn set_push_state(&self, s: PushState) {
        self.push_state.store(
            match s {
                PushState::Off => 0,
                PushState::Reconnecting => 1,
                PushState::Connected => 2,
            },
            Relaxed,
        );
    }

    /// Milliseconds since the last sync (or since start before any), at `now`.
    pub(crate) fn sync_age_ms(&self, cfg: &ConfigState, now: i64) -> i64 {
        now - cfg.synced_at_ms.unwrap_or_else(|| self.started_at_ms.load(Relaxed))
    }
}

/// A point-in-time copy of every counter and the config status.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Decisions made (all reasons).
    pub decisions: u64,
    /// Decisions answered with caller defaults because no snapshot was loaded.
    pub decisions_no_config: u64,
    /// Exposures accepted into the queue.
    pub exposures_enqueued: u64,
    /// Exposures skipped as repeats within the de-dup window (all of them: those the caller's
    /// filter skipped before queueing, and those the pipeline's LRU found).
    pub exposures_deduplicated: u64,
    /// Of those, the repeats skipped on the caller's thread, never queued.
    pub exposures_deduplicated_early: u64,
    /// Outcomes accepted into the queue.
    pub outcomes_enqueued: u64,
    /// Events delivered (2xx, or written to the local sink).
    pub events_sent: u64,
    /// Batches delivered.
    pub batches_sent: u64,
    /// Delivery attempts repeated after 408/429/5xx/network errors.
    pub batch_retries: u64,
    /// Events dropped because the queue was full (the caller was not blocked).
    pub dropped_queue_full: u64,
    /// Events dropped because the ingestion endpoint refused the batch (4xx other than 408/429).
    pub dropped_rejected: u64,
    /// Events dropped after the retry budget ran out.
    pub dropped_retries_exhausted: u64,
    /// Exposures dropped because their snapshot left the history before they were processed.
    pub dropped_stale_config: u64,
    /// Events still undelivered when `close` timed out.
    pub dropped_at_close: u64,
    /// Events the local sink failed to write (or, with a spool, whose spool write failed).
    pub dropped_sink_error: u64,
    /// Events written to the disk spool (`spool_path`) because they could not be delivered at once.
    pub events_spooled: u64,
    /// Events read back from the spool and delivered (also counted in `events_sent`); includes
    /// those an earlier process spooled.
    pub events_replayed: u64,
    /// Events dropped because the spool had reached `spool_max_bytes`.
    pub dropped_spool_full: u64,
    /// Corrupt or truncated spool records skipped on replay; one such record ends its segment,
    /// so the records after it in that segment are skipped with it and counted once.
    pub spool_corrupt_records: u64,
    /// Exposure tokens refused by `expose`.
    pub tokens_rejected: u64,
    /// Events given to a client inherited by a forked child, whose background threads stayed in
    /// the parent (use [`Client::after_fork`](crate::Client::after_fork) in the child).
    pub dropped_after_fork: u64,
    /// Config requests made.
    pub config_fetches: u64,
    /// Config requests answered 304.
    pub config_not_modified: u64,
    /// Snapshots swapped in.
    pub config_updates: u64,
    /// Config requests that failed (network, HTTP status).
    pub config_errors: u64,
    /// Snapshots refused (invalid, lower version, signature).
    pub config_rejected: u64,
    /// Config bodies refused for exceeding `max_config_bytes` (after decompression); never parsed
    /// or persisted. Also counted in `config_errors`.
    pub config_too_large: u64,
    /// Snapshots refused because `snapshot_public_key` is set and they were unsigned or their
    /// signature did not verify (any source). Also counted in `config_rejected`.
    pub config_signature_rejected: u64,
    /// Push notifications received (stream `version` events, Redis `config:updates` messages),
    /// acted on or not, whatever environment they name.
    pub push_notifications: u64,
    /// Of those, the ones that changed nothing: another environment, a version not above the one
    /// in use, the digest in use, or an unreadable message.
    pub push_notifications_ignored: u64,
    /// Push channel connections made (the first and every reconnect).
    pub push_connects: u64,
    /// Push channels lost (server gone, connection killed, a silent stream declared dead).
    pub push_disconnects: u64,
    /// Of those, streams declared dead because no byte came for `push_idle_timeout`.
    pub push_idle_timeouts: u64,
    /// The push channel: `off`, `reconnecting` or `connected`.
    pub push: PushState,
    /// Why the push channel was last lost or failed to connect (kept after it reconnects, to
    /// explain `push_disconnects`); polling errors are in `last_config_error`.
    pub last_push_error: Option<String>,
    /// Events waiting in the queue right now.
    pub queue_len: usize,
    /// Entries in the exposure de-dup LRU (bounded by `dedup_capacity`).
    pub dedup_entries: u64,
    /// Units with remembered assignments (bounded by `assignment_capacity`).
    pub assignment_units: u64,
    /// Bytes of spool segment files on disk right now (bounded by `spool_max_bytes`).
    pub spool_bytes: u64,
    /// Where the snapshot in use came from.
    pub config_source: ConfigSource,
    /// The version in use.
    pub config_version: Option<u64>,
    /// SHA-256 (lowercase hex) of the snapshot in use as received: what the control plane calls
    /// its `digest` (the stream and Redis announce it).
    pub config_digest: Option<String>,
    /// Milliseconds since the snapshot in use was published (its `published_at`), or since it was
    /// swapped in when it has no readable `published_at`.
    pub config_age_ms: Option<i64>,
    /// Milliseconds since the source last confirmed the snapshot in use is the latest (an
    /// answered poll, a byte on the stream, a Redis read or ping); since start before any.
    pub config_sync_age_ms: i64,
    /// With `stale_after`: `config_sync_age_ms` is past it. Always false without.
    pub config_stale: bool,
    /// The last config error since the last good fetch (cleared by one), if any.
    pub last_config_error: Option<String>,
    /// Its kind.
    pub last_config_error_kind: Option<ConfigErrorKind>,
    /// When it happened (milliseconds since the epoch).
    pub last_config_error_at_ms: Option<i64>,
    /// The SRM monitor: per experiment exposed through this client, the distinct units per
    /// variant since start, the expected shares from the snapshot, the chi-square p-value and
    /// `srm_mismatch` (see [`SrmStatus`](crate::SrmStatus)).
    pub srm: Vec<crate::srm::SrmStatus>,
}

impl Shared {
    /// The stats at `now_ms`; `stale_after_ms` is the option (`None`: never stale).
    pub(crate) fn snapshot(&self, queue_len: usize, now_ms: i64, stale_after_ms: Option<i64>) -> Stats {
        let g = |c: &AtomicU64| c.load(Relaxed);
        let c = &self.c;
        let cfg = self.config.lock().unwrap_or_else(|p| p.into_inner());
        Stats {
            decisions: g(&c.decisions),
            decisions_no_config: g(&c.decisions_no_config),
            exposures_enqueued: g(&c.exposures_enqueued),
            exposures_deduplicated: g(&c.exposures_deduplicated) + g(&c.exposures_deduplicated_early),
            exposures_deduplicated_early: g(&c.exposures_deduplicated_early),
            outcomes_enqueued: g(&c.outcomes_enqueued),
            events_sent: g(&c.events_sent),
            batches_sent: g(&c.batches_sent),
            batch_retries: g(&c.batch_retries),
            dropped_queue_full: g(&c.dropped_queue_full),
            dropped_rejected: g(&c.dropped_rejected),
            dropped_retries_exhausted: g(&c.dropped_retries_exhausted),
            dropped_stale_config: g(&c.dropped_stale_config),
            dropped_at_close: g(&c.dropped_at_close),
            dropped_sink_error: g(&c.dropped_sink_error),
            events_spooled: g(&c.events_spooled),
            events_replayed: g(&c.events_replayed),
            dropped_spool_full: g(&c.dropped_spool_full),
            spool_corrupt_records: g(&c.spool_corrupt_records),
            tokens_rejected: g(&c.tokens_rejected),
            dropped_after_fork: g(&c.dropped_after_fork),
            config_fetches: g(&c.config_fetches),
            config_not_modified: g(&c.config_not_modified),
            config_updates: g(&c.config_updates),
            config_errors: g(&c.config_errors),
            config_rejected: g(&c.config_rejected),
            config_too_large: g(&c.config_too_large),
            config_signature_rejected: g(&c.config_signature_rejected),
            push_notifications: g(&c.push_notifications),
            push_notifications_ignored: g(&c.push_notifications_ignored),
            push_connects: g(&c.push_connects),
            push_disconnects: g(&c.push_disconnects),
            push_idle_timeouts: g(&c.push_idle_timeouts),
            push: self.push_state(),
            last_push_error: cfg.push_error.clone(),
            queue_len,
            dedup_entries: g(&c.dedup_entries),
            assignment_units: g(&c.assignment_units),
            spool_bytes: g(&c.spool_bytes),
            config_source: cfg.source.unwrap_or(ConfigSource::None),
            config_version: cfg.version,
            config_digest: cfg.digest.clone(),
            // Clamped: the clock is coarse, and a publisher's may run a little ahead.
            config_age_ms: cfg.published_at_ms.or(cfg.updated_at_ms).map(|t| (now_ms - t).max(0)),
            config_sync_age_ms: self.sync_age_ms(&cfg, now_ms),
            config_stale: stale_after_ms.is_some_and(|s| self.sync_age_ms(&cfg, now_ms) > s),
            last_config_error: cfg.last_error.as_ref().map(|e| e.1.clone()),
            last_config_error_kind: cfg.last_error.as_ref().map(|e| e.0),
            last_config_error_at_ms: cfg.last_error.as_ref().and(cfg.last_error_at_ms),
            srm: self.srm.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
