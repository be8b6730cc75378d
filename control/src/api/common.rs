//! What every route family shares: JSON bodies with our error shape, `If-Match`, the transaction
//! helpers every write goes through (the environment lock, the audit entry, loading an
//! environment), key checks and the engine's verdict as a `422`.

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{Any, AnyConnection, Transaction};

use crate::assemble::{
    EnvState, ExperimentRow, Item, ItemKind, error_lints, lint_details, published_experiments, snapshot_json,
};
use crate::db::{new_id, now_rfc3339};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::model::{Status, StoredBody};
use crate::state::AppState;

/// A JSON request body read into `T`: malformed JSON, wrong types and unknown fields are `400
/// BAD_REQUEST`, a body over the limit is `413 TOO_LARGE`, both in our error shape.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ApiCode::TooLarge, "the request body is over 1 MiB")
            } else {
                ApiError::bad_request(format!("cannot read the body: {r}"))
            }
        })?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
    }
}

/// The revision an `If-Match` header names: `"3"`, `W/"3"` or `3`; `None` without the header or
/// for `*`.
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let s = v.to_str().map_err(|_| ApiError::bad_request("If-Match is not text"))?.trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse().map(Some).map_err(|_| ApiError::bad_request("If-Match must be \"<revision>\""))
}

/// `412 REVISION_CONFLICT` unless `expected` is absent or equal to `current`.
pub fn check_revision(expected: Option<i64>, current: i64) -> ApiResult<()> {
    match expected {
        Some(e) if e != current => Err(ApiError::new(
            ApiCode::RevisionConflict,
            format!("If-Match names revision {e}; the current revision is {current}"),
        )),
        _ => Ok(()),
    }
}

/// Starts a write on environment `env_id`: its lock first (see the module doc). `404` when the
/// environment does not exist.
pub async fn begin_env_write(state: &AppState, env_id: &str) -> ApiResult<Transaction<'static, Any>> {
    let mut tx = state.db.pool.begin().await?;
    let r = sqlx::query("UPDATE environments SET write_seq = write_seq + 1 WHERE id = $1")
        .bind(env_id)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::not_found("environment"));
    }
    Ok(tx)
}

/// Writes one audit entry (in the caller's transaction).
pub async fn audit(
    conn: &mut AnyConnection,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO audit (id, ts, actor, action, entity, entity_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(now_rfc3339())
    .bind(actor)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(before.map(Value::to_string))
    .bind(after.map(Value::to_string))
    .execute(conn)
    .await?;
    Ok(())
}

/// The environment's name and everything a publish is made of.
pub async fn load_env(conn: &mut AnyConnection, env_id: &str) -> ApiResult<EnvState> {
    let env: Option<(String, i64)> = sqlx::query_as("SELECT name, hash_seed FROM environments WHERE id = $1")
        .bind(env_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((name, seed)) = env else { return Err(ApiError::not_found("environment")) };
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, key, body FROM items WHERE environment_id = $1 ORDER BY kind, key")
            .bind(env_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut items = Vec::with_capacity(rows.len());
    for (kind, key, body) in rows {
        let kind = ItemKind::parse(&kind).ok_or_else(|| corrupt("item kind"))?;
        items.push(Item { kind, key, body: serde_json::from_str(&body).map_err(|_| corrupt("item body"))? });
    }
    // Snapshot order must not depend on the database's collation (Postgres sorts text by locale):
    // the same items give the same bytes, so the same digest, on every backend.
    items.sort_by(|a, b| (a.kind.entity(), a.key.as_str()).cmp(&(b.kind.entity(), b.key.as_str())));
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT id, status, iteration, body FROM experiments WHERE environment_id = $1 ORDER BY created_at, id",
    )
    .bind(env_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut experiments = Vec::with_capacity(rows.len());
    for (id, status, iteration, body) in rows {
        experiments.push(ExperimentRow {
            id,
            status: Status::parse(&status).ok_or_else(|| corrupt("experiment status"))?,
            iteration,
            body: serde_json::from_str::<StoredBody>(&body).map_err(|_| corrupt("experiment body"))?,
        });
    }
    Ok(EnvState { name, seed, items, experiments })
}

/// `404` unless the environment exists (without loading it).
pub async fn env_exists(conn: &mut AnyConnection, env_id: &str) -> ApiResult<()> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM environments WHERE id = $1").bind(env_id).fetch_optional(conn).await?;
    row.map(|_| ()).ok_or_else(|| ApiError::not_found("environment"))
}

/// A stored value this version cannot read: never the client's fault.
pub fn corrupt(what: &str) -> ApiError {
    log::error!("vario-control: unreadable {what} in the database");
    ApiError::new(ApiCode::Internal, format!("unreadable {what} in the database"))
}

/// An experiment's environment id, `404` when there is no such experiment.
pub async fn experiment_env(state: &AppState, id: &str) -> ApiResult<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT environment_id FROM experiments WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
    row.map(|r| r.0).ok_or_else(|| ApiError::not_found("experiment"))
}

/// `[a-z0-9_-]{1,64}` (environment names).
pub fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An item or experiment key: 1 to 200 bytes, no control characters.
pub fn check_key(s: &str) -> ApiResult<()> {
    if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
        return Err(ApiError::bad_request("a key is 1 to 200 bytes without control characters"));
    }
    Ok(())
}

/// A fresh id (re-exported for the submodules).
pub fn id() -> String {
    new_id()
}

/// The error lints of what the environment would publish now.
pub fn publish_lints(env: &EnvState) -> Vec<vario_core::Lint> {
    let exps = published_experiments(env);
    error_lints(&snapshot_json(env, exps, 1, "1970-01-01T00:00:00Z"))
}

/// `422 VALIDATION_FAILED` carrying the engine's lints.
pub fn refused(lints: &[vario_core::Lint]) -> ApiError {
    ApiError::new(ApiCode::ValidationFailed, "the engine would disable what this write produces")
        .with_details(lint_details(lints))
}
