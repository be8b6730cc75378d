//! # vario-ffi: the C ABI of Vario
//!
//! The header `ffi/include/vario.h` is generated from this file by cbindgen (a test regenerates it
//! and fails on drift; `VARIO_BLESS=1 cargo test -p vario-ffi --test header` rewrites it).
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

#![allow(non_camel_case_types)]
#![deny(missing_docs)]

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vario::{Client, ClientBuilder, Expose, Options, Outcome};
use vario_core::Coded;
use vario_core::{Decision, OwnedRequest, Pseudonymizer, Reason, Request, Snapshot, UnitType};

/// Result of a fallible call. `VARIO_OK` is 0; every other value is an error described by
/// `vario_last_error()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_status {
    /// Success.
    VARIO_OK = 0,
    /// A required pointer argument was NULL.
    VARIO_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    VARIO_ERR_INVALID_UTF8 = 2,
    /// A request, outcome or other JSON argument was malformed (code `INVALID_REQUEST`).
    VARIO_ERR_INVALID_REQUEST = 3,
    /// A snapshot was rejected whole (codes `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`).
    VARIO_ERR_INVALID_SNAPSHOT = 4,
    /// Client options were invalid (code `INVALID_OPTIONS`).
    VARIO_ERR_INVALID_OPTIONS = 5,
    /// The operation did not finish in time (code `TIMEOUT`).
    VARIO_ERR_TIMEOUT = 6,
    /// The client was closed (code `CLOSED`).
    VARIO_ERR_CLOSED = 7,
    /// An exposure token was refused (codes `MALFORMED_TOKEN`, `BAD_SIGNATURE`, …).
    VARIO_ERR_INVALID_TOKEN = 8,
    /// The event queue was full: the event was dropped and counted (code `QUEUE_FULL`).
    VARIO_ERR_QUEUE_FULL = 9,
    /// A background thread could not be started (code `INTERNAL`).
    VARIO_ERR_INTERNAL = 10,
    /// A panic inside Vario was caught (code `PANIC`). A bug: please report the message.
    VARIO_ERR_PANIC = 11,
}

/// Why a decision came out as it did (the SPEC `reason`; see `vario_reason_name`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_reason {
    /// No snapshot loaded yet: the caller's default params (clients only).
    VARIO_REASON_NO_CONFIG = 0,
    /// The placement is not in the snapshot.
    VARIO_REASON_UNKNOWN_PLACEMENT,
    /// The request opted out of tracking.
    VARIO_REASON_OPTED_OUT,
    /// A per-request QA override chose the variant.
    VARIO_REASON_FORCED,
    /// A completed experiment serves its shipped variant.
    VARIO_REASON_SHIPPED,
    /// An experiment override for this user or session.
    VARIO_REASON_OVERRIDE,
    /// Bucketed into a variant (the only reason that logs an exposure).
    VARIO_REASON_ASSIGNED,
    /// The placement has no candidate experiment.
    VARIO_REASON_NO_EXPERIMENT,
    /// The deciding experiment is not running.
    VARIO_REASON_NOT_RUNNING,
    /// Before the experiment's start time.
    VARIO_REASON_NOT_STARTED,
    /// At or after the experiment's end time.
    VARIO_REASON_ENDED,
    /// No id for the experiment's unit.
    VARIO_REASON_MISSING_UNIT,
    /// Held out.
    VARIO_REASON_HOLDOUT,
    /// Targeting did not match.
    VARIO_REASON_TARGETING_MISS,
    /// Outside the experiment's layer range.
    VARIO_REASON_LAYER_MISS,
    /// Outside the traffic ramp.
    VARIO_REASON_TRAFFIC_MISS,
    /// The experiment is invalid and disabled.
    VARIO_REASON_CONFIG_ERROR,
}

/// The unit a decision bucketed on.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_unit_type {
    /// No unit (no experiment, or no usable id).
    VARIO_UNIT_NONE = 0,
    /// The request's user id.
    VARIO_UNIT_USER = 1,
    /// The request's session id.
    VARIO_UNIT_SESSION = 2,
}

/// A request for the JSON-free decide path. Zero-initialise it and set what you have.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vario_request {
    /// The placement (required).
    pub placement: *const c_char,
    /// The user id, or NULL.
    pub user_id: *const c_char,
    /// The session id, or NULL.
    pub session_id: *const c_char,
    /// Targeting attributes, or NULL.
    pub context: *const vario_context,
    /// Non-zero when the visitor opted out of tracking (placement defaults, no events). Named so
    /// that a zero-initialised request means consent given.
    pub opted_out: bool,
}

