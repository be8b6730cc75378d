//! Module functions: the SPEC bucket and digest, and the pseudonym of an id.

use pyo3::prelude::*;

/// The SPEC §1 bucket: `xxh32(f"{unit_id}:{key}:{salt}", seed) % 10000`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
pub(crate) fn bucket(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    vario_core::bucket(unit_id, key, salt, seed)
}

/// The full xxh32 digest behind `bucket`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
pub(crate) fn digest(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    vario_core::digest(unit_id, key, salt, seed)
}

/// The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without.
#[pyfunction]
#[pyo3(signature = (unit_id, key=None))]
pub(crate) fn pseudonymize(unit_id: &str, key: Option<&str>) -> String {
    vario_core::Pseudonymizer::new(key).apply(unit_id)
}
