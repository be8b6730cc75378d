//! `Client`'s native half: the live client, its decisions on the current snapshot (the hot path
//! `clientDecideInto` and the JSON path), exposures, outcomes, pushed snapshots, and the
//! blocking calls (`waitForInit`, `flush`, `close`) run as promises on the libuv thread pool.
//!
//! The client is a [`HostClient`]: it owns the closed state (every call but `stats` goes through
//! [`HostClient::client`], refused with `CLOSED` after close), parses the options with the one
//! definition ([`vario::host::JsonOptions`]) and names the events' SDK ([`Surface::Node`]). The
//! per-snapshot views are a [`SnapshotCache`].

use crate::convert::{GIVEN_ATTRS, Scratch, owned_request, with_request};
use crate::errors::{coded, invalid, panicked};
use crate::out::{Out, out_buffer, write_out};
use crate::view::View;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use vario::host::{HostClient, OPTION_KEYS, SnapshotCache, Surface, empty_snapshot};
use vario::{Expose, Outcome};
use vario_core::Snapshot;

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

/// The hot path's handle on a client (see [`SnapshotHandle`](crate::snapshot::SnapshotHandle)).
pub struct ClientHandle(Rc<ClientState>);

/// A client and what its decisions use.
pub struct ClientState {
    /// Shared with the blocking calls on the thread pool.
    host: Arc<HostClient>,
    /// Views of the snapshots decisions were made on (the current one and a few before it, so
    /// the facade can resolve a decision's indices by version even across a swap).
    views: SnapshotCache<View>,
    /// The view of decisions made before any snapshot arrived (on the shared empty snapshot).
    no_config: Arc<View>,
    defaults_json: HashMap<String, String>,
    scratch: RefCell<Scratch>,
    out: Arc<Out>,
}

/// How many snapshots' views a client keeps.
const VIEWS_KEPT: usize = 4;

impl ClientState {
    /// The client, unless closed (`CLOSED`).
    fn open(&self) -> Result<&vario::Client> {
        self.host.client().map_err(|e| coded(&e))
    }

    fn view_of(&self, snap: &Arc<Snapshot>) -> Arc<View> {
        self.views.get_or_build(snap, |s| View::new(s.clone(), self.host.context_attributes(Some(s))))
    }

    /// The kept view of the snapshot with this version (a JS number: an exact integer or none).
    fn view_for(&self, version: f64) -> Option<Arc<View>> {
        let v = version as u64;
        if v as f64 != version {
            return None;
        }
        self.views.by_version(v).map(|(_, view)| view)
    }

    fn current_view(&self) -> Option<Arc<View>> {
        self.host.inner().snapshot().map(|s| self.view_of(&s))
    }
}

/// A blocking client call run on the libuv thread pool, resolving a promise.
pub struct Blocking {
    host: Arc<HostClient>,
    op: BlockingOp,
    timeout: Duration,
}

/// Which blocking call.
pub enum BlockingOp {
    /// `wait_for_init`.
    Init,
    /// `flush`.
    Flush,
    /// `close` (the handle was marked closed on the JS thread already).
    Close,
}

impl Task for Blocking {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        // Not a napi entry point, so not covered by `catch_unwind` there: caught here. `Init` and
        // `Flush` were let through by `open()` on the JS thread; a close since then does not
        // stop them (the runtime answers either way).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self.op {
            BlockingOp::Init => self.host.inner().wait_for_init(self.timeout).map_err(|e| coded(&e)),
            BlockingOp::Flush => self.host.inner().flush(self.timeout).map_err(|e| coded(&e)),
            BlockingOp::Close => self.host.close(self.timeout).map(drop).map_err(|e| coded(&e)),
        }));
        r.unwrap_or_else(|p| Err(panicked(&*p)))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// `waitForVersion` on the thread pool: true once a snapshot of at least `version` is in use,
/// false after the timeout.
pub struct VersionWait {
    host: Arc<HostClient>,
    version: u64,
    timeout: Duration,
}

impl Task for VersionWait {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.host.inner().wait_for_version(self.version, self.timeout)
        }));
        r.map_err(|p| panicked(&*p))
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

impl NativeClient {
    fn blocking(&self, op: BlockingOp, timeout_ms: u32) -> AsyncTask<Blocking> {
        AsyncTask::new(Blocking { host: self.host.clone(), op, timeout: Duration::from_millis(u64::from(timeout_ms)) })
    }
}

/// The JSON (snake_case) name of every client option, in the order of the one definition
/// (`vario::host::OPTION_KEYS`): the facade converts its camelCase names to these, and
/// `test/options.test.js` checks its list against this one.
#[napi(catch_unwind)]
pub fn option_keys() -> Vec<String> {
    OPTION_KEYS.iter().map(|k| (*k).to_owned()).collect()
}

