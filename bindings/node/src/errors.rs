//! Every error the addon throws, each with a stable [`ErrorCode`].
//!
//! The code travels in the message as `CODE: message` (`CODE` is [`ErrorCode::as_str`]): the one
//! form that survives every path out of the addon, the rejection of an `AsyncTask` included. The
//! facade (`errors` section of `index.ts`) turns it into a `VarioError` with `.code` and `.kind`
//! (the code's [`ErrorClass`](vario_core::ErrorClass)). The only errors not made here are the ones
//! napi-rs makes itself: a panic caught by `#[napi(catch_unwind)]` (`GenericFailure` with the
//! panic's message, which the facade reports as `PANIC`) and an argument of the wrong JS type.
//!
//! Each mapping from a runtime error lives in one function below, so a runtime error that comes
//! to implement [`Coded`] changes one line here.

use napi::bindgen_prelude::{Error, Status};
use napi_derive::napi;
use std::any::Any;
use std::fmt::Display;
use vario::{BuildError, InitError, TimeoutError};
use vario_core::{Coded, ErrorCode};

/// An error with this code.
pub(crate) fn err(code: ErrorCode, msg: impl Display) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {msg}", code.as_str()))
}

/// The error of anything that carries its own code (`SnapshotError`, `TokenError`,
/// `RequestError`, …).
pub(crate) fn coded<E: Coded>(e: &E) -> Error {
    err(e.code(), e)
}

/// `INVALID_REQUEST`: a request, context or other argument the addon cannot read.
pub(crate) fn invalid(msg: impl Display) -> Error {
    err(ErrorCode::InvalidRequest, msg)
}

/// `CLOSED`: a call on a closed client.
pub(crate) fn closed() -> Error {
    err(ErrorCode::Closed, "the client is closed")
}

/// `PANIC`: a panic caught by the addon itself (the blocking calls on the thread pool; every
/// other entry point has napi-rs catch it).
pub(crate) fn panicked(payload: &(dyn Any + Send)) -> Error {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic inside vario");
    err(ErrorCode::Panic, msg)
}

/// `INVALID_OPTIONS` for options the client refuses; `INTERNAL` when a thread did not start.
pub(crate) fn build_error(e: &BuildError) -> Error {
    match e {
        BuildError::Thread(_) => err(ErrorCode::Internal, e),
        _ => err(ErrorCode::InvalidOptions, e),
    }
}

/// `TIMEOUT`: `waitForInit` found no snapshot in time (the message names the last config error).
pub(crate) fn init_error(e: &InitError) -> Error {
    err(ErrorCode::Timeout, e)
}

/// `TIMEOUT`: `flush` or `close` did not deliver everything in time.
pub(crate) fn timeout(e: &TimeoutError) -> Error {
    err(ErrorCode::Timeout, e)
}

/// Diagnostics: panics inside the addon (the error proves panics are contained).
#[napi(catch_unwind)]
pub fn debug_panic() {
    panic!("debugPanic was called");
}
