//! Client options, grouped by the part of the runtime that reads them.
//!
//! | group | read by | fields |
//! |---|---|---|
//! | [`Options`] itself | the caller's thread ([`Client`](crate::Client)) and every event | `sdk_name`, `sdk_version`, `default_params`, `exposure_context_keys` |
//! | [`SyncOptions`] (`sync`) | the config and push threads (and every snapshot offered) | `config`, `poll_interval`, `persist_path`, `max_config_bytes`, `follow_redirects`, `max_version_jump`, `snapshot_public_key`, `stream_url`, `redis_url`, `environment`, `push_idle_timeout`, `push_poll_interval`, `stale_after` |
//! | [`HttpOptions`] (`http`) | both HTTP stages: the config thread and the event poster | `sdk_key`, `request_timeout`, `max_backoff` |
//! | [`DeliveryOptions`] (`delivery`) | the queue, the sender and the poster | `ingest_url`, `local_sink`, `queue_capacity`, `batch_size`, `batch_interval`, `max_attempts`, `retry_base`, `gzip_threshold`, `max_in_flight`, `spool_path`, `spool_max_bytes` |
//! | [`ProcessingOptions`] (`processing`) | the processor (and the caller's early de-dup filter, and `expose`) | `id_hash_key`, `allow_unsigned_tokens`, `dedup_window`, `dedup_capacity`, `assignment_capacity` |
//!
//! The client keeps one `Arc<Options>` and hands it whole to each stage; a stage reads its groups
//! and nothing is copied field by field. What stays at the top level is what the caller's thread
//! reads on every decision (the `NO_CONFIG` params, the attributes an exposure copies) and the SDK
//! identity every event carries.
//!
//! The JSON form every binding accepts (`{"config_url": …, "poll_interval_ms": …}`) is one
//! serde definition in [`crate::host`] (see [`Options::from_json`] and
//! [`host::OPTION_KEYS`](crate::host::OPTION_KEYS)).
//!
//! Pure data and validation; imports only [`crate::error`].

use crate::error::BuildError;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vario_core::Sdk;
use vario_core::signing::PublicKey;

/// Where snapshots come from.
#[derive(Debug, Clone)]
pub enum ConfigSpec {
    /// Polled from a config endpoint (SPEC §7).
    Url(String),
    /// Read from a local file, re-read when it changes (checked every poll interval).
    Path(PathBuf),
    /// A snapshot JSON string given at start-up; never refreshed.
    Bootstrap(String),
}

/// A callback that receives each event as one JSON line (local sink).
pub type EventCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Where events go when no ingestion URL is configured.
#[derive(Clone)]
pub enum LocalSink {
    /// Append one JSON event per line to this file.
    File(PathBuf),
    /// Hand each event's JSON to a callback (on the pipeline thread).
    Callback(EventCallback),
}

impl std::fmt::Debug for LocalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalSink::File(p) => f.debug_tuple("File").field(p).finish(),
            LocalSink::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

/// Every option of a [`Client`](crate::Client). Built with [`ClientBuilder`](crate::ClientBuilder)
/// or from JSON ([`Options::from_json`]); each field has a documented default.
///
/// Grouped by the part of the runtime that reads them, and handed whole (one `Arc`) to each:
/// the top-level fields are read on the caller's thread (`default_params`,
/// `exposure_context_keys`) or carried by every event (`sdk_name`, `sdk_version`); [`SyncOptions`]
/// by the config thread; [`HttpOptions`] by both HTTP stages (config poller, event poster);
/// [`DeliveryOptions`] by the queue, sender and poster; [`ProcessingOptions`] by the processor.
#[derive(Debug, Clone)]
pub struct Options {
    /// `sdk.name` in events (default `vario-rust`; each binding sets its own, see
    /// [`host::Surface`](crate::host::Surface)).
    pub sdk_name: String,
    /// `sdk.version` in events (default: this crate's version).
    pub sdk_version: String,
    /// Params served per placement while no snapshot is loaded (`NO_CONFIG`).
    pub default_params: HashMap<String, Map<String, Value>>,
    /// Context attributes copied into exposures (default `["locale"]`).
    pub exposure_context_keys: Vec<String>,
    /// Config sync.
    pub sync: SyncOptions,
    /// What both HTTP stages share.
    pub http: HttpOptions,
    /// Event queueing, batching and delivery.
    pub delivery: DeliveryOptions,
    /// Pseudonymisation, de-dup and attribution.
    pub processing: ProcessingOptions,
}

