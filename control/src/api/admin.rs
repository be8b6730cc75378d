//! Tokens (admin only), the audit trail and health.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::common::{Body, audit, corrupt, id};
use crate::auth::{Principal, hash_secret, new_secret};
use crate::db::now_rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::model::{AuditEntry, Health, NewToken, Role, Token, TokenCreated};
use crate::state::AppState;

/// Creates an admin-API token (the secret is shown once).
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewToken, security(("bearer" = [])),
    responses((status = 201, body = TokenCreated), (status = 403, body = ErrorBody)))]
pub async fn create_token(
    State(st): State<AppState>,
    p: Principal,
    Body(b): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let actor = p.require(Role::Admin)?.to_string();
    if b.name.is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request("a token name is 1 to 200 bytes"));
    }
    let (token_id, secret) = (id(), new_secret(crate::auth::ADMIN_PREFIX)?);
    let mut tx = st.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO tokens (id, name, role, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token_id)
    .bind(&b.name)
    .bind(b.role.as_str())
    .bind(hash_secret(&secret))
    .bind(now_rfc3339())
    .bind(&actor)
    .execute(&mut *tx)
    .await?;
    let after = json!({"id": token_id, "name": b.name, "role": b.role.as_str()});
    audit(&mut tx, &actor, "create", "token", &token_id, None, Some(&after)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { id: token_id, name: b.name, role: b.role, token: secret })))
}

/// Every token (never a secret).
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<Token>), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Vec<Token>>> {
    p.require(Role::Admin)?;
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT id, name, role, created_at FROM tokens ORDER BY created_at, id")
            .fetch_all(&st.db.pool)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, role, created_at) in rows {
        let role = Role::parse(&role).ok_or_else(|| corrupt("token role"))?;
        out.push(Token { id, name, role, created_at });
    }
    Ok(Json(out))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    State(st): State<AppState>,
    p: Principal,
    Path(token_id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = p.require(Role::Admin)?.to_string();
    let mut tx = st.db.pool.begin().await?;
    // One statement: a read then a write would have to upgrade SQLite's read lock, which does not
    // wait for a busy writer.
    let row: Option<(String, String)> = sqlx::query_as("DELETE FROM tokens WHERE id = $1 RETURNING name, role")
        .bind(&token_id)
        .fetch_optional(&mut *tx)
        .await?;
    let (name, role) = row.ok_or_else(|| ApiError::not_found("token"))?;
    let before = json!({"id": token_id, "name": name, "role": role});
    audit(&mut tx, &actor, "delete", "token", &token_id, Some(&before), None).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit entries, newest first (`limit` default 100, at most 1000).
#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])),
    params(("entity" = Option<String>, Query, description = "e.g. experiment"),
           ("entity_id" = Option<String>, Query, description = "the entity's id"),
           ("limit" = Option<u32>, Query, description = "at most this many (default 100, max 1000)")),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = ErrorBody)))]
pub async fn list_audit(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    p.require(Role::Viewer)?;
    if let Some(k) = q.keys().find(|k| !["entity", "entity_id", "limit"].contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown query parameter `{k}`")));
    }
    let limit: i64 = match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::bad_request("limit is 1 to 1000"))?,
        None => 100,
    };
    let mut sql = "SELECT id, ts, actor, action, entity, entity_id, before, after FROM audit WHERE 1 = 1".to_string();
    let mut binds = Vec::new();
    for column in ["entity", "entity_id"] {
        if let Some(v) = q.get(column) {
            binds.push(v.clone());
            sql.push_str(&format!(" AND {column} = ${}", binds.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    type Row = (String, String, String, String, String, String, Option<String>, Option<String>);
    let mut query = sqlx::query_as::<_, Row>(&sql);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&st.db.pool).await?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
    Ok(Json(
        rows.into_iter()
            .map(|(id, ts, actor, action, entity, entity_id, before, after)| AuditEntry {
                id,
                ts,
                actor,
                action,
                entity,
                entity_id,
                before: parse(before),
                after: parse(after),
            })
            .collect(),
    ))
}

/// Liveness and dependencies (no token needed).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    let db = match sqlx::query("SELECT 1").execute(&st.db.pool).await {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let redis = match &st.redis {
        None => "off".to_string(),
        // A health probe must answer quickly even while Redis is unreachable.
        Some(r) => match tokio::time::timeout(std::time::Duration::from_millis(500), r.ping()).await {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 500 ms".to_string(),
        },
    };
    // Redis down degrades the service (publishes still commit, the reconciler catches up); the
    // database down makes it unavailable.
    let status = if db != "ok" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let word = if db == "ok" && (redis == "ok" || redis == "off") { "ok" } else { "degraded" };
    (status, Json(Health { status: word.into(), db, redis }))
}
