//! Reading the caller's JS values without napi-rs conversions (no allocation per call): strings
//! as UTF-16 into reused buffers, context values as JSON, and the request of a decision from the
//! facade's arguments. The JSON form of a request (the path for `trace` and `forced`) is read by
//! the core ([`OwnedRequest`]).

use crate::errors::{coded, err, invalid};
use crate::view::View;
use napi::bindgen_prelude::Result;
use napi::sys;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::ffi::CString;
use std::ptr;
use vario_core::{ErrorCode, OwnedRequest, Request};

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
    if depth > vario::host::MAX_VALUE_DEPTH {
        return Err(invalid(format!(
            "a value nests deeper than {} levels (or holds a cycle)",
            vario::host::MAX_VALUE_DEPTH
        )));
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
pub(crate) struct Scratch {
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

/// Input flags of `decideInto` (the facade passes the same values).
pub(crate) const OPTED_OUT: u32 = 1;

/// How many attribute values the facade passes as arguments (`a0`..`a3`).
pub(crate) const GIVEN_ATTRS: usize = 4;

/// Runs `f` with the request read from the JS arguments. `given` are the facade's attribute
/// values in `view`'s order, or empty when it read them against another view.
///
/// # Safety
/// `env` and the values are the live handles of the current call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn with_request<R>(
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
    let mut scratch = scratch.try_borrow_mut().map_err(|_| err(ErrorCode::Internal, "re-entered"))?;
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

/// `now` in milliseconds since the epoch; the clock when absent or not finite (NaN).
pub(crate) fn now_or_clock(now: Option<f64>) -> i64 {
    match now {
        Some(n) if n.is_finite() => n as i64,
        _ => vario::now_ms(),
    }
}

/// A request given as JSON (SPEC field names).
pub(crate) fn owned_request(json: &str, require_placement: bool) -> Result<OwnedRequest> {
    OwnedRequest::from_json(json, require_placement).map_err(|e| coded(&e))
}
