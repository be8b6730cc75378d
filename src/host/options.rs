//! The JSON form of [`Options`]: one serde definition ([`JsonOptions`]) that every surface
//! parses, so C, Python and Node accept exactly the same option names.
//!
//! ```
//! use vario::host::{self, Surface};
//! let opts = host::parse_options_json(r#"{"bootstrap": "{}", "poll_interval_ms": 250, "sdk_key": null}"#, Surface::C)?;
//! assert_eq!(opts.sync.poll_interval, std::time::Duration::from_millis(250));
//! assert_eq!(opts.sdk_name, "vario-c"); // no `sdk_name` given: the surface's
//! assert!(host::OPTION_KEYS.contains(&"queue_capacity"));
//! // A typo is an error, not a silent default.
//! assert!(host::parse_options_json(r#"{"bootstrap": "{}", "polll_interval_ms": 1}"#, Surface::C).is_err());
//! # Ok::<(), vario::BuildError>(())
//! ```

use super::surface::Surface;
use crate::error::BuildError;
use crate::options::{ConfigSpec, LocalSink, Options};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

/// Client options as JSON: the object the C ABI takes (`vario_client_new`), and what the Python
/// and Node bindings build from their keyword arguments / option objects.
///
/// Every key is optional but one config source (exactly one of `config_url`, `config_path`,
/// `bootstrap`; none is [`BuildError::NoConfigSource`] at build time). `null` means the default.
/// An unknown key or a value of the wrong type is an error ([`BuildError::InvalidOption`], code
/// `INVALID_OPTIONS`) rather than silently ignored, so a typo cannot quietly fall back to a
/// default. Durations are integer milliseconds (`*_ms`; see [`DURATION_KEYS`]). Each key sets the
/// [`Options`] field of the same name (without `_ms`); `sink_path` sets a JSONL
/// [`LocalSink::File`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonOptions {
    /// [`HttpOptions::sdk_key`](crate::HttpOptions).
    pub sdk_key: Option<String>,
    /// Polls snapshots from this URL ([`ConfigSpec::Url`]).
    pub config_url: Option<String>,
    /// Reads snapshots from this file ([`ConfigSpec::Path`]).
    pub config_path: Option<PathBuf>,
    /// Snapshot JSON text to start from, never refreshed ([`ConfigSpec::Bootstrap`]).
    pub bootstrap: Option<String>,
    /// [`DeliveryOptions::ingest_url`](crate::DeliveryOptions).
    pub ingest_url: Option<String>,
    /// Without `ingest_url`: append events to this JSONL file.
    pub sink_path: Option<PathBuf>,
    /// [`SyncOptions::poll_interval`](crate::SyncOptions), in ms.
    pub poll_interval_ms: Option<u64>,
    /// [`HttpOptions::request_timeout`](crate::HttpOptions), in ms.
    pub request_timeout_ms: Option<u64>,
    /// [`HttpOptions::max_backoff`](crate::HttpOptions), in ms.
    pub max_backoff_ms: Option<u64>,
    /// [`ProcessingOptions::id_hash_key`](crate::ProcessingOptions).
    pub id_hash_key: Option<String>,
    /// [`ProcessingOptions::allow_unsigned_tokens`](crate::ProcessingOptions).
    pub allow_unsigned_tokens: Option<bool>,
    /// [`Options::default_params`]: `{placement: {param: value}}`.
    pub default_params: Option<HashMap<String, Map<String, Value>>>,
    /// [`DeliveryOptions::queue_capacity`](crate::DeliveryOptions).
    pub queue_capacity: Option<usize>,
    /// [`DeliveryOptions::batch_size`](crate::DeliveryOptions).
    pub batch_size: Option<usize>,
    /// [`DeliveryOptions::batch_interval`](crate::DeliveryOptions), in ms.
    pub batch_interval_ms: Option<u64>,
    /// [`ProcessingOptions::dedup_window`](crate::ProcessingOptions), in ms.
    pub dedup_window_ms: Option<u64>,
    /// [`ProcessingOptions::dedup_capacity`](crate::ProcessingOptions).
    pub dedup_capacity: Option<usize>,
    /// [`ProcessingOptions::assignment_capacity`](crate::ProcessingOptions).
    pub assignment_capacity: Option<usize>,
    /// [`Options::exposure_context_keys`] (an array of strings).
    pub exposure_context_keys: Option<Vec<String>>,
    /// [`SyncOptions::persist_path`](crate::SyncOptions).
    pub persist_path: Option<PathBuf>,
    /// [`SyncOptions::max_config_bytes`](crate::SyncOptions).
    pub max_config_bytes: Option<usize>,
    /// [`SyncOptions::follow_redirects`](crate::SyncOptions).
    pub follow_redirects: Option<bool>,
    /// [`SyncOptions::max_version_jump`](crate::SyncOptions).
    pub max_version_jump: Option<u64>,
    /// [`SyncOptions::snapshot_public_key`](crate::SyncOptions): base64 Ed25519 public key.
    pub snapshot_public_key: Option<String>,
    /// [`SyncOptions::stream_url`](crate::SyncOptions): push over the control plane's SSE stream.
    pub stream_url: Option<String>,
    /// [`SyncOptions::redis_url`](crate::SyncOptions): push over Redis (with `environment`).
    pub redis_url: Option<String>,
    /// [`SyncOptions::environment`](crate::SyncOptions).
    pub environment: Option<String>,
    /// [`SyncOptions::push_idle_timeout`](crate::SyncOptions), in ms.
    pub push_idle_timeout_ms: Option<u64>,
    /// [`SyncOptions::push_poll_interval`](crate::SyncOptions), in ms.
    pub push_poll_interval_ms: Option<u64>,
    /// [`SyncOptions::stale_after`](crate::SyncOptions), in ms.
    pub stale_after_ms: Option<u64>,
    /// [`DeliveryOptions::max_attempts`](crate::DeliveryOptions).
    pub max_attempts: Option<u32>,
    /// [`DeliveryOptions::retry_base`](crate::DeliveryOptions), in ms.
    pub retry_base_ms: Option<u64>,
    /// [`DeliveryOptions::gzip_threshold`](crate::DeliveryOptions), in bytes.
    pub gzip_threshold: Option<usize>,
    /// [`DeliveryOptions::max_in_flight`](crate::DeliveryOptions).
    pub max_in_flight: Option<usize>,
    /// [`DeliveryOptions::spool_path`](crate::DeliveryOptions): a directory.
    pub spool_path: Option<PathBuf>,
    /// [`DeliveryOptions::spool_max_bytes`](crate::DeliveryOptions), in bytes.
    pub spool_max_bytes: Option<u64>,
    /// [`Options::sdk_name`]; absent: the surface's name ([`Surface::sdk_name`]).
    pub sdk_name: Option<String>,
    /// [`Options::sdk_version`].
    pub sdk_version: Option<String>,
}

