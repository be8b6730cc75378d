//! Environments, their SDK keys and their items (placements, layers, holdouts, segments, flags).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::common::{
    Body, audit, begin_env_write, check_key, corrupt, env_exists, id, load_env, publish_lints, refused, valid_name,
};
use crate::assemble::{ItemKind, new_lints};
use crate::auth::{Principal, hash_secret, new_secret};
use crate::db::now_rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::model::{Environment, EnvironmentCreated, NewEnvironment, Role, SdkKeyCreated};
use crate::state::AppState;

/// Creates an environment and its first SDK key.
#[utoipa::path(post, path = "/environments", tag = "environments", request_body = NewEnvironment,
    security(("bearer" = [])),
    responses((status = 201, body = EnvironmentCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_environment(
    State(st): State<AppState>,
    p: Principal,
    Body(b): Body<NewEnvironment>,
) -> ApiResult<(StatusCode, Json<EnvironmentCreated>)> {
    let actor = p.require(Role::Editor)?.to_string();
    if !valid_name(&b.name) {
        return Err(ApiError::bad_request("an environment name is [a-z0-9_-]{1,64}"));
    }
    let env = Environment { id: id(), name: b.name, created_at: now_rfc3339() };
    let (key_id, secret) = (id(), new_secret(crate::auth::SDK_PREFIX)?);
    let mut tx = st.db.pool.begin().await?;
    sqlx::query("INSERT INTO environments (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&env.id)
        .bind(&env.name)
        .bind(&env.created_at)
        .execute(&mut *tx)
        .await?;
    insert_sdk_key(&mut tx, &key_id, &env.id, &secret, &actor).await?;
    let after = serde_json::to_value(&env).unwrap_or(Value::Null);
    audit(&mut tx, &actor, "create", "environment", &env.id, None, Some(&after)).await?;
    audit(&mut tx, &actor, "create", "sdk_key", &key_id, None, Some(&json!({"environment_id": env.id}))).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(EnvironmentCreated { id: env.id, name: env.name, created_at: env.created_at, sdk_key: secret }),
    ))
}

async fn insert_sdk_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    key_id: &str,
    env_id: &str,
    secret: &str,
    actor: &str,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO sdk_keys (id, environment_id, key_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key_id)
    .bind(env_id)
    .bind(hash_secret(secret))
    .bind(now_rfc3339())
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every environment.
#[utoipa::path(get, path = "/environments", tag = "environments", security(("bearer" = [])),
    responses((status = 200, body = Vec<Environment>), (status = 401, body = ErrorBody)))]
pub async fn list_environments(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Vec<Environment>>> {
    p.require(Role::Viewer)?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, created_at FROM environments ORDER BY name").fetch_all(&st.db.pool).await?;
    Ok(Json(rows.into_iter().map(|(id, name, created_at)| Environment { id, name, created_at }).collect()))
}

/// One environment.
#[utoipa::path(get, path = "/environments/{id}", tag = "environments", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id")),
    responses((status = 200, body = Environment), (status = 404, body = ErrorBody)))]
pub async fn get_environment(
    State(st): State<AppState>,
    p: Principal,
    Path(env_id): Path<String>,
) -> ApiResult<Json<Environment>> {
    p.require(Role::Viewer)?;
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT id, name, created_at FROM environments WHERE id = $1")
            .bind(&env_id)
            .fetch_optional(&st.db.pool)
            .await?;
    let (id, name, created_at) = row.ok_or_else(|| ApiError::not_found("environment"))?;
    Ok(Json(Environment { id, name, created_at }))
}

/// A new SDK key for the environment (the secret is shown once).
#[utoipa::path(post, path = "/environments/{id}/sdk_keys", tag = "environments", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id")),
    responses((status = 201, body = SdkKeyCreated), (status = 404, body = ErrorBody)))]
pub async fn create_sdk_key(
    State(st): State<AppState>,
    p: Principal,
    Path(env_id): Path<String>,
) -> ApiResult<(StatusCode, Json<SdkKeyCreated>)> {
    let actor = p.require(Role::Editor)?.to_string();
    let (key_id, secret) = (id(), new_secret(crate::auth::SDK_PREFIX)?);
    let mut tx = begin_env_write(&st, &env_id).await?;
    insert_sdk_key(&mut tx, &key_id, &env_id, &secret, &actor).await?;
    audit(&mut tx, &actor, "create", "sdk_key", &key_id, None, Some(&json!({"environment_id": env_id}))).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(SdkKeyCreated { id: key_id, sdk_key: secret })))
}

fn kind_of(segment: &str) -> ApiResult<ItemKind> {
    ItemKind::from_segment(segment).ok_or_else(|| ApiError::not_found("item kind"))
}

/// An item as listed and returned: its key and its snapshot shape.
fn item_json(key: &str, body: &Value) -> Value {
    let mut o = Map::new();
    o.insert("key".into(), json!(key));
    if let Value::Object(m) = body {
        for (k, v) in m {
            if k != "key" {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(o)
}

/// The items of one kind (`placements`, `layers`, `holdouts`, `segments`, `flags`).
#[utoipa::path(get, path = "/environments/{id}/{kind}", tag = "items", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id"),
           ("kind" = String, Path, description = "placements | layers | holdouts | segments | flags")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = ErrorBody)))]
