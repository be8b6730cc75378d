//! Snapshots and the JSON-free decide path: the `vario_snapshot` handle, the `vario_request` /
//! `vario_decision` structs, and the snapshot entry points (compile, lints, decide, exposure,
//! flag).
//!
//! A handle is an `Arc` (so a client's decisions can hold the snapshot they point into) that also
//! owns every C string a decision can point at: experiment keys, variant names and params JSON,
//! made once when the snapshot is compiled. Deciding therefore allocates nothing.

use crate::context::vario_context;
use crate::status::{Error, guard, null, vario_reason, vario_status, vario_unit_type};
use crate::strings::{arg, c_string_lossy, clear_out, opt_arg, put_string};
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::Arc;
use vario_core::{Decision, OwnedRequest, Request, Snapshot};

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
    pub(crate) snap: Arc<Snapshot>,
    experiment_keys: Vec<CString>,
    variants: Vec<Vec<CString>>,
    params_json: Vec<CString>,
    /// A client's `NO_CONFIG` params per placement (empty for real snapshots): a client's
    /// no-config view holds them so they outlive the client like any decision's strings.
    pub(crate) defaults_json: HashMap<String, CString>,
}

impl vario_snapshot {
    /// The C view of `snap`: every string a decision can point at, made once.
    pub(crate) fn new(snap: Arc<Snapshot>) -> vario_snapshot {
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
    pub(crate) fn fill(&self, d: &Decision<'_>, defaults: &CStr, out: &mut vario_decision) {
        let ei = d.experiment_index();
        out.reason = d.reason().into();
        out.unit_type = d.unit_type().into();
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
        let snap = Snapshot::from_json(text).map_err(Error::coded)?;
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
        let req = OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(Error::coded)?;
        let json = s.snap.decide(&req.as_request(), now_ms).to_json();
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// The exposure an `ASSIGNED` decision of this request would log (SPEC §5 fields other than the
/// ids, as JSON), or the JSON `null` when the decision logs none. For cross-surface tests. Free
/// `*out` with `vario_string_free`.
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
        let req = OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(Error::coded)?;
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
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, false).map_err(Error::coded)?;
        let json = s.snap.flag(key, &req.as_request(), now_ms).to_json();
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// Builds the borrowed request of the JSON-free path.
///
/// # Safety
/// `req` is NULL or points to a `vario_request` whose strings and context are valid for `'a`.
pub(crate) unsafe fn c_request<'a>(req: *const vario_request) -> Result<Request<'a>, Error> {
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
pub(crate) unsafe fn clear_decision<'a>(out: *mut vario_decision) -> Result<&'a mut vario_decision, Error> {
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
