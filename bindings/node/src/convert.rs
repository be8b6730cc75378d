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

/// Fails with `INVALID_REQUEST` when a Node-API call did not succeed. A getter or Proxy trap that
/// threw leaves a pending JS exception: it is cleared here (a native call may not return with an
/// exception pending and an error of its own), so the caller gets one coded error, not the
/// caller's exception or a crash.
///
/// # Safety
/// `env` is the live handle of the current call.
unsafe fn check(env: sys::napi_env, st: sys::napi_status, what: &str) -> Result<()> {
    if st == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending {
        let mut e = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut e) };
        return Err(invalid(format!("reading {what} threw (a getter or Proxy trap)")));
    }
    Err(invalid(format!("{what} is unreadable")))
}

/// How many values (containers and their elements, all levels) one context value may hold. JS
/// makes a sparse array of 2^32 - 1 holes for free (`new Array(2 ** 32 - 1)`); converting it would
/// take minutes and gigabytes, so past this many the value is `INVALID_REQUEST`. `JSON.stringify`
/// (the JSON path) refuses such a value too, once its text passes V8's string limit.
const MAX_VALUE_ITEMS: u64 = 1 << 20;

/// What one JS value is: a JSON scalar, nothing (`undefined`), or a container to open.
enum Item {
    Scalar(Value),
    Undefined,
    Container,
}

/// Classifies `v`, converting it when it is a scalar. Functions, symbols, BigInts and non-finite
/// numbers are errors.
///
/// # Safety
/// `env` and `v` are the live handles of the current call.
unsafe fn scalar(env: sys::napi_env, v: sys::napi_value) -> Result<Item> {
    let mut t = 0;
    unsafe { check(env, sys::napi_typeof(env, v, &mut t), "a context value")? };
    Ok(match t {
        sys::ValueType::napi_undefined => Item::Undefined,
        sys::ValueType::napi_null => Item::Scalar(Value::Null),
        sys::ValueType::napi_boolean => {
            let mut b = false;
            unsafe { check(env, sys::napi_get_value_bool(env, v, &mut b), "a boolean")? };
            Item::Scalar(Value::Bool(b))
        }
        sys::ValueType::napi_number => {
            let mut f = 0f64;
            unsafe { check(env, sys::napi_get_value_double(env, v, &mut f), "a number")? };
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Item::Scalar(Value::from(f as i64))
            } else {
                Item::Scalar(
                    serde_json::Number::from_f64(f)
                        .map(Value::Number)
                        .ok_or_else(|| invalid("numbers must be finite"))?,
                )
            }
        }
        sys::ValueType::napi_string => {
            let mut s = String::new();
            unsafe { read_str(env, v, &mut s, &mut Vec::new(), "context value")? };
            Item::Scalar(Value::String(s))
        }
        sys::ValueType::napi_object => Item::Container,
        sys::ValueType::napi_bigint => return Err(invalid("context values must be JSON-like (no BigInt)")),
        _ => return Err(invalid("context values must be JSON-like (no functions or symbols)")),
    })
}

/// A container being converted: the JS value, its keys (an object's; null for an array), how
/// many children it has, the next one to read, what is converted so far and its key in its parent.
struct Frame {
    value: sys::napi_value,
    names: sys::napi_value,
    len: u32,
    next: u32,
    out: Out,
    key: Option<String>,
}

enum Out {
    Array(Vec<Value>),
    Object(Map<String, Value>),
}

impl Out {
    fn push(&mut self, key: Option<String>, v: Value) {
        match self {
            Out::Array(a) => a.push(v),
            Out::Object(m) => {
                m.insert(key.unwrap_or_default(), v);
            }
        }
    }

    fn into_value(self) -> Value {
        match self {
            Out::Array(a) => Value::Array(a),
            Out::Object(m) => Value::Object(m),
        }
    }
}

