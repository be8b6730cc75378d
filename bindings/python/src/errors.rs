//! The exception hierarchy, the one mapping from the core's error codes to it, and the boundary
//! that keeps anything else (panics, foreign Python errors) from escaping.
//!
//! Every exception raised carries `.code`, the name of a `vario_core::ErrorCode`, and is an
//! instance of the class for that code's `ErrorClass` ([`class_for`]); every class subclasses
//! `vario.VarioError`. An error type implementing `vario_core::Coded` becomes an exception with
//! [`coded`].

use pyo3::exceptions::{PyException, PyMemoryError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{PyTypeInfo, intern};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use vario_core::{Coded, ErrorClass, ErrorCode};

pyo3::create_exception!(vario, VarioError, PyException, "Base class of every error raised by vario; `code` says why.");
pyo3::create_exception!(vario, SnapshotError, VarioError, "A snapshot was rejected whole (`code` says why).");
pyo3::create_exception!(vario, OptionsError, VarioError, "Client options were invalid (code `INVALID_OPTIONS`).");
pyo3::create_exception!(vario, TokenError, VarioError, "An exposure token was refused (`code` says why).");
pyo3::create_exception!(vario, TimeoutError, VarioError, "An operation did not finish within its timeout (`TIMEOUT`).");
pyo3::create_exception!(vario, ClosedError, VarioError, "The client is closed (code `CLOSED`).");
pyo3::create_exception!(vario, QueueFullError, VarioError, "The event queue was full (code `QUEUE_FULL`).");
pyo3::create_exception!(vario, InternalError, VarioError, "Vario could not do what it needed (code `INTERNAL`).");
pyo3::create_exception!(vario, PanicError, InternalError, "A bug: a Rust panic caught inside vario (code `PANIC`).");

/// `InvalidRequestError(VarioError, ValueError)`: a malformed request, outcome or argument value.
static INVALID_REQUEST: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `SnapshotFileError(SnapshotError, OSError)`: `Snapshot.from_file` could not read the file.
static SNAPSHOT_FILE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A class of two bases (which `create_exception!` cannot make), made once with `type()`.
fn two_bases<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    doc: &str,
    bases: [Bound<'py, PyType>; 2],
) -> Bound<'py, PyType> {
    cell.get_or_init(py, || {
        let make = || -> PyResult<Py<PyType>> {
            let ns = PyDict::new(py);
            ns.set_item("__module__", "vario")?;
            ns.set_item("__doc__", doc)?;
            Ok(PyType::type_object(py).call1((name, PyTuple::new(py, bases)?, ns))?.cast_into::<PyType>()?.unbind())
        };
        // `type(name, bases, ns)` over two built-in exception bases fails only when the interpreter
        // is out of memory; pyo3 turns the panic into a Python exception at the boundary.
        #[allow(clippy::expect_used)]
        make().expect("vario: cannot create an exception class")
    })
    .bind(py)
    .clone()
}

