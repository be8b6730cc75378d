//! The API's resources and request bodies (SPEC §8), with their OpenAPI schemas. Pure data: every
//! request body refuses unknown fields (`400 BAD_REQUEST`), every response is what is stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An environment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    /// Opaque id.
    pub id: String,
    /// `[a-z0-9_-]{1,64}`, unique; the `environment` of its snapshots, events and messages.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
}

/// `201` of `POST /environments`: the environment and its first SDK key (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentCreated {
    /// Opaque id.
    pub id: String,
    /// The name.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// The first SDK key: the secret is shown here once and stored hashed.
    pub sdk_key: String,
}

/// `POST /environments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    /// `[a-z0-9_-]{1,64}`.
    pub name: String,
}

/// `201` of `POST /environments/{id}/sdk_keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SdkKeyCreated {
    /// Opaque id of the key.
    pub id: String,
    /// The secret, shown once.
    pub sdk_key: String,
}

/// An admin-API token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads, writes, transitions, publishes and rolls back.
    Editor,
    /// An editor who also manages tokens.
    Admin,
}

impl Role {
    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who uses it: the `actor` of its audit entries.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// A token as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Opaque id.
    pub id: String,
    /// The actor name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
}

/// `201` of `POST /tokens`: the secret is shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// Opaque id.
    pub id: String,
    /// The actor name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The bearer secret.
    pub token: String,
}

/// An experiment's lifecycle state (SPEC §3, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Being written; never published.
    Draft,
    /// Live.
    Running,
    /// Published, deciding placement defaults; resumes with the same buckets.
    Paused,
    /// Published, serving `shipped_variant` to everyone.
    Completed,
    /// Gone from snapshots for good.
    Archived,
}

impl Status {
    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "DRAFT",
            Status::Running => "RUNNING",
            Status::Paused => "PAUSED",
            Status::Completed => "COMPLETED",
            Status::Archived => "ARCHIVED",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "DRAFT" => Some(Status::Draft),
            "RUNNING" => Some(Status::Running),
            "PAUSED" => Some(Status::Paused),
            "COMPLETED" => Some(Status::Completed),
            "ARCHIVED" => Some(Status::Archived),
            _ => None,
        }
    }

    /// Whether the lifecycle allows `self → to` (SPEC §8 "Lifecycle").
    pub fn allows(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Draft, Running)
                | (Draft, Archived)
                | (Running, Paused)
                | (Paused, Running)
                | (Running | Paused, Completed)
                | (Running | Paused | Completed, Archived)
        )
    }

    /// Whether a publish includes experiments in this state.
    pub fn is_published(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Completed)
    }
}

/// A variant of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique within the experiment.
    pub key: String,
    /// For humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Laid over the placement's default params.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, Value>,
    /// The baseline of comparisons.
    #[serde(default)]
    pub is_control: bool,
}

/// The fields an experiment shares between its creation body and its stored form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Unique within the environment.
    pub key: String,
    /// For humans.
    pub name: String,
    /// For humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis: Option<String>,
    /// The placements it decides.
    pub placements: Vec<String>,
    /// `user`, `session` or `user_or_session` (the engine's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Default: the key. A new iteration publishes `{salt}:{iteration}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// `{key, range: [start, end]}` (SPEC §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<Value>,
    /// A targeting rule (SPEC §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub targeting: Option<Value>,
    /// RFC 3339; the window is `[start, end)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The variants.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// `{weights: {variant: pct}, traffic?}` or `{ranges: [{variant, start, end}]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub allocation: Option<Value>,
    /// `[{unit, id, variant}]` (SPEC §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub overrides: Option<Value>,
    /// `{method, rankers: {a, b}, placements?}`: compare two variants' rankers by interleaving
    /// (contract/interleaving.md); checked by the engine's compiler like every other field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub interleaving: Option<Value>,
}

/// `POST /experiments` (read as `environment_id` plus an [`ExperimentSpec`], which refuses unknown
/// fields: serde's `flatten` cannot).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewExperiment {
    /// Its environment.
    pub environment_id: String,
    /// The rest.
    #[serde(flatten)]
    pub spec: ExperimentSpec,
}