/// Config sync: where snapshots come from and how often they are checked (the config thread).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The snapshot source (required).
    pub config: Option<ConfigSpec>,
    /// Config poll interval (default 30 s, jittered ±10 %); also how often a config file is checked.
    pub poll_interval: Duration,
    /// Where the last good snapshot is persisted and read at cold start (default: none).
    pub persist_path: Option<PathBuf>,
    /// The largest config body accepted, counted after decompression while it streams in
    /// (default 32 MiB). A larger one is refused, counted and never persisted.
    pub max_config_bytes: usize,
    /// Follow redirects of the config endpoint to the same host and port (default `false`: a
    /// redirect is refused, so a misrouted endpoint cannot hand over another server's snapshot).
    pub follow_redirects: bool,
    /// How far ahead of the version in use an offered snapshot's version may be (default 2^36,
    /// about 68.7 billion). A larger jump is refused (`INVALID_SNAPSHOT`, error kind
    /// `version_jump`) and counted, and the snapshot in use stays: one bad publish of a huge
    /// version would otherwise make every later, real publish a "regression". The default lets
    /// counters and millisecond timestamps as versions through (a jump of two years of ms); the
    /// first snapshot of a process is not bounded (nothing to compare with) beyond 2^53 − 1.
    pub max_version_jump: u64,
    /// An Ed25519 public key (base64 of its 32 bytes, optionally `ed25519:`-prefixed; default
    /// none). When set, every snapshot from every source (HTTP, file, bootstrap, the persisted
    /// copy, `update_snapshot`) must be a signed envelope that verifies with it
    /// (contract/snapshot.md "Signed snapshots"); anything else is refused with
    /// `SNAPSHOT_SIGNATURE`, counted in `config_signature_rejected`, and the last good snapshot
    /// stays. A key text that is not a key is `INVALID_OPTIONS` at build.
    pub snapshot_public_key: Option<String>,
    /// Push over the control plane's SSE stream (SPEC §9): `GET` this URL (with `sdk_key`) and,
    /// on a `version` event whose digest is not the one in use, fetch `config_url` at once
    /// (default none). Needs `config_url`; not with `redis_url`.
    pub stream_url: Option<String>,
    /// Push over Redis (SPEC §9): read the hash `env:{environment}:config` at start, after every
    /// reconnect and every `push_poll_interval`, and `SUBSCRIBE config:updates` (default none;
    /// `redis://` or `unix://` URLs). Needs `environment`; not with `stream_url`. May be the only
    /// snapshot source.
    pub redis_url: Option<String>,
    /// The environment the client serves (the control plane's environment name). Required with
    /// `redis_url`; with `stream_url`, notifications naming another environment are ignored.
    pub environment: Option<String>,
    /// A stream that delivers no byte (not even its `: ping` comments) for this long is dead and
    /// reconnected (default 45 s, SPEC §9).
    pub push_idle_timeout: Duration,
    /// The backstop poll interval while the push channel is connected (default 5 min; never
    /// shorter than `poll_interval`). A push channel that is down polls at `poll_interval`.
    pub push_poll_interval: Duration,
    /// When set, the config is *stale* once this long has passed without a confirmation from the
    /// source that the snapshot in use is the latest (an answered poll, a byte on the stream, a
    /// Redis read or ping): `Stats::config_stale` says so and a warning is logged once per
    /// episode (default none).
    pub stale_after: Option<Duration>,
}

