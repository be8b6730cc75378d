//! Bearer tokens (SPEC §8 "Auth"): admin-API tokens with a role, SDK keys per environment. Secrets
//! are 32 random bytes shown once and stored as their SHA-256, so a database dump holds no usable
//! token. SDK keys resolve through a small in-process cache (they are read-only and never revoked
//! by the API), admin tokens through the database on every request (a deleted token stops at once).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{ApiCode, ApiError};
use crate::model::Role;
use crate::state::AppState;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An admin-API token: its name (the audit `actor`) and role.
    Admin {
        /// The audit actor.
        name: String,
        /// What it may do.
        role: Role,
    },
    /// An SDK key of one environment.
    Sdk {
        /// The environment's id.
        environment_id: String,
        /// The environment's name.
        environment: String,
    },
}

impl Principal {
    /// The actor name of an admin token with at least `role`: `401` for an SDK key, `403` for a
    /// lower role.
    pub fn require(&self, role: Role) -> Result<&str, ApiError> {
        match self {
            Principal::Admin { name, role: have } if *have >= role => Ok(name),
            Principal::Admin { role: have, .. } => Err(ApiError::new(
                ApiCode::Forbidden,
                format!("this route needs the {} role; the token is {}", role.as_str(), have.as_str()),
            )),
            Principal::Sdk { .. } => Err(ApiError::new(ApiCode::Unauthorized, "an SDK key is valid on /sdk/v1/* only")),
        }
    }
}

/// The prefix of admin-API tokens.
pub const ADMIN_PREFIX: &str = "vca_";
/// The prefix of SDK keys.
pub const SDK_PREFIX: &str = "vcs_";
/// Characters after the prefix: 32 bytes in unpadded URL-safe base64.
const SECRET_B64_LEN: usize = 43;

/// A new secret with a readable prefix ([`ADMIN_PREFIX`], [`SDK_PREFIX`]).
pub fn new_secret(prefix: &str) -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)
        .map_err(|e| ApiError::new(ApiCode::Internal, format!("no randomness from the OS: {e}")))?;
    Ok(format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)))
}

/// What is stored for a secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The bearer secret of a request, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = bearer(parts) else {
            return Err(ApiError::new(ApiCode::Unauthorized, "missing `Authorization: Bearer <token>`"));
        };
        let hash = hash_secret(secret);
        if state.bootstrap_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Principal::Admin { name: "bootstrap".into(), role: Role::Admin });
        }
        if let Some((environment_id, environment)) = state.sdk_keys.get(&hash) {
            return Ok(Principal::Sdk { environment_id, environment });
        }
        // Our secrets have a prefix and a fixed length: anything else is refused without a query,
        // so a flood of junk tokens cannot occupy the pool.
        let well_formed = |prefix: &str| secret.strip_prefix(prefix).is_some_and(|rest| rest.len() == SECRET_B64_LEN);
        if !well_formed(ADMIN_PREFIX) && !well_formed(SDK_PREFIX) {
            return Err(ApiError::new(ApiCode::Unauthorized, "unknown token"));
        }
        let row: Option<(String, String)> = sqlx::query_as("SELECT name, role FROM tokens WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(&state.db.pool)
            .await?;
        if let Some((name, role)) = row {
            let role =
                Role::parse(&role).ok_or_else(|| ApiError::new(ApiCode::Internal, "a stored role is unknown"))?;
            return Ok(Principal::Admin { name, role });
        }
        let env: Option<(String, String)> = sqlx::query_as(
            "SELECT e.id, e.name FROM sdk_keys k JOIN environments e ON e.id = k.environment_id WHERE k.key_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&state.db.pool)
        .await?;
        match env {
            Some(env) => {
                state.sdk_keys.put(hash, env.clone());
                Ok(Principal::Sdk { environment_id: env.0, environment: env.1 })
            }
            None => Err(ApiError::new(ApiCode::Unauthorized, "unknown token")),
        }
    }
}