/// An experiment as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Experiment {
    /// Opaque id (also its `id` in snapshots).
    pub id: String,
    /// Its environment.
    pub environment_id: String,
    /// Lifecycle state.
    pub status: Status,
    /// 1 at creation; `new_iteration: true` on an allocation change bumps it (and the salt).
    pub iteration: i64,
    /// Bumped by every successful write; `ETag` and `If-Match` carry it.
    pub revision: i64,
    /// For `COMPLETED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipped_variant: Option<String>,
    /// Every bucket's variant since this iteration went live (internal; see [`StoredBody`]).
    #[serde(skip)]
    pub bucket_history: Vec<(u32, u32, String)>,
    /// Everything authored.
    #[serde(flatten)]
    pub spec: ExperimentSpec,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The part of an experiment stored as one JSON document (the rest are columns).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBody {
    /// What was authored.
    #[serde(flatten)]
    pub spec: ExperimentSpec,
    /// For `COMPLETED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_variant: Option<String>,
    /// Which variant each bucket has had since this iteration first went RUNNING, as half-open
    /// ranges: a ramp is checked against all of it, not only the previous allocation, so two
    /// steps that each move nobody cannot together move units between variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bucket_history: Vec<(u32, u32, String)>,
}

/// `PATCH /experiments/{id}`: each field present replaces the stored one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentPatch {
    /// For humans.
    pub name: Option<String>,
    /// For humans.
    pub description: Option<String>,
    /// For humans.
    pub hypothesis: Option<String>,
    /// A targeting rule; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub targeting: Option<Option<Value>>,
    /// The placements.
    pub placements: Option<Vec<String>>,
    /// RFC 3339; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub start_time: Option<Option<String>>,
    /// RFC 3339; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub end_time: Option<Option<String>>,
    /// `{key, range}`; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<Option<Value>>,
    /// `[{unit, id, variant}]`; `null` removes them.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub overrides: Option<Option<Value>>,
    /// DRAFT only (changing it on a live experiment would re-randomise everyone).
    pub unit: Option<String>,
    /// DRAFT only, as `unit`.
    pub salt: Option<String>,
}

/// `PATCH /experiments/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new state.
    pub status: Status,
    /// Required for `COMPLETED`: one of its variants.
    #[serde(default)]
    pub shipped_variant: Option<String>,
}

/// `PUT /experiments/{id}/allocations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationChange {
    /// `{variant: pct}`, adding up to 100.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub weights: Option<Value>,
    /// Percent of units enrolled (weights only).
    #[serde(default)]
    pub traffic: Option<f64>,
    /// `[{variant, start, end}]`, half-open bucket ranges in `[0, 10000]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub ranges: Option<Value>,
    /// Re-randomise on purpose: `iteration + 1`, salt `{salt}:{iteration}`.
    #[serde(default)]
    pub new_iteration: bool,
}

/// `200` of a publish or a rollback.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Published {
    /// The environment's name.
    pub environment: String,
    /// The version now served.
    pub version: i64,
    /// Lowercase hex SHA-256 of the snapshot bytes; the SDK endpoint's ETag.
    pub digest: String,
    /// RFC 3339.
    pub published_at: String,
    /// False when nothing changed since the latest version, which is still the one served (no
    /// new version, so the digest changes exactly when the compiled snapshot does).
    pub changed: bool,
}

/// One row of `GET /environments/{id}/versions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionInfo {
    /// Increasing by one with every publish.
    pub version: i64,
    /// SHA-256 of the bytes.
    pub digest: String,
    /// RFC 3339.
    pub published_at: String,
    /// The token name that published.
    pub published_by: String,
}

/// `POST /environments/{id}/rollback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose snapshot is published again.
    pub version: i64,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Opaque id (time-ordered).
    pub id: String,
    /// RFC 3339.
    pub ts: String,
    /// The token name.
    pub actor: String,
    /// What was done (`create`, `update`, `status`, `allocation`, `publish`, ...).
    pub action: String,
    /// `environment`, `experiment`, `placement`, `layer`, `holdout`, `segment`, `flag`, `token`,
    /// `sdk_key`.
    pub entity: String,
    /// The entity's id (an item's `{environment_id}/{key}`).
    pub entity_id: String,
    /// The entity before (null on create).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The entity after (null on delete).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok` or the error.
    pub db: String,
    /// `ok`, `off` (no `--redis`) or the error.
    pub redis: String,
}

/// A field that may be absent (keep), `null` (clear) or a value (set).
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
