//! Experiments: creation, edits, lifecycle, variants and allocations (ramps).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::common::{
    Body, audit, begin_env_write, check_key, check_revision, corrupt, experiment_env, id, if_match, load_env,
    publish_lints, refused,
};
use crate::assemble::{EnvState, ExperimentRow, buckets_moved, experiment_lints, merge_history, new_lints, ranges_of};
use crate::auth::Principal;
use crate::db::now_rfc3339;
use crate::error::{ApiCode, ApiError, ApiResult, ErrorBody};
use crate::model::{
    AllocationChange, Experiment, ExperimentPatch, ExperimentSpec, NewExperiment, Role, Status, StatusChange,
    StoredBody, Variant,
};
use crate::state::AppState;

type Row = (String, String, String, i64, i64, String, String, String);
const COLUMNS: &str = "id, environment_id, status, revision, iteration, body, created_at, updated_at";

fn from_row(r: Row) -> ApiResult<Experiment> {
    let (id, environment_id, status, revision, iteration, body, created_at, updated_at) = r;
    let body: StoredBody = serde_json::from_str(&body).map_err(|_| corrupt("experiment body"))?;
    Ok(Experiment {
        id,
        environment_id,
        status: Status::parse(&status).ok_or_else(|| corrupt("experiment status"))?,
        iteration,
        revision,
        shipped_variant: body.shipped_variant,
        bucket_history: body.bucket_history,
        spec: body.spec,
        created_at,
        updated_at,
    })
}

async fn fetch(conn: &mut sqlx::AnyConnection, id: &str) -> ApiResult<Experiment> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM experiments WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    from_row(row.ok_or_else(|| ApiError::not_found("experiment"))?)
}

fn row_of(e: &Experiment) -> ExperimentRow {
    ExperimentRow {
        id: e.id.clone(),
        status: e.status,
        iteration: e.iteration,
        body: StoredBody {
            spec: e.spec.clone(),
            shipped_variant: e.shipped_variant.clone(),
            bucket_history: e.bucket_history.clone(),
        },
    }
}

