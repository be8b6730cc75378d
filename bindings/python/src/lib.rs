//! `vario._vario`: the native module behind the `vario` Python package.
//!
//! The Python facade (`python/vario/__init__.py`) re-exports everything here and adds fork and
//! exit handling. Design points:
//!
//! - **No JSON per call.** Requests are read straight from the caller's dict; the context is
//!   converted into a thread-local map that is updated in place when consecutive requests have the
//!   same keys (the common case), so steady-state decisions allocate nothing for it.
//! - **Nothing rebuilt per call.** Each snapshot gets a [`View`] that converts every experiment key,
//!   variant key and params map to a Python object once, on first use; decisions hand out
//!   references. Params are read-only mappings (`types.MappingProxyType`), so a caller cannot
//!   corrupt what the next decision returns.
//! - **GIL released** for bulk decisions and for everything that waits (flush, close, init).
//! - **Panics** are caught at every entry point and raised as `vario.InternalError`.

use arc_swap::{ArcSwap, ArcSwapOption};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use vario::{ClientBuilder, Expose, Options, Outcome};
use vario_core::Coded;
use vario_core::{Decision as CoreDecision, FlagDecision as CoreFlag, Reason, Request, UnitType};

pyo3::create_exception!(vario, VarioError, PyException, "Base class of every error raised by vario.");
pyo3::create_exception!(vario, InvalidRequestError, VarioError, "A request or outcome was malformed.");
pyo3::create_exception!(vario, SnapshotError, VarioError, "A snapshot was rejected whole (`code` says why).");
pyo3::create_exception!(vario, OptionsError, VarioError, "Client options were invalid.");
pyo3::create_exception!(vario, TokenError, VarioError, "An exposure token was refused (`code` says why).");
pyo3::create_exception!(vario, TimeoutError, VarioError, "An operation did not finish within its timeout.");
pyo3::create_exception!(vario, ClosedError, VarioError, "The client is closed.");
pyo3::create_exception!(vario, InternalError, VarioError, "A bug inside vario (a caught Rust panic).");

/// An exception instance with a `code` attribute.
fn coded(py: Python<'_>, err: PyErr, code: &str) -> PyErr {
    let _ = err.value(py).setattr("code", code);
    err
}

/// Runs `f`, turning a Rust panic into `InternalError` instead of a crash or a `PanicException`.
fn safe<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!("panic inside vario (please report): {msg}")))
        }
    }
}

fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidRequestError::new_err(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Python <-> JSON values

fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    // bool before int: bool is a subclass of int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return serde_json::Number::from_f64(obj.extract::<f64>()?)
            .map(Value::Number)
            .ok_or_else(|| invalid("integer out of range"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| invalid("numbers must be finite"));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| invalid("mapping keys must be str"))?;
            m.insert(k.to_str()?.to_owned(), to_value(&v)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|v| to_value(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|v| to_value(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if obj.hasattr("items")? {
        // Other mappings (MappingProxyType, e.g. params handed back in).
        let d = PyDict::new(obj.py());
        d.update(obj.cast()?)?;
        return to_value(d.as_any());
    }
    Err(invalid(format!("unsupported value of type {}", obj.get_type().name()?)))
}

/// Plain Python objects (dicts, lists) from JSON: for `to_dict()`, stats and flag values.
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => PyList::new(py, a.iter().map(|x| to_py(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Object(m) => map_to_dict(py, m)?.into_any(),
    })
}

fn map_to_dict<'py>(py: Python<'py>, m: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in m {
        d.set_item(k, to_py(py, v)?)?;
    }
    Ok(d)
}

/// Read-only Python objects from JSON: objects become `MappingProxyType`s, arrays tuples.
fn frozen<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Array(a) => PyTuple::new(py, a.iter().map(|x| frozen(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Object(m) => frozen_map(py, m)?,
        other => to_py(py, other)?,
    })
}

fn frozen_map<'py>(py: Python<'py>, m: &Map<String, Value>) -> PyResult<Bound<'py, PyAny>> {
    static PROXY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let proxy = PROXY
        .get_or_try_init(py, || -> PyResult<_> { Ok(py.import("types")?.getattr("MappingProxyType")?.unbind()) })?;
    let d = PyDict::new(py);
    for (k, v) in m {
        d.set_item(k, frozen(py, v)?)?;
    }
    proxy.bind(py).call1((d,))
}

// ---------------------------------------------------------------------------------------------
// Interned names