pub async fn list_items(
    State(st): State<AppState>,
    p: Principal,
    Path((env_id, kind)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    p.require(Role::Viewer)?;
    let kind = kind_of(&kind)?;
    let mut conn = st.db.pool.acquire().await?;
    env_exists(&mut conn, &env_id).await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, body FROM items WHERE environment_id = $1 AND kind = $2 ORDER BY key")
            .bind(&env_id)
            .bind(kind.entity())
            .fetch_all(&mut *conn)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (key, body) in rows {
        out.push(item_json(&key, &serde_json::from_str(&body).map_err(|_| corrupt("item body"))?));
    }
    Ok(Json(out))
}

/// The body of an item as stored: its snapshot shape without the key (which is the path's).
fn item_body(kind: ItemKind, key: &str, body: Value) -> ApiResult<Value> {
    let Value::Object(mut m) = body else {
        return Err(ApiError::bad_request("an item body is a JSON object"));
    };
    match m.remove("key") {
        Some(Value::String(k)) if k == key => {}
        None => {}
        Some(_) => return Err(ApiError::bad_request("the body's `key` differs from the path's")),
    }
    let only = |allowed: &[&str]| -> ApiResult<()> {
        match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request(format!("unknown field `{k}`"))),
            None => Ok(()),
        }
    };
    match kind {
        ItemKind::Placement => {
            only(&["default_params"])?;
            if !m.get("default_params").is_none_or(Value::is_object) {
                return Err(ApiError::bad_request("`default_params` is an object"));
            }
            m.entry("default_params").or_insert_with(|| json!({}));
        }
        ItemKind::Segment => {
            only(&["ids"])?;
            let ok = m.get("ids").and_then(Value::as_array).is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                return Err(ApiError::bad_request("a segment is `{ids: [strings]}`"));
            }
        }
        // Layers, holdouts and flags are free-form snapshot shapes: the engine judges them (and
        // ignores fields it does not know, as it does in any snapshot).
        ItemKind::Layer | ItemKind::Holdout | ItemKind::Flag => {}
    }
    Ok(Value::Object(m))
}

/// Creates or replaces one item; refused (`422`) when the engine would disable anything because
/// of it.
#[utoipa::path(put, path = "/environments/{id}/{kind}/{key}", tag = "items", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id"),
           ("kind" = String, Path, description = "placements | layers | holdouts | segments | flags"),
           ("key" = String, Path, description = "item key")),
    request_body(content = Object, description = "the item's snapshot shape"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_item(
    State(st): State<AppState>,
    p: Principal,
    Path((env_id, kind, key)): Path<(String, String, String)>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Value>> {
    let actor = p.require(Role::Editor)?.to_string();
    let kind = kind_of(&kind)?;
    check_key(&key)?;
    let body = item_body(kind, &key, body)?;
    let mut tx = begin_env_write(&st, &env_id).await?;
    let mut env = load_env(&mut tx, &env_id).await?;
    let before_lints = publish_lints(&env);
    let pos = env.items.iter().position(|i| i.kind == kind && i.key == key);
    let before = pos.map(|i| item_json(&key, &env.items[i].body));
    match pos {
        Some(i) => env.items[i].body = body.clone(),
        None => env.items.push(crate::assemble::Item { kind, key: key.clone(), body: body.clone() }),
    }
    let added = new_lints(&before_lints, publish_lints(&env));
    if !added.is_empty() {
        return Err(refused(&added));
    }
    sqlx::query(
        "INSERT INTO items (environment_id, kind, key, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (environment_id, kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(&env_id)
    .bind(kind.entity())
    .bind(&key)
    .bind(body.to_string())
    .bind(now_rfc3339())
    .execute(&mut *tx)
    .await?;
    let after = item_json(&key, &body);
    let action = if before.is_some() { "update" } else { "create" };
    audit(&mut tx, &actor, action, kind.entity(), &format!("{env_id}/{key}"), before.as_ref(), Some(&after)).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Deletes one item; refused (`422`) when something still needs it.
#[utoipa::path(delete, path = "/environments/{id}/{kind}/{key}", tag = "items", security(("bearer" = [])),
    params(("id" = String, Path, description = "environment id"),
           ("kind" = String, Path, description = "placements | layers | holdouts | segments | flags"),
           ("key" = String, Path, description = "item key")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_item(
    State(st): State<AppState>,
    p: Principal,
    Path((env_id, kind, key)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let actor = p.require(Role::Editor)?.to_string();
    let kind = kind_of(&kind)?;
    let mut tx = begin_env_write(&st, &env_id).await?;
    let mut env = load_env(&mut tx, &env_id).await?;
    let before_lints = publish_lints(&env);
    let pos = env
        .items
        .iter()
        .position(|i| i.kind == kind && i.key == key)
        .ok_or_else(|| ApiError::not_found(kind.entity()))?;
    let before = item_json(&key, &env.items.remove(pos).body);
    let added = new_lints(&before_lints, publish_lints(&env));
    if !added.is_empty() {
        return Err(refused(&added));
    }
    sqlx::query("DELETE FROM items WHERE environment_id = $1 AND kind = $2 AND key = $3")
        .bind(&env_id)
        .bind(kind.entity())
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    audit(&mut tx, &actor, "delete", kind.entity(), &format!("{env_id}/{key}"), Some(&before), None).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
