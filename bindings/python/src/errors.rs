//! The exception hierarchy and the mapping of core and runtime errors to it; panics contained.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use vario_core::Coded;

pyo3::create_exception!(vario, VarioError, PyException, "Base class of every error raised by vario.");
pyo3::create_exception!(vario, InvalidRequestError, VarioError, "A request or outcome was malformed.");
pyo3::create_exception!(vario, SnapshotError, VarioError, "A snapshot was rejected whole (`code` says why).");
pyo3::create_exception!(vario, OptionsError, VarioError, "Client options were invalid.");
pyo3::create_exception!(vario, TokenError, VarioError, "An exposure token was refused (`code` says why).");
pyo3::create_exception!(vario, TimeoutError, VarioError, "An operation did not finish within its timeout.");
pyo3::create_exception!(vario, ClosedError, VarioError, "The client is closed.");
pyo3::create_exception!(vario, InternalError, VarioError, "A bug inside vario (a caught Rust panic).");

/// An exception instance with a `code` attribute.
pub(crate) fn coded(py: Python<'_>, err: PyErr, code: &str) -> PyErr {
    let _ = err.value(py).setattr("code", code);
    err
}

/// Runs `f`, turning a Rust panic into `InternalError` instead of a crash or a `PanicException`.
pub(crate) fn safe<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!("panic inside vario (please report): {msg}")))
        }
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidRequestError::new_err(msg.into())
}

pub(crate) fn snapshot_error(py: Python<'_>, e: vario_core::SnapshotError) -> PyErr {
    coded(py, SnapshotError::new_err(format!("{}: {e}", e.code())), e.code().as_str())
}

pub(crate) fn closed_err() -> PyErr {
    ClosedError::new_err("the client is closed")
}

pub(crate) fn options_error(e: vario::BuildError) -> PyErr {
    OptionsError::new_err(e.to_string())
}

/// Diagnostics: panics inside the extension; raises `InternalError` (proves panics are contained).
#[pyfunction]
pub(crate) fn _debug_panic() -> PyResult<()> {
    safe(|| panic!("_debug_panic was called"))
}
