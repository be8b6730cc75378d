//! `vario` for Node.js: the native half of the package (napi-rs).
//!
//! The JavaScript facade (`index.ts`) builds decision objects in JavaScript, where V8 makes them
//! cheaply, from numbers this module writes into memory the facade reads as a `Float64Array`
//! (an external `ArrayBuffer` handed over once, see [`Out`]); strings (experiment and variant
//! keys, params) are fetched once per snapshot. So a decision crosses the boundary with a
//! handful of scalars and no JSON:
//!
//! - ids and placement are read straight from the JS strings (as UTF-16, one call for short
//!   ones) into buffers the object reuses;
//! - of the context, only the attributes the snapshot's targeting reads (plus, for a client,
//!   `page_type` and the exposure keys) are read: the first four by the facade, which passes
//!   their values as arguments, the rest by name; into a map reused in place.
//!
//! Every entry point catches panics (`catch_unwind`): a bug surfaces as a JS `Error`, never as a
//! crashed process. Errors carry a stable code in `error.code` (set by the facade from the
//! `CODE: message` form used here).

#![deny(clippy::all)]

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use vario::{ClientBuilder, Expose, Options, Outcome};
use vario_core::Coded;
use vario_core::{Decision, OwnedRequest, Reason, Request, Snapshot, UnitType};

fn err(code: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code}: {msg}"))
}

fn invalid(msg: impl std::fmt::Display) -> Error {
    err("INVALID_REQUEST", msg)
}

// ---------------------------------------------------------------------------------------------
// Reading JS values without napi-rs conversions (no allocation per call)

/// Reads a JS string into `buf`; `None` when `v` is not a string (nothing thrown).
///
/// The string is read as UTF-16 (V8 answers its length without a scan and copies one-byte
/// strings straight out) and narrowed here: ASCII, the common case for ids and attribute values,
/// is a plain copy; anything else is transcoded, lone surrogates becoming U+FFFD as Node's own
/// UTF-8 conversion does. Reading it as UTF-8 made V8 scan the string twice (length, then copy).
///
/// # Safety
/// `env` and `v` are the live handles of the current call.
unsafe fn read_string(env: sys::napi_env, v: sys::napi_value, buf: &mut String, wide: &mut Vec<u16>) -> Option<()> {
    // One call for the common short string: V8 writes at most capacity - 1 units and a NUL, so
    // fewer written than that means the whole string arrived. Longer ones take a second call.
    const FIRST: usize = 128;
    if wide.capacity() < FIRST {
        wide.reserve(FIRST);
    }
    let mut written = 0usize;
    // SAFETY: V8 writes at most `capacity` units into the spare capacity; fails (without
    // throwing) for a non-string.
    let st = unsafe { sys::napi_get_value_string_utf16(env, v, wide.as_mut_ptr(), wide.capacity(), &mut written) };
    if st != sys::Status::napi_ok {
        return None;
    }
    if written + 1 >= wide.capacity() {
        let mut len = 0usize;
        // SAFETY: length query with a NULL buffer, then a copy into len + 1 units.
        unsafe { sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len) };
        wide.reserve(len + 1);
        unsafe { sys::napi_get_value_string_utf16(env, v, wide.as_mut_ptr(), len + 1, &mut written) };
    }
    // SAFETY: V8 initialised the first `written` units.
    unsafe { wide.set_len(written) };
    buf.clear();
    if wide.iter().all(|&c| c < 0x80) {
        // SAFETY: every unit is ASCII, so the bytes are valid UTF-8.
        unsafe { buf.as_mut_vec().extend(wide.iter().map(|&c| c as u8)) };
    } else {
        buf.extend(char::decode_utf16(wide.iter().copied()).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    }
    wide.clear();
    Some(())
}

/// Reads a JS string into `buf`; `Ok(false)` for `null` / `undefined`, an error for other types.
///
/// # Safety
/// `env` and `v` are the live handles of the current call.
unsafe fn read_str(
    env: sys::napi_env,
    v: sys::napi_value,
    buf: &mut String,
    wide: &mut Vec<u16>,
    what: &str,
) -> Result<bool> {
    if unsafe { read_string(env, v, buf, wide) }.is_some() {
        return Ok(true);
    }
    let mut t = 0;
    if unsafe { sys::napi_typeof(env, v, &mut t) } != sys::Status::napi_ok {
        return Err(invalid(format!("`{what}` is unreadable")));
    }
    match t {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(false),
        _ => Err(invalid(format!("`{what}` must be a string, null or undefined"))),
    }
}

