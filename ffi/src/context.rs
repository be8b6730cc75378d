//! Targeting attributes for the JSON-free decide path: the `vario_context` handle and its setters.

use crate::status::{fail, guard, invalid_request, null, vario_status};
use crate::strings::arg;
use serde_json::{Map, Value};
use std::ffi::c_char;

/// Targeting attributes for the JSON-free path (`page_type`, `locale`, …). Opaque; reusable
/// across requests (setting a key again replaces its value without reallocating the key). Not
/// thread-safe: one thread at a time.
pub struct vario_context {
    pub(crate) map: Map<String, Value>,
}

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
        Err(e) => return fail(&e),
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
        return fail(&invalid_request("a context number must be finite"));
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
