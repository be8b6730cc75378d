//! Client options and the builder.

use crate::client::Client;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

/// Every option of a [`Client`]. Built with [`ClientBuilder`]; each field has a documented default.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sent as `Authorization: Bearer <sdk_key>` to the config and ingestion endpoints.
    pub sdk_key: Option<String>,
    /// The snapshot source (required).
    pub config: Option<ConfigSpec>,
    /// Ingestion endpoint; without it events go to `local_sink`.
    pub ingest_url: Option<String>,
    /// Local sink used without `ingest_url`. Default: `vario-events.jsonl` in the working directory.
    pub local_sink: Option<LocalSink>,
    /// Config poll interval (default 30 s, jittered ±10 %).
    pub poll_interval: Duration,
    /// Timeout of one HTTP request (default 10 s).
    pub request_timeout: Duration,
    /// Cap of the config retry backoff (default 5 min).
    pub max_backoff: Duration,
    /// Key for `HMAC-SHA256` pseudonyms; falls back to the snapshot's `privacy.id_hash_key`.
    pub id_hash_key: Option<String>,
    /// Params served per placement while no snapshot is loaded (`NO_CONFIG`).
    pub default_params: HashMap<String, Map<String, Value>>,
    /// Capacity of the event queue (default 50 000 events; slots are preallocated, about 200 bytes
    /// each, so ~10 MB). A full queue drops the event and counts it.
    pub queue_capacity: usize,
    /// Events per batch (default 500).
    pub batch_size: usize,
    /// Longest an event waits for its batch (default 1 s).
    pub batch_interval: Duration,
    /// Repeats of one (unit, experiment, variant, iteration) exposure within this window are
    /// logged once (default 1 h).
    pub dedup_window: Duration,
    /// Entries in the exposure de-dup LRU (default 100 000).
    pub dedup_capacity: usize,
    /// Units whose recent assignments are remembered for outcomes (default 100 000; 16 each).
    pub assignment_capacity: usize,
    /// Context attributes copied into exposures (default `["locale"]`).
    pub exposure_context_keys: Vec<String>,
    /// Where the last good snapshot is persisted and read at cold start (default: none).
    pub persist_path: Option<PathBuf>,
    /// Delivery attempts per batch before it is dropped, counted (default 10).
    pub max_attempts: u32,
    /// First retry delay of a batch (default 250 ms; doubles, jittered, capped by `max_backoff`).
    pub retry_base: Duration,
    /// Bodies larger than this are gzipped (default 16 KiB).
    pub gzip_threshold: usize,
    /// `sdk.name` in events (default `vario-rust`).
    pub sdk_name: String,
    /// `sdk.version` in events (default: this crate's version).
    pub sdk_version: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sdk_key: None,
            config: None,
            ingest_url: None,
            local_sink: None,
            poll_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(300),
            id_hash_key: None,
            default_params: HashMap::new(),
            queue_capacity: 50_000,
            batch_size: 500,
            batch_interval: Duration::from_secs(1),
            dedup_window: Duration::from_secs(3600),
            dedup_capacity: 100_000,
            assignment_capacity: 100_000,
            exposure_context_keys: vec!["locale".into()],
            persist_path: None,
            max_attempts: 10,
            retry_base: Duration::from_millis(250),
            gzip_threshold: 16 * 1024,
            sdk_name: "vario-rust".into(),
            sdk_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No `config_url`, `config_path` or bootstrap was given.
    #[error("no config source: set config_url, config_path or bootstrap")]
    NoConfigSource,
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A background thread could not be started.
    #[error("could not start a background thread: {0}")]
    Thread(#[from] std::io::Error),
}

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
    /// A builder with every default.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the SDK key (Bearer auth).
    pub fn sdk_key(mut self, key: impl Into<String>) -> Self {
        self.opts.sdk_key = Some(key.into());
        self
    }
    /// Polls snapshots from this URL.
    pub fn config_url(mut self, url: impl Into<String>) -> Self {
        self.opts.config = Some(ConfigSpec::Url(url.into()));
        self
    }
    /// Reads snapshots from this file.
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.config = Some(ConfigSpec::Path(path.into()));
        self
    }
    /// Starts from this snapshot JSON and never refreshes.
    pub fn bootstrap(mut self, json: impl Into<String>) -> Self {
        self.opts.config = Some(ConfigSpec::Bootstrap(json.into()));
        self
    }
    /// POSTs event batches here.
    pub fn ingest_url(mut self, url: impl Into<String>) -> Self {
        self.opts.ingest_url = Some(url.into());
        self
    }
    /// Without an ingestion URL: append events to this JSONL file.
    pub fn sink_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.local_sink = Some(LocalSink::File(path.into()));
        self
    }
    /// Without an ingestion URL: hand each event's JSON to `f`.
    pub fn sink_callback(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.opts.local_sink = Some(LocalSink::Callback(Arc::new(f)));
        self
    }
    /// Config poll interval.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.opts.poll_interval = d;
        self
    }
    /// Timeout of one HTTP request.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.opts.request_timeout = d;
        self
    }
    /// Cap of the config backoff and of batch retry delays.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.opts.max_backoff = d;
        self
    }
    /// Pseudonymisation key.
    pub fn id_hash_key(mut self, key: impl Into<String>) -> Self {
        self.opts.id_hash_key = Some(key.into());
        self
    }
    /// Params served on `placement` while no snapshot is loaded.
    pub fn default_params(mut self, placement: impl Into<String>, params: Map<String, Value>) -> Self {
        self.opts.default_params.insert(placement.into(), params);
        self
    }
    /// Event queue capacity.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.opts.queue_capacity = n;
        self
    }
    /// Events per batch.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.opts.batch_size = n;
        self
    }
    /// Longest wait of an event for its batch.
    pub fn batch_interval(mut self, d: Duration) -> Self {
        self.opts.batch_interval = d;
        self
    }
    /// Exposure de-dup window.
    pub fn dedup_window(mut self, d: Duration) -> Self {
        self.opts.dedup_window = d;
        self
    }
    /// Exposure de-dup LRU capacity.
    pub fn dedup_capacity(mut self, n: usize) -> Self {
        self.opts.dedup_capacity = n;
        self
    }
    /// Units remembered for outcome attribution.
    pub fn assignment_capacity(mut self, n: usize) -> Self {
        self.opts.assignment_capacity = n;
        self
    }
    /// Context attributes copied into exposures.
    pub fn exposure_context_keys(mut self, keys: &[&str]) -> Self {
        self.opts.exposure_context_keys = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }
    /// Persists the last good snapshot here and reads it at cold start.
    pub fn persist_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.persist_path = Some(path.into());
        self
    }
    /// Delivery attempts per batch.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.opts.max_attempts = n;
        self
    }
    /// First retry delay of a batch.
    pub fn retry_base(mut self, d: Duration) -> Self {
        self.opts.retry_base = d;
        self
    }
    /// Gzip threshold for request bodies.
    pub fn gzip_threshold(mut self, bytes: usize) -> Self {
        self.opts.gzip_threshold = bytes;
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
    /// Validates the options and starts the client's background threads. Never blocks on the
    /// network: use [`Client::wait_for_init`] to wait for the first snapshot.
    pub fn build(self) -> Result<Client, BuildError> {
        let o = &self.opts;
        if o.config.is_none() {
            return Err(BuildError::NoConfigSource);
        }
        if o.queue_capacity == 0 || o.batch_size == 0 || o.dedup_capacity == 0 || o.assignment_capacity == 0 {
            return Err(BuildError::InvalidOption("capacities and batch size must be positive".into()));
        }
        if o.max_attempts == 0 {
            return Err(BuildError::InvalidOption("max_attempts must be at least 1".into()));
        }
        if o.poll_interval.is_zero() || o.batch_interval.is_zero() {
            return Err(BuildError::InvalidOption("intervals must be positive".into()));
        }
        const DAY: Duration = Duration::from_secs(86_400);
        let durations =
            [o.poll_interval, o.request_timeout, o.max_backoff, o.batch_interval, o.retry_base, o.dedup_window];
        if durations.iter().any(|d| *d > DAY * 7) {
            return Err(BuildError::InvalidOption("durations are limited to 7 days".into()));
        }
        Client::start(self.opts, None)
    }
}

