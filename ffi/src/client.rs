//! Clients: the `vario_client` handle (config sync, decisions, exposures, outcomes, stats) and its
//! entry points.
//!
//! The handle is the runtime's host layer ([`vario::host`]): a [`HostClient`] (the client and its
//! closed state: every call but stats and `vario_client_after_fork` goes through
//! [`HostClient::client`], which refuses with `CLOSED` after close) and a [`SnapshotCache`] of the
//! C view ([`vario_snapshot`]) of the client's current snapshot, built once per snapshot, so
//! `vario_client_decide` fills a `vario_decision` without allocating: the decision holds a
//! reference to that view until `vario_decision_release`.

use crate::snapshot::{c_request, clear_decision, vario_decision, vario_request, vario_snapshot};
use crate::status::{Error, guard, invalid_request, null, vario_reason, vario_status};
use crate::strings::{arg, c_string_lossy, clear_out, put_string};
use serde_json::Value;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;
use vario::host::{ClosedError, Closing, HostClient, SnapshotCache, Surface, empty_snapshot};
use vario::{Client, Expose, Outcome};
use vario_core::OwnedRequest;

/// A client: config sync, decisions, events. Opaque; share it across threads freely.
pub struct vario_client {
    /// The client and its closed state.
    host: HostClient,
    /// The C view of the client's current snapshot, built once per snapshot.
    views: SnapshotCache<vario_snapshot>,
    /// Holds the `NO_CONFIG` params of the options; decisions made before the first snapshot
    /// take a reference to it, so their strings stay valid until released.
    no_config: Arc<vario_snapshot>,
}

/// Borrows a client handle, open or closed.
///
/// # Safety
/// `c` is NULL or a live client handle.
unsafe fn handle<'a>(c: *const vario_client) -> Result<&'a vario_client, Error> {
    // SAFETY: per the caller's contract.
    unsafe { c.as_ref() }.ok_or_else(|| null("client"))
}

impl vario_client {
    /// The client, unless the handle is closed (`CLOSED`).
    fn open(&self) -> Result<&Client, Error> {
        self.host.client().map_err(Error::coded)
    }

    /// `QUEUE_FULL`: why the event was dropped instead of queued.
    fn queue_full(&self) -> Error {
        Error::coded(self.host.queue_full())
    }
}

/// Borrows the client of an open handle.
///
/// # Safety
/// `c` is NULL or a live client handle.
unsafe fn open_client<'a>(c: *const vario_client) -> Result<&'a Client, Error> {
    // SAFETY: per the caller's contract.
    unsafe { handle(c)? }.open()
}

fn ms(timeout_ms: u32) -> Duration {
    Duration::from_millis(u64::from(timeout_ms))
}

fn wrap_client(host: HostClient) -> vario_client {
    let mut no_config = vario_snapshot::new(empty_snapshot().clone());
    no_config.defaults_json = host
        .inner()
        .options()
        .default_params
        .iter()
        .map(|(k, v)| (k.clone(), c_string_lossy(&Value::Object(v.clone()).to_string())))
        .collect();
    vario_client { host, views: SnapshotCache::new(), no_config: Arc::new(no_config) }
}

