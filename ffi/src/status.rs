//! Status codes and errors: the C enums, their derivation from the core code table
//! (`vario_core::codes`), the calling thread's last error, and the panic guard every entry point
//! runs in.
//!
//! The C enums stay Rust enums so that cbindgen writes them into the header; their numbers and
//! names are the core tables' ([`ErrorClass`], [`Reason`], [`UnitType`]), which `ffi/tests/codes.rs`
//! checks against the committed header. A reason or unit type becomes its C value through the host
//! layer's numeric codes ([`reason_index`], [`unit_type_code`]), and reason names are its
//! [`REASON_NAMES`]. Errors are built from an [`ErrorCode`] only: the status is the code's class,
//! the string `vario_last_error_code` returns is the code's `as_str()`.

use crate::strings::c_string_lossy;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::OnceLock;
use vario::host::{REASON_NAMES, reason_index, unit_type_code};
use vario_core::{Coded, ErrorClass, ErrorCode, Reason, UnitType};

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
    /// A snapshot was rejected whole (codes `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`,
    /// `VERSION_REGRESSION`, `SNAPSHOT_SIGNATURE`).
    VARIO_ERR_INVALID_SNAPSHOT = 4,
    /// Client options were invalid (code `INVALID_OPTIONS`).
    VARIO_ERR_INVALID_OPTIONS = 5,
    /// The operation did not finish in time (code `TIMEOUT`).
    VARIO_ERR_TIMEOUT = 6,
    /// The client was closed (code `CLOSED`).
    VARIO_ERR_CLOSED = 7,
    /// An exposure token was refused (codes `TOKEN_MALFORMED`, `TOKEN_VERSION`, `TOKEN_PAYLOAD`,
    /// `TOKEN_UNSIGNED`, `TOKEN_SIGNATURE`, `TOKEN_KEY_UNAVAILABLE`).
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

// ---------------------------------------------------------------------------------------------
// Core → C, by number

// Every C value in numeric order, so that a core member's `code()` indexes its C value. The
// checks below keep index and value equal; `ffi/tests/codes.rs` keeps them equal to the core.
const STATUSES: [vario_status; 12] = {
    use vario_status::*;
    [
        VARIO_OK,
        VARIO_ERR_NULL_ARGUMENT,
        VARIO_ERR_INVALID_UTF8,
        VARIO_ERR_INVALID_REQUEST,
        VARIO_ERR_INVALID_SNAPSHOT,
        VARIO_ERR_INVALID_OPTIONS,
        VARIO_ERR_TIMEOUT,
        VARIO_ERR_CLOSED,
        VARIO_ERR_INVALID_TOKEN,
        VARIO_ERR_QUEUE_FULL,
        VARIO_ERR_INTERNAL,
        VARIO_ERR_PANIC,
    ]
};

const REASONS: [vario_reason; 17] = {
    use vario_reason::*;
    [
        VARIO_REASON_NO_CONFIG,
        VARIO_REASON_UNKNOWN_PLACEMENT,
        VARIO_REASON_OPTED_OUT,
        VARIO_REASON_FORCED,
        VARIO_REASON_SHIPPED,
        VARIO_REASON_OVERRIDE,
        VARIO_REASON_ASSIGNED,
        VARIO_REASON_NO_EXPERIMENT,
        VARIO_REASON_NOT_RUNNING,
        VARIO_REASON_NOT_STARTED,
        VARIO_REASON_ENDED,
        VARIO_REASON_MISSING_UNIT,
        VARIO_REASON_HOLDOUT,
        VARIO_REASON_TARGETING_MISS,
        VARIO_REASON_LAYER_MISS,
        VARIO_REASON_TRAFFIC_MISS,
        VARIO_REASON_CONFIG_ERROR,
    ]
};

const UNIT_TYPES: [vario_unit_type; 3] =
    [vario_unit_type::VARIO_UNIT_NONE, vario_unit_type::VARIO_UNIT_USER, vario_unit_type::VARIO_UNIT_SESSION];

// Index == value for every table above (a compile error otherwise).
const _: () = {
    let mut i = 0;
    while i < STATUSES.len() {
        assert!(STATUSES[i] as usize == i);
        i += 1;
    }
    let mut i = 0;
    while i < REASONS.len() {
        assert!(REASONS[i] as usize == i);
        i += 1;
    }
    let mut i = 0;
    while i < UNIT_TYPES.len() {
        assert!(UNIT_TYPES[i] as usize == i);
        i += 1;
    }
};

