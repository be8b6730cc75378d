//! The SDK endpoints (SDK keys only): the latest snapshot with ETag/304, and the SSE stream of
//! publishes. Served from memory: a `304` costs no database query (the cache asks the database
//! for a newer version at most once a second, for publishes made by another process).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError, ApiResult, ErrorBody};
use crate::state::{AppState, LATEST_RECHECK, Latest};

fn sdk_env(p: Principal) -> ApiResult<(String, String)> {
    match p {
        Principal::Sdk { environment_id, environment } => Ok((environment_id, environment)),
        Principal::Admin { .. } => {
            Err(ApiError::new(ApiCode::Unauthorized, "/sdk/v1/* takes an SDK key, not an admin token"))
        }
    }
}

/// The latest version of an environment, from the cache when it was checked within a second.
pub async fn latest_for(st: &AppState, env_id: &str) -> ApiResult<Arc<Latest>> {
    latest(st, env_id, false).await
}

/// The latest version of an environment, asking the database whatever the cache holds (another
/// instance announced a publish).
pub async fn refresh_latest(st: &AppState, env_id: &str) -> ApiResult<Arc<Latest>> {
    latest(st, env_id, true).await
}

async fn latest(st: &AppState, env_id: &str, force: bool) -> ApiResult<Arc<Latest>> {
    let cached = st.latest.0.read().ok().and_then(|m| m.get(env_id).cloned());
    if let Some(l) = &cached
        && !force
        && l.checked.elapsed() < LATEST_RECHECK
    {
        return Ok(l.clone());
    }
    let row: Result<Option<(i64, String)>, sqlx::Error> =
        sqlx::query_as("SELECT version, digest FROM versions WHERE environment_id = $1 ORDER BY version DESC LIMIT 1")
            .bind(env_id)
            .fetch_optional(&st.db.pool)
            .await;
    // The database unreachable (a failover, a full pool): what is in memory is still the latest
    // this process knows, and better for an SDK than an error.
    let row = match (row, &cached) {
        (Ok(row), _) => row,
        (Err(e), Some(l)) => {
            log::warn!("vario-control: cannot recheck the latest version ({e}); serving v{} from memory", l.version);
            return Ok(l.clone());
        }
        (Err(e), None) => return Err(e.into()),
    };
    let Some((version, digest)) = row else {
        return Err(ApiError::new(ApiCode::NotPublished, "nothing has been published in this environment yet"));
    };
    let fresh = match cached {
        Some(l) if l.version == version => Latest { version, digest, bytes: l.bytes.clone(), checked: Instant::now() },
        _ => {
            let (snapshot,): (String,) =
                sqlx::query_as("SELECT snapshot FROM versions WHERE environment_id = $1 AND version = $2")
                    .bind(env_id)
                    .bind(version)
                    .fetch_one(&st.db.pool)
                    .await?;
            Latest { version, digest, bytes: snapshot.into(), checked: Instant::now() }
        }
    };
    let fresh = Arc::new(fresh);
    if let Ok(mut m) = st.latest.0.write() {
        // A publish by this process may have raced ahead of this read: never go back.
        let keep = m.get(env_id).is_some_and(|l| l.version > fresh.version);
        if !keep {
            m.insert(env_id.to_string(), fresh.clone());
        }
    }
    Ok(fresh)
}

/// Whether an `If-None-Match` value matches `etag` (a list, weak tags and `*` included).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag))
}

/// The latest published snapshot of the key's environment.
#[utoipa::path(get, path = "/sdk/v1/snapshot", tag = "sdk", security(("bearer" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "the ETag last served")),
    responses((status = 200, description = "the snapshot JSON", content_type = "application/json"),
              (status = 304, description = "unchanged"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sdk_snapshot(State(st): State<AppState>, p: Principal, headers: HeaderMap) -> ApiResult<Response> {
    let (env_id, _) = sdk_env(p)?;
    let latest = latest_for(&st, &env_id).await?;
    let etag = format!("\"{}\"", latest.digest);
    let mut r = if none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], latest.bytes.clone()).into_response()
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Every poll revalidates: no HTTP cache may hide a kill switch (GrowthBook #5985).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// Server-sent events: `event: version` at connect and after every publish, `: ping` comments.
#[utoipa::path(get, path = "/sdk/v1/stream", tag = "sdk", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"),
              (status = 401, body = ErrorBody)))]
pub async fn sdk_stream(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let (env_id, environment) = sdk_env(p)?;
    // Subscribe before reading the current version, so no publish falls between the two.
    let rx = st.announce.subscribe();
    let initial = match latest_for(&st, &env_id).await {
        Ok(l) => Some(serde_json::json!({"environment": environment, "version": l.version, "digest": l.digest})),
        Err(e) if e.code == ApiCode::NotPublished => None,
        Err(e) => return Err(e),
    };
    let first = futures_util::stream::iter(initial.map(|d| Ok(Event::default().event("version").data(d.to_string()))));
    let env = environment.clone();
    // A lagging receiver lost messages: end the stream, and the client's reconnect reads the
    // current version at connect (SPEC §9: it re-reads after every reconnect).
    let updates = BroadcastStream::new(rx).take_while(|m| std::future::ready(m.is_ok())).filter_map(move |m| {
        let out = match m {
            Ok(a) if a.environment == env => {
                serde_json::to_string(&a).ok().map(|d| Ok(Event::default().event("version").data(d)))
            }
            _ => None,
        };
        std::future::ready(out)
    });
    let mut shutdown = st.shutdown.clone();
    let stream = first.chain(updates).take_until(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(st.ping_every).text("ping")))
}
