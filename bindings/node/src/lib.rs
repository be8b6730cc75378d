//! `vario` for Node.js: the native half of the package (napi-rs).
//!
//! The JavaScript facade (`index.ts` and `lib/*.ts`) builds decision objects in JavaScript, where
//! V8 makes them cheaply, from numbers this addon writes into memory the facade reads as a
//! `Float64Array` (an external `ArrayBuffer` handed over once, see [`out`]); strings (experiment
//! and variant keys, params) are fetched once per snapshot. So a decision crosses the boundary
//! with a handful of scalars and no JSON:
//!
//! - ids and placement are read straight from the JS strings (as UTF-16, one call for short
//!   ones) into buffers the object reuses;
//! - of the context, only the attributes the snapshot's targeting reads (plus, for a client,
//!   `page_type` and the exposure keys) are read: the first four by the facade, which passes
//!   their values as arguments, the rest by name; into a map reused in place.
//!
//! Every entry point catches panics (`catch_unwind`): a bug surfaces as a JS `Error` (code
//! `PANIC` in the facade), never as a crashed process. Every other error carries a stable
//! `vario_core::ErrorCode` (see [`errors`]); the facade names numbers and codes with the core's
//! own tables ([`codes`]), so no table is copied here or in the facade.
//!
//! What every binding needs besides the client comes from the runtime's host layer
//! ([`vario::host`]): the closed state and the option parsing ([`vario::host::HostClient`],
//! the one option definition [`vario::host::JsonOptions`], whose keys `optionKeys()` exposes),
//! the per-snapshot view cache ([`vario::host::SnapshotCache`]), which attributes to read, the
//! SDK name ([`vario::host::Surface::Node`]), the bulk codes of `decideMany`
//! ([`vario::host::BulkCodes`]) and the shared empty snapshot.
//!
//! | module | owns |
//! |---|---|
//! | [`errors`] | every error the addon throws, with its code; `debugPanic` |
//! | [`codes`] | the core's code tables for the facade (`codeTables`, `errorKinds`) |
//! | [`convert`] | reading JS values (strings, context values, a decision's request) without napi-rs conversions |
//! | [`view`] | a snapshot's attribute list and the strings and params the facade fetches once |
//! | [`out`] | the output slots a decision's scalars are written to |
//! | [`snapshot`] | `NativeSnapshot`: pure decisions, flags, exposures, `decideMany` |
//! | [`client`] | `NativeClient`: the live client, its decisions and its promises; `optionKeys` |
//! | [`hashing`] | `bucket`, `digest`, `pseudonymize` |
//! | [`interleave`] | SPEC §10 on interned ids: `interleaveInto`, `creditIds`, `winnerOf` |

#![deny(clippy::all)]

// The modules holding `#[napi]` exports are public: the exports are the crate's API (napi-rs
// registers them at load time, which a `cfg(test)` build leaves out).
pub mod client;
pub mod codes;
mod convert;
pub mod errors;
pub mod hashing;
pub mod interleave;
mod out;
pub mod snapshot;
mod view;
