//! Stateless entry points: the library version, reason names, the panic self-check, and the SPEC
//! hashing and pseudonym functions. None takes a handle.

use crate::status::{guard, null, reason_name, vario_reason, vario_status};
use crate::strings::{arg, clear_out, opt_arg, put_string};
use std::ffi::c_char;
use vario_core::Pseudonymizer;

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
    reason_name(reason as u32).as_ptr()
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

/// The `event_id` an exposure token logs under (minted when the decision was made): the
/// impression id a click names as `properties.impression_id`. Free `*out` with
/// `vario_string_free`. The token's signature is not checked (redeeming checks it).
///
/// Errors: the token's own codes (`TOKEN_MALFORMED`, `TOKEN_PAYLOAD`), `NULL_ARGUMENT`,
/// `INVALID_UTF8`.
///
/// # Safety
/// `token` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_token_event_id(token: *const c_char, out: *mut *mut c_char) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            clear_out(out, "out")?;
            let t = arg(token, "token")?;
            let id = vario_core::token_event_id(t).map_err(crate::status::Error::coded)?;
            put_string(out, id)
        }
    })
}