/// The experiment with its `ETag: "<revision>"`.
fn with_etag(status: StatusCode, e: Experiment) -> Response {
    let mut r = (status, Json(&e)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", e.revision)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// What the engine says of `after` replacing the experiment in `env`: its own lints, and for an
/// experiment a publish carries, whatever it adds to the publish's lints.
fn validate(env: &EnvState, after: &ExperimentRow) -> ApiResult<()> {
    // An archived experiment is never published again: nothing to check (an incomplete draft can
    // be archived).
    if after.status == Status::Archived {
        return Ok(());
    }
    let own = experiment_lints(env, after);
    if !own.is_empty() {
        return Err(refused(&own));
    }
    if after.status.is_published() {
        let before = publish_lints(env);
        let mut next = env.clone();
        match next.experiments.iter_mut().find(|e| e.id == after.id) {
            Some(slot) => *slot = after.clone(),
            None => next.experiments.push(after.clone()),
        }
        let added = new_lints(&before, publish_lints(&next));
        if !added.is_empty() {
            return Err(refused(&added));
        }
    }
    Ok(())
}

/// Stores `e` (bumping its revision) and audits the change, in `tx`.
async fn store(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &str,
    action: &str,
    before: &Experiment,
    mut e: Experiment,
) -> ApiResult<Experiment> {
    e.revision = before.revision + 1;
    e.updated_at = now_rfc3339();
    let body = StoredBody {
        spec: e.spec.clone(),
        shipped_variant: e.shipped_variant.clone(),
        bucket_history: e.bucket_history.clone(),
    };
    let body = serde_json::to_string(&body).map_err(|_| corrupt("experiment body"))?;
    sqlx::query(
        "UPDATE experiments SET status = $1, revision = $2, iteration = $3, body = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(e.status.as_str())
    .bind(e.revision)
    .bind(e.iteration)
    .bind(body)
    .bind(&e.updated_at)
    .bind(&e.id)
    .execute(&mut **tx)
    .await?;
    let (b, a) = (serde_json::to_value(before).ok(), serde_json::to_value(&e).ok());
    audit(tx, actor, action, "experiment", &e.id, b.as_ref(), a.as_ref()).await?;
    Ok(e)
}

/// Starts a write on experiment `id`: its environment's lock, the experiment as stored, and the
/// `If-Match` check against it (`404`, `412`).
async fn begin_write(
    st: &AppState,
    id: &str,
    expected: Option<i64>,
) -> ApiResult<(String, sqlx::Transaction<'static, sqlx::Any>, Experiment)> {
    let env_id = experiment_env(st, id).await?;
    let mut tx = begin_env_write(st, &env_id).await?;
    let before = fetch(&mut tx, id).await?;
    check_revision(expected, before.revision)?;
    Ok((env_id, tx, before))
}

/// Creates a DRAFT experiment.
#[utoipa::path(post, path = "/experiments", tag = "experiments", request_body = NewExperiment,
    security(("bearer" = [])),
    responses((status = 201, body = Experiment), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_experiment(
    State(st): State<AppState>,
    p: Principal,
    Body(mut b): Body<serde_json::Map<String, Value>>,
) -> ApiResult<Response> {
    let actor = p.require(Role::Editor)?.to_string();
    let Some(Value::String(env_id)) = b.remove("environment_id") else {
        return Err(ApiError::bad_request("`environment_id` (a string) is required"));
    };
    let spec: ExperimentSpec =
        serde_json::from_value(Value::Object(b)).map_err(|e| ApiError::bad_request(format!("bad experiment: {e}")))?;
    check_key(&spec.key)?;
    let now = now_rfc3339();
    let e = Experiment {
        id: id(),
        environment_id: env_id.clone(),
        status: Status::Draft,
        iteration: 1,
        revision: 1,
        shipped_variant: None,
        bucket_history: Vec::new(),
        spec,
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = begin_env_write(&st, &env_id).await?;
    let env = load_env(&mut tx, &env_id).await?;
    if env.experiments.iter().any(|x| x.body.spec.key == e.spec.key) {
        return Err(ApiError::new(ApiCode::Conflict, format!("experiment `{}` already exists", e.spec.key)));
    }
    validate(&env, &row_of(&e))?;
    let body =
        serde_json::to_string(&StoredBody { spec: e.spec.clone(), shipped_variant: None, bucket_history: Vec::new() })
            .map_err(|_| corrupt("experiment body"))?;
    sqlx::query(&format!("INSERT INTO experiments ({COLUMNS}, key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&e.id)
        .bind(&e.environment_id)
        .bind(e.status.as_str())
        .bind(e.revision)
        .bind(e.iteration)
        .bind(body)
        .bind(&e.created_at)
        .bind(&e.updated_at)
        .bind(&e.spec.key)
        .execute(&mut *tx)
        .await?;
    let after = serde_json::to_value(&e).ok();
    audit(&mut tx, &actor, "create", "experiment", &e.id, None, after.as_ref()).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::CREATED, e))
}

/// Experiments, filtered by environment and status.
#[utoipa::path(get, path = "/experiments", tag = "experiments", security(("bearer" = [])),
    params(("environment_id" = Option<String>, Query, description = "only this environment (alias: environmentId)"),
           ("status" = Option<String>, Query, description = "only this status")),
    responses((status = 200, body = Vec<Experiment>), (status = 400, body = ErrorBody)))]
pub async fn list_experiments(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Experiment>>> {
    p.require(Role::Viewer)?;
    if let Some(k) = q.keys().find(|k| !["environment_id", "environmentId", "status"].contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown query parameter `{k}`")));
    }
    let env = q.get("environment_id").or_else(|| q.get("environmentId")).cloned();
    let status = match q.get("status") {
        Some(s) => Some(Status::parse(s).ok_or_else(|| ApiError::bad_request("unknown status"))?.as_str()),
        None => None,
    };
    // Untyped NULL parameters trip Postgres's type inference: the SQL names only the filters given.
    let mut sql = format!("SELECT {COLUMNS} FROM experiments WHERE 1 = 1");
    let mut binds = Vec::new();
    for (column, value) in [("environment_id", env), ("status", status.map(str::to_string))] {
        if let Some(v) = value {
            binds.push(v);
            sql.push_str(&format!(" AND {column} = ${}", binds.len()));
        }
    }
    sql.push_str(" ORDER BY created_at, id");
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&st.db.pool).await?;
    Ok(Json(rows.into_iter().map(from_row).collect::<ApiResult<_>>()?))
}

/// One experiment, with `ETag: "<revision>"`.
#[utoipa::path(get, path = "/experiments/{id}", tag = "experiments", security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id")),
    responses((status = 200, body = Experiment), (status = 404, body = ErrorBody)))]
pub async fn get_experiment(State(st): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    p.require(Role::Viewer)?;
    let mut conn = st.db.pool.acquire().await?;
    Ok(with_etag(StatusCode::OK, fetch(&mut conn, &id).await?))
}

/// Edits names, targeting, placements and the time window.
#[utoipa::path(patch, path = "/experiments/{id}", tag = "experiments", request_body = ExperimentPatch,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id"),
           ("If-Match" = Option<String>, Header, description = "\"<revision>\"")),
    responses((status = 200, body = Experiment), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_experiment(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(patch): Body<ExperimentPatch>,
) -> ApiResult<Response> {
    let actor = p.require(Role::Editor)?.to_string();
    let expected = if_match(&headers)?;
    let (env_id, mut tx, before) = begin_write(&st, &id, expected).await?;
    let mut e = before.clone();
    let s = &mut e.spec;
    if let Some(v) = patch.name {
        s.name = v;
    }
    if let Some(v) = patch.description {
        s.description = Some(v);
    }
    if let Some(v) = patch.hypothesis {
        s.hypothesis = Some(v);
    }
    if let Some(v) = patch.targeting {
        s.targeting = v;
    }
    if let Some(v) = patch.placements {
        s.placements = v;
    }
    if let Some(v) = patch.start_time {
        s.start_time = v;
    }
    if let Some(v) = patch.end_time {
        s.end_time = v;
    }
    if let Some(v) = patch.layer {
        s.layer = v;
    }
    if let Some(v) = patch.overrides {
        s.overrides = v;
    }
    if patch.unit.is_some() || patch.salt.is_some() {
        if before.status != Status::Draft {
            return Err(ApiError::new(
                ApiCode::Reshuffle,
                "`unit` and `salt` change on a DRAFT only: on a live experiment they would re-randomise everyone",
            ));
        }
        if let Some(v) = patch.unit {
            s.unit = Some(v);
        }
        if let Some(v) = patch.salt {
            s.salt = Some(v);
        }
    }
    let env = load_env(&mut tx, &env_id).await?;
    validate(&env, &row_of(&e))?;
    let e = store(&mut tx, &actor, "update", &before, e).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, e))
}

