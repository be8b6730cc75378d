//! `Client`: the live client (config sync, event delivery), fork-aware.

use arc_swap::{ArcSwap, ArcSwapOption};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vario::{ClientBuilder, Expose, Options, Outcome};

use crate::convert::{frozen_map, to_py, to_value};
use crate::decision::{Decision, FlagDecision};
use crate::errors::{bad_option, bad_option_value, build_error, closed, coded, invalid, safe, timed_out};
use crate::request::{parse_request, with_request};
use crate::snapshot::Snapshot;
use crate::view::{Defaults, View};

/// The live client: config sync and event delivery on background threads; decisions take no lock
/// and never wait for the network.
#[pyclass(frozen, subclass, module = "vario._vario")]
pub(crate) struct Client {
    inner: ArcSwap<vario::Client>,
    closed: AtomicBool,
    /// Serialises rebuilding after a fork.
    refork: Mutex<()>,
    view: ArcSwapOption<View>,
    defaults: HashMap<String, Defaults>,
    /// Attributes decisions read besides the targeted ones: what exposures copy.
    extra_attrs: Vec<String>,
}

impl Client {
    /// The client for this process: rebuilt on first use in a forked child whose `after_fork`
    /// hook did not run (e.g. `os.fork()` from C code).
    fn client(&self) -> PyResult<arc_swap::Guard<Arc<vario::Client>>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let c = self.inner.load();
        if !c.is_forked_copy() {
            return Ok(c);
        }
        drop(c);
        self.rebuild()?;
        Ok(self.inner.load())
    }

    fn rebuild(&self) -> PyResult<()> {
        let _g = self.refork.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.inner.load_full();
        if cur.is_forked_copy() {
            let new = cur.after_fork().map_err(build_error)?;
            self.inner.store(Arc::new(new));
            self.view.store(None);
        }
        Ok(())
    }

    fn view_of(&self, py: Python<'_>, snap: &Arc<vario_core::Snapshot>) -> Arc<View> {
        if let Some(v) = &*self.view.load() {
            if Arc::ptr_eq(&v.snap, snap) {
                return v.clone();
            }
        }
        let v = Arc::new(View::new(py, snap.clone(), &self.extra_attrs));
        self.view.store(Some(v.clone()));
        v
    }
}

fn secs(t: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(t).map_err(|_| invalid("timeouts are non-negative seconds"))
}