/// The push channel the options ask for (at most one: validation refuses both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushSpec {
    /// The control plane's SSE stream (`stream_url`).
    Stream(String),
    /// Redis pub/sub and the environment's config hash (`redis_url`, `environment`).
    Redis {
        /// The Redis URL.
        url: String,
        /// The environment's name.
        environment: String,
    },
}

/// What the two HTTP stages (the config poller and the event poster) share.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Sent as `Authorization: Bearer <sdk_key>` to the config and ingestion endpoints.
    pub sdk_key: Option<String>,
    /// Timeout of one HTTP request (default 10 s).
    pub request_timeout: Duration,
    /// Cap of the config retry backoff and of batch retry delays (default 5 min).
    pub max_backoff: Duration,
}

/// Event delivery: the queue, batching, the sink and retries (queue, sender and poster stages).
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Ingestion endpoint; without it events go to `local_sink`.
    pub ingest_url: Option<String>,
    /// Local sink used without `ingest_url`. Default: `vario-events.jsonl` in the working directory.
    pub local_sink: Option<LocalSink>,
    /// Capacity of the event queue (default 50 000 events; slots are preallocated, about 200 bytes
    /// each, so ~10 MB). A full queue drops the event and counts it.
    pub queue_capacity: usize,
    /// Events per batch (default 500).
    pub batch_size: usize,
    /// Longest an event waits for its batch (default 1 s).
    pub batch_interval: Duration,
    /// Delivery attempts per batch before it is dropped, counted (default 10).
    pub max_attempts: u32,
    /// First retry delay of a batch (default 250 ms; doubles, jittered, capped by
    /// [`HttpOptions::max_backoff`]).
    pub retry_base: Duration,
    /// Bodies larger than this are gzipped (default 16 KiB).
    pub gzip_threshold: usize,
    /// Batches posted to the ingestion endpoint at once (default 8, 1 to [`MAX_IN_FLIGHT`]): one
    /// request at a time caps delivery at batch size ÷ round trip (500 events every 20 ms is
    /// 25 k events/s). Batches then arrive in no set order; each retry keeps its `batch_id`.
    /// With a spool (`spool_path`) the same number of batches is in flight, live and replayed
    /// alike; replayed records are acknowledged in order.
    pub max_in_flight: usize,
    /// A directory for the disk spool (default none: off). With an ingestion URL, batches that
    /// cannot be delivered at once are written here and replayed (oldest first, with their
    /// original `batch_id` and `event_id`s) when the endpoint answers, in this process or the
    /// next one to use the directory. One client per directory (a lock file; a second client's
    /// build fails). Ignored without `ingest_url`.
    pub spool_path: Option<PathBuf>,
    /// Most bytes the spool's files may hold (default 256 MiB); past it, batches that cannot be
    /// delivered are dropped and counted in `dropped_spool_full`.
    pub spool_max_bytes: u64,
}

/// The largest [`DeliveryOptions::max_in_flight`]: each batch in flight holds its body and a
/// connection, so the bound keeps memory and sockets small.
pub const MAX_IN_FLIGHT: usize = 64;

/// What the processor needs to turn queued items into events: the pseudonymisation key, exposure
/// de-dup and outcome attribution.
#[derive(Debug, Clone)]
pub struct ProcessingOptions {
    /// Key for `HMAC-SHA256` pseudonyms; falls back to the snapshot's `privacy.id_hash_key`.
    pub id_hash_key: Option<String>,
    /// Redeem unsigned exposure tokens when no `id_hash_key` is configured (in the options or the
    /// snapshot), without verifying them (default `false`). Off, a client without a key signs its
    /// tokens with a random per-process key and refuses unsigned ones (`TOKEN_UNSIGNED`), so an
    /// edited token is never delivered; cross-process redemption then needs a shared
    /// `id_hash_key`. Has no effect when a key is configured.
    pub allow_unsigned_tokens: bool,
    /// Repeats of one (unit, experiment, variant, iteration) exposure within this window are
    /// logged once (default 1 h).
    pub dedup_window: Duration,
    /// Entries in the exposure de-dup LRU (default 100 000).
    pub dedup_capacity: usize,
    /// Units whose recent assignments are remembered for outcomes (default 100 000; 16 each).
    pub assignment_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sdk_name: "vario-rust".into(),
            sdk_version: env!("CARGO_PKG_VERSION").into(),
            default_params: HashMap::new(),
            exposure_context_keys: vec!["locale".into()],
            sync: SyncOptions::default(),
            http: HttpOptions::default(),
            delivery: DeliveryOptions::default(),
            processing: ProcessingOptions::default(),
        }
    }
}