/// A lifecycle transition (SPEC §8 "Lifecycle").
#[utoipa::path(patch, path = "/experiments/{id}/status", tag = "experiments", request_body = StatusChange,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id"),
           ("If-Match" = Option<String>, Header, description = "\"<revision>\"")),
    responses((status = 200, body = Experiment), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn patch_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(change): Body<StatusChange>,
) -> ApiResult<Response> {
    let actor = p.require(Role::Editor)?.to_string();
    let expected = if_match(&headers)?;
    let (env_id, mut tx, before) = begin_write(&st, &id, expected).await?;
    if !before.status.allows(change.status) {
        return Err(ApiError::new(
            ApiCode::InvalidTransition,
            format!("{} → {} is not a lifecycle transition", before.status.as_str(), change.status.as_str()),
        ));
    }
    let mut e = before.clone();
    e.status = change.status;
    if change.status == Status::Completed {
        let ok = change.shipped_variant.as_ref().is_some_and(|v| e.spec.variants.iter().any(|x| &x.key == v));
        if !ok {
            return Err(ApiError::new(
                ApiCode::ValidationFailed,
                "COMPLETED needs `shipped_variant`, one of the experiment's variants",
            ));
        }
        e.shipped_variant = change.shipped_variant;
    } else if change.shipped_variant.is_some() {
        return Err(ApiError::bad_request("`shipped_variant` goes with COMPLETED only"));
    }
    let env = load_env(&mut tx, &env_id).await?;
    validate(&env, &row_of(&e))?;
    if change.status == Status::Running && e.bucket_history.is_empty() {
        // This iteration goes live: from now on its units keep their variant.
        e.bucket_history = ranges_of(&env, &row_of(&e));
    }
    let e = store(&mut tx, &actor, "status", &before, e).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, e))
}

