//! Publishing: one immutable version row per publish, announced only after its commit; versions
//! history; rollback as a new, higher version.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{Body, audit, begin_env_write, corrupt, env_exists, experiment_env, load_env, refused};
use crate::assemble::{error_lints, published_experiments, snapshot_json};
use crate::auth::{Principal, hex};
use crate::db::now_rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::model::{Published, Role, Rollback, VersionInfo};
use crate::state::{Announcement, AppState, Latest};

/// SHA-256 of the snapshot without its `version` and `published_at`, and of who signs it: equal for
/// two publishes that would serve the same content the same way (turning signing on, or changing
/// the key, is a change: clients with the new public key need a new version).
fn content_digest(doc: &Value, signer: Option<&str>) -> String {
    let mut d = doc.clone();
    if let Value::Object(m) = &mut d {
        m.remove("version");
        m.remove("published_at");
    }
    let mut h = Sha256::new();
    h.update(signer.unwrap_or("unsigned").as_bytes());
    h.update(b"\n");
    h.update(d.to_string().as_bytes());
    hex(&h.finalize())
}

type LatestRow = (i64, String, String, String);

async fn latest_row(conn: &mut sqlx::AnyConnection, env_id: &str) -> ApiResult<Option<LatestRow>> {
    Ok(sqlx::query_as(
        "SELECT version, digest, content_digest, published_at FROM versions WHERE environment_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(env_id)
    .fetch_optional(conn)
    .await?)
}

/// Who publishes what, for [`commit_version`].
struct Publish<'a> {
    env_id: &'a str,
    environment: &'a str,
    actor: &'a str,
    /// The audit action: `publish` or `rollback`.
    action: &'a str,
    /// Merged into the audit entry's `after`.
    detail: Value,
}

/// Stores `doc` as the environment's next version (or reports the latest when the content is the
/// same), commits, then announces.
async fn commit_version(
    st: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    p: Publish<'_>,
    mut doc: Value,
    latest: Option<LatestRow>,
) -> ApiResult<Published> {
    let Publish { env_id, environment, actor, action, detail } = p;
    let signer = st.signing_key.as_ref().map(|k| k.public_key().to_text());
    let content = content_digest(&doc, signer.as_deref());
    if let Some((version, digest, c, published_at)) = &latest
        && *c == content
    {
        tx.rollback().await?;
        return Ok(Published {
            environment: environment.to_string(),
            version: *version,
            digest: digest.clone(),
            published_at: published_at.clone(),
            changed: false,
        });
    }
    let version = latest.as_ref().map_or(1, |l| l.0 + 1);
    let published_at = now_rfc3339();
    if let Value::Object(m) = &mut doc {
        m.insert("version".into(), json!(version));
        m.insert("published_at".into(), json!(published_at));
    }
    let lints = error_lints(&doc);
    if !lints.is_empty() {
        return Err(refused(&lints));
    }
    // Signed, the stored and served bytes are the envelope: the digest (the ETag) is over what
    // clients receive, and a rollback re-signs the inner snapshot with its new version.
    let bytes = match &st.signing_key {
        Some(key) => vario_core::signing::sign_snapshot(key, &doc.to_string()),
        None => doc.to_string(),
    };
    let digest = hex(&Sha256::digest(bytes.as_bytes()));
    sqlx::query(
        "INSERT INTO versions (environment_id, version, digest, content_digest, snapshot, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(env_id)
    .bind(version)
    .bind(&digest)
    .bind(&content)
    .bind(&bytes)
    .bind(actor)
    .bind(&published_at)
    .execute(&mut *tx)
    .await?;
    let mut after = json!({"version": version, "digest": digest});
    if let (Value::Object(a), Value::Object(d)) = (&mut after, detail) {
        a.extend(d);
    }
    audit(&mut tx, actor, action, "environment", env_id, None, Some(&after)).await?;
    tx.commit().await?;
    let published = Published { environment: environment.to_string(), version, digest, published_at, changed: true };
    announce(st, env_id, &published, bytes);
    Ok(published)
}

/// After a commit: the SDK endpoint's cache, the SSE streams, Redis (in the background: Redis
/// being slow or down never delays or fails a publish; the reconciler catches up).
fn announce(st: &AppState, env_id: &str, p: &Published, bytes: String) {
    if let Ok(mut m) = st.latest.0.write() {
        let newer = m.get(env_id).is_none_or(|l| l.version < p.version);
        if newer {
            let latest = Latest {
                version: p.version,
                digest: p.digest.clone(),
                bytes: bytes.clone().into(),
                checked: Instant::now(),
            };
            m.insert(env_id.to_string(), Arc::new(latest));
        }
    }
    let a = Announcement { environment: p.environment.clone(), version: p.version, digest: p.digest.clone() };
    if st.announced.first(&a.environment, a.version) {
        let _ = st.announce.send(a.clone());
    }
    if let Some(redis) = st.redis.clone() {
        tokio::spawn(async move {
            if let Err(e) = redis.write(&a.environment, a.version, &a.digest, &bytes).await {
                log::warn!(
                    "vario-control: Redis write of {} v{} failed (the reconciler retries): {e}",
                    a.environment,
                    a.version
                );
            }
        });
    }
}

/// Compiles the environment and publishes it as its next version.
pub async fn publish_env(st: &AppState, actor: &str, env_id: &str) -> ApiResult<Published> {
    let mut tx = begin_env_write(st, env_id).await?;
    let env = load_env(&mut tx, env_id).await?;
    let latest = latest_row(&mut tx, env_id).await?;
    let doc = snapshot_json(&env, published_experiments(&env), 0, "");
    let p = Publish { env_id, environment: &env.name, actor, action: "publish", detail: json!({}) };
    commit_version(st, tx, p, doc, latest).await
}

/// Publishes the environment (`changed: false` when nothing changed since the latest version).
#[utoipa::path(post, path = "/environments/{id}/publish", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id")),
    responses((status = 200, body = Published), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish_environment(
    State(st): State<AppState>,
    p: Principal,
    Path(env_id): Path<String>,
) -> ApiResult<Json<Published>> {
    let actor = p.require(Role::Editor)?.to_string();
    Ok(Json(detached(async move { publish_env(&st, &actor, &env_id).await }).await?))
}

/// Runs a publish on its own task: a client that disconnects, or the request timeout, drops the
/// handler, and must not drop it between the commit and the announcement.
async fn detached<F>(f: F) -> ApiResult<Published>
where
    F: std::future::Future<Output = ApiResult<Published>> + Send + 'static,
{
    tokio::spawn(f).await.unwrap_or_else(|e| {
        log::error!("vario-control: a publish task failed: {e}");
        Err(ApiError::new(crate::error::ApiCode::Internal, "the publish failed; see the service log"))
    })
}

/// Publishes the experiment's environment.
#[utoipa::path(post, path = "/experiments/{id}/publish", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id")),
    responses((status = 200, body = Published), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish_experiment(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Published>> {
    let actor = p.require(Role::Editor)?.to_string();
    let env_id = experiment_env(&st, &id).await?;
    Ok(Json(detached(async move { publish_env(&st, &actor, &env_id).await }).await?))
}

/// Every published version, newest first.
#[utoipa::path(get, path = "/environments/{id}/versions", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id")),
    responses((status = 200, body = Vec<VersionInfo>), (status = 404, body = ErrorBody)))]
pub async fn list_versions(
    State(st): State<AppState>,
    p: Principal,
    Path(env_id): Path<String>,
) -> ApiResult<Json<Vec<VersionInfo>>> {
    p.require(Role::Viewer)?;
    let mut conn = st.db.pool.acquire().await?;
    env_exists(&mut conn, &env_id).await?;
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT version, digest, published_at, published_by FROM versions WHERE environment_id = $1 ORDER BY version DESC",
    )
    .bind(&env_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(version, digest, published_at, published_by)| VersionInfo {
                version,
                digest,
                published_at,
                published_by,
            })
            .collect(),
    ))
}