/// The default of [`SyncOptions::max_version_jump`]: 2^36.
pub const DEFAULT_MAX_VERSION_JUMP: u64 = 1 << 36;

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            config: None,
            poll_interval: Duration::from_secs(30),
            persist_path: None,
            max_config_bytes: 32 << 20,
            follow_redirects: false,
            max_version_jump: DEFAULT_MAX_VERSION_JUMP,
            snapshot_public_key: None,
            stream_url: None,
            redis_url: None,
            environment: None,
            push_idle_timeout: Duration::from_secs(45),
            push_poll_interval: Duration::from_secs(300),
            stale_after: None,
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { sdk_key: None, request_timeout: Duration::from_secs(10), max_backoff: Duration::from_secs(300) }
    }
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            ingest_url: None,
            local_sink: None,
            queue_capacity: 50_000,
            batch_size: 500,
            batch_interval: Duration::from_secs(1),
            max_attempts: 10,
            retry_base: Duration::from_millis(250),
            gzip_threshold: 16 * 1024,
            max_in_flight: 8,
            spool_path: None,
            spool_max_bytes: 256 << 20,
        }
    }
}

impl Default for ProcessingOptions {
    fn default() -> Self {
        ProcessingOptions {
            id_hash_key: None,
            allow_unsigned_tokens: false,
            dedup_window: Duration::from_secs(3600),
            dedup_capacity: 100_000,
            assignment_capacity: 100_000,
        }
    }
}

impl SyncOptions {
    /// The push channel these options ask for, if any.
    pub fn push(&self) -> Option<PushSpec> {
        match (&self.stream_url, &self.redis_url, &self.environment) {
            (Some(url), None, _) => Some(PushSpec::Stream(url.clone())),
            (None, Some(url), Some(env)) => Some(PushSpec::Redis { url: url.clone(), environment: env.clone() }),
            _ => None,
        }
    }

    /// The parsed [`SyncOptions::snapshot_public_key`] (`INVALID_OPTIONS` when it is not a key).
    pub fn public_key(&self) -> Result<Option<PublicKey>, BuildError> {
        self.snapshot_public_key
            .as_deref()
            .map(PublicKey::from_text)
            .transpose()
            .map_err(|e| BuildError::InvalidOption(e.to_string()))
    }
}

/// Longest duration any option accepts.
const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);