impl From<ErrorClass> for vario_status {
    /// The status numbered [`ErrorClass::code`]. A class this C enum lacks (ruled out by
    /// `ffi/tests/codes.rs`) is `VARIO_ERR_INTERNAL`, never `VARIO_OK`.
    fn from(class: ErrorClass) -> Self {
        match STATUSES.get(class.code() as usize) {
            Some(&s) if s != vario_status::VARIO_OK => s,
            _ => vario_status::VARIO_ERR_INTERNAL,
        }
    }
}

impl From<Reason> for vario_reason {
    /// The reason numbered [`reason_index`] (= [`Reason::code`]).
    ///
    /// # Panics
    /// On a core reason this C enum lacks (ruled out by `ffi/tests/codes.rs`); entry points turn
    /// the panic into `VARIO_ERR_PANIC`.
    fn from(r: Reason) -> Self {
        match REASONS.get(usize::from(reason_index(r))) {
            Some(&c) => c,
            None => panic!("reason {r} has no vario_reason value: add it to ffi/src/status.rs"),
        }
    }
}

impl From<Option<UnitType>> for vario_unit_type {
    /// The unit type numbered [`unit_type_code`]: `VARIO_UNIT_NONE` for no unit, else
    /// [`UnitType::code`].
    ///
    /// # Panics
    /// As [`vario_reason::from`], on a core unit type this C enum lacks.
    fn from(u: Option<UnitType>) -> Self {
        match UNIT_TYPES.get(usize::from(unit_type_code(u))) {
            // Only "no unit" is VARIO_UNIT_NONE.
            Some(&c) if u.is_none() == (c == vario_unit_type::VARIO_UNIT_NONE) => c,
            _ => panic!("unit type {u:?} has no vario_unit_type value: add it to ffi/src/status.rs"),
        }
    }
}

/// NUL-terminated copies of a table's names, indexed by number (gaps are empty strings).
fn names_by_code(members: impl Iterator<Item = (u32, &'static str)>) -> Vec<CString> {
    let mut names = Vec::new();
    for (code, name) in members {
        let i = code as usize;
        if names.len() <= i {
            names.resize(i + 1, CString::default());
        }
        names[i] = c_string_lossy(name);
    }
    names
}

/// The name of the reason numbered `code` ([`REASON_NAMES`]), NUL-terminated and static (made
/// once).
pub(crate) fn reason_name(code: u32) -> &'static CStr {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| REASON_NAMES.iter().map(|n| c_string_lossy(n)).collect());
    names.get(code as usize).map_or(c"UNKNOWN", |c| c.as_c_str())
}

/// The `as_str()` of an error code, NUL-terminated and static (made once).
fn error_code_name(code: ErrorCode) -> &'static CStr {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| names_by_code(ErrorCode::ALL.iter().map(|c| (c.code(), c.as_str()))));
    names.get(code.code() as usize).map_or(c"INTERNAL", |c| c.as_c_str())
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error on its way to the caller: a stable code (whose class is the status) and a message.
pub(crate) struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// An error with this code; its status is the code's class.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }

    /// The error of any core or runtime error type: its own code and its `Display`.
    pub(crate) fn coded<E: Coded>(e: E) -> Self {
        Error::new(e.code(), e.to_string())
    }

    /// The status returned to C: the number of the code's class.
    pub(crate) fn status(&self) -> vario_status {
        self.code.class().into()
    }
}

/// `NULL_ARGUMENT` for the argument `name`.
pub(crate) fn null(name: &str) -> Error {
    Error::new(ErrorCode::NullArgument, format!("`{name}` is NULL"))
}

/// `INVALID_REQUEST` with `e` as the message.
pub(crate) fn invalid_request(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidRequest, e.to_string())
}

struct LastError {
    code: ErrorCode,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Records `e` as the calling thread's last error.
pub(crate) fn set_error(e: &Error) {
    let le = LastError { code: e.code, message: c_string_lossy(&e.message) };
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(le));
}

/// Records `e` as the calling thread's last error and returns its status (for the few entry
/// points that fail before entering [`guard`]).
pub(crate) fn fail(e: &Error) -> vario_status {
    set_error(e);
    e.status()
}

/// Runs `f`, turning an error or a panic into a status code and the thread's last error.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> vario_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => vario_status::VARIO_OK,
        Ok(Err(e)) => fail(&e),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            fail(&Error::new(ErrorCode::Panic, format!("panic inside vario: {msg}")))
        }
    }
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
/// `INVALID_REQUEST`, `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`, `VERSION_REGRESSION`,
/// `INVALID_OPTIONS`, `TIMEOUT`, `CLOSED`, a `TOKEN_*` code, `QUEUE_FULL`, `INTERNAL`, `PANIC`),
/// or NULL if none. Valid until the thread's next failing call; do not free.
///
/// # Safety
/// None: callable from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn vario_last_error_code() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(ptr::null(), |e| error_code_name(e.code).as_ptr()))
}
