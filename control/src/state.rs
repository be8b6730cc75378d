//! What every request handler shares: the pool, the caches, the announcer. Cloned per request
//! (every field is an `Arc` or a channel handle); everything in it is thread-safe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use tokio::sync::broadcast;

use crate::db::Db;
use crate::redis_sync::RedisSync;

/// SDK key hash → (environment id, name). Bounded: cleared whole when it reaches its cap.
#[derive(Default)]
pub struct SdkKeyCache(RwLock<HashMap<String, (String, String)>>);

const SDK_CACHE_CAP: usize = 10_000;

impl SdkKeyCache {
    /// The environment of a key hash, when resolved before.
    pub fn get(&self, hash: &str) -> Option<(String, String)> {
        self.0.read().ok()?.get(hash).cloned()
    }

    /// Remembers a resolved key.
    pub fn put(&self, hash: String, env: (String, String)) {
        if let Ok(mut m) = self.0.write() {
            if m.len() >= SDK_CACHE_CAP {
                m.clear();
            }
            m.insert(hash, env);
        }
    }
}

/// A publish, as announced after its commit (SSE `version` events, Redis `config:updates`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Announcement {
    /// The environment's name.
    pub environment: String,
    /// The new version.
    pub version: i64,
    /// Its digest.
    pub digest: String,
}

/// The highest version announced to this process's SSE streams, per environment name. A publish
/// is announced once: this process's own after its commit, and (with `--redis`) one that another
/// instance published when its `config:updates` message arrives, but not this process's own
/// heard back from Redis.
#[derive(Default)]
pub struct Announced(Mutex<HashMap<String, i64>>);

impl Announced {
    /// True, and remembered, when `version` is above every version announced for `environment`.
    pub fn first(&self, environment: &str, version: i64) -> bool {
        let Ok(mut m) = self.0.lock() else { return true };
        match m.get_mut(environment) {
            Some(v) if *v >= version => false,
            Some(v) => {
                *v = version;
                true
            }
            None => {
                m.insert(environment.to_owned(), version);
                true
            }
        }
    }

    /// The highest version announced for `environment` (0 when none).
    pub fn highest(&self, environment: &str) -> i64 {
        self.0.lock().ok().and_then(|m| m.get(environment).copied()).unwrap_or(0)
    }
}

/// The latest published snapshot of one environment, as the SDK endpoint serves it.
#[derive(Debug)]
pub struct Latest {
    /// Its version.
    pub version: i64,
    /// Its digest (the ETag without quotes).
    pub digest: String,
    /// The bytes exactly as published.
    pub bytes: Bytes,
    /// When the database was last asked whether a newer version exists.
    pub checked: Instant,
}

/// Environment id → [`Latest`]. This process's publishes replace entries at once; a publish by
/// another process on the same Postgres is picked up within [`LATEST_RECHECK`].
#[derive(Default)]
pub struct LatestCache(pub RwLock<HashMap<String, Arc<Latest>>>);

/// How long the SDK endpoint trusts its cached latest version before asking the database again.
pub const LATEST_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The handlers' shared state.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// SHA-256 of `VARIO_ADMIN_TOKEN`, when set at start.
    pub bootstrap_hash: Option<String>,
    /// Resolved SDK keys.
    pub sdk_keys: Arc<SdkKeyCache>,
    /// What the SDK endpoint serves.
    pub latest: Arc<LatestCache>,
    /// Publishes, for the SSE streams.
    pub announce: broadcast::Sender<Announcement>,
    /// What was sent on `announce` (each publish once).
    pub announced: Arc<Announced>,
    /// Redis, with `--redis`.
    pub redis: Option<Arc<RedisSync>>,
    /// The SSE ping interval.
    pub ping_every: std::time::Duration,
    /// Signs every published snapshot, when set.
    pub signing_key: Option<Arc<vario_core::signing::SigningKey>>,
    /// Turns true when shutdown starts: SSE streams end so in-flight requests can finish.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}