/// A JS value as JSON (`undefined` → `None`). Functions and symbols are errors.
///
/// # Safety
/// `env` and `v` are the live handles of the current call.
unsafe fn read_value(env: sys::napi_env, v: sys::napi_value, depth: u32) -> Result<Option<Value>> {
    if depth > 32 {
        return Err(invalid("context values nest too deeply"));
    }
    let mut t = 0;
    unsafe { sys::napi_typeof(env, v, &mut t) };
    Ok(Some(match t {
        sys::ValueType::napi_undefined => return Ok(None),
        sys::ValueType::napi_null => Value::Null,
        sys::ValueType::napi_boolean => {
            let mut b = false;
            unsafe { sys::napi_get_value_bool(env, v, &mut b) };
            Value::Bool(b)
        }
        sys::ValueType::napi_number => {
            let mut f = 0f64;
            unsafe { sys::napi_get_value_double(env, v, &mut f) };
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::from(f as i64)
            } else {
                serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid("numbers must be finite"))?
            }
        }
        sys::ValueType::napi_string => {
            let mut s = String::new();
            unsafe { read_str(env, v, &mut s, &mut Vec::new(), "context value")? };
            Value::String(s)
        }
        sys::ValueType::napi_object => {
            let mut is_array = false;
            unsafe { sys::napi_is_array(env, v, &mut is_array) };
            if is_array {
                let mut len = 0u32;
                unsafe { sys::napi_get_array_length(env, v, &mut len) };
                let mut out = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut e = ptr::null_mut();
                    unsafe { sys::napi_get_element(env, v, i, &mut e) };
                    out.push(unsafe { read_value(env, e, depth + 1)? }.unwrap_or(Value::Null));
                }
                Value::Array(out)
            } else {
                let mut names = ptr::null_mut();
                unsafe { sys::napi_get_property_names(env, v, &mut names) };
                let mut len = 0u32;
                unsafe { sys::napi_get_array_length(env, names, &mut len) };
                let mut m = Map::new();
                let mut key = String::new();
                for i in 0..len {
                    let mut k = ptr::null_mut();
                    let mut val = ptr::null_mut();
                    unsafe {
                        sys::napi_get_element(env, names, i, &mut k);
                        read_str(env, k, &mut key, &mut Vec::new(), "key")?;
                        sys::napi_get_property(env, v, k, &mut val);
                    }
                    if let Some(x) = unsafe { read_value(env, val, depth + 1)? } {
                        m.insert(key.clone(), x);
                    }
                }
                Value::Object(m)
            }
        }
        _ => return Err(invalid("context values must be JSON-like (no functions or symbols)")),
    }))
}

/// Buffers reused by every decision of one native object (its facade calls it from one JS
/// thread): the request's strings and the context map, whose values are overwritten in place.
#[derive(Default)]
struct Scratch {
    placement: String,
    user: String,
    session: String,
    wide: Vec<u16>,
    context: Map<String, Value>,
    /// The view `context` was last filled for: another view reads other attributes, so the
    /// map starts over rather than carry values no read will refresh.
    view: u32,
}

