//! Every error the addon throws carries a stable code as `CODE: message`, the form the facade
//! turns into a `VarioError` with `.code`.

use napi::bindgen_prelude::{Error, Status};
use napi_derive::napi;
use std::fmt::Display;

/// An error with this code.
pub(crate) fn err(code: &str, msg: impl Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code}: {msg}"))
}

/// `INVALID_REQUEST`: a request, context or other argument the addon cannot read.
pub(crate) fn invalid(msg: impl Display) -> Error {
    err("INVALID_REQUEST", msg)
}

/// Diagnostics: panics inside the addon (the error proves panics are contained).
#[napi(catch_unwind)]
pub fn debug_panic() {
    panic!("debugPanic was called");
}