/// One version's snapshot, byte for byte as published.
#[utoipa::path(get, path = "/environments/{id}/versions/{version}", tag = "publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id"), ("version" = i64, Path, description = "version")),
    responses((status = 200, description = "the snapshot JSON", content_type = "application/json"), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(st): State<AppState>,
    p: Principal,
    Path((env_id, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    p.require(Role::Viewer)?;
    let version: i64 = version.parse().map_err(|_| ApiError::bad_request("a version is an integer"))?;
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT digest, snapshot FROM versions WHERE environment_id = $1 AND version = $2")
            .bind(&env_id)
            .bind(version)
            .fetch_optional(&st.db.pool)
            .await?;
    let (digest, snapshot) = row.ok_or_else(|| ApiError::not_found("version"))?;
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], snapshot).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// Publishes an earlier version's snapshot again, as a new, higher version (SDKs refuse lower
/// versions, so going back is always going forward). The authoring state is not changed: the next
/// publish serves what the experiments and items say.
#[utoipa::path(post, path = "/environments/{id}/rollback", tag = "publish", request_body = Rollback,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id")),
    responses((status = 200, body = Published), (status = 404, body = ErrorBody)))]
pub async fn rollback(
    State(st): State<AppState>,
    p: Principal,
    Path(env_id): Path<String>,
    Body(b): Body<Rollback>,
) -> ApiResult<Json<Published>> {
    let actor = p.require(Role::Editor)?.to_string();
    Ok(Json(detached(async move { rollback_to(&st, &actor, &env_id, b.version).await }).await?))
}

async fn rollback_to(st: &AppState, actor: &str, env_id: &str, version: i64) -> ApiResult<Published> {
    let mut tx = begin_env_write(st, env_id).await?;
    let env = load_env(&mut tx, env_id).await?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT snapshot FROM versions WHERE environment_id = $1 AND version = $2")
            .bind(env_id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
    let (stored,) = row.ok_or_else(|| ApiError::not_found("version"))?;
    // A signed version is stored as its envelope: the snapshot inside is what is republished.
    let snapshot = vario_core::signing::open_snapshot(&stored, None).map_err(|_| corrupt("signed snapshot"))?;
    let doc: Value = serde_json::from_str(snapshot).map_err(|_| corrupt("snapshot"))?;
    let latest = latest_row(&mut tx, env_id).await?;
    let detail = json!({"rolled_back_to": version});
    let p = Publish { env_id, environment: &env.name, actor, action: "rollback", detail };
    commit_version(st, tx, p, doc, latest).await
}