/// Every key [`JsonOptions`] accepts, in declaration order: the serde derive's own field list, so
/// it cannot drift from what parsing accepts. Bindings check their typed stubs (Python keyword
/// arguments, the TypeScript options interface) against it.
///
/// ```
/// assert!(vario::host::OPTION_KEYS.iter().any(|k| *k == "config_url"));
/// ```
pub static OPTION_KEYS: LazyLock<&'static [&'static str]> = LazyLock::new(|| {
    let mut names = FieldNames(None);
    // The derive hands its field list to `deserialize_struct`, which records it and stops.
    let _ = JsonOptions::deserialize(&mut names);
    names.0.unwrap_or(&[])
});

/// The keys of [`OPTION_KEYS`] that are durations in milliseconds (they end in `_ms`). A surface
/// that takes seconds (Python) accepts each without the suffix and converts.
///
/// ```
/// let python_names: Vec<&str> = vario::host::DURATION_KEYS.iter().map(|k| k.trim_end_matches("_ms")).collect();
/// assert!(python_names.contains(&"poll_interval"));
/// ```
pub static DURATION_KEYS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| OPTION_KEYS.iter().copied().filter(|k| k.ends_with("_ms")).collect());

/// A deserializer that only records the field names a derived `Deserialize` asks for.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("field names recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn invalid(msg: impl std::fmt::Display) -> BuildError {
    BuildError::InvalidOption(msg.to_string())
}

