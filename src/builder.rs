//! [`ClientBuilder`]: the Rust way to fill [`Options`] and start a [`Client`].
//!
//! Each setter writes one field of one [options group](crate::options); [`ClientBuilder::build`]
//! validates ([`Options::validate`]) and starts the client. Runs on the caller's thread; the top
//! of the import graph with [`crate::host`].

use crate::client::Client;
use crate::error::BuildError;
use crate::options::{ConfigSpec, LocalSink, Options};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Client`].
///
/// ```no_run
/// let client = vario::ClientBuilder::new()
///     .config_url("https://config.example/v1/snapshot")
///     .sdk_key("sdk-123")
///     .ingest_url("https://ingest.example/v1/batch")
///     .build()?;
/// client.wait_for_init(std::time::Duration::from_secs(3))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct ClientBuilder {
    opts: Options,
}

impl ClientBuilder {
    /// [`SyncOptions::stream_url`](crate::SyncOptions): push over the control plane's SSE stream
    /// (with `config_url`).
    pub fn stream_url(mut self, url: impl Into<String>) -> Self {
        self.opts.sync.stream_url = Some(url.into());
        self
    }

    /// [`SyncOptions::redis_url`](crate::SyncOptions) and
    /// [`SyncOptions::environment`](crate::SyncOptions): push over Redis.
    pub fn redis(mut self, url: impl Into<String>, environment: impl Into<String>) -> Self {
        self.opts.sync.redis_url = Some(url.into());
        self.opts.sync.environment = Some(environment.into());
        self
    }