#[pymethods]
impl Client {
    /// Starts a client. Keyword arguments: exactly one of `config_url`, `config_path`,
    /// `bootstrap`; `sdk_key`, `ingest_url`, `sink_path`, `id_hash_key`, `default_params`,
    /// `exposure_context_keys`, `persist_path`, `queue_capacity`, `batch_size`, `dedup_capacity`,
    /// `assignment_capacity`, `max_attempts`, `gzip_threshold`, and durations in seconds:
    /// `poll_interval`, `request_timeout`, `max_backoff`, `batch_interval`, `dedup_window`,
    /// `retry_base`. Unknown keywords raise `OptionsError`. Never blocks on the network.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Client> {
        safe(|| {
            let mut v = Map::new();
            for (k, val) in options.into_iter().flat_map(|d| d.iter()) {
                let k: String = k.extract()?;
                if val.is_none() {
                    continue;
                }
                const SECONDS: [&str; 6] =
                    ["poll_interval", "request_timeout", "max_backoff", "batch_interval", "dedup_window", "retry_base"];
                if SECONDS.contains(&k.as_str()) {
                    let secs: f64 = val.extract().map_err(|_| bad_option(format!("`{k}` is in seconds")))?;
                    if !(secs >= 0.0 && secs.is_finite()) {
                        return Err(bad_option(format!("`{k}` must be non-negative seconds")));
                    }
                    v.insert(format!("{k}_ms"), Value::from((secs * 1000.0).round() as u64));
                } else if k.ends_with("_ms") {
                    return Err(bad_option(format!("unknown option `{k}` (durations are in seconds)")));
                } else {
                    let value = to_value(&val).map_err(|e| bad_option_value(&k, e))?;
                    v.insert(k, value);
                }
            }
            let mut opts = Options::from_json_value(&Value::Object(v)).map_err(build_error)?;
            if opts.sdk_name == Options::default().sdk_name {
                opts.sdk_name = "vario-python".into();
            }
            let mut defaults = HashMap::new();
            for (k, m) in &opts.default_params {
                defaults.insert(k.clone(), (frozen_map(py, m)?.unbind(), Arc::new(m.clone())));
            }
            let mut extra_attrs = opts.exposure_context_keys.clone();
            extra_attrs.push("page_type".into());
            let client = py.detach(|| ClientBuilder::new().options(opts).build()).map_err(build_error)?;
            Ok(Client {
                extra_attrs,
                inner: ArcSwap::from_pointee(client),
                closed: AtomicBool::new(false),
                refork: Mutex::new(()),
                view: ArcSwapOption::empty(),
                defaults,
            })
        })
    }

    /// Decides a request dict on the current snapshot. An `ASSIGNED` decision's exposure is queued
    /// now, or, with `expose_later=True`, handed back as `exposure_token` for `expose()`.
    #[pyo3(signature = (request, *, expose_later=false))]
    fn decide(&self, py: Python<'_>, request: &Bound<'_, PyAny>, expose_later: bool) -> PyResult<Decision> {
        safe(|| {
            let client = self.client()?;
            let parts = parse_request(request, true)?;
            let expose = if expose_later { Expose::Later } else { Expose::Now };
            // Pin the snapshot first: the context attributes read are the ones it targets.
            let snap = client.snapshot();
            let view = snap.as_ref().map(|s| self.view_of(py, s));
            let attrs = view.as_ref().map_or(&[][..], |v| &v.attrs[..]);
            with_request(&parts, Some(attrs), |r| {
                client.decide_on(snap.as_ref(), r, expose, |_, d, token| match &view {
                    Some(v) => Decision::build(py, &parts, Some(v), d, None, token),
                    None => {
                        let defaults = self.defaults.get(d.placement());
                        Decision::build(py, &parts, None, d, defaults, token)
                    }
                })
            })
        })
    }

    /// Logs the exposure carried by a token from `decide(..., expose_later=True)`. False when the
    /// queue was full (the event is dropped and counted). Raises `TokenError` for a bad token.
    fn expose(&self, token: &Bound<'_, PyString>) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            client.expose(token.to_str()?).map_err(|e| coded(&e))
        })
    }

    /// Evaluates a flag on the current snapshot (`FLAG_NOT_FOUND` before the first one).
    fn flag(&self, py: Python<'_>, key: &Bound<'_, PyString>, request: &Bound<'_, PyAny>) -> PyResult<FlagDecision> {
        safe(|| {
            let client = self.client()?;
            let key = key.to_str()?;
            let parts = parse_request(request, false)?;
            with_request(&parts, None, |r| client.flag_with(key, r, |f| FlagDecision::from_core(py, f)))
        })
    }

    /// Queues an outcome (`add_to_cart`, `purchase`, …) with the unit's recent assignments
    /// attached. False when the queue was full (dropped and counted).
    #[pyo3(signature = (event_type, *, user_id=None, session_id=None, item_id=None, value=None, currency=None, placement=None, properties=None))]
    #[allow(clippy::too_many_arguments)]
    fn track(
        &self,
        event_type: &Bound<'_, PyString>,
        user_id: Option<&Bound<'_, PyString>>,
        session_id: Option<&Bound<'_, PyString>>,
        item_id: Option<&Bound<'_, PyString>>,
        value: Option<&Bound<'_, PyAny>>,
        currency: Option<&Bound<'_, PyString>>,
        placement: Option<&Bound<'_, PyString>>,
        properties: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            let text = |s: Option<&Bound<'_, PyString>>| s.map(|s| s.to_str().map(str::to_owned)).transpose();
            let event_type = event_type.to_str()?.to_owned();
            if event_type.is_empty() {
                return Err(invalid("`event_type` must not be empty"));
            }
            let value = match value.filter(|v| !v.is_none()) {
                Some(v) => Some(v.extract::<f64>().map_err(|_| invalid("`value` must be a number"))?),
                None => None,
            };
            let properties = match properties.filter(|p| !p.is_none()).map(to_value).transpose()? {
                Some(Value::Object(m)) => m,
                None => Map::new(),
                Some(_) => return Err(invalid("`properties` must be a dict")),
            };
            let (user_id, session_id, item_id) = (text(user_id)?, text(session_id)?, text(item_id)?);
            let (currency, placement) = (text(currency)?, text(placement)?);
            let o = Outcome { user_id, session_id, event_type, item_id, value, currency, placement, properties };
            Ok(client.track(o))
        })
    }

    /// Blocks (GIL released) until the first snapshot is in use; raises `TimeoutError` with the
    /// last config error otherwise.
    #[pyo3(signature = (timeout=5.0))]
    fn wait_for_init(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            let client = self.client()?;
            let t = secs(timeout)?;
            py.detach(|| client.wait_for_init(t)).map_err(timed_out)
        })
    }

    /// Delivers everything queued so far (GIL released); raises `TimeoutError` when not done in
    /// time (the events stay queued).
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            let client = self.client()?;
            let t = secs(timeout)?;
            py.detach(|| client.flush(t)).map_err(timed_out)
        })
    }

    /// Delivers what is queued and stops the background threads (GIL released). Raises
    /// `TimeoutError` when events had to be dropped (counted). Later calls raise `ClosedError`,
    /// except `stats()` and `close()` itself, which is idempotent.
    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            if self.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let client = self.inner.load_full();
            let t = secs(timeout)?;
            py.detach(|| client.close(t)).map_err(timed_out)
        })
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Every counter and the config status.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        safe(|| to_py(py, &serde_json::to_value(self.inner.load().stats()).unwrap_or(Value::Null)))
    }

    /// Offers a snapshot pushed by the caller: True when swapped in, False when that version is
    /// already in use; raises `SnapshotError` when rejected (the snapshot in use stays).
    fn update_snapshot(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            let text = text.to_str()?;
            py.detach(|| client.update_snapshot(text)).map_err(|e| coded(&e))
        })
    }

    /// The snapshot in use, if any.
    fn snapshot(&self, py: Python<'_>) -> PyResult<Option<Snapshot>> {
        safe(|| Ok(self.inner.load().snapshot().map(|s| Snapshot { view: self.view_of(py, &s) })))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close(py, 5.0)
    }

    /// Called in a forked child (the facade registers it with `os.register_at_fork`): fresh
    /// background threads and HTTP connections, the parent's snapshot kept. A no-op elsewhere.
    fn after_fork(&self) -> PyResult<()> {
        safe(|| if self.inner.load().is_forked_copy() { self.rebuild() } else { Ok(()) })
    }
}