const REASONS: [(Reason, &str); 17] = [
    (Reason::NoConfig, "NO_CONFIG"),
    (Reason::UnknownPlacement, "UNKNOWN_PLACEMENT"),
    (Reason::OptedOut, "OPTED_OUT"),
    (Reason::Forced, "FORCED"),
    (Reason::Shipped, "SHIPPED"),
    (Reason::Override, "OVERRIDE"),
    (Reason::Assigned, "ASSIGNED"),
    (Reason::NoExperiment, "NO_EXPERIMENT"),
    (Reason::NotRunning, "NOT_RUNNING"),
    (Reason::NotStarted, "NOT_STARTED"),
    (Reason::Ended, "ENDED"),
    (Reason::MissingUnit, "MISSING_UNIT"),
    (Reason::Holdout, "HOLDOUT"),
    (Reason::TargetingMiss, "TARGETING_MISS"),
    (Reason::LayerMiss, "LAYER_MISS"),
    (Reason::TrafficMiss, "TRAFFIC_MISS"),
    (Reason::ConfigError, "CONFIG_ERROR"),
];

fn reason_code(r: Reason) -> u8 {
    REASONS.iter().position(|(x, _)| *x == r).unwrap_or(0) as u8
}

struct Names {
    reasons: Vec<Py<PyString>>,
    user: Py<PyString>,
    session: Py<PyString>,
}

fn names(py: Python<'_>) -> &Names {
    static NAMES: PyOnceLock<Names> = PyOnceLock::new();
    NAMES.get_or_init(py, || Names {
        reasons: REASONS.iter().map(|(_, n)| PyString::intern(py, n).unbind()).collect(),
        user: PyString::intern(py, "user").unbind(),
        session: PyString::intern(py, "session").unbind(),
    })
}