/// A decision from the JSON-free path. Every string points into Vario-owned, NUL-terminated
/// storage: for `vario_snapshot_decide`, valid while that snapshot handle lives; for
/// `vario_client_decide`, valid until `vario_decision_release`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vario_decision {
    /// Why.
    pub reason: vario_reason,
    /// The unit bucketed.
    pub unit_type: vario_unit_type,
    /// The experiment bucket in `[0, 10000)`, or -1 when not computed.
    pub bucket: i32,
    /// The variant's share of enrolled buckets, or -1.0 when no variant.
    pub allocation_share: f64,
    /// The deciding snapshot's version (0 for `NO_CONFIG`).
    pub config_version: u64,
    /// The deciding experiment's iteration, or 0 when none.
    pub iteration: u64,
    /// The deciding experiment's key, or NULL.
    pub experiment_key: *const c_char,
    /// The variant served, or NULL.
    pub variant: *const c_char,
    /// The params to serve, as a JSON object (never NULL).
    pub params_json: *const c_char,
    /// Client decisions only: the reference that keeps the strings above alive. Release it with
    /// `vario_decision_release`. NULL for snapshot decisions.
    pub holder: *const vario_snapshot,
}

/// A compiled snapshot plus the C strings decisions point into. Opaque.
pub struct vario_snapshot {
    snap: Arc<Snapshot>,
    experiment_keys: Vec<CString>,
    variants: Vec<Vec<CString>>,
    params_json: Vec<CString>,
    /// A client's `NO_CONFIG` params per placement (empty for real snapshots): a client's
    /// no-config view holds them so they outlive the client like any decision's strings.
    defaults_json: HashMap<String, CString>,
}

/// Targeting attributes for the JSON-free path (`page_type`, `locale`, …). Opaque; reusable
/// across requests (setting a key again replaces its value without reallocating the key). Not
/// thread-safe: one thread at a time.
pub struct vario_context {
    map: Map<String, Value>,
}

/// A client: config sync, decisions, events. Opaque; share it across threads freely.
pub struct vario_client {
    client: Client,
    closed: AtomicBool,
    /// The C view of the client's current snapshot, rebuilt when the snapshot changes.
    view: ArcSwapOption<vario_snapshot>,
    /// Holds the `NO_CONFIG` params of the options; decisions made before the first snapshot
    /// take a reference to it, so their strings stay valid until released.
    no_config: Arc<vario_snapshot>,
}

// ---------------------------------------------------------------------------------------------
// Errors

struct Error {
    status: vario_status,
    code: &'static str,
    message: String,
}

impl Error {
    fn new(status: vario_status, code: &'static str, message: impl Into<String>) -> Self {
        Error { status, code, message: message.into() }
    }
}

struct LastError {
    code: CString,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn c_string_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

fn set_error(e: &Error) {
    let le = LastError { code: c_string_lossy(e.code), message: c_string_lossy(&e.message) };
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(le));
}

/// Runs `f`, turning an error or a panic into a status code and the thread's last error.
fn guard(f: impl FnOnce() -> Result<(), Error>) -> vario_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => vario_status::VARIO_OK,
        Ok(Err(e)) => {
            set_error(&e);
            e.status
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_error(&Error::new(vario_status::VARIO_ERR_PANIC, "PANIC", format!("panic inside vario: {msg}")));
            vario_status::VARIO_ERR_PANIC
        }
    }
}

/// Reads a required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
unsafe fn arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::new(vario_status::VARIO_ERR_NULL_ARGUMENT, "NULL_ARGUMENT", format!("`{name}` is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        Error::new(vario_status::VARIO_ERR_INVALID_UTF8, "INVALID_UTF8", format!("`{name}` is not UTF-8: {e}"))
    })
}

/// Reads an optional C string argument (NULL is `None`).
///
/// # Safety
/// As [`arg`].
unsafe fn opt_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() { Ok(None) } else { unsafe { arg(p, name) }.map(Some) }
}

fn null(name: &str) -> Error {
    Error::new(vario_status::VARIO_ERR_NULL_ARGUMENT, "NULL_ARGUMENT", format!("`{name}` is NULL"))
}

fn invalid_request(e: impl std::fmt::Display) -> Error {
    Error::new(vario_status::VARIO_ERR_INVALID_REQUEST, "INVALID_REQUEST", e.to_string())
}

/// Hands a string to the caller through `out`.
///
/// # Safety
/// `out` is a valid, writable pointer.
unsafe fn put_string(out: *mut *mut c_char, s: String) -> Result<(), Error> {
    let c =
        CString::new(s).map_err(|_| Error::new(vario_status::VARIO_ERR_INTERNAL, "INTERNAL", "output held a NUL"))?;
    // SAFETY: `out` is valid per the caller's contract.
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// Checks an out-pointer and clears it, so it is NULL on every failure path.
///
/// # Safety
/// `out` is NULL or a valid, writable pointer.
unsafe fn clear_out<T>(out: *mut *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe { *out = ptr::null_mut() };
    Ok(())
}

/// The message of the calling thread's last error, or NULL if none. Valid until the thread's next
/// failing call; do not free.
///
/// # Safety
/// None: callable from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn vario_last_error() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(ptr::null(), |e| e.message.as_ptr()))
}

/// The stable code of the calling thread's last error (`NULL_ARGUMENT`, `INVALID_UTF8`,
/// `INVALID_REQUEST`, `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`, `INVALID_OPTIONS`,
/// `TIMEOUT`, `CLOSED`, a token error code, `QUEUE_FULL`, `INTERNAL`, `PANIC`), or NULL if none.
/// Valid until the thread's next failing call; do not free.
///
/// # Safety
/// None: callable from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn vario_last_error_code() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(ptr::null(), |e| e.code.as_ptr()))
}