#[napi]
impl NativeClient {
    /// Starts a client from options JSON (the keys of `optionKeys()`; the facade converts);
    /// throws `INVALID_OPTIONS` for an unknown key, a value of the wrong type or a bad
    /// combination.
    #[napi(constructor, catch_unwind)]
    pub fn new(options_json: String) -> Result<NativeClient> {
        let host = HostClient::from_json(&options_json, Surface::Node).map_err(|e| coded(&e))?;
        let defaults_json = host
            .inner()
            .options()
            .default_params
            .iter()
            .map(|(k, v)| (k.clone(), Value::Object(v.clone()).to_string()))
            .collect();
        let no_config = Arc::new(View::new(empty_snapshot().clone(), host.context_attributes(None)));
        Ok(NativeClient {
            state: Rc::new(ClientState {
                host: Arc::new(host),
                views: SnapshotCache::with_capacity(VIEWS_KEPT),
                no_config,
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

    /// The attributes of the view with this id (see `decideInto`) on the snapshot with this
    /// version (0 before any snapshot: the no-config view), or null when no longer kept.
    #[napi(catch_unwind)]
    pub fn attr_names(&self, view_id: u32, version: f64) -> Option<Vec<String>> {
        if self.no_config.id == view_id {
            return Some(self.no_config.attr_names());
        }
        self.view_for(version).filter(|v| v.id == view_id).map(|v| v.attr_names())
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
        let client = self.open()?;
        let req = owned_request(&request_json, true)?;
        Ok(client.decide_json(&req.as_request(), if expose_later { Expose::Later } else { Expose::Now }))
    }

    /// Logs the exposure of a token; false when the queue was full (counted).
    #[napi(catch_unwind)]
    pub fn expose(&self, token: String) -> Result<bool> {
        self.open()?.expose(&token).map_err(|e| coded(&e))
    }

    /// Logs an interleaved impression: the token and the list's record as JSON
    /// (`{method, teams, ranks?}`, what `Decision.interleave` returned as `record`).
    #[napi(catch_unwind)]
    pub fn expose_interleaved(&self, token: String, record_json: String) -> Result<bool> {
        let record: vario_core::Impression = serde_json::from_str(&record_json)
            .map_err(|e| crate::errors::invalid(format!("bad interleaving record: {e}")))?;
        self.open()?.expose_interleaved(&token, record).map_err(|e| coded(&e))
    }

    /// Flag result JSON on the current snapshot.
    #[napi(catch_unwind)]
    pub fn flag_json(&self, key: String, request_json: String) -> Result<String> {
        let client = self.open()?;
        let req = owned_request(&request_json, false)?;
        Ok(client.flag_with(&key, &req.as_request(), |f| f.to_json()))
    }

    /// Queues an outcome given as JSON; false when the queue was full (counted).
    #[napi(catch_unwind)]
    pub fn track_json(&self, outcome_json: String) -> Result<bool> {
        let client = self.open()?;
        let v: Value = serde_json::from_str(&outcome_json).map_err(invalid)?;
        let o = Outcome::from_value(&v).map_err(|e| coded(&e))?;
        Ok(client.track(o))
    }

    /// Counters and config status as JSON (works after close).
    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.host.inner().stats()).unwrap_or_else(|_| "{}".into())
    }

    /// Offers snapshot JSON pushed by the caller: true when swapped in, false when that version
    /// is in use; throws `VERSION_REGRESSION` for a lower version, the `SnapshotError`'s code
    /// (`NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`) for a rejected document.
    #[napi(catch_unwind)]
    pub fn update_snapshot(&self, json: String) -> Result<bool> {
        self.open()?.update_snapshot(&json).map_err(|e| coded(&e))
    }

    /// Resolves when the first snapshot is in use; rejects with `TIMEOUT` after `timeoutMs`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn wait_for_init(&self, timeout_ms: u32) -> Result<AsyncTask<Blocking>> {
        self.open()?;
        Ok(self.blocking(BlockingOp::Init, timeout_ms))
    }

    /// Resolves `true` once a snapshot of at least `version` is in use, `false` after
    /// `timeoutMs` (versions are integers below 2^53).
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn wait_for_version(&self, version: f64, timeout_ms: u32) -> Result<AsyncTask<VersionWait>> {
        self.open()?;
        if !((0.0..=9_007_199_254_740_991.0).contains(&version) && version.fract() == 0.0) {
            return Err(invalid("version must be a non-negative integer below 2^53"));
        }
        Ok(AsyncTask::new(VersionWait {
            host: self.host.clone(),
            version: version as u64,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        }))
    }

    /// Delivers what is queued; rejects with `TIMEOUT` when not done in time.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn flush(&self, timeout_ms: u32) -> Result<AsyncTask<Blocking>> {
        self.open()?;
        Ok(self.blocking(BlockingOp::Flush, timeout_ms))
    }

    /// Closes the client (idempotent); rejects with `TIMEOUT` when events had to be dropped.
    /// The handle is marked closed at once, so the next call already throws `CLOSED`; the
    /// close itself (delivering what is queued) runs on the thread pool.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self, timeout_ms: u32) -> AsyncTask<Blocking> {
        self.host.mark_closed();
        self.blocking(BlockingOp::Close, timeout_ms)
    }

    /// Closes synchronously (for `process.on('exit')`), waiting at most `timeoutMs`.
    #[napi(catch_unwind)]
    pub fn close_sync(&self, timeout_ms: u32) -> bool {
        self.host.close(Duration::from_millis(u64::from(timeout_ms))).is_ok()
    }

    /// True once `close` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.host.is_closed()
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
                    write_out(d, view.id, &this.out);
                    token.map(str::to_owned)
                }))
            },
        )
    }
}