fn unit_name(py: Python<'_>, u: UnitType) -> Py<PyString> {
    match u {
        UnitType::User => names(py).user.clone_ref(py),
        UnitType::Session => names(py).session.clone_ref(py),
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshot views

/// The caller's default params for one placement: frozen for `params`, the map for `to_dict()`.
type Defaults = (Py<PyAny>, Arc<Map<String, Value>>);

struct ExpObjs {
    key: Py<PyString>,
    id: Py<PyAny>,
    variants: Vec<Py<PyString>>,
}

/// A compiled snapshot plus its Python objects, converted lazily, once each.
struct View {
    snap: Arc<vario_core::Snapshot>,
    params: Vec<OnceLock<Py<PyAny>>>,
    experiments: Vec<OnceLock<ExpObjs>>,
    /// The context attributes decisions read (interned names), see `with_request`.
    attrs: Vec<(Py<PyString>, String)>,
}

impl View {
    /// `extra`: attributes read besides the targeted ones (a client's exposure keys).
    fn new(py: Python<'_>, snap: Arc<vario_core::Snapshot>, extra: &[String]) -> View {
        let params = (0..snap.params_count()).map(|_| OnceLock::new()).collect();
        let experiments = (0..snap.experiment_count()).map(|_| OnceLock::new()).collect();
        let mut attrs: Vec<(Py<PyString>, String)> = Vec::new();
        for name in snap.context_attributes().iter().map(|s| s.to_string()).chain(extra.iter().cloned()) {
            if name != "placement" && !attrs.iter().any(|(_, n)| *n == name) {
                attrs.push((PyString::intern(py, &name).unbind(), name));
            }
        }
        View { snap, params, experiments, attrs }
    }

    fn params(&self, py: Python<'_>, id: u32) -> PyResult<Py<PyAny>> {
        let Some(cell) = self.params.get(id as usize) else {
            return Ok(frozen_map(py, &Map::new())?.unbind());
        };
        if let Some(p) = cell.get() {
            return Ok(p.clone_ref(py));
        }
        let m = self.snap.params_by_id(id).cloned().unwrap_or_default();
        let obj = frozen_map(py, &m)?.unbind();
        Ok(cell.get_or_init(|| obj).clone_ref(py))
    }

    fn experiment(&self, py: Python<'_>, index: usize) -> PyResult<Option<&ExpObjs>> {
        let Some(cell) = self.experiments.get(index) else { return Ok(None) };
        if let Some(e) = cell.get() {
            return Ok(Some(e));
        }
        let Some((key, id, variants)) = self.snap.experiment_at(index) else { return Ok(None) };
        let objs = ExpObjs {
            key: PyString::intern(py, key).unbind(),
            id: to_py(py, id)?.unbind(),
            variants: variants.map(|v| PyString::intern(py, v).unbind()).collect(),
        };
        Ok(Some(cell.get_or_init(|| objs)))
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

thread_local! {
    /// The context map decisions read, reused across calls on this thread.
    static CONTEXT: RefCell<Map<String, Value>> = RefCell::new(Map::new());
}

/// Interned request keys: a request dict written as a literal in Python source has these very
/// objects as keys, so matching is a pointer comparison.
struct Keys {
    user_id: Py<PyString>,
    session_id: Py<PyString>,
    context: Py<PyString>,
    consent: Py<PyString>,
    trace: Py<PyString>,
    forced: Py<PyString>,
    placement: Py<PyString>,
}

fn keys(py: Python<'_>) -> &Keys {
    static KEYS: PyOnceLock<Keys> = PyOnceLock::new();
    KEYS.get_or_init(py, || Keys {
        user_id: PyString::intern(py, "user_id").unbind(),
        session_id: PyString::intern(py, "session_id").unbind(),
        context: PyString::intern(py, "context").unbind(),
        consent: PyString::intern(py, "consent").unbind(),
        trace: PyString::intern(py, "trace").unbind(),
        forced: PyString::intern(py, "forced").unbind(),
        placement: PyString::intern(py, "placement").unbind(),
    })
}

/// Updates `slot` to `v`, reusing a string buffer when both are strings.
fn assign(slot: &mut Value, v: &Bound<'_, PyAny>) -> PyResult<()> {
    if let (Value::String(old), Ok(s)) = (&mut *slot, v.cast::<PyString>()) {
        old.clear();
        old.push_str(s.to_str()?);
        return Ok(());
    }
    *slot = to_value(v)?;
    Ok(())
}

/// Makes `map` hold exactly the `attrs` present in `dict` (values replaced in place).
fn fill_attrs(
    map: &mut Map<String, Value>,
    dict: &Bound<'_, PyDict>,
    attrs: &[(Py<PyString>, String)],
) -> PyResult<()> {
    let py = dict.py();
    let mut present = 0;
    for (key, name) in attrs {
        match dict.get_item(key.bind(py))? {
            Some(v) => match map.get_mut(name.as_str()) {
                Some(slot) => {
                    present += 1;
                    assign(slot, &v)?
                }
                None => {
                    present += 1;
                    map.insert(name.clone(), to_value(&v)?);
                }
            },
            None => {
                map.shift_remove(name.as_str());
            }
        }
    }
    // Keys another snapshot's attributes left behind.
    if map.len() > present {
        map.retain(|k, _| attrs.iter().any(|(_, n)| n == k));
    }
    Ok(())
}

/// Makes `map` equal to `dict` (bulk decisions and the context of `exposure()`).
fn fill_context(map: &mut Map<String, Value>, dict: &Bound<'_, PyDict>) -> PyResult<()> {
    map.clear();
    for (k, v) in dict.iter() {
        let k = k.cast::<PyString>().map_err(|_| invalid("context keys must be str"))?;
        map.insert(k.to_str()?.to_owned(), to_value(&v)?);
    }
    Ok(())
}

/// The parts of a request dict, borrowed from the caller's objects.
struct ReqParts<'py> {
    placement: Option<Bound<'py, PyString>>,
    user: Option<Bound<'py, PyString>>,
    session: Option<Bound<'py, PyString>>,
    context: Option<Bound<'py, PyDict>>,
    consent: bool,
    trace: bool,
    forced: Option<Map<String, Value>>,
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn id_of<'py>(v: Bound<'py, PyAny>, key: &str) -> PyResult<Option<Bound<'py, PyString>>> {
    if v.is_none() {
        return Ok(None);
    }
    v.cast_into::<PyString>()
        .map(Some)
        .map_err(|e| invalid(format!("`{key}` must be a str or None, not {}", type_name(e.into_inner().as_any()))))
}

fn bool_of(v: &Bound<'_, PyAny>, key: &str, default: bool) -> PyResult<bool> {
    if v.is_none() {
        return Ok(default);
    }
    v.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| invalid(format!("`{key}` must be a bool")))
}

/// Reads a request dict in one pass over its items (keys matched by identity first, then by
/// value), so a request costs a few pointer comparisons rather than one lookup per field.
fn parse_request<'py>(req: &Bound<'py, PyAny>, require_placement: bool) -> PyResult<ReqParts<'py>> {
    let py = req.py();
    let d = req.cast::<PyDict>().map_err(|_| invalid(format!("a request must be a dict, not {}", type_name(req))))?;
    let k = keys(py);
    let mut parts = ReqParts {
        placement: None,
        user: None,
        session: None,
        context: None,
        consent: true,
        trace: false,
        forced: None,
    };
    let mut context = None;
    for (key, v) in d.iter() {
        let p = key.as_ptr();
        let name: &str = if p == k.user_id.as_ptr() {
            "user_id"
        } else if p == k.context.as_ptr() {
            "context"
        } else if p == k.session_id.as_ptr() {
            "session_id"
        } else if p == k.consent.as_ptr() {
            "consent"
        } else if p == k.trace.as_ptr() {
            "trace"
        } else if p == k.forced.as_ptr() {
            "forced"
        } else {
            match key.cast::<PyString>() {
                Ok(s) => match s.to_str()? {
                    n @ ("user_id" | "context" | "session_id" | "consent" | "trace" | "forced") => {
                        // Not interned (built at run time): same meaning.
                        match n {
                            "user_id" => "user_id",
                            "context" => "context",
                            "session_id" => "session_id",
                            "consent" => "consent",
                            "trace" => "trace",
                            _ => "forced",
                        }
                    }
                    _ => continue,
                },
                Err(_) => continue,
            }
        };
        match name {
            "user_id" => parts.user = id_of(v, name)?,
            "session_id" => parts.session = id_of(v, name)?,
            "consent" => parts.consent = bool_of(&v, name, true)?,
            "trace" => parts.trace = bool_of(&v, name, false)?,
            "forced" if v.is_none() => {}
            "forced" => match to_value(&v)? {
                Value::Object(m) if m.values().all(Value::is_string) => parts.forced = Some(m),
                _ => return Err(invalid("`forced` must map experiment keys to variant keys")),
            },
            _ => context = Some(v),
        }
    }
    if let Some(c) = context.filter(|c| !c.is_none()) {
        let c = c
            .cast_into::<PyDict>()
            .map_err(|e| invalid(format!("`context` must be a dict, not {}", type_name(e.into_inner().as_any()))))?;
        parts.placement = match c.get_item(k.placement.bind(py))? {
            Some(p) if !p.is_none() => {
                Some(p.cast_into::<PyString>().map_err(|_| invalid("`context.placement` must be a str"))?)
            }
            _ => None,
        };
        parts.context = Some(c);
    }
    if require_placement && parts.placement.is_none() {
        return Err(invalid("`context.placement` is required"));
    }
    Ok(parts)
}