/// Frees a string returned through a `char **out` argument. NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string from Vario not freed before. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` in `put_string` and is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The library version (static; do not free).
///
/// # Safety
/// None. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vario_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

/// The SPEC name of a reason (`"ASSIGNED"`, …; static, do not free).
///
/// # Safety
/// None. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vario_reason_name(reason: vario_reason) -> *const c_char {
    use vario_reason::*;
    let s: &'static str = match reason {
        VARIO_REASON_NO_CONFIG => "NO_CONFIG\0",
        VARIO_REASON_UNKNOWN_PLACEMENT => "UNKNOWN_PLACEMENT\0",
        VARIO_REASON_OPTED_OUT => "OPTED_OUT\0",
        VARIO_REASON_FORCED => "FORCED\0",
        VARIO_REASON_SHIPPED => "SHIPPED\0",
        VARIO_REASON_OVERRIDE => "OVERRIDE\0",
        VARIO_REASON_ASSIGNED => "ASSIGNED\0",
        VARIO_REASON_NO_EXPERIMENT => "NO_EXPERIMENT\0",
        VARIO_REASON_NOT_RUNNING => "NOT_RUNNING\0",
        VARIO_REASON_NOT_STARTED => "NOT_STARTED\0",
        VARIO_REASON_ENDED => "ENDED\0",
        VARIO_REASON_MISSING_UNIT => "MISSING_UNIT\0",
        VARIO_REASON_HOLDOUT => "HOLDOUT\0",
        VARIO_REASON_TARGETING_MISS => "TARGETING_MISS\0",
        VARIO_REASON_LAYER_MISS => "LAYER_MISS\0",
        VARIO_REASON_TRAFFIC_MISS => "TRAFFIC_MISS\0",
        VARIO_REASON_CONFIG_ERROR => "CONFIG_ERROR\0",
    };
    s.as_ptr().cast()
}

fn c_reason(r: Reason) -> vario_reason {
    use vario_reason::*;
    match r {
        Reason::NoConfig => VARIO_REASON_NO_CONFIG,
        Reason::UnknownPlacement => VARIO_REASON_UNKNOWN_PLACEMENT,
        Reason::OptedOut => VARIO_REASON_OPTED_OUT,
        Reason::Forced => VARIO_REASON_FORCED,
        Reason::Shipped => VARIO_REASON_SHIPPED,
        Reason::Override => VARIO_REASON_OVERRIDE,
        Reason::Assigned => VARIO_REASON_ASSIGNED,
        Reason::NoExperiment => VARIO_REASON_NO_EXPERIMENT,
        Reason::NotRunning => VARIO_REASON_NOT_RUNNING,
        Reason::NotStarted => VARIO_REASON_NOT_STARTED,
        Reason::Ended => VARIO_REASON_ENDED,
        Reason::MissingUnit => VARIO_REASON_MISSING_UNIT,
        Reason::Holdout => VARIO_REASON_HOLDOUT,
        Reason::TargetingMiss => VARIO_REASON_TARGETING_MISS,
        Reason::LayerMiss => VARIO_REASON_LAYER_MISS,
        Reason::TrafficMiss => VARIO_REASON_TRAFFIC_MISS,
        Reason::ConfigError => VARIO_REASON_CONFIG_ERROR,
    }
}

/// Diagnostics: panics inside Vario and returns what every entry point returns then
/// (`VARIO_ERR_PANIC`, with the message in `vario_last_error`). Lets a host check that panics are
/// contained in the build it links.
///
/// # Safety
/// None. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vario_debug_panic() -> vario_status {
    guard(|| panic!("vario_debug_panic was called"))
}

// ---------------------------------------------------------------------------------------------
// Pure functions

/// The SPEC §1 bucket of `unit_id` for an experiment or flag: `xxh32("unit:key:salt", seed) %
/// 10000`, written to `*out`.
///
/// # Safety
/// String arguments are NUL-terminated (NULL is an error); `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_bucket(
    unit_id: *const c_char,
    key: *const c_char,
    salt: *const c_char,
    seed: u32,
    out: *mut u32,
) -> vario_status {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: the caller's contract above.
        let (u, k, s) = unsafe { (arg(unit_id, "unit_id")?, arg(key, "key")?, arg(salt, "salt")?) };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *out = vario_core::bucket(u, k, s, seed) };
        Ok(())
    })
}

/// The full 32-bit xxh32 digest behind [`vario_bucket`] (for cross-checks).
///
/// # Safety
/// As `vario_bucket`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_digest(
    unit_id: *const c_char,
    key: *const c_char,
    salt: *const c_char,
    seed: u32,
    out: *mut u32,
) -> vario_status {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: the caller's contract above.
        let (u, k, s) = unsafe { (arg(unit_id, "unit_id")?, arg(key, "key")?, arg(salt, "salt")?) };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *out = vario_core::digest(u, k, s, seed) };
        Ok(())
    })
}

