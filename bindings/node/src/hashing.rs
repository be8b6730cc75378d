//! The SPEC hash functions, for callers who bucket or pseudonymise outside a decision.

use napi_derive::napi;

/// The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`.
#[napi(catch_unwind)]
pub fn bucket(unit_id: String, key: String, salt: String, seed: Option<u32>) -> u32 {
    vario_core::bucket(&unit_id, &key, &salt, seed.unwrap_or(0))
}

/// The xxh32 digest behind `bucket`.
#[napi(catch_unwind)]
pub fn digest(unit_id: String, key: String, salt: String, seed: Option<u32>) -> u32 {
    vario_core::digest(&unit_id, &key, &salt, seed.unwrap_or(0))
}

/// The SPEC §5 pseudonym: hex HMAC-SHA256 with `key`, hex SHA-256 without.
#[napi(catch_unwind)]
pub fn pseudonymize(unit_id: String, key: Option<String>) -> String {
    vario_core::Pseudonymizer::new(key.as_deref()).apply(&unit_id)
}