/// Runs `f` with the core request built from `parts`; of the context, only `attrs` are read
/// (`None`: the whole context, for `exposure()` and flags of other surfaces' parity paths).
fn with_request<'py, R>(
    parts: &ReqParts<'py>,
    attrs: Option<&[(Py<PyString>, String)]>,
    f: impl FnOnce(&Request<'_>) -> PyResult<R>,
) -> PyResult<R> {
    let placement = match &parts.placement {
        Some(p) => p.to_str()?,
        None => "",
    };
    let user = parts.user.as_ref().map(|s| s.to_str()).transpose()?;
    let session = parts.session.as_ref().map(|s| s.to_str()).transpose()?;
    fn build<'a>(
        placement: &'a str,
        user: Option<&'a str>,
        session: Option<&'a str>,
        parts: &'a ReqParts<'_>,
        ctx: Option<&'a Map<String, Value>>,
    ) -> Request<'a> {
        let mut r = Request::new(placement);
        r.user_id = user;
        r.session_id = session;
        r.context = ctx;
        r.consent = parts.consent;
        r.trace = parts.trace;
        r.forced = parts.forced.as_ref();
        r
    }
    let fill = |map: &mut Map<String, Value>, dict: &Bound<'py, PyDict>| match attrs {
        Some(a) => fill_attrs(map, dict, a),
        None => fill_context(map, dict),
    };
    match &parts.context {
        None => f(&build(placement, user, session, parts, None)),
        Some(dict) => CONTEXT.with(|cell| match cell.try_borrow_mut() {
            Ok(mut map) => {
                fill(&mut map, dict)?;
                f(&build(placement, user, session, parts, Some(&map)))
            }
            // Re-entered on this thread (a value's conversion ran Python code that decided).
            Err(_) => {
                let mut map = Map::new();
                fill(&mut map, dict)?;
                f(&build(placement, user, session, parts, Some(&map)))
            }
        }),
    }
}

fn now_ms_of(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    let Some(now) = now.filter(|n| !n.is_none()) else {
        return Ok(vario::now_ms());
    };
    if now.is_instance_of::<PyBool>() {
        return Err(invalid("`now` must be milliseconds (int), a datetime or an RFC 3339 str"));
    }
    if let Ok(ms) = now.extract::<i64>() {
        return Ok(ms);
    }
    if let Ok(s) = now.cast::<PyString>() {
        return vario_core::parse_rfc3339(s.to_str()?).ok_or_else(|| invalid("`now` is not an RFC 3339 timestamp"));
    }
    if now.hasattr("timestamp")? {
        let secs: f64 = now.call_method0("timestamp")?.extract()?;
        return Ok((secs * 1000.0).round() as i64);
    }
    Err(invalid("`now` must be milliseconds (int), a datetime or an RFC 3339 str"))
}

// ---------------------------------------------------------------------------------------------
// Decision

/// One placement decision (SPEC §5). Attributes are read-only and resolved on access from the
/// snapshot's cached objects; `params` is a read-only mapping (copy it with `dict(d.params)`);
/// `to_dict()` gives the SPEC JSON shape.
#[pyclass(frozen, module = "vario._vario")]
struct Decision {
    view: Option<Arc<View>>,
    placement: Py<PyString>,
    unit_id: Option<Py<PyString>>,
    experiment: Option<u32>,
    variant_index: Option<u32>,
    params_id: Option<u32>,
    reason_code: u8,
    unit: Option<UnitType>,
    #[pyo3(get)]
    bucket: Option<u32>,
    #[pyo3(get)]
    allocation_share: Option<f64>,
    #[pyo3(get)]
    iteration: Option<u64>,
    #[pyo3(get)]
    config_version: u64,
    #[pyo3(get)]
    trace: Option<Py<PyList>>,
    #[pyo3(get)]
    exposure_token: Option<Py<PyString>>,
    /// `NO_CONFIG`: the caller's defaults (frozen, and the map for `to_dict`).
    defaults: Option<Defaults>,
}