/// The SPEC §5 pseudonym of `unit_id`: hex HMAC-SHA256 with `key`, or hex SHA-256 when `key` is
/// NULL. Free `*out` with `vario_string_free`.
///
/// # Safety
/// `key` is NULL or NUL-terminated; `unit_id` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_pseudonymize(
    key: *const c_char,
    unit_id: *const c_char,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            clear_out(out, "out")?;
            let k = opt_arg(key, "key")?;
            let u = arg(unit_id, "unit_id")?;
            put_string(out, Pseudonymizer::new(k).apply(u))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Snapshots

impl vario_snapshot {
    fn new(snap: Arc<Snapshot>) -> vario_snapshot {
        let n = snap.experiment_count();
        let mut experiment_keys = Vec::with_capacity(n);
        let mut variants = Vec::with_capacity(n);
        for i in 0..n {
            if let Some((key, _, vs)) = snap.experiment_at(i) {
                experiment_keys.push(c_string_lossy(key));
                variants.push(vs.map(c_string_lossy).collect());
            }
        }
        let params_json = (0..snap.params_count() as u32)
            .map(|id| {
                snap.params_by_id(id)
                    .map_or_else(|| c"{}".to_owned(), |m| c_string_lossy(&Value::Object(m.clone()).to_string()))
            })
            .collect();
        vario_snapshot { snap, experiment_keys, variants, params_json, defaults_json: HashMap::new() }
    }

    /// Fills `out` from a decision this snapshot made.
    fn fill(&self, d: &Decision<'_>, defaults: &CStr, out: &mut vario_decision) {
        let ei = d.experiment_index();
        out.reason = c_reason(d.reason());
        out.unit_type = match d.unit_type() {
            None => vario_unit_type::VARIO_UNIT_NONE,
            Some(UnitType::User) => vario_unit_type::VARIO_UNIT_USER,
            Some(UnitType::Session) => vario_unit_type::VARIO_UNIT_SESSION,
        };
        out.bucket = d.bucket().map_or(-1, |b| b as i32);
        out.allocation_share = d.allocation_share().unwrap_or(-1.0);
        out.config_version = d.config_version();
        out.iteration = d.iteration().unwrap_or(0);
        out.experiment_key = ei.and_then(|i| self.experiment_keys.get(i)).map_or(ptr::null(), |c| c.as_ptr());
        out.variant =
            ei.and_then(|i| self.variants.get(i)?.get(d.variant_index()?)).map_or(ptr::null(), |c| c.as_ptr());
        out.params_json =
            d.params_id().and_then(|id| self.params_json.get(id as usize)).map_or(defaults.as_ptr(), |c| c.as_ptr());
        out.holder = ptr::null();
    }
}

fn snapshot_error(e: vario_core::SnapshotError) -> Error {
    Error::new(vario_status::VARIO_ERR_INVALID_SNAPSHOT, e.code().as_str(), e.to_string())
}

/// Borrows a snapshot handle.
///
/// # Safety
/// `s` is NULL or a live handle from `vario_snapshot_from_json`.
unsafe fn snapshot_ref<'a>(s: *const vario_snapshot) -> Result<&'a vario_snapshot, Error> {
    // SAFETY: per the caller's contract.
    unsafe { s.as_ref() }.ok_or_else(|| null("snapshot"))
}

/// Compiles snapshot JSON (SPEC §3). On success `*out` is a new handle to free with
/// `vario_snapshot_free`. A document that is not a schema-1 snapshot is
/// `VARIO_ERR_INVALID_SNAPSHOT` (code `NOT_JSON`, `SCHEMA_VERSION` or `INVALID_SNAPSHOT`); an
/// invalid item only disables that item (see `vario_snapshot_lints_json`).
///
/// # Safety
/// `json` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_from_json(json: *const c_char, out: *mut *mut vario_snapshot) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let text = unsafe { arg(json, "json")? };
        let snap = Snapshot::from_json(text).map_err(snapshot_error)?;
        let handle = Arc::new(vario_snapshot::new(Arc::new(snap)));
        // SAFETY: checked writable; the Arc is turned back by `vario_snapshot_free`.
        unsafe { *out = Arc::into_raw(handle).cast_mut() };
        Ok(())
    })
}

/// Frees a snapshot handle. NULL is ignored. Strings of snapshot decisions become invalid.
///
/// # Safety
/// `snapshot` is NULL or a handle not freed before, used by no other thread any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_free(snapshot: *mut vario_snapshot) {
    if !snapshot.is_null() {
        // SAFETY: came from `Arc::into_raw` and is released once.
        drop(unsafe { Arc::from_raw(snapshot.cast_const()) });
    }
}

/// The snapshot's `version`.
///
/// # Safety
/// `snapshot` is a live handle (NULL returns 0). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_version(snapshot: *const vario_snapshot) -> u64 {
    // SAFETY: per the contract.
    unsafe { snapshot.as_ref() }.map_or(0, |s| s.snap.version())
}

/// The snapshot's lints as a JSON array of `{code, severity, item, message}`. Free `*out` with
/// `vario_string_free`.
///
/// # Safety
/// `snapshot` is a live handle; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_lints_json(
    snapshot: *const vario_snapshot,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            clear_out(out, "out")?;
            let s = snapshot_ref(snapshot)?;
            put_string(out, serde_json::to_string(s.snap.lints()).unwrap_or_else(|_| "[]".into()))
        }
    })
}

