//! # vario-core: the pure decision engine of Vario
//!
//! Vario decides, inside the caller's process, which experiment variant a visitor sees on a
//! placement and with which params. This crate is the engine every surface shares: the Rust runtime
//! (`vario`), the C ABI, the Python wheel and the Node addon all call it, so they give the same
//! answer byte for byte. The contracts are in the repository's `contract/` folder (the project's copy of the
//! upstream spec, with the choices it leaves open, pinned by the shared vectors in
//! `contract/vectors/`).
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
//! Listed bottom-up: each module imports only modules above it in this table, so the crate has no
//! import cycle (`scripts/check-imports.py` checks it in the test command).
//!
//! | module | owns | pure? |
//! |---|---|---|
//! | [`codes`] | the code table: `Reason`, `FlagReason`, `Status`, `UnitType`, `UnitKind`, `LintCode`, `Severity`, `ErrorCode` and its `ErrorClass`, each with `ALL`, `as_str()` and `code()`; the [`Coded`] trait of every error | yes |
//! | [`hash`] | the SPEC §1 bucket rule (`xxh32(unit:key:salt, seed) % 10000`), percent → basis points | yes |
//! | [`time`], [`semver`] | RFC 3339 instants and lenient versions | yes |
//! | [`lint`] | structured findings about a snapshot | yes |
//! | [`request`] | the borrowed request and its JSON form | yes |
//! | `matcher` | the `matches` operator: match-only regexes (lazy DFA, PikeVM) and the per-snapshot regex budget | yes |
//! | [`targeting`] | compiled targeting rules (typed operators, regexes, semvers, segments) | yes |
//! | [`signing`] | signed snapshots: the Ed25519 envelope, signing (for the control plane and `vario snapshot sign`) and verification, key texts | yes |
//! | [`events`] | exposure shapes (keys, dictionaries, events), pseudonymised ids, exposure tokens | yes |
//! | `model` | the compiled snapshot's data (placements, layers, holdouts, experiments, flags) | yes |
//! | `compile` | snapshot JSON → model: the top level and shared items (`compile`), experiments (`compile::experiments`), flags (`compile::flags`); per-item isolation | yes |
//! | [`decide`] | placement decisions and traces; bulk decisions (`BatchDecider`: id-free targeting once per batch, compact `BatchRow`s); a decision's exposure | yes |
//! | [`flags`] | feature-flag evaluation (kill switch, overrides, rule kinds, schedules) | yes |
//! | [`interleave`] | SPEC §10: team-draft and balanced interleaving of two rankings with hash-seeded coins, click credit, winner | yes |
//! | [`snapshot`] | the one home of every public [`Snapshot`] method, delegating to the modules above | yes |
//! | [`history`] | which snapshot version was live at an instant ([`History`]): the lookup of a replay, with its refusals (gaps, duplicates, disorder) | yes |
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
//! [`RequestError`]; a bad exposure token is a [`TokenError`]. Each error implements [`Coded`]:
//! its [`ErrorCode`] is the stable code every surface shows.
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

pub mod codes;
mod compile;
pub mod decide;
pub mod events;
pub mod flags;
pub mod hash;
pub mod history;
pub mod interleave;
pub mod lint;
mod matcher;
mod model;
pub mod request;
pub mod semver;
pub mod signing;
pub mod snapshot;
pub mod targeting;
pub mod time;

pub use codes::{
    Coded, ErrorClass, ErrorCode, FlagReason, InterleaveMethod, LintCode, Reason, Severity, Status, TABLES, Table,
    Team, UnitKind, UnitType, UnknownName, Winner,
};
pub use compile::MAX_ITEMS;
pub use decide::{BatchDecider, BatchRow, Decision, HashKey, InterleavePlan, Ranker, TraceEntry};
pub use events::{
    ExposureData, ExposureDict, ExposureEvent, ExposureFields, ExposureKey, Pseudonymizer, RawExposure, Sdk,
    TokenError, TokenPayload, token_event_id,
};
pub use flags::FlagDecision;
pub use hash::{BUCKETS, bucket, digest};
pub use history::{History, HistoryError};
pub use interleave::{Coin, Credit, Impression, InterleaveError, Pick, Ranks};
pub use lint::Lint;
pub use request::{OwnedRequest, Request, RequestError};
pub use snapshot::{InterleavingInfo, Snapshot, SnapshotError};
pub use time::{Millis, format_rfc3339_millis, parse_rfc3339, rfc3339_millis_bytes};
