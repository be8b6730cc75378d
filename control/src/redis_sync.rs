//! Redis (SPEC §8 "Redis"): after each publish commit, the hash `env:{name}:config` =
//! `{version, digest, snapshot}` is written by a compare-and-set that never lowers `version`, and
//! `config:updates` is published only when it wrote. Both happen inside one Lua script, so no
//! reader ever sees the message before the hash, and two publishers racing cannot lower it.
//!
//! A reconciler re-asserts every environment's latest version at start and on a timer: a Redis
//! that restarted empty or was flushed is repopulated without anyone publishing (the failure the
//! peers' users hit). Redis being down never fails a publish: the database is the source of truth
//! and the reconciler catches up.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::RwLock;

use crate::db::Db;

/// The channel every publish is announced on (SPEC §8; also named in [`CAS`]).
pub const UPDATES_CHANNEL: &str = "config:updates";

/// Returns 1 when it wrote (and published), 0 when Redis already holds this version or a newer one.
const CAS: &str = r"
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'digest', ARGV[2], 'snapshot', ARGV[3])
redis.call('PUBLISH', 'config:updates', ARGV[4])
return 1
";

/// The Redis side of publishing. Thread-safe; connects lazily and reconnects on its own.
pub struct RedisSync {
    client: redis::Client,
    conn: RwLock<Option<ConnectionManager>>,
    script: redis::Script,
}

impl std::fmt::Debug for RedisSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSync").finish_non_exhaustive()
    }
}

/// The hash key of an environment.
pub fn config_key(environment: &str) -> String {
    format!("env:{environment}:config")
}

impl RedisSync {
    /// For `url` (`redis://host:port/db`); nothing is connected yet.
    pub fn new(url: &str) -> Result<RedisSync, redis::RedisError> {
        Ok(RedisSync { client: redis::Client::open(url)?, conn: RwLock::new(None), script: redis::Script::new(CAS) })
    }

    /// The client, for a connection of one's own (the follower's subscription).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        if let Some(c) = self.conn.read().await.as_ref() {
            return Ok(c.clone());
        }
        let mut slot = self.conn.write().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(5))
            .set_number_of_retries(2);
        let c = ConnectionManager::new_with_config(self.client.clone(), cfg).await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// The compare-and-set and the notification. `Ok(true)` when it wrote.
    pub async fn write(
        &self,
        environment: &str,
        version: i64,
        digest: &str,
        snapshot: &str,
    ) -> Result<bool, redis::RedisError> {
        let message = serde_json::json!({"environment": environment, "version": version, "digest": digest}).to_string();
        let mut c = self.conn().await?;
        let wrote: i64 = self
            .script
            .key(config_key(environment))
            .arg(version)
            .arg(digest)
            .arg(snapshot)
            .arg(message)
            .invoke_async(&mut c)
            .await?;
        Ok(wrote == 1)
    }

    /// The version Redis holds for an environment.
    pub async fn version(&self, environment: &str) -> Result<Option<i64>, redis::RedisError> {
        let mut c = self.conn().await?;
        redis::cmd("HGET").arg(config_key(environment)).arg("version").query_async(&mut c).await
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        let mut c = self.conn().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await.map(|_| ())
    }
}

/// Writes every environment's latest version into Redis where Redis holds an older one or none.
/// Returns how many hashes it wrote. One environment failing (a Redis value another tool wrote) is
/// logged and skipped, never the end of the round; snapshots are read from the database only for
/// the environments Redis is behind on.
pub async fn reconcile(db: &Db, redis: &RedisSync) -> Result<usize, String> {
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT e.id, e.name, v.version, v.digest FROM versions v JOIN environments e ON e.id = v.environment_id \
         WHERE v.version = (SELECT MAX(version) FROM versions w WHERE w.environment_id = v.environment_id)",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut wrote = 0;
    for (env_id, name, version, digest) in rows {
        let behind = match redis.version(&name).await {
            Ok(have) => have.is_none_or(|v| v < version),
            // Not a number (or Redis down): Redis down ends the round, the rest is per environment.
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => return Err(e.to_string()),
            Err(e) => {
                log::warn!("vario-control: reconcile of {name}: {e}");
                continue;
            }
        };
        if !behind {
            continue;
        }
        let snapshot: Option<(String,)> =
            sqlx::query_as("SELECT snapshot FROM versions WHERE environment_id = $1 AND version = $2")
                .bind(&env_id)
                .bind(version)
                .fetch_optional(&db.pool)
                .await
                .map_err(|e| e.to_string())?;
        let Some((snapshot,)) = snapshot else { continue };
        match redis.write(&name, version, &digest, &snapshot).await {
            Ok(true) => wrote += 1,
            Ok(false) => {}
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => return Err(e.to_string()),
            Err(e) => log::warn!("vario-control: reconcile of {name}: {e}"),
        }
    }
    Ok(wrote)
}

/// Reconciles now and then every `every`, until the process ends.
pub fn spawn_reconciler(db: Db, redis: Arc<RedisSync>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match reconcile(&db, &redis).await {
                Ok(0) => {}
                Ok(n) => log::info!("vario-control: reconciler wrote {n} environment(s) into Redis"),
                Err(e) => log::warn!("vario-control: Redis reconcile failed (retrying in {every:?}): {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