/// Reads the snapshot's attributes into `map` (reused: values are replaced in place; an
/// `undefined` attribute is removed). The facade passes the first values itself (`given`, in the
/// order of `attrs`; a property read in JavaScript is far cheaper than one through Node-API);
/// the rest are read from `ctx` by name.
///
/// # Safety
/// `env`, `ctx` and `given` are the live handles of the current call; `ctx` is an object.
unsafe fn fill_context(
    env: sys::napi_env,
    ctx: sys::napi_value,
    given: &[sys::napi_value],
    attrs: &[(CString, String)],
    map: &mut Map<String, Value>,
    wide: &mut Vec<u16>,
) -> Result<()> {
    for (i, (cname, name)) in attrs.iter().enumerate() {
        let v = match given.get(i) {
            Some(&v) => v,
            None => {
                let mut v = ptr::null_mut();
                unsafe { sys::napi_get_named_property(env, ctx, cname.as_ptr(), &mut v) };
                v
            }
        };
        if let Some(Value::String(s)) = map.get_mut(name.as_str()) {
            if unsafe { read_string(env, v, s, wide) }.is_some() {
                continue;
            }
        }
        match unsafe { read_value(env, v, 0)? } {
            Some(val) => match map.get_mut(name.as_str()) {
                Some(slot) => *slot = val,
                None => {
                    map.insert(name.clone(), val);
                }
            },
            None => {
                map.shift_remove(name.as_str());
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Snapshot views and the output layout

/// Slots of the output `Float64Array` (the facade reads the same indices).
mod slot {
    pub const REASON: usize = 0;
    pub const EXPERIMENT: usize = 1;
    pub const VARIANT: usize = 2;
    pub const PARAMS: usize = 3;
    pub const UNIT: usize = 4;
    pub const BUCKET: usize = 5;
    pub const SHARE: usize = 6;
    pub const ITERATION: usize = 7;
    pub const VERSION: usize = 8;
    /// The id of the view (attribute list) the request was read against.
    pub const VIEW: usize = 9;
    pub const LEN: usize = 10;
}

/// Where the native side writes a decision's scalars: memory the facade reads as a
/// `Float64Array` over an external `ArrayBuffer`. Handing the buffer over once, instead of a
/// typed array per call, spares every decision the typed-array checks (a tenth of its cost).
/// The memory is shared ownership: the object and every `ArrayBuffer` made over it hold an
/// `Arc`, so neither a collected buffer nor a detached (transferred) one can leave the other
/// side pointing at freed memory.
/// (Atomics, not cells, only so the type is `Sync`: a relaxed store is a plain store, and V8 may
/// run a backing store's release on another thread.)
struct Out([AtomicU64; slot::LEN]);

impl Out {
    fn new() -> Arc<Out> {
        Arc::new(Out(std::array::from_fn(|_| AtomicU64::new(0))))
    }

    fn set(&self, i: usize, v: f64) {
        self.0[i].store(v.to_bits(), Ordering::Relaxed);
    }
}

unsafe extern "C" fn release_out(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Arc` leaked by `out_buffer` for this buffer, released exactly once.
    drop(unsafe { Arc::from_raw(hint.cast_const().cast::<Out>()) });
}

/// A new external `ArrayBuffer` over `out`; `None` where the runtime forbids external buffers
/// (Electron's V8 sandbox), in which case the facade takes the JSON path.
///
/// # Safety
/// `env` is the live handle of the current call.
unsafe fn out_buffer<'e>(env: &'e Env, out: &Arc<Out>) -> Result<Option<Unknown<'e>>> {
    let hint = Arc::into_raw(out.clone());
    let mut value = ptr::null_mut();
    // SAFETY: the data stays valid while `hint` (an owner) lives; `release_out` drops it.
    let status = unsafe {
        sys::napi_create_external_arraybuffer(
            env.raw(),
            hint.cast_mut().cast(),
            std::mem::size_of::<Out>(),
            Some(release_out),
            hint.cast_mut().cast(),
            &mut value,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to V8, so still ours to release.
        drop(unsafe { Arc::from_raw(hint) });
        return if status == sys::Status::napi_no_external_buffers_allowed {
            Ok(None)
        } else {
            Err(err("INTERNAL", format!("cannot create the output buffer (status {status})")))
        };
    }
    // SAFETY: a value just created in this call's scope.
    Ok(Some(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }))
}

const REASONS: [Reason; 17] = [
    Reason::NoConfig,
    Reason::UnknownPlacement,
    Reason::OptedOut,
    Reason::Forced,
    Reason::Shipped,
    Reason::Override,
    Reason::Assigned,
    Reason::NoExperiment,
    Reason::NotRunning,
    Reason::NotStarted,
    Reason::Ended,
    Reason::MissingUnit,
    Reason::Holdout,
    Reason::TargetingMiss,
    Reason::LayerMiss,
    Reason::TrafficMiss,
    Reason::ConfigError,
];

fn reason_code(r: Reason) -> f64 {
    REASONS.iter().position(|x| *x == r).unwrap_or(0) as f64
}

/// The reason names, in the codes' order (for the facade).
#[napi(catch_unwind)]
pub fn reason_names() -> Vec<String> {
    REASONS
        .iter()
        .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect()
}

fn write_out(d: &Decision<'_>, view: &View, out: &Out) {
    let opt = |x: Option<f64>| x.unwrap_or(-1.0);
    out.set(slot::REASON, reason_code(d.reason()));
    out.set(slot::EXPERIMENT, opt(d.experiment_index().map(|i| i as f64)));
    out.set(slot::VARIANT, opt(d.variant_index().map(|i| i as f64)));
    out.set(slot::PARAMS, opt(d.params_id().map(f64::from)));
    out.set(
        slot::UNIT,
        match d.unit_type() {
            None => 0.0,
            Some(UnitType::User) => 1.0,
            Some(UnitType::Session) => 2.0,
        },
    );
    out.set(slot::BUCKET, opt(d.bucket().map(f64::from)));
    out.set(slot::SHARE, d.allocation_share().unwrap_or(f64::NAN));
    out.set(slot::ITERATION, opt(d.iteration().map(|i| i as f64)));
    out.set(slot::VERSION, d.config_version() as f64);
    out.set(slot::VIEW, f64::from(view.id));
}

/// A snapshot with the attribute names its decisions read.
struct View {
    snap: Arc<Snapshot>,
    attrs: Vec<(CString, String)>,
    /// Unique per view: the facade passes attribute values in the order of the view it last
    /// saw, and the id says whether that order still holds.
    id: u32,
}

static VIEW_IDS: AtomicU32 = AtomicU32::new(1);

impl View {
    fn new(snap: Arc<Snapshot>, extra: &[String]) -> View {
        let mut names: Vec<String> = snap.context_attributes().iter().map(|s| s.to_string()).collect();
        for e in extra {
            if !names.contains(e) {
                names.push(e.clone());
            }
        }
        let attrs = names.into_iter().filter_map(|n| CString::new(n.clone()).ok().map(|c| (c, n))).collect();
        View { snap, attrs, id: VIEW_IDS.fetch_add(1, Ordering::Relaxed) }
    }

    fn experiments_json(&self) -> String {
        let list: Vec<Value> = (0..self.snap.experiment_count())
            .filter_map(|i| self.snap.experiment_at(i))
            .map(|(key, id, vs)| serde_json::json!({"key": key, "id": id, "variants": vs.collect::<Vec<_>>()}))
            .collect();
        Value::Array(list).to_string()
    }

    fn attr_names(&self) -> Vec<String> {
        self.attrs.iter().map(|(_, n)| n.clone()).collect()
    }

    fn params_json(&self, id: u32) -> String {
        self.snap.params_by_id(id).map_or_else(|| "{}".into(), |m| Value::Object(m.clone()).to_string())
    }
}

/// Output flags of `decideInto`.
const OPTED_OUT: u32 = 1;

/// How many attribute values the facade passes as arguments (`a0`..`a3`).
const GIVEN_ATTRS: usize = 4;

/// Runs `f` with the request read from the JS arguments. `given` are the facade's attribute
/// values in `view`'s order, or empty when it read them against another view.
///
/// # Safety
/// `env` and the values are the live handles of the current call.
#[allow(clippy::too_many_arguments)]
unsafe fn with_request<R>(
    env: sys::napi_env,
    view: &View,
    scratch: &RefCell<Scratch>,
    placement: sys::napi_value,
    user: sys::napi_value,
    session: sys::napi_value,
    ctx: sys::napi_value,
    given: &[sys::napi_value],
    flags: u32,
    f: impl FnOnce(&Request<'_>) -> Result<R>,
) -> Result<R> {
    let mut scratch = scratch.try_borrow_mut().map_err(|_| err("INTERNAL", "re-entered"))?;
    let Scratch { placement: p, user: u, session: s, wide, context, view: filled_for } = &mut *scratch;
    if *filled_for != view.id {
        context.clear();
        *filled_for = view.id;
    }
    if !unsafe { read_str(env, placement, p, wide, "context.placement")? } {
        return Err(invalid("`context.placement` is required"));
    }
    let has_user = unsafe { read_str(env, user, u, wide, "user_id")? };
    let has_session = unsafe { read_str(env, session, s, wide, "session_id")? };
    let mut t = 0;
    unsafe { sys::napi_typeof(env, ctx, &mut t) };
    let map = match t {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
        sys::ValueType::napi_object => {
            unsafe { fill_context(env, ctx, given, &view.attrs, context, wide)? };
            Some(&*context)
        }
        _ => return Err(invalid("`context` must be an object")),
    };
    let mut r = Request::new(p.as_str());
    r.user_id = has_user.then_some(u.as_str());
    r.session_id = has_session.then_some(s.as_str());
    r.context = map;
    r.consent = flags & OPTED_OUT == 0;
    f(&r)
}

fn now_or_clock(now: Option<f64>) -> i64 {
    match now {
        Some(n) if n.is_finite() => n as i64,
        _ => vario::now_ms(),
    }
}

fn owned_request(json: &str, require_placement: bool) -> Result<OwnedRequest> {
    OwnedRequest::from_json(json, require_placement).map_err(|e| invalid(e.0))
}

// ---------------------------------------------------------------------------------------------
// Snapshot

/// A compiled snapshot (native half of `Snapshot`).
#[napi]
pub struct NativeSnapshot {
    state: Rc<SnapshotState>,
}

/// What a snapshot's decisions use, shared by the class and its [`SnapshotHandle`].
pub struct SnapshotState {
    view: Arc<View>,
    scratch: RefCell<Scratch>,
    out: Arc<Out>,
}

impl std::ops::Deref for NativeSnapshot {
    type Target = SnapshotState;
    fn deref(&self) -> &SnapshotState {
        &self.state
    }
}

/// The hot path's handle on a snapshot (an opaque external value the facade keeps). The
/// decide function takes it as an argument instead of being a method: a method's `this` costs
/// Node-API a private-symbol property lookup per call (`napi_unwrap`), about half of a bare
/// call here; an external is one type check.
pub struct SnapshotHandle(Rc<SnapshotState>);

#[napi]
impl NativeSnapshot {
    /// Compiles snapshot JSON text; throws `SNAPSHOT:<code>: …` when rejected whole.
    #[napi(factory, catch_unwind)]
    pub fn from_json(text: String) -> Result<NativeSnapshot> {
        let snap = Snapshot::from_json(&text).map_err(|e| err(e.code().as_str(), e))?;
        Ok(NativeSnapshot {
            state: Rc::new(SnapshotState {
                view: Arc::new(View::new(Arc::new(snap), &[])),
                scratch: RefCell::default(),
                out: Out::new(),
            }),
        })
    }

    /// The snapshot's version.
    #[napi(getter, catch_unwind)]
    pub fn version(&self) -> f64 {
        self.view.snap.version() as f64
    }

    /// Lints as JSON.
    #[napi(catch_unwind)]
    pub fn lints_json(&self) -> String {
        serde_json::to_string(self.view.snap.lints()).unwrap_or_else(|_| "[]".into())
    }

    /// `[{key, id, variants}]` of every experiment, by index.
    #[napi(catch_unwind)]
    pub fn experiments_json(&self) -> String {
        self.view.experiments_json()
    }

    /// The params map with this dense id, as JSON.
    #[napi(catch_unwind)]
    pub fn params_json(&self, id: u32) -> String {
        self.view.params_json(id)
    }

    /// The attributes decisions read, in the order `decideInto` takes their values.
    #[napi(catch_unwind)]
    pub fn attr_names(&self) -> Vec<String> {
        self.view.attr_names()
    }

    /// A `Float64Array`-sized `ArrayBuffer` over the slots `decideInto` writes; `null` where the
    /// runtime forbids external buffers.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer | null")]
    pub fn out_buffer<'e>(&self, env: &'e Env) -> Result<Option<Unknown<'e>>> {
        // SAFETY: `env` is this call's.
        unsafe { out_buffer(env, &self.out) }
    }

    /// The handle `snapshotDecideInto` takes.
    #[napi(catch_unwind, ts_return_type = "ExternalObject<'SnapshotHandle'>")]
    pub fn handle(&self) -> External<SnapshotHandle> {
        External::new(SnapshotHandle(self.state.clone()))
    }

    /// Decision JSON (SPEC field names) for request JSON: the path for `trace` and `forced`.
    #[napi(catch_unwind)]
    pub fn decide_json(&self, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, true)?;
        Ok(self.view.snap.decide(&req.as_request(), now_or_clock(now)).to_json())
    }

    /// The exposure an `ASSIGNED` decision logs (fields other than ids) as JSON, or `null`.
    #[napi(catch_unwind)]
    pub fn exposure_json(&self, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, true)?;
        let r = req.as_request();
        let now = now_or_clock(now);
        let d = self.view.snap.decide(&r, now);
        Ok(match d.exposure(now, &[], r.context) {
            Some(x) => serde_json::to_string(&x.data).unwrap_or_else(|_| "null".into()),
            None => "null".into(),
        })
    }

    /// Flag result JSON.
    #[napi(catch_unwind)]
    pub fn flag_json(&self, key: String, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, false)?;
        Ok(self.view.snap.flag(&key, &req.as_request(), now_or_clock(now)).to_json())
    }

    /// Bulk decisions for one placement and context: typed arrays of variant codes (index into
    /// the flattened variants of `experimentsJson()`, -1 none), experiment indices, buckets (-1)
    /// and reason codes.
    #[napi(catch_unwind)]
    pub fn decide_many(
        &self,
        user_ids: Vec<Option<String>>,
        session_ids: Option<Vec<Option<String>>>,
        context_json: String,
        now: Option<f64>,
    ) -> Result<DecideManyResult> {
        let users: Vec<Option<&str>> = user_ids.iter().map(Option::as_deref).collect();
        let sessions: Option<Vec<Option<&str>>> =
            session_ids.as_ref().map(|s| s.iter().map(Option::as_deref).collect());
        self.bulk(&users, sessions.as_deref(), &context_json, now)
    }

    /// `decideMany` with the ids joined by NUL into one string (the facade's fast path: one string
    /// crosses the boundary instead of one per id). `count` is the number of ids; `null` when the
    /// string does not split into exactly that many (an id held a NUL), so the facade falls back
    /// to the array form. Empty pieces are absent ids, as null entries are.
    #[napi(catch_unwind)]
    pub fn decide_many_joined(
        &self,
        user_ids: String,
        count: u32,
        session_ids: Option<String>,
        context_json: String,
        now: Option<f64>,
    ) -> Result<Option<DecideManyResult>> {
        fn split(joined: &str, count: usize) -> Option<Vec<Option<&str>>> {
            if count == 0 {
                return joined.is_empty().then(Vec::new);
            }
            let mut out = Vec::with_capacity(count);
            out.extend(joined.split('\0').map(|s| Some(s).filter(|s| !s.is_empty())));
            (out.len() == count).then_some(out)
        }
        let n = count as usize;
        let Some(users) = split(&user_ids, n) else { return Ok(None) };
        let sessions = match &session_ids {
            Some(s) => match split(s, n) {
                Some(v) => Some(v),
                None => return Ok(None),
            },
            None => None,
        };
        self.bulk(&users, sessions.as_deref(), &context_json, now).map(Some)
    }
}

impl NativeSnapshot {
    fn bulk(
        &self,
        user_ids: &[Option<&str>],
        session_ids: Option<&[Option<&str>]>,
        context_json: &str,
        now: Option<f64>,
    ) -> Result<DecideManyResult> {
        let ctx: Map<String, Value> = match serde_json::from_str(context_json) {
            Ok(Value::Object(m)) => m,
            _ => return Err(invalid("`context` must be an object")),
        };
        let placement = match ctx.get("placement") {
            Some(Value::String(p)) => p.clone(),
            _ => return Err(invalid("`context.placement` is required")),
        };
        if session_ids.is_some_and(|s| s.len() != user_ids.len()) {
            return Err(invalid("`userIds` and `sessionIds` must have the same length"));
        }
        let now = now_or_clock(now);
        let snap = &self.view.snap;
        let mut base = Vec::with_capacity(snap.experiment_count());
        let mut total = 0i32;
        for i in 0..snap.experiment_count() {
            base.push(total);
            total += snap.experiment_at(i).map_or(0, |(_, _, vs)| vs.len() as i32);
        }
        let n = user_ids.len();
        let (mut vc, mut ec, mut bk, mut rc) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let batch = snap.batch(&Request::new(&placement).context(&ctx), now);
        for (i, &u) in user_ids.iter().enumerate() {
            let d = batch.row(u, session_ids.and_then(|s| s[i]));
            vc.push(match (d.experiment_index, d.variant_index) {
                (Some(e), Some(v)) => base[e] + v as i32,
                _ => -1,
            });
            ec.push(d.experiment_index.map_or(-1, |e| e as i32));
            bk.push(d.bucket.map_or(-1, |b| b as i32));
            rc.push(reason_code(d.reason) as u8);
        }
        Ok(DecideManyResult {
            variant_codes: Int32Array::new(vc),
            experiment_codes: Int32Array::new(ec),
            buckets: Int32Array::new(bk),
            reason_codes: Uint8Array::new(rc),
        })
    }
}

/// The hot path of `Snapshot.decide` (a [`SnapshotHandle`]): decides and writes the scalars
/// into the output buffer (see the facade). `a0`..`a3` are the values of the first `attrNames()` (`undefined` past the end); `now` is
/// milliseconds since the epoch, NaN for the clock.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn snapshot_decide_into(
    env: Env,
    #[napi(ts_arg_type = "ExternalObject<'SnapshotHandle'>")] handle: &External<SnapshotHandle>,
    placement: Unknown<'_>,
    user_id: Unknown<'_>,
    session_id: Unknown<'_>,
    context: Unknown<'_>,
    a0: Unknown<'_>,
    a1: Unknown<'_>,
    a2: Unknown<'_>,
    a3: Unknown<'_>,
    now: f64,
    flags: u32,
) -> Result<()> {
    let this = &*handle.0;
    let now = now_or_clock(Some(now));
    let given = [a0.raw(), a1.raw(), a2.raw(), a3.raw()];
    let n = this.view.attrs.len().min(GIVEN_ATTRS);
    let view = &this.view;
    // SAFETY: every handle belongs to this call.
    unsafe {
        with_request(
            env.raw(),
            view,
            &this.scratch,
            placement.raw(),
            user_id.raw(),
            session_id.raw(),
            context.raw(),
            &given[..n],
            flags,
            |r| {
                write_out(&view.snap.decide(r, now), view, &this.out);
                Ok(())
            },
        )
    }
}

/// Typed arrays of a bulk decision.
#[napi(object)]
pub struct DecideManyResult {
    /// Index into the flattened variant list, -1 when no variant.
    pub variant_codes: Int32Array,
    /// Experiment index, -1 when none.
    pub experiment_codes: Int32Array,
    /// Bucket, -1 when not computed.
    pub buckets: Int32Array,
    /// Index into `reasonNames()`.
    pub reason_codes: Uint8Array,
}

/// The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`.
#[napi(catch_unwind)]
pub fn bucket(unit_id: String, key: String, salt: String, seed: Option<u32>) -> u32 {
    vario_core::bucket(&unit_id, &key, &salt, seed.unwrap_or(0))
}

/// The xxh32 digest behind `bucket`.
#[napi(catch_unwind)]
pub fn digest(unit_id: String, key: String, salt: String, seed: Option<u32>) -> u32 {
    vario_core::digest(&unit_id, &key, &salt, seed.unwrap_or(0))
}

/// The SPEC §5 pseudonym: hex HMAC-SHA256 with `key`, hex SHA-256 without.
#[napi(catch_unwind)]
pub fn pseudonymize(unit_id: String, key: Option<String>) -> String {
    vario_core::Pseudonymizer::new(key.as_deref()).apply(&unit_id)
}

/// Diagnostics: panics inside the addon (the error proves panics are contained).
#[napi(catch_unwind)]
pub fn debug_panic() {
    panic!("debugPanic was called");
}

// ---------------------------------------------------------------------------------------------
// Client

/// The live client (native half of `Client`).
#[napi]
pub struct NativeClient {
    state: Rc<ClientState>,
}

impl std::ops::Deref for NativeClient {
    type Target = ClientState;
    fn deref(&self) -> &ClientState {
        &self.state
    }
}

/// The hot path's handle on a client (see [`SnapshotHandle`]).
pub struct ClientHandle(Rc<ClientState>);

/// A client and what its decisions use.
pub struct ClientState {
    inner: Arc<vario::Client>,
    closed: Arc<AtomicBool>,
    extra_attrs: Vec<String>,
    /// Views of the snapshots decisions were made on, by version (the current one and a few
    /// before it, so the facade can resolve a decision's indices even across a swap).
    /// Not a lock: the object is only ever called on its own JS thread.
    views: RefCell<Vec<(u64, Arc<View>)>>,
    /// The view of decisions made before any snapshot arrived (no attributes but the extras).
    no_config: Arc<View>,
    defaults_json: HashMap<String, String>,
    scratch: RefCell<Scratch>,
    out: Arc<Out>,
}

const VIEWS_KEPT: usize = 4;

impl ClientState {
    fn open(&self) -> Result<&vario::Client> {
        if self.closed.load(Ordering::Acquire) {
            return Err(err("CLOSED", "the client is closed"));
        }
        Ok(&self.inner)
    }

    fn view_of(&self, snap: &Arc<Snapshot>) -> Arc<View> {
        let mut views = self.views.borrow_mut();
        if let Some((_, v)) = views.iter().rev().find(|(_, v)| Arc::ptr_eq(&v.snap, snap)) {
            return v.clone();
        }
        let v = Arc::new(View::new(snap.clone(), &self.extra_attrs));
        views.push((snap.version(), v.clone()));
        if views.len() > VIEWS_KEPT {
            views.remove(0);
        }
        v
    }

    fn view_for(&self, version: f64) -> Option<Arc<View>> {
        let views = self.views.borrow();
        views.iter().rev().find(|(v, _)| *v as f64 == version).map(|(_, v)| v.clone())
    }

    fn current_view(&self) -> Option<Arc<View>> {
        self.inner.snapshot().map(|s| self.view_of(&s))
    }
}

/// A blocking client call run on the libuv thread pool, resolving a promise.
pub struct Blocking {
    client: Arc<vario::Client>,
    op: BlockingOp,
    timeout: Duration,
}

/// Which blocking call.
pub enum BlockingOp {
    /// `wait_for_init`.
    Init,
    /// `flush`.
    Flush,
    /// `close`.
    Close,
}

impl Task for Blocking {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self.op {
            BlockingOp::Init => self.client.wait_for_init(self.timeout).map_err(|e| err("TIMEOUT", e)),
            BlockingOp::Flush => self.client.flush(self.timeout).map_err(|e| err("TIMEOUT", e)),
            BlockingOp::Close => self.client.close(self.timeout).map_err(|e| err("TIMEOUT", e)),
        }));
        r.unwrap_or_else(|_| Err(err("INTERNAL", "panic inside vario")))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

#[napi]
impl NativeClient {
    /// Starts a client from options JSON (the Rust `Options` keys; the facade converts).
    #[napi(constructor, catch_unwind)]
    pub fn new(options_json: String) -> Result<NativeClient> {
        let mut opts = Options::from_json(&options_json).map_err(|e| err("INVALID_OPTIONS", e))?;
        if opts.sdk_name == Options::default().sdk_name {
            opts.sdk_name = "vario-node".into();
        }
        let mut extra_attrs = opts.exposure_context_keys.clone();
        extra_attrs.push("page_type".into());
        let defaults_json =
            opts.default_params.iter().map(|(k, v)| (k.clone(), Value::Object(v.clone()).to_string())).collect();
        let client = ClientBuilder::new().options(opts).build().map_err(|e| err("INVALID_OPTIONS", e))?;
        let empty = Snapshot::from_json(r#"{"schema_version":1,"version":0}"#).map_err(|e| err("INTERNAL", e))?;
        Ok(NativeClient {
            state: Rc::new(ClientState {
                inner: Arc::new(client),
                closed: Arc::new(AtomicBool::new(false)),
                no_config: Arc::new(View::new(Arc::new(empty), &extra_attrs)),
                extra_attrs,
                views: RefCell::new(Vec::new()),
                defaults_json,
                scratch: RefCell::default(),
                out: Out::new(),
            }),
        })
    }

    /// A `Float64Array`-sized `ArrayBuffer` over the slots `decideInto` writes; `null` where the
    /// runtime forbids external buffers.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer | null")]
    pub fn out_buffer<'e>(&self, env: &'e Env) -> Result<Option<Unknown<'e>>> {
        // SAFETY: `env` is this call's.
        unsafe { out_buffer(env, &self.out) }
    }

    /// The attributes of the view with this id (see `decideInto`), or null when no longer kept.
    #[napi(catch_unwind)]
    pub fn attr_names(&self, view_id: u32) -> Option<Vec<String>> {
        if self.no_config.id == view_id {
            return Some(self.no_config.attr_names());
        }
        self.views.borrow().iter().find(|(_, v)| v.id == view_id).map(|(_, v)| v.attr_names())
    }

    /// The handle `clientDecideInto` takes.
    #[napi(catch_unwind, ts_return_type = "ExternalObject<'ClientHandle'>")]
    pub fn handle(&self) -> External<ClientHandle> {
        External::new(ClientHandle(self.state.clone()))
    }

    /// `[{key, id, variants}]` of the snapshot with this version (recently used), or null.
    #[napi(catch_unwind)]
    pub fn experiments_json(&self, version: f64) -> Option<String> {
        self.view_for(version)
            .or_else(|| self.current_view().filter(|v| v.snap.version() as f64 == version))
            .map(|v| v.experiments_json())
    }

    /// Params JSON by dense id for the snapshot with this version.
    #[napi(catch_unwind)]
    pub fn params_json(&self, version: f64, id: u32) -> Option<String> {
        self.view_for(version).map(|v| v.params_json(id))
    }

    /// The caller's default params for a placement while no snapshot is loaded, as JSON.
    #[napi(catch_unwind)]
    pub fn default_params_json(&self, placement: String) -> String {
        self.defaults_json.get(&placement).cloned().unwrap_or_else(|| "{}".into())
    }

    /// Decision JSON for request JSON (the path for `trace` and `forced`).
    #[napi(catch_unwind)]
    pub fn decide_json(&self, request_json: String, expose_later: bool) -> Result<String> {
        let req = owned_request(&request_json, true)?;
        Ok(self.open()?.decide_json(&req.as_request(), if expose_later { Expose::Later } else { Expose::Now }))
    }

    /// Logs the exposure of a token; false when the queue was full (counted).
    #[napi(catch_unwind)]
    pub fn expose(&self, token: String) -> Result<bool> {
        self.open()?.expose(&token).map_err(|e| err(e.code().as_str(), e))
    }

    /// Flag result JSON on the current snapshot.
    #[napi(catch_unwind)]
    pub fn flag_json(&self, key: String, request_json: String) -> Result<String> {
        let req = owned_request(&request_json, false)?;
        Ok(self.open()?.flag_with(&key, &req.as_request(), |f| f.to_json()))
    }

    /// Queues an outcome given as JSON; false when the queue was full (counted).
    #[napi(catch_unwind)]
    pub fn track_json(&self, outcome_json: String) -> Result<bool> {
        let client = self.open()?;
        let v: Value = serde_json::from_str(&outcome_json).map_err(invalid)?;
        let o = Outcome::from_value(&v).map_err(|e| invalid(e.0))?;
        Ok(client.track(o))
    }

    /// Counters and config status as JSON (works after close).
    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.inner.stats()).unwrap_or_else(|_| "{}".into())
    }

    /// Offers snapshot JSON pushed by the caller.
    #[napi(catch_unwind)]
    pub fn update_snapshot(&self, json: String) -> Result<bool> {
        self.open()?
            .update_snapshot(&json)
            .map_err(|(kind, msg)| err(&format!("SNAPSHOT_{kind:?}").to_uppercase(), msg))
    }

    /// Resolves when the first snapshot is in use; rejects with `TIMEOUT` after `timeoutMs`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn wait_for_init(&self, timeout_ms: u32) -> Result<AsyncTask<Blocking>> {
        Ok(AsyncTask::new(Blocking {
            client: {
                self.open()?;
                self.inner.clone()
            },
            op: BlockingOp::Init,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        }))
    }

    /// Delivers what is queued; rejects with `TIMEOUT` when not done in time.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn flush(&self, timeout_ms: u32) -> Result<AsyncTask<Blocking>> {
        Ok(AsyncTask::new(Blocking {
            client: {
                self.open()?;
                self.inner.clone()
            },
            op: BlockingOp::Flush,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        }))
    }

    /// Closes the client (idempotent); rejects with `TIMEOUT` when events had to be dropped.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self, timeout_ms: u32) -> AsyncTask<Blocking> {
        self.closed.store(true, Ordering::Release);
        AsyncTask::new(Blocking {
            client: self.inner.clone(),
            op: BlockingOp::Close,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        })
    }

    /// Closes synchronously (for `process.on('exit')`), waiting at most `timeoutMs`.
    #[napi(catch_unwind)]
    pub fn close_sync(&self, timeout_ms: u32) -> bool {
        self.closed.store(true, Ordering::Release);
        self.inner.close(Duration::from_millis(u64::from(timeout_ms))).is_ok()
    }

    /// True once `close` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The hot path of `Client.decide` (a [`ClientHandle`]): decides on the current snapshot,