/// The frame of an object or array `v`.
///
/// # Safety
/// `env` and `v` are the live handles of the current call; `v` is an object.
unsafe fn open(env: sys::napi_env, v: sys::napi_value, key: Option<String>) -> Result<Frame> {
    let mut is_array = false;
    unsafe { check(env, sys::napi_is_array(env, v, &mut is_array), "a value")? };
    let mut len = 0u32;
    if is_array {
        unsafe { check(env, sys::napi_get_array_length(env, v, &mut len), "an array's length")? };
        // The length is the caller's (a sparse array claims any): reserve what it could hold.
        let out = Out::Array(Vec::with_capacity((len as usize).min(1024)));
        return Ok(Frame { value: v, names: ptr::null_mut(), len, next: 0, out, key });
    }
    let mut names = ptr::null_mut();
    unsafe {
        check(env, sys::napi_get_property_names(env, v, &mut names), "an object's keys")?;
        check(env, sys::napi_get_array_length(env, names, &mut len), "an object's keys")?;
    }
    Ok(Frame { value: v, names, len, next: 0, out: Out::Object(Map::new()), key })
}

/// A JS value as JSON (`undefined` → `None`), converted with an explicit stack instead of
/// recursion: however deep the value, the native stack use is constant (a worker thread's
/// included). Nesting is bounded by [`vario::host::MAX_VALUE_DEPTH`] (the snapshot parser's
/// bound) and a container that contains itself is refused as a cycle, so a cyclic or
/// 1,000,000-deep value is `INVALID_REQUEST`, never a stack overflow or an endless loop.
///
/// # Safety
/// `env` and `v` are the live handles of the current call.
unsafe fn read_value(env: sys::napi_env, v: sys::napi_value) -> Result<Option<Value>> {
    match unsafe { scalar(env, v)? } {
        Item::Scalar(x) => return Ok(Some(x)),
        Item::Undefined => return Ok(None),
        Item::Container => {}
    }
    let mut stack = vec![unsafe { open(env, v, None)? }];
    let mut items = 0u64;
    let mut key = String::new();
    loop {
        let Some(top) = stack.last_mut() else {
            return Err(invalid("internal: empty conversion stack"));
        };
        if top.next < top.len {
            let i = top.next;
            top.next += 1;
            items += 1;
            if items > MAX_VALUE_ITEMS {
                return Err(invalid(format!("a value holds more than {MAX_VALUE_ITEMS} items")));
            }
            let mut child = ptr::null_mut();
            let child_key = if top.names.is_null() {
                unsafe { check(env, sys::napi_get_element(env, top.value, i, &mut child), "an array element")? };
                None
            } else {
                let mut k = ptr::null_mut();
                unsafe {
                    check(env, sys::napi_get_element(env, top.names, i, &mut k), "an object's keys")?;
                    read_str(env, k, &mut key, &mut Vec::new(), "key")?;
                    check(env, sys::napi_get_property(env, top.value, k, &mut child), "a property")?;
                }
                Some(key.clone())
            };
            match unsafe { scalar(env, child)? } {
                Item::Scalar(x) => top.out.push(child_key, x),
                // An undefined element is null (as in `JSON.stringify`); an undefined property is left out.
                Item::Undefined => {
                    if child_key.is_none() {
                        top.out.push(None, Value::Null);
                    }
                }
                Item::Container => {
                    if stack.len() > vario::host::MAX_VALUE_DEPTH as usize {
                        return Err(invalid(format!(
                            "a value nests deeper than {} levels (or holds a cycle)",
                            vario::host::MAX_VALUE_DEPTH
                        )));
                    }
                    for f in &stack {
                        let mut same = false;
                        unsafe { check(env, sys::napi_strict_equals(env, f.value, child, &mut same), "a value")? };
                        if same {
                            return Err(invalid("a value holds a cycle (it contains itself)"));
                        }
                    }
                    stack.push(unsafe { open(env, child, child_key)? });
                }
            }
            continue;
        }
        let Some(done) = stack.pop() else { continue };
        let value = done.out.into_value();
        match stack.last_mut() {
            Some(parent) => parent.out.push(done.key, value),
            None => return Ok(Some(value)),
        }
    }
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
                unsafe {
                    check(env, sys::napi_get_named_property(env, ctx, cname.as_ptr(), &mut v), "a context attribute")?
                };
                v
            }
        };
        if let Some(Value::String(s)) = map.get_mut(name.as_str()) {
            if unsafe { read_string(env, v, s, wide) }.is_some() {
                continue;
            }
        }
        match unsafe { read_value(env, v)? } {
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