fn invalid_request_type(py: Python<'_>) -> Bound<'_, PyType> {
    let doc = "A request, outcome or argument was malformed (code `INVALID_REQUEST`); also a ValueError.";
    two_bases(
        py,
        &INVALID_REQUEST,
        "InvalidRequestError",
        doc,
        [VarioError::type_object(py), PyValueError::type_object(py)],
    )
}

fn snapshot_file_type(py: Python<'_>) -> Bound<'_, PyType> {
    let doc = "A snapshot file could not be read (code `NOT_JSON`); also an OSError (errno, filename).";
    two_bases(
        py,
        &SNAPSHOT_FILE,
        "SnapshotFileError",
        doc,
        [SnapshotError::type_object(py), PyOSError::type_object(py)],
    )
}

/// The exception class of an error class. NULL and non-UTF-8 arguments are C's error classes: in
/// Python they are malformed arguments.
fn class_for(py: Python<'_>, class: ErrorClass) -> Bound<'_, PyType> {
    match class {
        ErrorClass::NullArgument | ErrorClass::InvalidUtf8 | ErrorClass::InvalidRequest => invalid_request_type(py),
        ErrorClass::InvalidSnapshot => SnapshotError::type_object(py),
        ErrorClass::InvalidOptions => OptionsError::type_object(py),
        ErrorClass::Timeout => TimeoutError::type_object(py),
        ErrorClass::Closed => ClosedError::type_object(py),
        ErrorClass::InvalidToken => TokenError::type_object(py),
        ErrorClass::QueueFull => QueueFullError::type_object(py),
        ErrorClass::Internal => InternalError::type_object(py),
        ErrorClass::Panic => PanicError::type_object(py),
    }
}

/// Sets `.code` on the exception instance of `err`.
fn with_code(py: Python<'_>, err: PyErr, code: ErrorCode) -> PyErr {
    // Setting an attribute of a fresh exception instance does not fail.
    let _ = err.value(py).setattr(intern!(py, "code"), code.as_str());
    err
}

/// An exception of the class for `code`, with `.code` set.
pub(crate) fn error(code: ErrorCode, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::attach(|py| with_code(py, PyErr::from_type(class_for(py, code.class()), msg), code))
}

/// The exception for an error with a stable code (core and, as they gain `Coded`, runtime errors).
pub(crate) fn coded(e: &(impl Coded + ?Sized)) -> PyErr {
    error(e.code(), e.to_string())
}

/// `InvalidRequestError` (`INVALID_REQUEST`).
pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    error(ErrorCode::InvalidRequest, msg)
}

/// `OptionsError` (`INVALID_OPTIONS`).
pub(crate) fn bad_option(msg: impl Into<String>) -> PyErr {
    error(ErrorCode::InvalidOptions, msg)
}

/// An option value that cannot be read (not JSON-like, a str that is not UTF-8, …): `OptionsError`
/// naming the option, with `e` as its `__cause__`.
pub(crate) fn bad_option_value(name: &str, e: PyErr) -> PyErr {
    Python::attach(|py| {
        if !e.is_instance_of::<PyException>(py) || e.is_instance_of::<PyMemoryError>(py) {
            return e;
        }
        let why = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
        let err = bad_option(format!("invalid option `{name}`: {why}"));
        err.set_cause(py, Some(e));
        err
    })
}

/// A snapshot rejected whole, its code also leading the message (`NOT_JSON: …`).
pub(crate) fn snapshot_error(e: &vario_core::SnapshotError) -> PyErr {
    error(e.code(), format!("{}: {e}", e.code()))
}

/// `Snapshot.from_file` could not read `path`: `SnapshotFileError`, both a `SnapshotError` with
/// code `NOT_JSON` (no JSON object could be read) and an `OSError` with `errno`, `strerror` and
/// `filename` set, as `open()` would.
pub(crate) fn file_error(path: &Path, e: &std::io::Error) -> PyErr {
    Python::attach(|py| {
        let ty = snapshot_file_type(py);
        let filename = path.display().to_string();
        let err = match e.raw_os_error() {
            Some(errno) => {
                let strerror = py
                    .import("os")
                    .and_then(|os| os.call_method1("strerror", (errno,)))
                    .and_then(|s| s.extract::<String>())
                    .unwrap_or_else(|_| e.to_string());
                PyErr::from_type(ty, (errno, strerror, filename))
            }
            None => PyErr::from_type(ty, format!("{filename}: {e}")),
        };
        with_code(py, err, ErrorCode::NotJson)
    })
}

/// `e` as a vario exception. A Python error raised while reading the caller's values (a str
/// with a lone surrogate, an int too large for JSON, a mapping whose `items()` raised) becomes
/// `InvalidRequestError` with `e` as its `__cause__`. Vario's own exceptions, and what is not an
/// `Exception` (KeyboardInterrupt, SystemExit) or is a `MemoryError`, pass unchanged.
fn ours(py: Python<'_>, e: PyErr) -> PyErr {
    if e.is_instance_of::<VarioError>(py)
        || !e.is_instance_of::<PyException>(py)
        || e.is_instance_of::<PyMemoryError>(py)
    {
        return e;
    }
    let err = invalid(e.to_string());
    err.set_cause(py, Some(e));
    err
}

/// Runs an entry point's body: a Rust panic becomes `PanicError` (a subclass of `InternalError`)
/// instead of a crash or pyo3's `PanicException`, and a foreign Python error a vario one ([`ours`]).
pub(crate) fn safe<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Python::attach(|py| ours(py, e))),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(error(ErrorCode::Panic, format!("panic inside vario (please report): {msg}")))
        }
    }
}

/// Diagnostics: panics inside the extension; raises `PanicError` (proves panics are contained).
#[pyfunction]
pub(crate) fn _debug_panic() -> PyResult<()> {
    safe(|| panic!("_debug_panic was called"))
}

/// Adds every exception class to the module.
pub(crate) fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("VarioError", VarioError::type_object(py))?;
    m.add("InvalidRequestError", invalid_request_type(py))?;
    m.add("SnapshotError", SnapshotError::type_object(py))?;
    m.add("SnapshotFileError", snapshot_file_type(py))?;
    m.add("OptionsError", OptionsError::type_object(py))?;
    m.add("TokenError", TokenError::type_object(py))?;
    m.add("TimeoutError", TimeoutError::type_object(py))?;
    m.add("ClosedError", ClosedError::type_object(py))?;
    m.add("QueueFullError", QueueFullError::type_object(py))?;
    m.add("InternalError", InternalError::type_object(py))?;
    m.add("PanicError", PanicError::type_object(py))?;
    Ok(())
}