/// queues the exposure (or returns a token with `exposeLater`), and writes the scalars into the
/// output buffer. `a0`..`a3` are the values of the first attributes of view `viewId` (see
/// `attrNames`); when the current view is another one they are ignored and every attribute is
/// read from `context`, and the output's view slot tells the facade to refresh its list.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn client_decide_into(
    env: Env,
    #[napi(ts_arg_type = "ExternalObject<'ClientHandle'>")] handle: &External<ClientHandle>,
    placement: Unknown<'_>,
    user_id: Unknown<'_>,
    session_id: Unknown<'_>,
    context: Unknown<'_>,
    a0: Unknown<'_>,
    a1: Unknown<'_>,
    a2: Unknown<'_>,
    a3: Unknown<'_>,
    view_id: u32,
    flags: u32,
    expose_later: bool,
) -> Result<Option<String>> {
    let this = &*handle.0;
    let client = this.open()?;
    let snap = client.snapshot();
    let view = match &snap {
        Some(s) => this.view_of(s),
        None => this.no_config.clone(),
    };
    let given = [a0.raw(), a1.raw(), a2.raw(), a3.raw()];
    let n = if view.id == view_id { view.attrs.len().min(GIVEN_ATTRS) } else { 0 };
    let expose = if expose_later { Expose::Later } else { Expose::Now };
    // SAFETY: every handle belongs to this call.
    unsafe {
        with_request(
            env.raw(),
            &view,
            &this.scratch,
            placement.raw(),
            user_id.raw(),
            session_id.raw(),
            context.raw(),
            &given[..n],
            flags,
            // On the snapshot loaded above: the one whose attributes were just read.
            |r| {
                Ok(client.decide_on(snap.as_ref(), r, expose, |_, d, token| {
                    write_out(d, &view, &this.out);
                    token.map(str::to_owned)
                }))
            },
        )
    }
}