/// Starts a client from options JSON: one of `config_url`, `config_path`, `bootstrap`; plus
/// `sdk_key`, `ingest_url`, `sink_path`, `id_hash_key`, `default_params`, `poll_interval_ms`,
/// `request_timeout_ms`, `queue_capacity`, `batch_size`, `batch_interval_ms`, `dedup_window_ms`,
/// `max_in_flight` (batches posted at once, 1 to 64, default 8), `spool_path` and
/// `spool_max_bytes` (the disk spool: undelivered batches survive the process, see
/// contract/events.md "Spool"; a directory another client holds is `VARIO_ERR_INVALID_OPTIONS`),
/// … (the keys every surface accepts, `vario::host::JsonOptions`; `sdk_name` defaults to
/// `vario-c`). An unknown key, a value of the wrong type, an invalid value or a second config
/// source is `VARIO_ERR_INVALID_OPTIONS`. Never blocks on the network. Free the handle with
/// `vario_client_free`. `snapshot_public_key` (base64 Ed25519 public key) makes every snapshot a
/// signed envelope or a refusal (`SNAPSHOT_SIGNATURE`); `allow_unsigned_tokens: true` redeems
/// unsigned exposure tokens when no `id_hash_key` is set (refused by default).
///
/// Push (contract/push.md), so a publish arrives without waiting for the poll: `stream_url` (the
/// control plane's `/sdk/v1/stream`, needs `config_url`) or `redis_url` (`redis://` or `unix://`,
/// needs `environment`; may be the only source, then no `config_url` is needed), not both;
/// `push_idle_timeout_ms` (default 45000), `push_poll_interval_ms` (the backstop poll while the
/// channel is up, default 300000) and `stale_after_ms` (stats say `config_stale` once the source
/// has not confirmed the config for this long). There is no C `wait_for_version`: watch
/// `config_version` in `vario_client_stats_json`.
///
/// # Safety
/// `options_json` is NUL-terminated; `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_new(options_json: *const c_char, out: *mut *mut vario_client) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let text = unsafe { arg(options_json, "options_json")? };
        let host = HostClient::from_json(text, Surface::C).map_err(Error::coded)?;
        // SAFETY: checked writable; freed by `vario_client_free`.
        unsafe { *out = Box::into_raw(Box::new(wrap_client(host))) };
        Ok(())
    })
}

/// Closes the client (up to 2 s to deliver queued events) if it is still open, and frees it. NULL
/// is ignored. Client decisions not released yet stay valid until `vario_decision_release`.
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
        c.wait_for_init(ms(timeout_ms)).map_err(Error::coded)
    })
}

/// Waits up to `timeout_ms` until the snapshot in use has at least `version` (a publish the host
/// knows of, reaching this client by push or poll). `VARIO_OK` once it has, `VARIO_ERR_TIMEOUT`
/// (the message names the version in use) if not in time.
///
/// # Safety
/// `client` is a live handle. Thread-safe; blocks only the calling thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_wait_for_version(
    client: *const vario_client,
    version: u64,
    timeout_ms: u32,
) -> vario_status {
    guard(|| {
        // SAFETY: per the contract.
        let c = unsafe { open_client(client)? };
        if c.wait_for_version(version, ms(timeout_ms)) {
            return Ok(());
        }
        let in_use = c.snapshot().map_or_else(|| "none".to_owned(), |s| format!("v{}", s.version()));
        Err(Error::new(
            vario_core::ErrorCode::Timeout,
            format!("version {version} not in use within {timeout_ms} ms (in use: {in_use})"),
        ))
    })
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
        let c = unsafe { handle(client)? };
        let client = c.open()?;
        let req = unsafe { c_request(request)? };
        client.decide_in(&req, Expose::Now, |snap, d, _| match snap {
            Some(snap) => {
                // A hit (every decision but the first on a snapshot) is one lock-free load, a
                // pointer comparison and an `Arc` clone: no lock, no allocation.
                let view = c.views.get_or_build(snap, |s| vario_snapshot::new(s.clone()));
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
/// `decision` is NULL or a `vario_decision` filled by Vario, whose strings are read no more. Any
/// thread may release a decision, but not one that another thread is using or releasing.
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
/// Free `*out` with `vario_string_free`.
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
        let req = OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, true).map_err(Error::coded)?;
        let json = c.decide_json(&req.as_request(), if expose_later { Expose::Later } else { Expose::Now });
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
        let c = unsafe { handle(client)? };
        let t = unsafe { arg(token, "token")? };
        match c.open()?.expose(t) {
            Ok(true) => Ok(()),
            Ok(false) => Err(c.queue_full()),
            Err(e) => Err(Error::coded(e)),
        }
    })
}