/// Adds a variant (DRAFT only: a live experiment's buckets must not move).
#[utoipa::path(post, path = "/experiments/{id}/variants", tag = "experiments", request_body = Variant,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id"),
           ("If-Match" = Option<String>, Header, description = "\"<revision>\"")),
    responses((status = 201, body = Experiment), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_variant(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(v): Body<Variant>,
) -> ApiResult<Response> {
    let actor = p.require(Role::Editor)?.to_string();
    let expected = if_match(&headers)?;
    check_key(&v.key)?;
    let (env_id, mut tx, before) = begin_write(&st, &id, expected).await?;
    if before.status != Status::Draft {
        return Err(ApiError::new(ApiCode::Reshuffle, "variants can be added to a DRAFT experiment only")
            .with_details(json!({"status": before.status.as_str()})));
    }
    if before.spec.variants.iter().any(|x| x.key == v.key) {
        return Err(ApiError::new(ApiCode::Conflict, format!("variant `{}` already exists", v.key)));
    }
    let mut e = before.clone();
    e.spec.variants.push(v);
    let env = load_env(&mut tx, &env_id).await?;
    validate(&env, &row_of(&e))?;
    let e = store(&mut tx, &actor, "variant", &before, e).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::CREATED, e))
}

/// Sets the allocation: weights (with traffic) or explicit ranges. On a live experiment a change
/// that would move a unit from one variant to another is `409 RESHUFFLE` unless `new_iteration`.
#[utoipa::path(put, path = "/experiments/{id}/allocations", tag = "experiments", request_body = AllocationChange,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "experiment id"),
           ("If-Match" = Option<String>, Header, description = "\"<revision>\"")),
    responses((status = 200, body = Experiment), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn put_allocation(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(change): Body<AllocationChange>,
) -> ApiResult<Response> {
    let actor = p.require(Role::Editor)?.to_string();
    let expected = if_match(&headers)?;
    let allocation = match (change.weights, change.ranges) {
        (Some(w), None) => {
            let mut o = serde_json::Map::new();
            o.insert("weights".into(), w);
            if let Some(t) = change.traffic {
                o.insert("traffic".into(), json!(t));
            }
            Value::Object(o)
        }
        (None, Some(r)) if change.traffic.is_none() => json!({ "ranges": r }),
        (None, Some(_)) => return Err(ApiError::bad_request("`traffic` goes with `weights` only")),
        _ => return Err(ApiError::bad_request("give either `weights` or `ranges`")),
    };
    let (env_id, mut tx, before) = begin_write(&st, &id, expected).await?;
    if matches!(before.status, Status::Completed | Status::Archived) {
        return Err(ApiError::new(
            ApiCode::InvalidTransition,
            format!("the allocation of a {} experiment cannot change", before.status.as_str()),
        ));
    }
    let mut e = before.clone();
    e.spec.allocation = Some(allocation);
    let env = load_env(&mut tx, &env_id).await?;
    let live = matches!(before.status, Status::Running | Status::Paused);
    if change.new_iteration {
        e.iteration += 1;
        e.bucket_history = if live { ranges_of(&env, &row_of(&e)) } else { Vec::new() };
    } else if live {
        // Against every variant a bucket has had in this iteration, not only the last allocation
        // (an experiment live before the history was kept starts from its current allocation).
        let history = if before.bucket_history.is_empty() {
            ranges_of(&env, &row_of(&before))
        } else {
            before.bucket_history.clone()
        };
        let next = ranges_of(&env, &row_of(&e));
        let moved = buckets_moved(&history, &next);
        if moved > 0 {
            return Err(ApiError::new(
                ApiCode::Reshuffle,
                format!("{moved} buckets would move from one variant to another; send `new_iteration: true` to re-randomise on purpose"),
            )
            .with_details(json!({"buckets_moved": moved})));
        }
        e.bucket_history = merge_history(&history, &next);
    }
    validate(&env, &row_of(&e))?;
    let e = store(&mut tx, &actor, "allocation", &before, e).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, e))
}