/// Decides a request given as JSON (SPEC §5: `user_id`, `session_id`, `consent`, `trace`,
/// `forced`, `context` with the required `placement`) at `now_ms` (milliseconds since the epoch)
/// and writes the decision JSON with SPEC field names to `*out` (free with `vario_string_free`).
///
/// # Safety
/// `snapshot` is a live handle; `request_json` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_decide_json(
    snapshot: *const vario_snapshot,
    request_json: *const c_char,
    now_ms: i64,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let s = unsafe { snapshot_ref(snapshot)? };
        let req =
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(invalid_request)?;
        let json = s.snap.decide(&req.as_request(), now_ms).to_json();
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// The exposure an `ASSIGNED` decision of this request would log (SPEC §5 fields other than the
/// ids, as JSON), or the JSON `null` when the decision logs none. For cross-surface tests.
///
/// # Safety
/// As `vario_snapshot_decide_json`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_exposure_json(
    snapshot: *const vario_snapshot,
    request_json: *const c_char,
    now_ms: i64,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let s = unsafe { snapshot_ref(snapshot)? };
        let req =
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(invalid_request)?;
        let r = req.as_request();
        let d = s.snap.decide(&r, now_ms);
        let json = match d.exposure(now_ms, &[], r.context) {
            Some(x) => serde_json::to_string(&x.data).unwrap_or_else(|_| "null".into()),
            None => "null".into(),
        };
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// Evaluates flag `flag_key` for a request given as JSON (`context.placement` optional) at
/// `now_ms`; writes the flag result JSON to `*out` (free with `vario_string_free`).
///
/// # Safety
/// `snapshot` is a live handle; strings are NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_flag_json(
    snapshot: *const vario_snapshot,
    flag_key: *const c_char,
    request_json: *const c_char,
    now_ms: i64,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let s = unsafe { snapshot_ref(snapshot)? };
        let key = unsafe { arg(flag_key, "flag_key")? };
        let req =
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, false).map_err(invalid_request)?;
        let json = s.snap.flag(key, &req.as_request(), now_ms).to_json();
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// Builds the borrowed request of the JSON-free path.
///
/// # Safety
/// `req` is NULL or points to a `vario_request` whose strings and context are valid for `'a`.
unsafe fn c_request<'a>(req: *const vario_request) -> Result<Request<'a>, Error> {
    // SAFETY: per the caller's contract.
    let r = unsafe { req.as_ref() }.ok_or_else(|| null("request"))?;
    let mut q = Request::new(unsafe { arg(r.placement, "request.placement")? });
    q.user_id = unsafe { opt_arg(r.user_id, "request.user_id")? };
    q.session_id = unsafe { opt_arg(r.session_id, "request.session_id")? };
    q.context = unsafe { r.context.as_ref() }.map(|c| &c.map);
    q.consent = !r.opted_out;
    Ok(q)
}

/// Clears a decision so that no failure path leaves stale pointers in it.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn clear_decision<'a>(out: *mut vario_decision) -> Result<&'a mut vario_decision, Error> {
    // SAFETY: per the caller's contract; the reference is used only within the call.
    let o = unsafe { out.as_mut() }.ok_or_else(|| null("out"))?;
    *o = vario_decision {
        reason: vario_reason::VARIO_REASON_NO_CONFIG,
        unit_type: vario_unit_type::VARIO_UNIT_NONE,
        bucket: -1,
        allocation_share: -1.0,
        config_version: 0,
        iteration: 0,
        experiment_key: ptr::null(),
        variant: ptr::null(),
        params_json: c"{}".as_ptr(),
        holder: ptr::null(),
    };
    Ok(o)
}

/// The JSON-free decide: C strings in, a `vario_decision` out, no allocation. The decision's
/// strings stay valid while `snapshot` lives.
///
/// # Safety
/// `snapshot` is a live handle; `request` points to a valid `vario_request` (its context, if any,
/// not used by another thread during the call); `out` is writable. Thread-safe otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_snapshot_decide(
    snapshot: *const vario_snapshot,
    request: *const vario_request,
    now_ms: i64,
    out: *mut vario_decision,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        let o = unsafe { clear_decision(out)? };
        let s = unsafe { snapshot_ref(snapshot)? };
        let req = unsafe { c_request(request)? };
        let d = s.snap.decide(&req, now_ms);
        s.fill(&d, c"{}", o);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Contexts

/// A new, empty context. Free it with `vario_context_free`. Never NULL.
///
/// # Safety
/// None. The context is used by one thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn vario_context_new() -> *mut vario_context {
    Box::into_raw(Box::new(vario_context { map: Map::new() }))
}

/// Frees a context. NULL is ignored.
///
/// # Safety
/// `ctx` is NULL or a context not freed before, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_context_free(ctx: *mut vario_context) {
    if !ctx.is_null() {
        // SAFETY: came from `Box::into_raw` and is freed once.
        drop(unsafe { Box::from_raw(ctx) });
    }
}

