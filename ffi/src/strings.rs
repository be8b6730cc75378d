//! C strings in and out: reading `const char *` arguments, handing `char **out` strings to the
//! caller, and `vario_string_free`.

use crate::status::{Error, null};
use std::ffi::{CStr, CString, c_char};
use std::ptr;
use vario_core::ErrorCode;

/// A C string of `s`, with any NUL written as the two characters `\0` (never fails).
pub(crate) fn c_string_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// Reads a required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| Error::new(ErrorCode::InvalidUtf8, format!("`{name}` is not UTF-8: {e}")))
}

/// Reads an optional C string argument (NULL is `None`).
///
/// # Safety
/// As [`arg`].
pub(crate) unsafe fn opt_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() { Ok(None) } else { unsafe { arg(p, name) }.map(Some) }
}

/// Hands a string to the caller through `out`; the caller frees it with [`vario_string_free`].
///
/// # Safety
/// `out` is a valid, writable pointer.
pub(crate) unsafe fn put_string(out: *mut *mut c_char, s: String) -> Result<(), Error> {
    let c = CString::new(s).map_err(|_| Error::new(ErrorCode::Internal, "output held a NUL"))?;
    // SAFETY: `out` is valid per the caller's contract.
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// Checks an out-pointer and clears it, so it is NULL on every failure path.
///
/// # Safety
/// `out` is NULL or a valid, writable pointer.
pub(crate) unsafe fn clear_out<T>(out: *mut *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe { *out = ptr::null_mut() };
    Ok(())
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