    /// [`SyncOptions::environment`](crate::SyncOptions): the environment notifications must name.
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.opts.sync.environment = Some(name.into());
        self
    }

    /// [`SyncOptions::push_idle_timeout`](crate::SyncOptions) (default 45 s).
    pub fn push_idle_timeout(mut self, d: Duration) -> Self {
        self.opts.sync.push_idle_timeout = d;
        self
    }

    /// [`SyncOptions::push_poll_interval`](crate::SyncOptions) (default 5 min).
    pub fn push_poll_interval(mut self, d: Duration) -> Self {
        self.opts.sync.push_poll_interval = d;
        self
    }

    /// [`SyncOptions::stale_after`](crate::SyncOptions) (default none).
    pub fn stale_after(mut self, d: Duration) -> Self {
        self.opts.sync.stale_after = Some(d);
        self
    }

    /// A builder with every default.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the SDK key (Bearer auth; [`HttpOptions::sdk_key`](crate::HttpOptions)).
    pub fn sdk_key(mut self, key: impl Into<String>) -> Self {
        self.opts.http.sdk_key = Some(key.into());
        self
    }
    /// Polls snapshots from this URL.
    pub fn config_url(mut self, url: impl Into<String>) -> Self {
        self.opts.sync.config = Some(ConfigSpec::Url(url.into()));
        self
    }
    /// Reads snapshots from this file.
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.sync.config = Some(ConfigSpec::Path(path.into()));
        self
    }
    /// Starts from this snapshot JSON and never refreshes.
    pub fn bootstrap(mut self, json: impl Into<String>) -> Self {
        self.opts.sync.config = Some(ConfigSpec::Bootstrap(json.into()));
        self
    }
    /// POSTs event batches here.
    pub fn ingest_url(mut self, url: impl Into<String>) -> Self {
        self.opts.delivery.ingest_url = Some(url.into());
        self
    }
    /// Without an ingestion URL: append events to this JSONL file.
    pub fn sink_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.delivery.local_sink = Some(LocalSink::File(path.into()));
        self
    }
    /// Without an ingestion URL: hand each event's JSON to `f`.
    pub fn sink_callback(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.opts.delivery.local_sink = Some(LocalSink::Callback(Arc::new(f)));
        self
    }
    /// Config poll interval.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.opts.sync.poll_interval = d;
        self
    }
    /// Timeout of one HTTP request.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.opts.http.request_timeout = d;
        self
    }
    /// Cap of the config backoff and of batch retry delays.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.opts.http.max_backoff = d;
        self
    }
    /// Pseudonymisation key.
    pub fn id_hash_key(mut self, key: impl Into<String>) -> Self {
        self.opts.processing.id_hash_key = Some(key.into());
        self
    }
    /// Params served on `placement` while no snapshot is loaded.
    pub fn default_params(mut self, placement: impl Into<String>, params: Map<String, Value>) -> Self {
        self.opts.default_params.insert(placement.into(), params);
        self
    }
    /// Event queue capacity.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.opts.delivery.queue_capacity = n;
        self
    }
    /// Events per batch.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.opts.delivery.batch_size = n;
        self
    }
    /// Longest wait of an event for its batch.
    pub fn batch_interval(mut self, d: Duration) -> Self {
        self.opts.delivery.batch_interval = d;
        self
    }
    /// Exposure de-dup window.
    pub fn dedup_window(mut self, d: Duration) -> Self {
        self.opts.processing.dedup_window = d;
        self
    }
    /// Exposure de-dup LRU capacity.
    pub fn dedup_capacity(mut self, n: usize) -> Self {
        self.opts.processing.dedup_capacity = n;
        self
    }
    /// Units remembered for outcome attribution.
    pub fn assignment_capacity(mut self, n: usize) -> Self {
        self.opts.processing.assignment_capacity = n;
        self
    }
    /// Context attributes copied into exposures.
    pub fn exposure_context_keys(mut self, keys: &[&str]) -> Self {
        self.opts.exposure_context_keys = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }
    /// Persists the last good snapshot here and reads it at cold start.
    pub fn persist_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.sync.persist_path = Some(path.into());
        self
    }
    /// The largest config body accepted after decompression (default 32 MiB).
    pub fn max_config_bytes(mut self, bytes: usize) -> Self {
        self.opts.sync.max_config_bytes = bytes;
        self
    }
    /// How far ahead of the version in use an offered snapshot may be (default 2^36; see
    /// [`SyncOptions::max_version_jump`](crate::SyncOptions)).
    pub fn max_version_jump(mut self, jump: u64) -> Self {
        self.opts.sync.max_version_jump = jump;
        self
    }
    /// Follow same-host redirects of the config endpoint (default: refuse every redirect).
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.opts.sync.follow_redirects = follow;
        self
    }
    /// Only accept snapshots signed by the matching private key (base64 Ed25519 public key; see
    /// [`SyncOptions::snapshot_public_key`](crate::SyncOptions)).
    pub fn snapshot_public_key(mut self, key: impl Into<String>) -> Self {
        self.opts.sync.snapshot_public_key = Some(key.into());
        self
    }
    /// Without any `id_hash_key`, redeem unsigned exposure tokens unverified (default: refused;
    /// see [`ProcessingOptions::allow_unsigned_tokens`](crate::ProcessingOptions)).
    pub fn allow_unsigned_tokens(mut self, allow: bool) -> Self {
        self.opts.processing.allow_unsigned_tokens = allow;
        self
    }
    /// Spools undeliverable batches in this directory and replays them (see
    /// [`DeliveryOptions::spool_path`](crate::DeliveryOptions)).
    pub fn spool_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.opts.delivery.spool_path = Some(dir.into());
        self
    }
    /// Most bytes the spool may hold (default 256 MiB).
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.opts.delivery.spool_max_bytes = bytes;
        self
    }
    /// Delivery attempts per batch.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.opts.delivery.max_attempts = n;
        self
    }
    /// First retry delay of a batch.
    pub fn retry_base(mut self, d: Duration) -> Self {
        self.opts.delivery.retry_base = d;
        self
    }
    /// Batches posted at once (1 to [`MAX_IN_FLIGHT`](crate::MAX_IN_FLIGHT), default 8).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.opts.delivery.max_in_flight = n;
        self
    }
    /// Gzip threshold for request bodies.
    pub fn gzip_threshold(mut self, bytes: usize) -> Self {
        self.opts.delivery.gzip_threshold = bytes;
        self
    }
    /// SDK name and version reported in events (bindings set their own).
    pub fn sdk(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.opts.sdk_name = name.into();
        self.opts.sdk_version = version.into();
        self
    }
    /// Replaces every option at once.
    pub fn options(mut self, opts: Options) -> Self {
        self.opts = opts;
        self
    }
    /// Validates the options ([`Options::validate`]) and starts the client's background threads.
    /// Never blocks on the network: use [`Client::wait_for_init`] to wait for the first snapshot.
    pub fn build(self) -> Result<Client, BuildError> {
        Client::start(self.opts, None)
    }
}