impl Options {
    /// Checks what [`ClientBuilder::build`](crate::ClientBuilder::build) requires: a config
    /// source, positive capacities and intervals, at least one attempt, durations up to 7 days.
    pub fn validate(&self) -> Result<(), BuildError> {
        let (s, h, d, p) = (&self.sync, &self.http, &self.delivery, &self.processing);
        if s.config.is_none() && s.redis_url.is_none() {
            return Err(BuildError::NoConfigSource);
        }
        if s.stream_url.is_some() && s.redis_url.is_some() {
            return Err(BuildError::InvalidOption("give one push channel: stream_url or redis_url".into()));
        }
        if s.stream_url.is_some() && !matches!(s.config, Some(ConfigSpec::Url(_))) {
            return Err(BuildError::InvalidOption(
                "stream_url needs config_url (the stream says when to fetch it)".into(),
            ));
        }
        if s.redis_url.is_some() && s.environment.as_deref().is_none_or(str::is_empty) {
            return Err(BuildError::InvalidOption("redis_url needs environment (whose config hash to read)".into()));
        }
        if let Some(url) = &s.redis_url
            && !(url.starts_with("redis://") || url.starts_with("unix://"))
        {
            return Err(BuildError::InvalidOption("redis_url must be a redis:// or unix:// URL".into()));
        }
        if s.push_idle_timeout < Duration::from_millis(10)
            || s.push_poll_interval.is_zero()
            || s.stale_after.is_some_and(|d| d.is_zero())
        {
            return Err(BuildError::InvalidOption(
                "push_idle_timeout must be at least 10 ms, push_poll_interval and stale_after positive".into(),
            ));
        }
        if d.queue_capacity == 0 || d.batch_size == 0 || p.dedup_capacity == 0 || p.assignment_capacity == 0 {
            return Err(BuildError::InvalidOption("capacities and batch size must be positive".into()));
        }
        if d.max_attempts == 0 {
            return Err(BuildError::InvalidOption("max_attempts must be at least 1".into()));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&d.max_in_flight) {
            return Err(BuildError::InvalidOption(format!("max_in_flight must be 1 to {MAX_IN_FLIGHT}")));
        }
        if d.spool_max_bytes == 0 {
            return Err(BuildError::InvalidOption("spool_max_bytes must be positive".into()));
        }
        if s.max_config_bytes == 0 {
            return Err(BuildError::InvalidOption("max_config_bytes must be positive".into()));
        }
        if s.max_version_jump == 0 {
            return Err(BuildError::InvalidOption("max_version_jump must be at least 1".into()));
        }
        if s.poll_interval.is_zero() || d.batch_interval.is_zero() {
            return Err(BuildError::InvalidOption("intervals must be positive".into()));
        }
        s.public_key()?;
        let durations = [
            s.poll_interval,
            s.push_idle_timeout,
            s.push_poll_interval,
            s.stale_after.unwrap_or_default(),
            h.request_timeout,
            h.max_backoff,
            d.batch_interval,
            d.retry_base,
            p.dedup_window,
        ];
        if durations.iter().any(|d| *d > MAX_DURATION) {
            return Err(BuildError::InvalidOption("durations are limited to 7 days".into()));
        }
        Ok(())
    }

    /// The `sdk` object of events.
    pub(crate) fn sdk(&self) -> Sdk {
        Sdk { name: self.sdk_name.clone(), version: self.sdk_version.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let mut o = Options::default();
        assert!(matches!(o.validate(), Err(BuildError::NoConfigSource)));
        o.sync.config = Some(ConfigSpec::Bootstrap("{}".into()));
        o.validate().expect("defaults are valid");
        let bad: [fn(&mut Options); 13] = [
            |o| o.sync.stream_url = Some("http://127.0.0.1:1/s".into()),
            |o| o.sync.redis_url = Some("redis://127.0.0.1:1".into()),
            |o| {
                o.sync.redis_url = Some("http://127.0.0.1:1".into());
                o.sync.environment = Some("prod".into());
            },
            |o| o.sync.push_idle_timeout = Duration::ZERO,
            |o| o.delivery.max_in_flight = 0,
            |o| o.delivery.max_in_flight = MAX_IN_FLIGHT + 1,
            |o| o.sync.snapshot_public_key = Some("not a key".into()),
            |o| o.sync.snapshot_public_key = Some("AAAA".into()),
            |o| o.delivery.queue_capacity = 0,
            |o| o.processing.dedup_capacity = 0,
            |o| o.delivery.max_attempts = 0,
            |o| o.sync.poll_interval = Duration::ZERO,
            |o| o.http.max_backoff = MAX_DURATION + Duration::from_secs(1),
        ];
        for (i, f) in bad.iter().enumerate() {
            let mut b = o.clone();
            f(&mut b);
            assert!(matches!(b.validate(), Err(BuildError::InvalidOption(_))), "case {i}");
        }
    }
}
