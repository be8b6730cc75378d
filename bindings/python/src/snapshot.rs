//! `Snapshot`: pure decisions on a compiled snapshot, one at a time or in bulk (`decide_many`).

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::{Map, Value};
use std::sync::Arc;
use vario::host::snapshot_attributes;
use vario_core::{ErrorCode, Request};

use crate::codes::reason_names;
use crate::convert::to_py;
use crate::decision::{Decision, FlagDecision};
use crate::errors::{coded, error, file_error, invalid, safe, snapshot_error};
use crate::request::{fill_context, now_ms_of, parse_request, with_request};
use crate::view::View;

/// A compiled snapshot: pure, thread-safe decisions with an explicit `now`.
#[pyclass(frozen, module = "vario._vario")]
pub(crate) struct Snapshot {
    pub(crate) view: Arc<View>,
}

/// The per-batch tables of `decide_many` results.
#[pyclass(frozen, module = "vario._vario")]
pub(crate) struct DecisionBatch {
    #[pyo3(get)]
    variant_codes: Py<PyArray1<i32>>,
    #[pyo3(get)]
    experiment_codes: Py<PyArray1<i32>>,
    #[pyo3(get)]
    buckets: Py<PyArray1<i32>>,
    #[pyo3(get)]
    enrolled: Py<PyArray1<bool>>,
    #[pyo3(get)]
    reason_codes: Py<PyArray1<u8>>,
    #[pyo3(get)]
    variant_keys: Py<PyList>,
    #[pyo3(get)]
    variant_experiments: Py<PyList>,
    #[pyo3(get)]
    experiment_keys: Py<PyList>,
    #[pyo3(get)]
    reason_names: Py<PyList>,
    len: usize,
}

#[pymethods]
impl DecisionBatch {
    fn __len__(&self) -> usize {
        self.len
    }
}

/// Ids read from a sequence (list, tuple, numpy array, any iterable) without copying them: each
/// str is kept alive by a strong reference in `owners`, and its UTF-8 form, which CPython caches
/// inside the (immutable) str object, is read in place while the GIL is released. `None` entries
/// are absent; empty ones count as absent in the engine.
struct Ids<'py> {
    /// Bound, not `Py`: dropped with the GIL held, each is a plain decref.
    owners: Vec<Bound<'py, PyString>>,
    /// (address, length) of each id's UTF-8 bytes; address 0 for `None`.
    spans: Vec<(usize, usize)>,
}

impl<'py> Ids<'py> {
    fn read(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Ids<'py>> {
        let list = match obj.cast::<PyList>() {
            Ok(l) => l.clone(),
            Err(_) if obj.hasattr("tolist")? => obj
                .call_method0("tolist")?
                .cast_into::<PyList>()
                .map_err(|_| invalid(format!("`{what}` must be a sequence of str")))?,
            Err(_) => PyList::new(obj.py(), obj.try_iter()?.collect::<PyResult<Vec<_>>>()?)?,
        };
        let mut ids = Ids { owners: Vec::with_capacity(list.len()), spans: Vec::with_capacity(list.len()) };
        for item in list.iter() {
            if item.is_none() {
                ids.spans.push((0, 0));
                continue;
            }
            let s = item.cast_into::<PyString>().map_err(|_| invalid(format!("`{what}` must hold str or None")))?;
            let text = s.to_str()?;
            ids.spans.push((text.as_ptr() as usize, text.len()));
            ids.owners.push(s);
        }
        Ok(ids)
    }

    fn absent(n: usize) -> Ids<'py> {
        Ids { owners: Vec::new(), spans: vec![(0, 0); n] }
    }
}

/// The id at `s` of an [`Ids`] whose owners are still alive.
fn span<'a>(s: (usize, usize)) -> Option<&'a str> {
    if s.0 == 0 {
        return None;
    }
    // SAFETY: `s` was taken from `PyString::to_str` of a str that `Ids::owners` keeps alive for as
    // long as the spans are used (the caller holds the `Ids`); a str never changes, so its cached
    // UTF-8 bytes stay valid and are only read, with or without the GIL.
    Some(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(s.0 as *const u8, s.1)) })
}

