//! Every error the addon throws, each with a stable [`ErrorCode`].
//!
//! The code travels in the message as `CODE: message` (`CODE` is [`ErrorCode::as_str`]): the one
//! form that survives every path out of the addon, the rejection of an `AsyncTask` included. The
//! facade (`lib/errors.ts`) turns it into a `VarioError` with `.code` and `.kind`
//! (the code's [`ErrorClass`](vario_core::ErrorClass)). The only errors not made here are the ones
//! napi-rs makes itself: a panic caught by `#[napi(catch_unwind)]` (`GenericFailure` with the
//! panic's message, which the facade reports as `PANIC`) and an argument of the wrong JS type.
//!
//! Every runtime error implements [`Coded`], so one function ([`coded`]) maps them all; the
//! addon's own errors are `INVALID_REQUEST` ([`invalid`]) and `PANIC` ([`panicked`]).

use napi::bindgen_prelude::{Error, Status};
use napi_derive::napi;
use std::any::Any;
use std::fmt::Display;
use vario_core::{Coded, ErrorCode};

/// An error with this code.
pub(crate) fn err(code: ErrorCode, msg: impl Display) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {msg}", code.as_str()))
}

/// The error of anything that carries its own code: the core's (`SnapshotError`, `TokenError`,
/// `RequestError`, …), the runtime's (`BuildError`: `INVALID_OPTIONS`, or `INTERNAL` when a thread
/// did not start; `InitError`, `TimeoutError`: `TIMEOUT`; `UpdateError`) and the host layer's
/// (`ClosedError`: `CLOSED`).
pub(crate) fn coded<E: Coded>(e: &E) -> Error {
    err(e.code(), e)
}

/// `INVALID_REQUEST`: a request, context or other argument the addon cannot read.
pub(crate) fn invalid(msg: impl Display) -> Error {
    err(ErrorCode::InvalidRequest, msg)
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

/// Diagnostics: panics inside the addon (the error proves panics are contained).
#[napi(catch_unwind)]
pub fn debug_panic() {
    panic!("debugPanic was called");
}