impl JsonOptions {
    /// Reads a JSON value (an object).
    pub fn from_value(v: &Value) -> Result<JsonOptions, BuildError> {
        if !v.is_object() {
            return Err(invalid("options must be a JSON object"));
        }
        JsonOptions::deserialize(v).map_err(invalid)
    }

    /// Reads JSON text (an object).
    pub fn from_json(text: &str) -> Result<JsonOptions, BuildError> {
        let v: Value = serde_json::from_str(text).map_err(|e| invalid(format!("options are not JSON: {e}")))?;
        Self::from_value(&v)
    }

    /// The [`Options`] these keys describe, every absent key at its default. `sdk_name` stays the
    /// Rust default when absent (see [`JsonOptions::into_options_for`]).
    pub fn into_options(self) -> Result<Options, BuildError> {
        let mut o = Options::default();
        let ms = Duration::from_millis;
        let sources = [self.config_url.is_some(), self.config_path.is_some(), self.bootstrap.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(invalid("give one config source: config_url, config_path or bootstrap"));
        }
        o.sync.config = self
            .config_url
            .map(ConfigSpec::Url)
            .or(self.config_path.map(ConfigSpec::Path))
            .or(self.bootstrap.map(ConfigSpec::Bootstrap));
        let set = |slot: &mut Duration, v: Option<u64>| {
            if let Some(v) = v {
                *slot = ms(v);
            }
        };
        set(&mut o.sync.poll_interval, self.poll_interval_ms);
        set(&mut o.http.request_timeout, self.request_timeout_ms);
        set(&mut o.http.max_backoff, self.max_backoff_ms);
        set(&mut o.delivery.batch_interval, self.batch_interval_ms);
        set(&mut o.delivery.retry_base, self.retry_base_ms);
        set(&mut o.processing.dedup_window, self.dedup_window_ms);
        set(&mut o.sync.push_idle_timeout, self.push_idle_timeout_ms);
        set(&mut o.sync.push_poll_interval, self.push_poll_interval_ms);
        o.sync.stale_after = self.stale_after_ms.map(ms);
        o.sync.stream_url = self.stream_url;
        o.sync.redis_url = self.redis_url;
        o.sync.environment = self.environment;
        o.sync.persist_path = self.persist_path;
        o.sync.max_config_bytes = self.max_config_bytes.unwrap_or(o.sync.max_config_bytes);
        o.sync.follow_redirects = self.follow_redirects.unwrap_or(o.sync.follow_redirects);
        o.sync.max_version_jump = self.max_version_jump.unwrap_or(o.sync.max_version_jump);
        o.sync.snapshot_public_key = self.snapshot_public_key;
        o.http.sdk_key = self.sdk_key;
        o.delivery.ingest_url = self.ingest_url;
        o.delivery.local_sink = self.sink_path.map(LocalSink::File);
        o.processing.id_hash_key = self.id_hash_key;
        o.processing.allow_unsigned_tokens = self.allow_unsigned_tokens.unwrap_or(false);
        let d = &mut o.delivery;
        d.queue_capacity = self.queue_capacity.unwrap_or(d.queue_capacity);
        d.batch_size = self.batch_size.unwrap_or(d.batch_size);
        d.max_attempts = self.max_attempts.unwrap_or(d.max_attempts);
        d.gzip_threshold = self.gzip_threshold.unwrap_or(d.gzip_threshold);
        d.max_in_flight = self.max_in_flight.unwrap_or(d.max_in_flight);
        d.spool_path = self.spool_path;
        d.spool_max_bytes = self.spool_max_bytes.unwrap_or(d.spool_max_bytes);
        let p = &mut o.processing;
        p.dedup_capacity = self.dedup_capacity.unwrap_or(p.dedup_capacity);
        p.assignment_capacity = self.assignment_capacity.unwrap_or(p.assignment_capacity);
        if let Some(params) = self.default_params {
            o.default_params = params;
        }
        if let Some(keys) = self.exposure_context_keys {
            o.exposure_context_keys = keys;
        }
        if let Some(name) = self.sdk_name {
            o.sdk_name = name;
        }
        if let Some(version) = self.sdk_version {
            o.sdk_version = version;
        }
        Ok(o)
    }

