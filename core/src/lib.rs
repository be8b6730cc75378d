//! # vario-core: the pure decision engine of Vario
//!
//! Vario decides, inside the caller's process, which experiment variant a visitor sees on a
//! placement and with which params. This crate is the engine every surface shares: the Rust runtime
//! (`vario`), the C ABI, the Python wheel and the Node addon all call it, so they give the same
//! answer byte for byte. The contracts are in `shared/SPEC.md`; the choices the spec leaves open are
//! written down and pinned by the shared vectors (`contract/vectors/README.md`).
//!
//! ## The data path
//!
//! ```text
//! snapshot JSON ──compile once──▶ Snapshot ──decide(request, now)──▶ Decision ──▶ RawExposure
//!   (control plane)               (immutable,     (pure, no lock,       (borrows      (raw ids; the
//!                                  indexed)        no allocation)        snapshot)     runtime
//!                                                                                      pseudonymises)
//! ```
//!
//! ## Modules and what they own
//!
//! | module | owns | pure? |
//! |---|---|---|
//! | [`hash`] | the SPEC §1 bucket rule (`xxh32(unit:key:salt, seed) % 10000`) | yes |
//! | [`snapshot`] | parsing, validation and compilation of snapshot JSON; per-item isolation | yes |
//! | [`targeting`] | compiled targeting rules (typed operators, regexes, semvers, segments) | yes |
//! | [`decide`] | placement decisions, the reason enum, traces; bulk decisions (`BatchDecider`: id-free targeting once per batch, compact `BatchRow`s) | yes |
//! | [`flags`] | feature-flag evaluation (kill switch, overrides, rule kinds, schedules) | yes |
//! | [`events`] | exposure data, pseudonymised ids, exposure tokens | yes |
//! | [`request`] | the borrowed request and its JSON form | yes |
//! | [`lint`] | structured findings about a snapshot | yes |
//! | [`time`], [`semver`] | RFC 3339 instants and lenient versions | yes |
//!
//! Everything here is pure: no I/O, no threads, no clock (the caller passes `now` in milliseconds
//! since the epoch), no randomness, no global state. Whatever the runtime needs from the outside
//! world (HTTP, files, time, UUIDs, background threads) lives in the `vario` crate.
//!
//! ## Threading
//!
//! [`Snapshot`] is immutable after compilation and `Send + Sync`; the runtime holds it in an
//! `ArcSwap` and any number of threads decide against it concurrently without a lock. A
//! [`Decision`] borrows the snapshot and the request it came from, so it costs no allocation (unless a
//! trace was requested); serialise it or copy out what you need before the borrow ends.
//!
//! ## Failure
//!
//! Nothing here panics on input. A document that is not a schema-1 snapshot is a
//! [`SnapshotError`]; an invalid experiment or flag is disabled on its own (its decisions say
//! `CONFIG_ERROR`) and reported in [`Snapshot::lints`]; a malformed JSON request is a
//! [`RequestError`]; a bad exposure token is a [`TokenError`].
//!
//! ## Example
//!
//! ```
//! use vario_core::{Snapshot, Request, Reason};
//! let snap = Snapshot::from_json(r#"{
//!   "schema_version": 1, "version": 3,
//!   "placements": {"home": {"default_params": {"algo": "baseline"}}},
//!   "experiments": [{"id": 1, "key": "home_algo", "status": "RUNNING", "placements": ["home"],
//!     "variants": [{"key": "control"}, {"key": "treatment", "params": {"algo": "two_tower"}}],
//!     "allocation": {"weights": {"control": 50, "treatment": 50}}}]
//! }"#).unwrap();
//! let d = snap.decide(&Request::new("home").user("u-42"), 0);
//! assert_eq!(d.reason(), Reason::Assigned);
//! assert!(matches!(d.variant(), Some("control" | "treatment")));
//! ```

#![deny(missing_docs)]

pub mod decide;
pub mod events;
pub mod flags;
pub mod hash;
pub mod lint;
pub mod model;
pub mod request;
pub mod semver;
pub mod snapshot;
pub mod targeting;
pub mod time;

pub use decide::{BatchDecider, BatchRow, Decision, ExposureKey, HashKey, Reason, TraceEntry};
pub use events::{
    ExposureData, ExposureDict, ExposureEvent, ExposureFields, Pseudonymizer, RawExposure, Sdk, TokenError,
    TokenPayload,
};
pub use flags::{FlagDecision, FlagReason};
pub use hash::{BUCKETS, bucket, digest};
pub use lint::{Lint, LintCode, Severity};
pub use model::{Status, UnitKind, UnitType};
pub use request::{OwnedRequest, Request, RequestError};
pub use snapshot::{Snapshot, SnapshotError};
pub use time::{Millis, format_rfc3339_millis, parse_rfc3339, rfc3339_millis_bytes};