impl Decision {
    fn build(
        py: Python<'_>,
        parts: &ReqParts<'_>,
        view: Option<&Arc<View>>,
        d: &CoreDecision<'_>,
        defaults: Option<&Defaults>,
        token: Option<&str>,
    ) -> PyResult<Decision> {
        let placement = match &parts.placement {
            Some(p) => p.clone().unbind(),
            None => PyString::new(py, d.placement()).unbind(),
        };
        let unit_id = match d.unit_type() {
            Some(UnitType::User) => parts.user.as_ref().map(|s| s.clone().unbind()),
            Some(UnitType::Session) => parts.session.as_ref().map(|s| s.clone().unbind()),
            None => None,
        };
        let trace = match d.trace() {
            None => None,
            Some(t) => {
                let list = PyList::empty(py);
                for e in t {
                    let item = PyDict::new(py);
                    item.set_item("experiment_key", e.experiment_key)?;
                    item.set_item("reason", names(py).reasons[reason_code(e.reason) as usize].clone_ref(py))?;
                    item.set_item("bucket", e.bucket)?;
                    item.set_item("layer_bucket", e.layer_bucket)?;
                    list.append(item)?;
                }
                Some(list.unbind())
            }
        };
        let has_view = view.is_some();
        Ok(Decision {
            view: view.cloned(),
            placement,
            unit_id,
            experiment: d.experiment_index().filter(|_| has_view).map(|i| i as u32),
            variant_index: d.variant_index().map(|i| i as u32),
            params_id: d.params_id().filter(|_| has_view),
            reason_code: reason_code(d.reason()),
            unit: d.unit_type(),
            bucket: d.bucket(),
            allocation_share: d.allocation_share(),
            iteration: d.iteration(),
            config_version: d.config_version(),
            trace,
            exposure_token: token.map(|t| PyString::new(py, t).unbind()),
            defaults: defaults.map(|(o, m)| (o.clone_ref(py), m.clone())),
        })
    }

    fn exp(&self, py: Python<'_>) -> PyResult<Option<&ExpObjs>> {
        match (&self.view, self.experiment) {
            (Some(v), Some(i)) => v.experiment(py, i as usize),
            _ => Ok(None),
        }
    }
}

#[pymethods]
impl Decision {
    /// The placement asked about.
    #[getter]
    fn placement(&self, py: Python<'_>) -> Py<PyString> {
        self.placement.clone_ref(py)
    }

    /// The deciding experiment's `id` as in the snapshot, or None.
    #[getter]
    fn experiment_id(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.exp(py)?.map_or_else(|| py.None(), |e| e.id.clone_ref(py)))
    }

    /// The deciding experiment's key, or None.
    #[getter]
    fn experiment_key(&self, py: Python<'_>) -> PyResult<Option<Py<PyString>>> {
        Ok(self.exp(py)?.map(|e| e.key.clone_ref(py)))
    }

    /// The variant served, or None.
    #[getter]
    fn variant(&self, py: Python<'_>) -> PyResult<Option<Py<PyString>>> {
        let vi = self.variant_index;
        Ok(self.exp(py)?.and_then(|e| e.variants.get(vi? as usize)).map(|v| v.clone_ref(py)))
    }

    /// The params to serve (a read-only mapping shared by every decision that serves them).
    #[getter]
    fn params(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match (&self.view, self.params_id, &self.defaults) {
            (Some(v), Some(id), _) => v.params(py, id),
            (_, _, Some((obj, _))) => Ok(obj.clone_ref(py)),
            _ => Ok(frozen_map(py, &Map::new())?.unbind()),
        }
    }

    /// Why (SPEC reason name).
    #[getter]
    fn reason(&self, py: Python<'_>) -> Py<PyString> {
        names(py).reasons[self.reason_code as usize].clone_ref(py)
    }

    /// `"user"`, `"session"` or None.
    #[getter]
    fn unit_type(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.unit.map(|u| unit_name(py, u))
    }

    /// `"{experiment_key}:{unit_id}"`, or None.
    #[getter]
    fn hash_key(&self, py: Python<'_>) -> PyResult<Option<String>> {
        match (self.exp(py)?, &self.unit_id) {
            (Some(e), Some(u)) => Ok(Some(format!("{}:{}", e.key.bind(py).to_str()?, u.bind(py).to_str()?))),
            _ => Ok(None),
        }
    }

    /// True when the unit was randomised into a variant (reason `ASSIGNED`).
    #[getter]
    fn enrolled(&self) -> bool {
        REASONS[self.reason_code as usize].0 == Reason::Assigned
    }

    /// The decision as a plain dict with SPEC field names, in SPEC order (JSON-serialisable).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        safe(|| {
            let d = PyDict::new(py);
            d.set_item("placement", &self.placement)?;
            d.set_item("experiment_id", self.experiment_id(py)?)?;
            d.set_item("experiment_key", self.experiment_key(py)?)?;
            d.set_item("variant", self.variant(py)?)?;
            let params = match (&self.view, self.params_id, &self.defaults) {
                (Some(v), Some(id), _) => map_to_dict(py, v.snap.params_by_id(id).unwrap_or(&Map::new()))?,
                (_, _, Some((_, m))) => map_to_dict(py, m)?,
                _ => PyDict::new(py),
            };
            d.set_item("params", params)?;
            d.set_item("reason", self.reason(py))?;
            d.set_item("unit_type", self.unit_type(py))?;
            d.set_item("bucket", self.bucket)?;
            d.set_item("hash_key", self.hash_key(py)?)?;
            d.set_item("allocation_share", self.allocation_share)?;
            d.set_item("iteration", self.iteration)?;
            d.set_item("config_version", self.config_version)?;
            if let Some(t) = &self.trace {
                d.set_item("trace", t)?;
            }
            if let Some(t) = &self.exposure_token {
                d.set_item("exposure_token", t)?;
            }
            Ok(d)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = |o: Option<Py<PyString>>| -> PyResult<String> {
            Ok(match o {
                Some(x) => format!("'{}'", x.bind(py).to_str()?),
                None => "None".into(),
            })
        };
        Ok(format!(
            "Decision(placement='{}', experiment_key={}, variant={}, reason='{}', bucket={:?})",
            self.placement.bind(py).to_str()?,
            s(self.experiment_key(py)?)?,
            s(self.variant(py)?)?,
            REASONS[self.reason_code as usize].1,
            self.bucket
        ))
    }
}

