//! Other instances' publishes (with `--redis`): several `vario control` processes on one Postgres
//! each serve SSE streams, but a publish is committed and announced by one of them. Every publish
//! also reaches Redis as a `config:updates` message (SPEC §8), so each instance subscribes to it
//! and, for a version it has not announced yet, reads the latest version from the database (the
//! SDK endpoint's cache included) and announces it to its own streams.
//!
//! The database stays the source of truth: a message is only a reason to look. A message for a
//! version this database does not hold (another deployment sharing the Redis) announces nothing,
//! and this process's own publishes, heard back, are not announced twice ([`Announced`]).
//! Messages sent while the subscription was down are lost; the streams' clients then learn of
//! that publish at their next poll, as they would without Redis.
//!
//! [`Announced`]: crate::state::Announced

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::api::sdk::refresh_latest;
use crate::redis_sync::{RedisSync, UPDATES_CHANNEL as CHANNEL};
use crate::state::{Announcement, AppState};
use futures_util::StreamExt;

/// First delay before re-subscribing after the connection failed (doubling up to [`MAX_RETRY`]).
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Subscribes until the process ends, re-subscribing with backoff after a failure.
pub fn spawn_follower(state: AppState, redis: Arc<RedisSync>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = FIRST_RETRY;
        // Environment name → id; names are unique and never change.
        let mut ids: HashMap<String, String> = HashMap::new();
        loop {
            match follow(&state, &redis, &mut ids, &mut delay).await {
                Ok(()) => log::warn!("vario-control: the Redis subscription to {CHANNEL} ended; re-subscribing"),
                Err(e) => {
                    log::warn!("vario-control: Redis subscription to {CHANNEL} failed (retrying in {delay:?}): {e}")
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY);
        }
    })
}

/// One subscription, followed until its connection ends.
async fn follow(
    state: &AppState,
    redis: &RedisSync,
    ids: &mut HashMap<String, String>,
    delay: &mut Duration,
) -> Result<(), redis::RedisError> {
    let mut pubsub = redis.client().get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    *delay = FIRST_RETRY;
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let Ok(n) = serde_json::from_slice::<Announcement>(msg.get_payload_bytes()) else { continue };
        if state.announced.highest(&n.environment) >= n.version {
            continue;
        }
        if let Err(e) = announce_from_db(state, ids, &n).await {
            log::warn!("vario-control: cannot read {} v{} announced on Redis: {e}", n.environment, n.version);
        }
    }
    Ok(())
}

/// Reads the environment's latest version and announces it when it is at least the one the
/// message named and not announced yet.
async fn announce_from_db(state: &AppState, ids: &mut HashMap<String, String>, n: &Announcement) -> Result<(), String> {
    let id = match ids.get(&n.environment) {
        Some(id) => id.clone(),
        None => {
            let row: Option<(String,)> = sqlx::query_as("SELECT id FROM environments WHERE name = $1")
                .bind(&n.environment)
                .fetch_optional(&state.db.pool)
                .await
                .map_err(|e| e.to_string())?;
            // Not an environment of this database: another deployment on the same Redis.
            let Some((id,)) = row else { return Ok(()) };
            ids.insert(n.environment.clone(), id.clone());
            id
        }
    };
    let latest = refresh_latest(state, &id).await.map_err(|e| e.message)?;
    if latest.version >= n.version && state.announced.first(&n.environment, latest.version) {
        let a =
            Announcement { environment: n.environment.clone(), version: latest.version, digest: latest.digest.clone() };
        let _ = state.announce.send(a);
    }
    Ok(())
}
