//! `Client`: the live client (config sync, event delivery), fork-aware.

use arc_swap::ArcSwap;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyDict, PyString, PyTuple};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use vario::host::{Closing, HostClient, SnapshotCache};
use vario::{Expose, Outcome};

use crate::convert::{frozen_map, to_py, to_value};
use crate::decision::{Decision, FlagDecision};
use crate::errors::{coded, invalid, safe};
use crate::options::client_options;
use crate::request::{parse_request, with_request};
use crate::snapshot::Snapshot;
use crate::view::{Defaults, View};

/// The live client: config sync and event delivery on background threads; decisions take no lock
/// and never wait for the network.
#[pyclass(frozen, subclass, module = "vario._vario")]
pub(crate) struct Client {
    /// The handle, with the closed state (`HostClient::client` refuses with `CLOSED` once
    /// closed). Replaced, not mutated, when a forked child rebuilds its client.
    host: ArcSwap<HostClient>,
    /// Serialises rebuilding after a fork with marking the handle closed, so a rebuild never
    /// swaps an open handle in for one being closed.
    refork: Mutex<()>,
    views: SnapshotCache<View>,
    defaults: HashMap<String, Defaults>,
}

impl Client {
    /// Runs `f` with the open client of this process: `ClosedError` once closed; rebuilt first in
    /// a forked child whose `after_fork` hook did not run (e.g. `os.fork()` from C code).
    fn with_client<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&HostClient, &vario::Client) -> PyResult<R>,
    ) -> PyResult<R> {
        let host = self.host.load();
        match host.client() {
            Ok(client) if !client.is_forked_copy() => return f(&host, client),
            Ok(_) => {}
            Err(e) => return Err(coded(&e)),
        }
        drop(host);
        self.rebuild(py)?;
        let host = self.host.load();
        let client = host.client().map_err(|e| coded(&e))?;
        f(&host, client)
    }

    /// In a forked child: replaces the parent's client by a fresh one (not once closed).
    fn rebuild(&self, py: Python<'_>) -> PyResult<()> {
        let _g = self.refork.lock_py_attached(py).unwrap_or_else(PoisonError::into_inner);
        let cur = self.host.load_full();
        if cur.inner().is_forked_copy() && !cur.is_closed() {
            let new = cur.after_fork().map_err(|e| coded(&e))?;
            self.host.store(Arc::new(new));
            self.views.clear();
        }
        Ok(())
    }

    fn view_of(&self, py: Python<'_>, host: &HostClient, snap: &Arc<vario_core::Snapshot>) -> Arc<View> {
        self.views.get_or_build(snap, |s| View::new(py, s.clone(), host.context_attributes(Some(s))))
    }
}

fn secs(t: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(t).map_err(|_| invalid("timeouts are non-negative seconds"))
}