/// Compiles snapshot JSON text (GIL released).
fn compile(py: Python<'_>, text: &str) -> PyResult<Snapshot> {
    let snap = py.detach(|| vario_core::Snapshot::from_json(text)).map_err(|e| snapshot_error(&e))?;
    let attrs = snapshot_attributes(&snap);
    Ok(Snapshot { view: Arc::new(View::new(py, Arc::new(snap), attrs)) })
}

#[pymethods]
impl Snapshot {
    /// Compiles snapshot JSON text (SPEC §3). Raises `SnapshotError` (with `.code`) when the
    /// document is rejected whole; invalid items are disabled and listed in `lints`.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Snapshot> {
        safe(|| compile(py, text.to_str()?))
    }

    /// Reads and compiles a snapshot file. A file that cannot be read raises `SnapshotFileError`
    /// (a `SnapshotError` with code `NOT_JSON` and an `OSError`); one that is not UTF-8 text,
    /// `SnapshotError` with code `NOT_JSON`.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Snapshot> {
        safe(|| {
            let bytes = std::fs::read(&path).map_err(|e| file_error(&path, &e))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| error(ErrorCode::NotJson, format!("{}: not UTF-8 text: {e}", path.display())))?;
            compile(py, &text)
        })
    }

    /// The snapshot's version.
    #[getter]
    fn version(&self) -> u64 {
        self.view.snap.version()
    }

    /// Findings of compilation: a list of `{code, severity, item, message}` dicts.
    #[getter]
    fn lints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &serde_json::to_value(self.view.snap.lints()).unwrap_or(Value::Null))
    }

    /// Decides a request dict (`user_id`, `session_id`, `consent`, `trace`, `forced`, `context`
    /// with `placement`) at `now` (int milliseconds since the epoch, a datetime or an RFC 3339
    /// str; default: the current time).
    #[pyo3(signature = (request, now=None))]
    fn decide(&self, py: Python<'_>, request: &Bound<'_, PyAny>, now: Option<&Bound<'_, PyAny>>) -> PyResult<Decision> {
        safe(|| {
            let now = now_ms_of(now)?;
            let parts = parse_request(request, true)?;
            with_request(&parts, Some(&self.view.attrs), |r| {
                let d = self.view.snap.decide(r, now);
                Decision::build(py, &parts, Some(&self.view), &d, None, None)
            })
        })
    }

    /// The exposure an `ASSIGNED` decision of this request logs (SPEC §5 fields other than the
    /// ids), or None.
    #[pyo3(signature = (request, now=None))]
    fn exposure<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        safe(|| {
            let now = now_ms_of(now)?;
            let parts = parse_request(request, true)?;
            with_request(&parts, None, |r| {
                let d = self.view.snap.decide(r, now);
                match d.exposure(now, &[], r.context) {
                    Some(x) => to_py(py, &serde_json::to_value(&x.data).unwrap_or(Value::Null)),
                    None => Ok(py.None().into_bound(py)),
                }
            })
        })
    }

    /// Evaluates a flag for a request dict (`context.placement` optional).
    #[pyo3(signature = (key, request, now=None))]
    fn flag(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyString>,
        request: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<FlagDecision> {
        safe(|| {
            let key = key.to_str()?;
            let now = now_ms_of(now)?;
            let parts = parse_request(request, false)?;
            with_request(&parts, Some(&self.view.attrs), |r| {
                FlagDecision::from_core(py, &self.view.snap.flag(key, r, now))
            })
        })
    }

    /// Decides one placement for many units at once, with the GIL released. `user_ids` and
    /// `session_ids` are sequences (lists, tuples, numpy arrays) of str or None of one length;
    /// `context` (with `placement`) applies to every row. Returns a `DecisionBatch` of numpy
    /// arrays: `variant_codes` (index into `variant_keys` / `variant_experiments`, -1 for no
    /// variant), `experiment_codes` (index into `experiment_keys`, -1), `buckets` (-1 when not
    /// computed), `enrolled` (reason `ASSIGNED`) and `reason_codes` (index into `reason_names`).
    /// Codes are stable for a snapshot, so batches can be concatenated.
    #[pyo3(signature = (user_ids, session_ids=None, context=None, now=None))]
    fn decide_many<'py>(
        &self,
        py: Python<'py>,
        user_ids: &Bound<'py, PyAny>,
        session_ids: Option<&Bound<'py, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<DecisionBatch> {
        safe(|| {
            let now = now_ms_of(now)?;
            let mut ctx = Map::new();
            if let Some(c) = context.filter(|c| !c.is_none()) {
                let c = c.cast::<PyDict>().map_err(|_| invalid("`context` must be a dict"))?;
                fill_context(&mut ctx, c)?;
            }
            let placement = match ctx.get("placement") {
                Some(Value::String(p)) => p.clone(),
                _ => return Err(invalid("`context` must carry a str `placement`")),
            };
            let users = Ids::read(user_ids, "user_ids")?;
            let sessions = match session_ids {
                Some(s) if !s.is_none() => Ids::read(s, "session_ids")?,
                _ => Ids::absent(users.spans.len()),
            };
            let (uspans, sspans) = (&users.spans, &sessions.spans);
            if sspans.len() != uspans.len() {
                return Err(invalid("`user_ids` and `session_ids` must have the same length"));
            }
            let snap = &self.view.snap;
            let codes = self.view.bulk();
            let n = uspans.len();
            let (vc, ec, bk, en, rc) = py.detach(|| {
                let mut vc = Vec::with_capacity(n);
                let mut ec = Vec::with_capacity(n);
                let mut bk = Vec::with_capacity(n);
                let mut en = Vec::with_capacity(n);
                let mut rc = Vec::with_capacity(n);
                let batch = snap.batch(&Request::new(&placement).context(&ctx), now);
                for i in 0..n {
                    let row = codes.row(&batch.row(span(uspans[i]), span(sspans[i])));
                    vc.push(row.variant);
                    ec.push(row.experiment);
                    bk.push(row.bucket);
                    en.push(row.enrolled);
                    rc.push(row.reason);
                }
                (vc, ec, bk, en, rc)
            });
            Ok(DecisionBatch {
                variant_codes: vc.into_pyarray(py).unbind(),
                experiment_codes: ec.into_pyarray(py).unbind(),
                buckets: bk.into_pyarray(py).unbind(),
                enrolled: en.into_pyarray(py).unbind(),
                reason_codes: rc.into_pyarray(py).unbind(),
                variant_keys: PyList::new(py, &codes.variant_keys)?.unbind(),
                variant_experiments: PyList::new(py, &codes.variant_experiments)?.unbind(),
                experiment_keys: PyList::new(py, &codes.experiment_keys)?.unbind(),
                reason_names: reason_names(py)?.unbind(),
                len: n,
            })
        })
    }

    /// Decides one placement for every row of Arrow columns, with the GIL released, and returns a
    /// `pyarrow.Table` (see `bindings/python/README.md`, "Backtests"). `user_ids` and
    /// `session_ids`: Arrow string columns (string, large_string, string_view or dictionary;
    /// nulls for absent ids), read in place through the Arrow PyCapsule interface; `context`: a
    /// dict with the `placement` and other attributes, each a scalar or an Arrow column of per-row
    /// values; `at`: per-row timestamps, each row's `now` (default: `now` for every row).
    #[pyo3(signature = (user_ids, session_ids=None, context=None, now=None, at=None))]
    fn decide_arrow<'py>(
        &self,
        py: Python<'py>,
        user_ids: &Bound<'py, PyAny>,
        session_ids: Option<&Bound<'py, PyAny>>,
        context: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        safe(|| crate::arrow::decide_snapshot(py, &self.view.snap, user_ids, session_ids, context, now, at))
    }

    /// Test hook: the core's own decision JSON for request JSON text, so the Python suite can
    /// check that `Decision.to_dict()` serialises byte for byte like the Rust engine.
    fn _decide_json(&self, request_json: &str, now: i64) -> PyResult<String> {
        safe(|| {
            let req = vario_core::OwnedRequest::from_json(request_json, true).map_err(|e| coded(&e))?;
            Ok(self.view.snap.decide(&req.as_request(), now).to_json())
        })
    }

    fn __repr__(&self) -> String {
        format!("Snapshot(version={})", self.view.snap.version())
    }
}