    /// [`JsonOptions::into_options`] with `sdk_name` defaulting to `surface`'s name: exact (a
    /// user's explicit `"sdk_name": "vario-rust"` is kept), unlike [`Surface::apply`].
    pub fn into_options_for(self, surface: Surface) -> Result<Options, BuildError> {
        let named = self.sdk_name.is_some();
        let mut o = self.into_options()?;
        if !named {
            o.sdk_name = surface.sdk_name().to_owned();
        }
        Ok(o)
    }
}

/// Options from a JSON object for `surface` (its `sdk_name` unless the object sets one).
///
/// ```
/// let v = serde_json::json!({"config_url": "http://127.0.0.1:8088/config", "queue_capacity": 1000});
/// let o = vario::host::parse_options(&v, vario::host::Surface::Python)?;
/// assert_eq!((o.delivery.queue_capacity, o.sdk_name.as_str()), (1000, "vario-python"));
/// # Ok::<(), vario::BuildError>(())
/// ```
pub fn parse_options(v: &Value, surface: Surface) -> Result<Options, BuildError> {
    JsonOptions::from_value(v)?.into_options_for(surface)
}

/// [`parse_options`] on JSON text (the C ABI's and the Node addon's form).
pub fn parse_options_json(text: &str, surface: Surface) -> Result<Options, BuildError> {
    JsonOptions::from_json(text)?.into_options_for(surface)
}

impl Options {
    /// Options from a JSON object with the keys of [`JsonOptions`] (see there). `sdk_name` stays
    /// `vario-rust` unless given; bindings use [`parse_options`] to get their own name.
    pub fn from_json_value(v: &Value) -> Result<Options, BuildError> {
        JsonOptions::from_value(v)?.into_options()
    }