#[pymethods]
impl Client {
    /// Starts a client from keyword options: exactly one config source (`config_url`,
    /// `config_path` or `bootstrap`), the other keys of `vario._vario._option_keys()` (the
    /// runtime's option definition), durations in seconds without the `_ms` suffix
    /// (`poll_interval=0.5`). An unknown keyword, a wrong type or an invalid value raises
    /// `OptionsError`. Never blocks on the network.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Client> {
        safe(|| {
            let opts = client_options(options)?;
            let mut defaults = HashMap::new();
            for (k, m) in &opts.default_params {
                defaults.insert(k.clone(), (frozen_map(py, m)?.unbind(), Arc::new(m.clone())));
            }
            let host = py.detach(|| HostClient::start(opts)).map_err(|e| coded(&e))?;
            Ok(Client {
                host: ArcSwap::from_pointee(host),
                refork: Mutex::new(()),
                views: SnapshotCache::new(),
                defaults,
            })
        })
    }

    /// Decides a request dict on the current snapshot. An `ASSIGNED` decision's exposure is queued
    /// now, or, with `expose_later=True`, handed back as `exposure_token` for `expose()`.
    #[pyo3(signature = (request, *, expose_later=false))]
    fn decide(&self, py: Python<'_>, request: &Bound<'_, PyAny>, expose_later: bool) -> PyResult<Decision> {
        safe(|| {
            self.with_client(py, |host, client| {
                let parts = parse_request(request, true)?;
                let expose = if expose_later { Expose::Later } else { Expose::Now };
                // Pin the snapshot first: the context attributes read are the ones it targets.
                let snap = client.snapshot();
                let view = snap.as_ref().map(|s| self.view_of(py, host, s));
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
        })
    }

    /// Logs the exposure carried by a token from `decide(..., expose_later=True)`. False when the
    /// queue was full (the event is dropped and counted). Raises `TokenError` for a bad token.
    /// With `interleaving` (what `Decision.interleave` returned) the exposure carries the list's
    /// teams (and ranks, for balanced), and every impression counts: no de-dup per unit.
    #[pyo3(signature = (token, *, interleaving=None))]
    fn expose(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyString>,
        interleaving: Option<&Bound<'_, crate::interleave::Interleaving>>,
    ) -> PyResult<bool> {
        safe(|| {
            self.with_client(py, |_, client| {
                let token = token.to_str()?;
                match interleaving {
                    None => client.expose(token),
                    Some(il) => client.expose_interleaved(token, il.get().impression().clone()),
                }
                .map_err(|e| coded(&e))
            })
        })
    }

    /// Evaluates a flag on the current snapshot (`FLAG_NOT_FOUND` before the first one).
    fn flag(&self, py: Python<'_>, key: &Bound<'_, PyString>, request: &Bound<'_, PyAny>) -> PyResult<FlagDecision> {
        safe(|| {
            self.with_client(py, |_, client| {
                let key = key.to_str()?;
                let parts = parse_request(request, false)?;
                with_request(&parts, None, |r| client.flag_with(key, r, |f| FlagDecision::from_core(py, f)))
            })
        })
    }

    /// Queues an outcome (`add_to_cart`, `purchase`, …) with the unit's recent assignments
    /// attached. False when the queue was full (dropped and counted).
    #[pyo3(signature = (event_type, *, user_id=None, session_id=None, item_id=None, value=None, currency=None, placement=None, properties=None))]
    #[allow(clippy::too_many_arguments)]
    fn track(
        &self,
        py: Python<'_>,
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
            self.with_client(py, |_, client| {
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
        })
    }

    /// Blocks (GIL released) until the first snapshot is in use; raises `TimeoutError` with the
    /// last config error otherwise.
    #[pyo3(signature = (timeout=5.0))]
    fn wait_for_init(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            self.with_client(py, |_, client| {
                let t = secs(timeout)?;
                py.detach(|| client.wait_for_init(t)).map_err(|e| coded(&e))
            })
        })
    }

    /// Blocks (GIL released) until a snapshot of at least `version` is in use: True when it is,
    /// False after `timeout` seconds (a deploy step or a test waiting for a publish it knows of).
    #[pyo3(signature = (version, timeout=5.0))]
    fn wait_for_version(&self, py: Python<'_>, version: u64, timeout: f64) -> PyResult<bool> {
        safe(|| {
            self.with_client(py, |_, client| {
                let t = secs(timeout)?;
                Ok(py.detach(|| client.wait_for_version(version, t)))
            })
        })
    }

    /// Delivers everything queued so far (GIL released); raises `TimeoutError` when not done in
    /// time (the events stay queued).
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            self.with_client(py, |_, client| {
                let t = secs(timeout)?;
                py.detach(|| client.flush(t)).map_err(|e| coded(&e))
            })
        })
    }

    /// Delivers what is queued and stops the background threads (GIL released). Raises
    /// `TimeoutError` when events had to be dropped (counted). Later calls raise `ClosedError`,
    /// except `stats()`, `snapshot()` and `close()` itself, which is idempotent (a no-op).
    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            let t = secs(timeout)?;
            let host = {
                // Marked under the fork lock: a rebuild in a forked child sees it closed.
                let _g = self.refork.lock_py_attached(py).unwrap_or_else(PoisonError::into_inner);
                let host = self.host.load_full();
                if host.mark_closed() == Closing::AlreadyClosed {
                    return Ok(());
                }
                host
            };
            // Still stops the client, whose handle is marked already (`HostClient::mark_closed`).
            py.detach(|| host.close(t)).map(|_| ()).map_err(|e| coded(&e))
        })
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.host.load().is_closed()
    }

    /// Every counter and the config status (also after close).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        safe(|| to_py(py, &serde_json::to_value(self.host.load().inner().stats()).unwrap_or(Value::Null)))
    }

    /// Offers a snapshot pushed by the caller: True when swapped in, False when that version is
    /// already in use; raises `SnapshotError` when rejected (the snapshot in use stays).
    fn update_snapshot(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<bool> {
        safe(|| {
            self.with_client(py, |_, client| {
                let text = text.to_str()?;
                py.detach(|| client.update_snapshot(text)).map_err(|e| coded(&e))
            })
        })
    }

    /// The snapshot in use, if any (also after close).
    fn snapshot(&self, py: Python<'_>) -> PyResult<Option<Snapshot>> {
        safe(|| {
            let host = self.host.load();
            Ok(host.inner().snapshot().map(|s| Snapshot { view: self.view_of(py, &host, &s) }))
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close(py, 5.0)
    }

    /// Called in a forked child (the facade registers it with `os.register_at_fork`): fresh
    /// background threads and HTTP connections, the parent's snapshot kept. A no-op elsewhere,
    /// and for a closed client (which stays closed, starting no threads).
    fn after_fork(&self, py: Python<'_>) -> PyResult<()> {
        safe(|| if self.host.load().inner().is_forked_copy() { self.rebuild(py) } else { Ok(()) })
    }
}