/// Removes every attribute (keeps the allocation for reuse).
///
/// # Safety
/// `ctx` is a live context not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_context_clear(ctx: *mut vario_context) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        unsafe { ctx.as_mut() }.ok_or_else(|| null("ctx"))?.map.clear();
        Ok(())
    })
}

/// Sets `key` to `value`.
///
/// # Safety
/// Per the contract of the setters.
unsafe fn context_set(ctx: *mut vario_context, key: *const c_char, value: Value) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        let c = unsafe { ctx.as_mut() }.ok_or_else(|| null("ctx"))?;
        let k = unsafe { arg(key, "key")? };
        match c.map.get_mut(k) {
            // Same key again (a reused context): reuse the string's buffer.
            Some(Value::String(old)) if value.is_string() => {
                old.clear();
                old.push_str(value.as_str().unwrap_or_default());
            }
            Some(slot) => *slot = value,
            None => {
                c.map.insert(k.to_owned(), value);
            }
        }
        Ok(())
    })
}

/// Sets a string attribute.
///
/// # Safety
/// `ctx` is a live context not in use by another thread; `key` and `value` are NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_context_set_str(
    ctx: *mut vario_context,
    key: *const c_char,
    value: *const c_char,
) -> vario_status {
    // SAFETY: per the contract.
    let v = match unsafe { arg(value, "value") } {
        Ok(v) => v,
        Err(e) => {
            set_error(&e);
            return e.status;
        }
    };
    unsafe { context_set(ctx, key, Value::String(v.to_owned())) }
}

/// Sets a numeric attribute (non-finite values are errors).
///
/// # Safety
/// `ctx` is a live context not in use by another thread; `key` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_context_set_f64(
    ctx: *mut vario_context,
    key: *const c_char,
    value: f64,
) -> vario_status {
    let Some(n) = serde_json::Number::from_f64(value) else {
        let e = invalid_request("a context number must be finite");
        set_error(&e);
        return e.status;
    };
    // SAFETY: per the contract.
    unsafe { context_set(ctx, key, Value::Number(n)) }
}

/// Sets a boolean attribute.
///
/// # Safety
/// `ctx` is a live context not in use by another thread; `key` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_context_set_bool(
    ctx: *mut vario_context,
    key: *const c_char,
    value: bool,
) -> vario_status {
    // SAFETY: per the contract.
    unsafe { context_set(ctx, key, Value::Bool(value)) }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Borrows an open client.
///
/// # Safety
/// `c` is NULL or a live client handle.
unsafe fn open_client<'a>(c: *const vario_client) -> Result<&'a vario_client, Error> {
    // SAFETY: per the caller's contract.
    let c = unsafe { c.as_ref() }.ok_or_else(|| null("client"))?;
    if c.closed.load(Ordering::Acquire) {
        return Err(Error::new(vario_status::VARIO_ERR_CLOSED, "CLOSED", "the client is closed"));
    }
    Ok(c)
}

fn ms(timeout_ms: u32) -> Duration {
    Duration::from_millis(u64::from(timeout_ms))
}

fn wrap_client(client: Client) -> Result<vario_client, Error> {
    let empty = Snapshot::from_json(r#"{"schema_version":1,"version":0}"#)
        .map_err(|e| Error::new(vario_status::VARIO_ERR_INTERNAL, "INTERNAL", e.to_string()))?;
    let mut no_config = vario_snapshot::new(Arc::new(empty));
    no_config.defaults_json = client
        .options()
        .default_params
        .iter()
        .map(|(k, v)| (k.clone(), c_string_lossy(&Value::Object(v.clone()).to_string())))
        .collect();
    Ok(vario_client {
        client,
        closed: AtomicBool::new(false),
        view: ArcSwapOption::empty(),
        no_config: Arc::new(no_config),
    })
}

/// Starts a client from options JSON: one of `config_url`, `config_path`, `bootstrap`; plus
/// `sdk_key`, `ingest_url`, `sink_path`, `id_hash_key`, `default_params`, `poll_interval_ms`,
/// `request_timeout_ms`, `queue_capacity`, `batch_size`, `batch_interval_ms`, `dedup_window_ms`,
/// … (the keys of the Rust `Options`; unknown keys are errors). Never blocks on the network. Free
/// the handle with `vario_client_free`.
///
/// # Safety
/// `options_json` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_new(options_json: *const c_char, out: *mut *mut vario_client) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let text = unsafe { arg(options_json, "options_json")? };
        let opts_err = |e: vario::BuildError| match e {
            vario::BuildError::Thread(e) => Error::new(vario_status::VARIO_ERR_INTERNAL, "INTERNAL", e.to_string()),
            other => Error::new(vario_status::VARIO_ERR_INVALID_OPTIONS, "INVALID_OPTIONS", other.to_string()),
        };
        let mut opts = Options::from_json(text).map_err(opts_err)?;
        if opts.sdk_name == Options::default().sdk_name {
            opts.sdk_name = "vario-c".into();
        }
        let client = ClientBuilder::new().options(opts).build().map_err(opts_err)?;
        // SAFETY: checked writable; freed by `vario_client_free`.
        unsafe { *out = Box::into_raw(Box::new(wrap_client(client)?)) };
        Ok(())
    })
}