impl Options {
    /// Options from a JSON object: the form the C ABI takes, and what the Python and Node
    /// bindings build from their keyword arguments, so every surface accepts the same names.
    ///
    /// Keys (all optional but one config source): `sdk_key`, `config_url`, `config_path`,
    /// `bootstrap` (snapshot JSON text), `ingest_url`, `sink_path` (JSONL local sink),
    /// `poll_interval_ms`, `request_timeout_ms`, `max_backoff_ms`, `id_hash_key`,
    /// `default_params` (`{placement: {param: value}}`), `queue_capacity`, `batch_size`,
    /// `batch_interval_ms`, `dedup_window_ms`, `dedup_capacity`, `assignment_capacity`,
    /// `exposure_context_keys` (array of strings), `persist_path`, `max_attempts`, `retry_base_ms`,
    /// `gzip_threshold`, `sdk_name`, `sdk_version`. `null` means the default. An unknown key or a
    /// value of the wrong type is an error rather than silently ignored, so a typo cannot
    /// quietly fall back to a default.
    pub fn from_json_value(v: &Value) -> Result<Options, BuildError> {
        let obj = v.as_object().ok_or_else(|| BuildError::InvalidOption("options must be a JSON object".into()))?;
        let mut o = Options::default();
        let bad = |k: &str, want: &str| BuildError::InvalidOption(format!("`{k}` must be {want}"));
        let mut sources = 0;
        for (k, val) in obj {
            if val.is_null() {
                continue;
            }
            let string = || val.as_str().map(str::to_owned).ok_or_else(|| bad(k, "a string"));
            let count =
                || val.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| bad(k, "a non-negative integer"));
            let millis = || val.as_u64().map(Duration::from_millis).ok_or_else(|| bad(k, "milliseconds (an integer)"));
            match k.as_str() {
                "sdk_key" => o.sdk_key = Some(string()?),
                "config_url" => {
                    sources += 1;
                    o.config = Some(ConfigSpec::Url(string()?));
                }
                "config_path" => {
                    sources += 1;
                    o.config = Some(ConfigSpec::Path(string()?.into()));
                }
                "bootstrap" => {
                    sources += 1;
                    o.config = Some(ConfigSpec::Bootstrap(string()?));
                }
                "ingest_url" => o.ingest_url = Some(string()?),
                "sink_path" => o.local_sink = Some(LocalSink::File(string()?.into())),
                "poll_interval_ms" => o.poll_interval = millis()?,
                "request_timeout_ms" => o.request_timeout = millis()?,
                "max_backoff_ms" => o.max_backoff = millis()?,
                "id_hash_key" => o.id_hash_key = Some(string()?),
                "default_params" => {
                    let m = val.as_object().ok_or_else(|| bad(k, "an object of objects"))?;
                    for (placement, params) in m {
                        let p = params.as_object().ok_or_else(|| bad(k, "an object of objects"))?;
                        o.default_params.insert(placement.clone(), p.clone());
                    }
                }
                "queue_capacity" => o.queue_capacity = count()?,
                "batch_size" => o.batch_size = count()?,
                "batch_interval_ms" => o.batch_interval = millis()?,
                "dedup_window_ms" => o.dedup_window = millis()?,
                "dedup_capacity" => o.dedup_capacity = count()?,
                "assignment_capacity" => o.assignment_capacity = count()?,
                "exposure_context_keys" => {
                    let a = val.as_array().ok_or_else(|| bad(k, "an array of strings"))?;
                    o.exposure_context_keys = a
                        .iter()
                        .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| bad(k, "an array of strings")))
                        .collect::<Result<_, _>>()?;
                }
                "persist_path" => o.persist_path = Some(string()?.into()),
                "max_attempts" => {
                    o.max_attempts = val.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| bad(k, "a u32"))?
                }
                "retry_base_ms" => o.retry_base = millis()?,
                "gzip_threshold" => o.gzip_threshold = count()?,
                "sdk_name" => o.sdk_name = string()?,
                "sdk_version" => o.sdk_version = string()?,
                other => return Err(BuildError::InvalidOption(format!("unknown option `{other}`"))),
            }
        }
        if sources > 1 {
            return Err(BuildError::InvalidOption(
                "give one config source: config_url, config_path or bootstrap".into(),
            ));
        }
        Ok(o)
    }

    /// [`Options::from_json_value`] on JSON text.
    pub fn from_json(text: &str) -> Result<Options, BuildError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| BuildError::InvalidOption(format!("options are not JSON: {e}")))?;
        Self::from_json_value(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_json() {
        let o = Options::from_json(
            r#"{"config_url": "http://127.0.0.1:1/c", "poll_interval_ms": 250, "queue_capacity": 7,
                "default_params": {"home": {"algo": "x"}}, "exposure_context_keys": ["locale", "device"],
                "sdk_key": null}"#,
        )
        .expect("valid options");
        assert!(matches!(o.config, Some(ConfigSpec::Url(ref u)) if u == "http://127.0.0.1:1/c"));
        assert_eq!(o.poll_interval, Duration::from_millis(250));
        assert_eq!(o.queue_capacity, 7);
        assert_eq!(o.default_params["home"]["algo"], "x");
        assert_eq!(o.exposure_context_keys, ["locale", "device"]);
        assert!(o.sdk_key.is_none());
        for bad in [
            r#"{"config_url": "a", "polll_interval_ms": 1}"#,
            r#"{"config_url": 3}"#,
            r#"{"config_url": "a", "config_path": "b"}"#,
            r#"{"config_url": "a", "queue_capacity": -1}"#,
            r#"[]"#,
            "not json",
        ] {
            assert!(matches!(Options::from_json(bad), Err(BuildError::InvalidOption(_))), "{bad}");
        }
    }
}
