//! # vario-ffi: the C ABI of Vario
//!
//! The header `ffi/include/vario.h` is generated from this crate's sources by cbindgen (a test
//! regenerates it and fails on drift; `VARIO_BLESS=1 cargo test -p vario-ffi --test header`
//! rewrites it). cbindgen reads the modules in the order they are declared below, so that order is
//! the order of the functions in the header.
//!
//! ## Conventions (apply to every function)
//!
//! - **Status codes.** Fallible functions return a [`vario_status`]; `VARIO_OK` is 0. On failure
//!   [`vario_last_error`] and [`vario_last_error_code`] describe the error on the calling thread
//!   until its next failing call.
//! - **Strings in** are NUL-terminated UTF-8. `NULL` where a string is required is
//!   `VARIO_ERR_NULL_ARGUMENT`; invalid UTF-8 is `VARIO_ERR_INVALID_UTF8`. Input strings are only
//!   read during the call; Vario keeps no pointer to them.
//! - **Strings out** (`char **out`) are allocated by Vario and must be freed with
//!   [`vario_string_free`]. On failure `*out` is set to `NULL`.
//! - **Handles** (`vario_snapshot`, `vario_client`, `vario_context`) are created by a `*_new` /
//!   `*_from_json` function and freed by the matching `*_free`, which accepts `NULL`.
//! - **Panics** never cross the boundary: each entry point catches them and returns
//!   `VARIO_ERR_PANIC` (a bug in Vario; please report the message).
//! - **Threads.** Snapshots and clients may be shared by any number of threads; contexts belong to
//!   one thread at a time.
//! - **Codes.** Every number and name is the core code table's (`vario_core::codes`):
//!   `vario_status` numbers are `ErrorClass::code()`, `vario_last_error_code()` strings are
//!   `ErrorCode::as_str()`, `vario_reason` and `vario_unit_type` are `Reason` and `UnitType` by
//!   `code()`. `ffi/tests/codes.rs` fails when the header and the tables differ.
//!
//! ## Modules
//!
//! | Module       | Contents                                                                     |
//! |--------------|------------------------------------------------------------------------------|
//! | `status`     | the C enums, core → C conversions, errors, the last error, the panic guard  |
//! | `strings`    | C strings in and out, `vario_string_free`                                    |
//! | `pure`       | `vario_version`, `vario_reason_name`, `vario_debug_panic`, hashing, pseudonyms |
//! | `snapshot`   | `vario_snapshot`, `vario_request`, `vario_decision`, the snapshot entry points |
//! | `context`    | `vario_context` and its setters                                              |
//! | `client`     | `vario_client` and its entry points, `vario_decision_release`                |
//! | `interleave` | `vario_interleave`, `vario_credit`, `vario_winner` (SPEC §10; stateless)      |
//!
//! Every public item is re-exported at the crate root, where Rust callers (the benches, the
//! tests) find it.

#![allow(non_camel_case_types)]
#![deny(missing_docs)]

// The order below is the header's (cbindgen reads modules in declaration order); blank lines keep
// rustfmt from sorting the declarations.
mod status;

mod strings;

mod pure;

mod snapshot;

mod context;

mod client;

mod interleave;

pub use client::*;
pub use context::*;
pub use interleave::*;
pub use pure::*;
pub use snapshot::*;
pub use status::*;
pub use strings::*;