/// Closes the client (up to 2 s to deliver queued events) if it is still open, and frees it. NULL
/// is ignored.
///
/// # Safety
/// `client` is NULL or a handle not freed before, no longer used by any other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_free(client: *mut vario_client) {
    if client.is_null() {
        return;
    }
    // Dropping closes the client, which joins threads: keep a panic there inside the library.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: came from `Box::into_raw` and is freed once.
        drop(unsafe { Box::from_raw(client) });
    }));
}

/// Waits up to `timeout_ms` for the first snapshot. `VARIO_ERR_TIMEOUT` (with the last config
/// error as the message) if none arrived; decisions meanwhile return `NO_CONFIG` with the
/// default params.
///
/// # Safety
/// `client` is a live handle. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_wait_for_init(client: *const vario_client, timeout_ms: u32) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        let c = unsafe { open_client(client)? };
        c.client
            .wait_for_init(ms(timeout_ms))
            .map_err(|e| Error::new(vario_status::VARIO_ERR_TIMEOUT, "TIMEOUT", e.to_string()))
    })
}

impl vario_client {
    /// The C view of `snap`, built once per snapshot the client swaps in.
    fn view_of(&self, snap: &Arc<Snapshot>) -> Arc<vario_snapshot> {
        if let Some(v) = &*self.view.load() {
            if Arc::ptr_eq(&v.snap, snap) {
                return v.clone();
            }
        }
        let v = Arc::new(vario_snapshot::new(snap.clone()));
        self.view.store(Some(v.clone()));
        v
    }
}

/// The JSON-free decide on the client's current snapshot; an `ASSIGNED` decision's exposure is
/// queued (never blocking). Call `vario_decision_release(out)` when done with the strings.
///
/// # Safety
/// `client` is a live handle; `request` as for `vario_snapshot_decide`; `out` is writable.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_decide(
    client: *const vario_client,
    request: *const vario_request,
    out: *mut vario_decision,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        let o = unsafe { clear_decision(out)? };
        let c = unsafe { open_client(client)? };
        let req = unsafe { c_request(request)? };
        c.client.decide_in(&req, Expose::Now, |snap, d, _| match snap {
            Some(snap) => {
                let view = c.view_of(snap);
                view.fill(d, c"{}", o);
                o.holder = Arc::into_raw(view);
            }
            None => {
                o.reason = vario_reason::VARIO_REASON_NO_CONFIG;
                o.params_json = c.no_config.defaults_json.get(req.placement).map_or(c"{}".as_ptr(), |d| d.as_ptr());
                o.holder = Arc::into_raw(c.no_config.clone());
            }
        });
        Ok(())
    })
}

/// Releases the snapshot reference a client decision holds and clears its strings. Safe to call
/// on snapshot decisions (a no-op) and twice.
///
/// # Safety
/// `decision` is NULL or a `vario_decision` filled by Vario.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_decision_release(decision: *mut vario_decision) {
    // SAFETY: per the contract.
    let Some(d) = (unsafe { decision.as_mut() }) else { return };
    if !d.holder.is_null() {
        // SAFETY: `holder` came from `Arc::into_raw` in `vario_client_decide`; it is cleared below
        // so a second release is a no-op.
        drop(unsafe { Arc::from_raw(d.holder) });
    }
    d.holder = ptr::null();
    d.experiment_key = ptr::null();
    d.variant = ptr::null();
    d.params_json = c"{}".as_ptr();
}

/// Decides a request given as JSON (as `vario_snapshot_decide_json`, at the current time) and
/// writes the decision JSON to `*out`. With `expose_later` non-zero nothing is logged now and the
/// JSON carries an `exposure_token` for `vario_client_expose` (when the decision has an exposure).
///
/// # Safety
/// `client` is a live handle; `request_json` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_decide_json(
    client: *const vario_client,
    request_json: *const c_char,
    expose_later: bool,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let c = unsafe { open_client(client)? };
        let req =
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(invalid_request)?;
        let json = c.client.decide_json(&req.as_request(), if expose_later { Expose::Later } else { Expose::Now });
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// Logs the exposure carried by a token from `vario_client_decide_json(…, expose_later=1, …)`.
/// `VARIO_ERR_INVALID_TOKEN` for a forged, malformed or foreign token; `VARIO_ERR_QUEUE_FULL` when
/// the queue was full (the event is dropped and counted).
///
/// # Safety
/// `client` is a live handle; `token` is NUL-terminated. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_expose(client: *const vario_client, token: *const c_char) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        let c = unsafe { open_client(client)? };
        let t = unsafe { arg(token, "token")? };
        match c.client.expose(t) {
            Ok(true) => Ok(()),
            Ok(false) => Err(queue_full(c)),
            Err(e) => Err(Error::new(vario_status::VARIO_ERR_INVALID_TOKEN, e.code().as_str(), e.to_string())),
        }
    })
}

fn queue_full(c: &vario_client) -> Error {
    let msg = if c.client.is_forked_copy() {
        "this client belongs to the parent process: call vario_client_after_fork in the child"
    } else {
        "the event queue is full: the event was dropped (counted in stats)"
    };
    Error::new(vario_status::VARIO_ERR_QUEUE_FULL, "QUEUE_FULL", msg)
}

