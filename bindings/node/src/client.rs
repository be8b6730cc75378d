//! `Client`'s native half: the live client, its decisions on the current snapshot (the hot path
//! `clientDecideInto` and the JSON path), exposures, outcomes, pushed snapshots, and the
//! blocking calls (`waitForInit`, `flush`, `close`) run as promises on the libuv thread pool.

use crate::convert::{GIVEN_ATTRS, Scratch, owned_request, with_request};
use crate::errors::{build_error, closed, coded, err, init_error, invalid, panicked, timeout};
use crate::out::{Out, out_buffer, write_out};
use crate::view::View;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vario::{ClientBuilder, Expose, Options, Outcome};
use vario_core::{ErrorCode, Snapshot};

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
            return Err(closed());
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
        // Not a napi entry point, so not covered by `catch_unwind` there: caught here.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self.op {
            BlockingOp::Init => self.client.wait_for_init(self.timeout).map_err(|e| init_error(&e)),
            BlockingOp::Flush => self.client.flush(self.timeout).map_err(|e| timeout(&e)),
            BlockingOp::Close => self.client.close(self.timeout).map_err(|e| timeout(&e)),
        }));
        r.unwrap_or_else(|p| Err(panicked(&*p)))
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
        let mut opts = Options::from_json(&options_json).map_err(|e| build_error(&e))?;
        if opts.sdk_name == Options::default().sdk_name {
            opts.sdk_name = "vario-node".into();
        }
        let mut extra_attrs = opts.exposure_context_keys.clone();
        extra_attrs.push("page_type".into());
        let defaults_json =
            opts.default_params.iter().map(|(k, v)| (k.clone(), Value::Object(v.clone()).to_string())).collect();
        let client = ClientBuilder::new().options(opts).build().map_err(|e| build_error(&e))?;
        let empty =
            Snapshot::from_json(r#"{"schema_version":1,"version":0}"#).map_err(|e| err(ErrorCode::Internal, e))?;
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
        self.open()?.expose(&token).map_err(|e| coded(&e))
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
        let o = Outcome::from_value(&v).map_err(|e| coded(&e))?;
        Ok(client.track(o))
    }

    /// Counters and config status as JSON (works after close).
    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.inner.stats()).unwrap_or_else(|_| "{}".into())
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
                    write_out(d, view.id, &this.out);
                    token.map(str::to_owned)
                }))
            },
        )
    }
}