    /// [`Options::from_json_value`] on JSON text.
    pub fn from_json(text: &str) -> Result<Options, BuildError> {
        JsonOptions::from_json(text)?.into_options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vario_core::{Coded, ErrorCode};

    /// The documented keys: the 24 the hand-written parser accepted before this definition, then
    /// the config-body cap and the redirect switch (issue 14), the batches in flight, the
    /// unsigned-token opt-in, the snapshot signing key and the spool (issue 14), the push channel
    /// (issue 16).
    const KEYS: [&str; 38] = [
        "sdk_key",
        "config_url",
        "config_path",
        "bootstrap",
        "ingest_url",
        "sink_path",
        "poll_interval_ms",
        "request_timeout_ms",
        "max_backoff_ms",
        "id_hash_key",
        "allow_unsigned_tokens",
        "default_params",
        "queue_capacity",
        "batch_size",
        "batch_interval_ms",
        "dedup_window_ms",
        "dedup_capacity",
        "assignment_capacity",
        "exposure_context_keys",
        "persist_path",
        "max_config_bytes",
        "follow_redirects",
        "max_version_jump",
        "snapshot_public_key",
        "stream_url",
        "redis_url",
        "environment",
        "push_idle_timeout_ms",
        "push_poll_interval_ms",
        "stale_after_ms",
        "max_attempts",
        "retry_base_ms",
        "gzip_threshold",
        "max_in_flight",
        "spool_path",
        "spool_max_bytes",
        "sdk_name",
        "sdk_version",
    ];

    #[test]
    fn option_keys_are_the_derives_and_unchanged() {
        assert_eq!(*OPTION_KEYS, KEYS);
        assert_eq!(
            *DURATION_KEYS,
            [
                "poll_interval_ms",
                "request_timeout_ms",
                "max_backoff_ms",
                "batch_interval_ms",
                "dedup_window_ms",
                "push_idle_timeout_ms",
                "push_poll_interval_ms",
                "stale_after_ms",
                "retry_base_ms"
            ]
        );
        // Every key is accepted (a `null` of each parses).
        let all_null: Map<String, Value> = OPTION_KEYS.iter().map(|k| ((*k).to_owned(), Value::Null)).collect();
        Options::from_json_value(&Value::Object(all_null)).expect("every key is known");
    }

    #[test]
    fn options_from_json() {
        let o = Options::from_json(
            r#"{"config_url": "http://127.0.0.1:1/c", "poll_interval_ms": 250, "queue_capacity": 7,
                "default_params": {"home": {"algo": "x"}}, "exposure_context_keys": ["locale", "device"],
                "sdk_key": null, "sink_path": "ev.jsonl", "max_attempts": 3, "dedup_window_ms": 60000}"#,
        )
        .expect("valid options");
        assert!(matches!(o.sync.config, Some(ConfigSpec::Url(ref u)) if u == "http://127.0.0.1:1/c"));
        assert_eq!(o.sync.poll_interval, Duration::from_millis(250));
        assert_eq!(o.delivery.queue_capacity, 7);
        assert_eq!(o.delivery.max_attempts, 3);
        assert_eq!(o.processing.dedup_window, Duration::from_secs(60));
        assert!(matches!(o.delivery.local_sink, Some(LocalSink::File(ref p)) if p.as_os_str() == "ev.jsonl"));
        assert_eq!(o.default_params["home"]["algo"], "x");
        assert_eq!(o.exposure_context_keys, ["locale", "device"]);
        assert!(o.http.sdk_key.is_none());
        assert_eq!(o.sdk_name, "vario-rust");
        // Untouched keys keep their defaults.
        assert_eq!(o.delivery.batch_size, Options::default().delivery.batch_size);
        for bad in [
            r#"{"config_url": "a", "polll_interval_ms": 1}"#,
            r#"{"config_url": 3}"#,
            r#"{"config_url": "a", "config_path": "b"}"#,
            r#"{"config_url": "a", "queue_capacity": -1}"#,
            r#"{"config_url": "a", "queue_capacity": 1.5}"#,
            r#"{"config_url": "a", "max_attempts": 5000000000}"#,
            r#"{"config_url": "a", "exposure_context_keys": ["locale", 3]}"#,
            r#"{"config_url": "a", "default_params": {"home": 1}}"#,
            r#"[]"#,
            "not json",
        ] {
            let e = Options::from_json(bad).expect_err(bad);
            assert!(matches!(e, BuildError::InvalidOption(_)), "{bad}");
            assert_eq!(e.code(), ErrorCode::InvalidOptions);
        }
        let unknown = Options::from_json(r#"{"config_url": "a", "polll_interval_ms": 1}"#).expect_err("typo");
        assert!(unknown.to_string().contains("polll_interval_ms"), "{unknown}");
    }

    #[test]
    fn the_surface_names_the_sdk_unless_the_options_do() {
        let o = parse_options(&serde_json::json!({"bootstrap": "{}"}), Surface::Node).expect("valid");
        assert_eq!(o.sdk_name, "vario-node");
        let o = parse_options(&serde_json::json!({"bootstrap": "{}", "sdk_name": "vario-rust"}), Surface::Node)
            .expect("valid");
        assert_eq!(o.sdk_name, "vario-rust", "an explicit name is kept, even the Rust default");
        let o = parse_options_json(r#"{"bootstrap": "{}", "sdk_name": null}"#, Surface::C).expect("valid");
        assert_eq!(o.sdk_name, "vario-c", "null is the default");
    }
}