/// Evaluates flag `flag_key` on the client's current snapshot for a request given as JSON; writes
/// the flag result JSON to `*out` (`FLAG_NOT_FOUND` before the first snapshot).
///
/// # Safety
/// `client` is a live handle; strings are NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_flag_json(
    client: *const vario_client,
    flag_key: *const c_char,
    request_json: *const c_char,
    out: *mut *mut c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let c = unsafe { open_client(client)? };
        let key = unsafe { arg(flag_key, "flag_key")? };
        let req =
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, false).map_err(invalid_request)?;
        let json = c.client.flag_with(key, &req.as_request(), |f| f.to_json());
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// Queues an outcome given as JSON: `event_type` (required), `user_id`, `session_id`, `item_id`,
/// `value`, `currency`, `placement`, `properties`. The unit's recent assignments are attached.
/// `VARIO_ERR_QUEUE_FULL` when it was dropped (counted).
///
/// # Safety
/// `client` is a live handle; `outcome_json` is NUL-terminated. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_track_json(
    client: *const vario_client,
    outcome_json: *const c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        let c = unsafe { open_client(client)? };
        let text = unsafe { arg(outcome_json, "outcome_json")? };
        let v: Value = serde_json::from_str(text).map_err(|e| invalid_request(format!("outcome is not JSON: {e}")))?;
        let outcome = Outcome::from_value(&v).map_err(invalid_request)?;
        if c.client.track(outcome) { Ok(()) } else { Err(queue_full(c)) }
    })
}

/// Offers a snapshot pushed by the caller: swapped in when valid and newer, otherwise
/// `VARIO_ERR_INVALID_SNAPSHOT` and the snapshot in use stays.
///
/// # Safety
/// `client` is a live handle; `json` is NUL-terminated. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_update_snapshot(
    client: *const vario_client,
    json: *const c_char,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        let c = unsafe { open_client(client)? };
        let text = unsafe { arg(json, "json")? };
        c.client.update_snapshot(text).map(|_| ()).map_err(|(kind, msg)| {
            let code = match kind {
                vario::ConfigErrorKind::VersionRegression => "VERSION_REGRESSION",
                _ => "INVALID_SNAPSHOT",
            };
            Error::new(vario_status::VARIO_ERR_INVALID_SNAPSHOT, code, msg)
        })
    })
}

/// Delivers everything queued so far, waiting up to `timeout_ms` (`VARIO_ERR_TIMEOUT` otherwise;
/// the events stay queued).
///
/// # Safety
/// `client` is a live handle. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_flush(client: *const vario_client, timeout_ms: u32) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        let c = unsafe { open_client(client)? };
        c.client
            .flush(ms(timeout_ms))
            .map_err(|e| Error::new(vario_status::VARIO_ERR_TIMEOUT, "TIMEOUT", e.to_string()))
    })
}

/// Stops polling, delivers what is queued (up to `timeout_ms`; what is left is dropped and
/// counted, and the result is `VARIO_ERR_TIMEOUT`) and stops the background threads. Every later
/// call on the handle but `vario_client_stats_json` and `vario_client_free` returns
/// `VARIO_ERR_CLOSED`, including a second close.
///
/// # Safety
/// `client` is a live handle. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_close(client: *const vario_client, timeout_ms: u32) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        let c = unsafe { client.as_ref() }.ok_or_else(|| null("client"))?;
        if c.closed.swap(true, Ordering::AcqRel) {
            return Err(Error::new(vario_status::VARIO_ERR_CLOSED, "CLOSED", "the client is already closed"));
        }
        c.client
            .close(ms(timeout_ms))
            .map_err(|e| Error::new(vario_status::VARIO_ERR_TIMEOUT, "TIMEOUT", e.to_string()))
    })
}

/// Every counter and the config status as JSON (works after close). Free `*out` with
/// `vario_string_free`.
///
/// # Safety
/// `client` is a live handle; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_stats_json(client: *const vario_client, out: *mut *mut c_char) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let c = unsafe { client.as_ref() }.ok_or_else(|| null("client"))?;
        let json = serde_json::to_string(&c.client.stats()).unwrap_or_else(|_| "{}".into());
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// In a child process after `fork()`: a new client with the same options, fresh background threads
/// and connections, serving the parent's current snapshot. Events of the old handle in the child
/// are dropped and counted (the parent delivers what was queued before the fork); free the old
/// handle with `vario_client_free` (it returns at once in the child).
///
/// # Safety
/// `client` is a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_after_fork(
    client: *const vario_client,
    out: *mut *mut vario_client,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let c = unsafe { client.as_ref() }.ok_or_else(|| null("client"))?;
        let new = c
            .client
            .after_fork()
            .map_err(|e| Error::new(vario_status::VARIO_ERR_INTERNAL, "INTERNAL", e.to_string()))?;
        // SAFETY: checked writable; freed by `vario_client_free`.
        unsafe { *out = Box::into_raw(Box::new(wrap_client(new)?)) };
        Ok(())
    })
}
