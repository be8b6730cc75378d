//! Module functions: the SPEC bucket and digest, and the pseudonym of an id.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::safe;

/// The SPEC §1 bucket: `xxh32(f"{unit_id}:{key}:{salt}", seed) % 10000`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
pub(crate) fn bucket(
    unit_id: &Bound<'_, PyString>,
    key: &Bound<'_, PyString>,
    salt: &Bound<'_, PyString>,
    seed: u32,
) -> PyResult<u32> {
    safe(|| Ok(vario_core::bucket(unit_id.to_str()?, key.to_str()?, salt.to_str()?, seed)))
}

/// The full xxh32 digest behind `bucket`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
pub(crate) fn digest(
    unit_id: &Bound<'_, PyString>,
    key: &Bound<'_, PyString>,
    salt: &Bound<'_, PyString>,
    seed: u32,
) -> PyResult<u32> {
    safe(|| Ok(vario_core::digest(unit_id.to_str()?, key.to_str()?, salt.to_str()?, seed)))
}

/// The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without.
#[pyfunction]
#[pyo3(signature = (unit_id, key=None))]
pub(crate) fn pseudonymize(unit_id: &Bound<'_, PyString>, key: Option<&Bound<'_, PyString>>) -> PyResult<String> {
    safe(|| {
        let key = key.map(|k| k.to_str()).transpose()?;
        Ok(vario_core::Pseudonymizer::new(key).apply(unit_id.to_str()?))
    })
}