/// One flag evaluation. `to_dict()` gives the SPEC JSON shape.
#[pyclass(frozen, module = "vario._vario")]
struct FlagDecision {
    #[pyo3(get)]
    flag: String,
    #[pyo3(get)]
    variant: Option<String>,
    #[pyo3(get)]
    value: Py<PyAny>,
    #[pyo3(get)]
    reason: String,
    #[pyo3(get)]
    rule_index: Option<usize>,
    #[pyo3(get)]
    unit_type: Option<String>,
    #[pyo3(get)]
    bucket: Option<u32>,
    #[pyo3(get)]
    shadow_variant: Option<String>,
    #[pyo3(get)]
    config_version: u64,
    json: String,
}

impl FlagDecision {
    fn from_core(py: Python<'_>, f: &CoreFlag<'_>) -> PyResult<FlagDecision> {
        let json = f.to_json();
        let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
        Ok(FlagDecision {
            flag: f.flag().to_owned(),
            variant: f.variant().map(str::to_owned),
            value: match f.value() {
                Some(v) => to_py(py, v)?.unbind(),
                None => py.None(),
            },
            reason: v["reason"].as_str().unwrap_or_default().to_owned(),
            rule_index: f.rule_index(),
            unit_type: f.unit_type().map(|u| u.as_str().to_owned()),
            bucket: f.bucket(),
            shadow_variant: f.shadow_variant().map(str::to_owned),
            config_version: f.config_version(),
            json,
        })
    }
}

#[pymethods]
impl FlagDecision {
    /// The flag result as a plain dict with SPEC field names.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v: Value = serde_json::from_str(&self.json).unwrap_or(Value::Null);
        to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!("FlagDecision(flag='{}', variant={:?}, reason='{}')", self.flag, self.variant, self.reason)
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshot

/// A compiled snapshot: pure, thread-safe decisions with an explicit `now`.
#[pyclass(frozen, module = "vario._vario")]
struct Snapshot {
    view: Arc<View>,
}

fn snapshot_error(py: Python<'_>, e: vario_core::SnapshotError) -> PyErr {
    coded(py, SnapshotError::new_err(format!("{}: {e}", e.code())), e.code().as_str())
}

/// The per-batch tables of `decide_many` results.
#[pyclass(frozen, module = "vario._vario")]
struct DecisionBatch {
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

#[pymethods]
impl Snapshot {
    /// Compiles snapshot JSON text (SPEC §3). Raises `SnapshotError` (with `.code`) when the
    /// document is rejected whole; invalid items are disabled and listed in `lints`.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Snapshot> {
        safe(|| {
            let snap = py.detach(|| vario_core::Snapshot::from_json(text)).map_err(|e| snapshot_error(py, e))?;
            Ok(Snapshot { view: Arc::new(View::new(py, Arc::new(snap), &[])) })
        })
    }

