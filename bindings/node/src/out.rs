//! The output layout: where the native side writes a decision's scalars for the facade to read
//! (one `Float64Array` over memory handed over once), and the writing itself. Reasons and unit
//! types are written as their core numbers ([`Reason::code`](vario_core::Reason::code),
//! [`UnitType::code`](vario_core::UnitType::code)), which the facade names with the tables of
//! `codeTables()`.

use crate::errors::err;
use napi::bindgen_prelude::{Env, Result, Unknown};
use napi::sys;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use vario_core::{Decision, ErrorCode};

/// Slots of the output `Float64Array` (the facade reads the same indices).
pub(crate) mod slot {
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
pub(crate) struct Out([AtomicU64; slot::LEN]);

impl Out {
    /// Zeroed slots.
    pub(crate) fn new() -> Arc<Out> {
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
pub(crate) unsafe fn out_buffer<'e>(env: &'e Env, out: &Arc<Out>) -> Result<Option<Unknown<'e>>> {
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
            Err(err(ErrorCode::Internal, format!("cannot create the output buffer (status {status})")))
        };
    }
    // SAFETY: a value just created in this call's scope.
    Ok(Some(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }))
}

/// Writes a decision made against the view `view_id` into `out`.
pub(crate) fn write_out(d: &Decision<'_>, view_id: u32, out: &Out) {
    let opt = |x: Option<f64>| x.unwrap_or(-1.0);
    out.set(slot::REASON, f64::from(d.reason().code()));
    out.set(slot::EXPERIMENT, opt(d.experiment_index().map(|i| i as f64)));
    out.set(slot::VARIANT, opt(d.variant_index().map(|i| i as f64)));
    out.set(slot::PARAMS, opt(d.params_id().map(f64::from)));
    // 0 is "no unit" (the C value); the unit types are numbered from 1.
    out.set(slot::UNIT, d.unit_type().map_or(0.0, |u| f64::from(u.code())));
    out.set(slot::BUCKET, opt(d.bucket().map(f64::from)));
    out.set(slot::SHARE, d.allocation_share().unwrap_or(f64::NAN));
    out.set(slot::ITERATION, opt(d.iteration().map(|i| i as f64)));
    out.set(slot::VERSION, d.config_version() as f64);
    out.set(slot::VIEW, f64::from(view_id));
}