/// Logs the exposure of an interleaved impression: `token` from a decision that carried
/// `interleaving`, and the list shown, as `vario_interleave` wrote it (`teams`, `n` values) over
/// the same rankings `a` and `b` by `method`. The exposure carries the teams (and, for balanced,
/// each position's rank in both rankings), and every impression counts: no de-dup per unit.
///
/// Errors: as `vario_client_expose`; `INVALID_REQUEST` for an unknown method or team value, or
/// teams that cannot have come from `a` and `b`; `TOKEN_PAYLOAD` for more than 1000 positions.
///
/// # Safety
/// `client` is a live handle; `token` is NUL-terminated; `a`, `b` and `teams` as in
/// `vario_credit`. Nothing is kept after the call. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_expose_interleaved(
    client: *const vario_client,
    token: *const c_char,
    method: u32,
    a: *const *const c_char,
    a_len: usize,
    b: *const *const c_char,
    b_len: usize,
    teams: *const u8,
    n: usize,
) -> vario_status {
    use crate::interleave::{method_of, slice, strings, teams_of};
    guard(|| {
        // SAFETY: the caller's contract above.
        let c = unsafe { handle(client)? };
        let (t, a, b, teams) = unsafe {
            (arg(token, "token")?, strings(a, a_len, "a")?, strings(b, b_len, "b")?, slice(teams, n, "teams")?)
        };
        let method = method_of(method)?;
        let teams = teams_of(teams)?;
        let picks = vario_core::interleave::picks_from_teams(&a, &b, &teams).map_err(Error::coded)?;
        let record = vario_core::Impression::new(method, &a, &b, &picks);
        match c.open()?.expose_interleaved(t, record) {
            Ok(true) => Ok(()),
            Ok(false) => Err(c.queue_full()),
            Err(e) => Err(Error::coded(e)),
        }
    })
}

/// Evaluates flag `flag_key` on the client's current snapshot for a request given as JSON; writes
/// the flag result JSON to `*out` (`FLAG_NOT_FOUND` before the first snapshot). Free `*out` with
/// `vario_string_free`.
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
            OwnedRequest::from_json(unsafe { arg(request_json, "request_json")? }, false).map_err(Error::coded)?;
        let json = c.flag_with(key, &req.as_request(), |f| f.to_json());
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
        let c = unsafe { handle(client)? };
        let client = c.open()?;
        let text = unsafe { arg(outcome_json, "outcome_json")? };
        let v: Value = serde_json::from_str(text).map_err(|e| invalid_request(format!("outcome is not JSON: {e}")))?;
        let outcome = Outcome::from_value(&v).map_err(Error::coded)?;
        if client.track(outcome) { Ok(()) } else { Err(c.queue_full()) }
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
        c.update_snapshot(text).map(|_| ()).map_err(Error::coded)
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
        c.flush(ms(timeout_ms)).map_err(Error::coded)
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
        let c = unsafe { handle(client)? };
        match c.host.close(ms(timeout_ms)).map_err(Error::coded)? {
            Closing::Closed => Ok(()),
            // The host layer's second close is a no-op that succeeds; C documents `CLOSED`.
            Closing::AlreadyClosed => Err(Error::coded(ClosedError)),
        }
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
        let c = unsafe { handle(client)? };
        let json = serde_json::to_string(&c.host.inner().stats()).unwrap_or_else(|_| "{}".into());
        // SAFETY: checked writable.
        unsafe { put_string(out, json) }
    })
}

/// In a child process after `fork()`: a new client with the same options, fresh background threads
/// and connections, serving the parent's current snapshot. Events of the old handle in the child
/// are dropped and counted (the parent delivers what was queued before the fork); free the old
/// handle with `vario_client_free` (it returns at once in the child). Free the new handle `*out`
/// with `vario_client_free` too.
///
/// # Safety
/// `client` is a live handle; `out` is writable. Thread-safe, but every call starts another
/// client: call it once per child.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_client_after_fork(
    client: *const vario_client,
    out: *mut *mut vario_client,
) -> vario_status {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { clear_out(out, "out")? };
        let c = unsafe { handle(client)? };
        let new = c.host.after_fork().map_err(Error::coded)?;
        // SAFETY: checked writable; freed by `vario_client_free`.
        unsafe { *out = Box::into_raw(Box::new(wrap_client(new))) };
        Ok(())
    })
}