    /// Reads and compiles a snapshot file.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Snapshot> {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| coded(py, SnapshotError::new_err(format!("{}: {e}", path.display())), "IO"))?;
        Self::from_json(py, &text)
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
        key: &str,
        request: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<FlagDecision> {
        safe(|| {
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
        context: Option<&Bound<'_, PyDict>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<DecisionBatch> {
        safe(|| {
            let now = now_ms_of(now)?;
            let mut ctx = Map::new();
            if let Some(c) = context {
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
            // Variant codes: every variant of every experiment, experiment by experiment.
            let mut var_base = Vec::with_capacity(snap.experiment_count());
            let mut variant_keys = Vec::new();
            let mut variant_experiments = Vec::new();
            let mut experiment_keys = Vec::with_capacity(snap.experiment_count());
            for i in 0..snap.experiment_count() {
                var_base.push(variant_keys.len() as i32);
                if let Some((key, _, vs)) = snap.experiment_at(i) {
                    experiment_keys.push(key.to_owned());
                    for v in vs {
                        variant_keys.push(v.to_owned());
                        variant_experiments.push(key.to_owned());
                    }
                }
            }
            let n = uspans.len();
            let (vc, ec, bk, en, rc) = py.detach(|| {
                let mut vc = Vec::with_capacity(n);
                let mut ec = Vec::with_capacity(n);
                let mut bk = Vec::with_capacity(n);
                let mut en = Vec::with_capacity(n);
                let mut rc = Vec::with_capacity(n);
                let batch = snap.batch(&Request::new(&placement).context(&ctx), now);
                for i in 0..n {
                    let d = batch.row(span(uspans[i]), span(sspans[i]));
                    vc.push(match (d.experiment_index, d.variant_index) {
                        (Some(e), Some(v)) => var_base[e] + v as i32,
                        _ => -1,
                    });
                    ec.push(d.experiment_index.map_or(-1, |e| e as i32));
                    bk.push(d.bucket.map_or(-1, |b| b as i32));
                    en.push(d.reason == Reason::Assigned);
                    rc.push(reason_code(d.reason));
                }
                (vc, ec, bk, en, rc)
            });
            Ok(DecisionBatch {
                variant_codes: vc.into_pyarray(py).unbind(),
                experiment_codes: ec.into_pyarray(py).unbind(),
                buckets: bk.into_pyarray(py).unbind(),
                enrolled: en.into_pyarray(py).unbind(),
                reason_codes: rc.into_pyarray(py).unbind(),
                variant_keys: PyList::new(py, variant_keys)?.unbind(),
                variant_experiments: PyList::new(py, variant_experiments)?.unbind(),
                experiment_keys: PyList::new(py, experiment_keys)?.unbind(),
                reason_names: PyList::new(py, REASONS.iter().map(|(_, n)| *n))?.unbind(),
                len: n,
            })
        })
    }

    /// Test hook: the core's own decision JSON for request JSON text, so the Python suite can
    /// check that `Decision.to_dict()` serialises byte for byte like the Rust engine.
    fn _decide_json(&self, request_json: &str, now: i64) -> PyResult<String> {
        safe(|| {
            let req = vario_core::OwnedRequest::from_json(request_json, true).map_err(|e| invalid(e.0))?;
            Ok(self.view.snap.decide(&req.as_request(), now).to_json())
        })
    }

    fn __repr__(&self) -> String {
        format!("Snapshot(version={})", self.view.snap.version())
    }
}

// ---------------------------------------------------------------------------------------------
// Module functions

/// The SPEC §1 bucket: `xxh32(f"{unit_id}:{key}:{salt}", seed) % 10000`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
fn bucket(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    vario_core::bucket(unit_id, key, salt, seed)
}

/// The full xxh32 digest behind `bucket`.
#[pyfunction]
#[pyo3(signature = (unit_id, key, salt, seed=0))]
fn digest(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    vario_core::digest(unit_id, key, salt, seed)
}

/// The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without.
#[pyfunction]
#[pyo3(signature = (unit_id, key=None))]
fn pseudonymize(unit_id: &str, key: Option<&str>) -> String {
    vario_core::Pseudonymizer::new(key).apply(unit_id)
}

// ---------------------------------------------------------------------------------------------
// Client

/// The live client: config sync and event delivery on background threads; decisions take no lock
/// and never wait for the network.
#[pyclass(frozen, subclass, module = "vario._vario")]
struct Client {
    inner: ArcSwap<vario::Client>,
    closed: AtomicBool,
    /// Serialises rebuilding after a fork.
    refork: Mutex<()>,
    view: ArcSwapOption<View>,
    defaults: HashMap<String, Defaults>,
    /// Attributes decisions read besides the targeted ones: what exposures copy.
    extra_attrs: Vec<String>,
}

fn closed_err() -> PyErr {
    ClosedError::new_err("the client is closed")
}

impl Client {
    /// The client for this process: rebuilt on first use in a forked child whose `after_fork`
    /// hook did not run (e.g. `os.fork()` from C code).
    fn client(&self) -> PyResult<arc_swap::Guard<Arc<vario::Client>>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_err());
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
            let new = cur.after_fork().map_err(|e| InternalError::new_err(e.to_string()))?;
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

fn options_error(e: vario::BuildError) -> PyErr {
    OptionsError::new_err(e.to_string())
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
                    let secs: f64 = val.extract().map_err(|_| OptionsError::new_err(format!("`{k}` is in seconds")))?;
                    if !(secs >= 0.0 && secs.is_finite()) {
                        return Err(OptionsError::new_err(format!("`{k}` must be non-negative seconds")));
                    }
                    v.insert(format!("{k}_ms"), Value::from((secs * 1000.0).round() as u64));
                } else if k.ends_with("_ms") {
                    return Err(OptionsError::new_err(format!("unknown option `{k}` (durations are in seconds)")));
                } else {
                    v.insert(k, to_value(&val)?);
                }
            }
            let mut opts = Options::from_json_value(&Value::Object(v)).map_err(options_error)?;
            if opts.sdk_name == Options::default().sdk_name {
                opts.sdk_name = "vario-python".into();
            }
            let mut defaults = HashMap::new();
            for (k, m) in &opts.default_params {
                defaults.insert(k.clone(), (frozen_map(py, m)?.unbind(), Arc::new(m.clone())));
            }
            let mut extra_attrs = opts.exposure_context_keys.clone();
            extra_attrs.push("page_type".into());
            let client = py.detach(|| ClientBuilder::new().options(opts).build()).map_err(options_error)?;
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
    fn expose(&self, py: Python<'_>, token: &str) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            client.expose(token).map_err(|e| coded(py, TokenError::new_err(e.to_string()), e.code().as_str()))
        })
    }

    /// Evaluates a flag on the current snapshot (`FLAG_NOT_FOUND` before the first one).
    fn flag(&self, py: Python<'_>, key: &str, request: &Bound<'_, PyAny>) -> PyResult<FlagDecision> {
        safe(|| {
            let client = self.client()?;
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
        event_type: String,
        user_id: Option<String>,
        session_id: Option<String>,
        item_id: Option<String>,
        value: Option<f64>,
        currency: Option<String>,
        placement: Option<String>,
        properties: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            if event_type.is_empty() {
                return Err(invalid("`event_type` must not be empty"));
            }
            let properties = match properties.map(|p| to_value(p.as_any())).transpose()? {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
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
            py.detach(|| client.wait_for_init(t)).map_err(|e| TimeoutError::new_err(e.to_string()))
        })
    }

    /// Delivers everything queued so far (GIL released); raises `TimeoutError` when not done in
    /// time (the events stay queued).
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        safe(|| {
            let client = self.client()?;
            let t = secs(timeout)?;
            py.detach(|| client.flush(t)).map_err(|e| TimeoutError::new_err(e.to_string()))
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
            py.detach(|| client.close(t)).map_err(|e| TimeoutError::new_err(e.to_string()))
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
    fn update_snapshot(&self, py: Python<'_>, text: &str) -> PyResult<bool> {
        safe(|| {
            let client = self.client()?;
            py.detach(|| client.update_snapshot(text))
                .map_err(|(kind, msg)| coded(py, SnapshotError::new_err(msg), &format!("{kind:?}")))
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

// ---------------------------------------------------------------------------------------------
// Logging: Rust `log` records to Python `logging` (logger "vario")

struct PyLogger;

impl log::Log for PyLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => 40,
            log::Level::Warn => 30,
            log::Level::Info => 20,
            log::Level::Debug => 10,
            log::Level::Trace => 5,
        };
        let msg = record.args().to_string();
        // Never let logging take the host down: errors (and panics) inside are dropped.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            Python::attach(|py| {
                let _ = py
                    .import("logging")
                    .and_then(|l| l.call_method1("getLogger", ("vario",)))
                    .and_then(|lg| lg.call_method1("log", (level, msg)));
            })
        }));
    }

    fn flush(&self) {}
}

/// Diagnostics: panics inside the extension; raises `InternalError` (proves panics are contained).
#[pyfunction]
fn _debug_panic() -> PyResult<()> {
    safe(|| panic!("_debug_panic was called"))
}

#[pymodule]
fn _vario(m: &Bound<'_, PyModule>) -> PyResult<()> {
    static LOGGER: PyLogger = PyLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(digest, m)?)?;
    m.add_function(wrap_pyfunction!(pseudonymize, m)?)?;
    m.add_function(wrap_pyfunction!(_debug_panic, m)?)?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Decision>()?;
    m.add_class::<FlagDecision>()?;
    m.add_class::<DecisionBatch>()?;
    m.add_class::<Client>()?;
    m.add("VarioError", py.get_type::<VarioError>())?;
    m.add("InvalidRequestError", py.get_type::<InvalidRequestError>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    m.add("OptionsError", py.get_type::<OptionsError>())?;
    m.add("TokenError", py.get_type::<TokenError>())?;
    m.add("TimeoutError", py.get_type::<TimeoutError>())?;
    m.add("ClosedError", py.get_type::<ClosedError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
