//! Request dicts read straight from the caller's objects, and `now` in its accepted forms.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyString};
use serde_json::{Map, Value};
use std::cell::RefCell;
use vario_core::Request;

use crate::convert::to_value;
use crate::errors::invalid;

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
pub(crate) fn fill_context(map: &mut Map<String, Value>, dict: &Bound<'_, PyDict>) -> PyResult<()> {
    map.clear();
    for (k, v) in dict.iter() {
        let k = k.cast::<PyString>().map_err(|_| invalid("context keys must be str"))?;
        map.insert(k.to_str()?.to_owned(), to_value(&v)?);
    }
    Ok(())
}

/// The parts of a request dict, borrowed from the caller's objects.
pub(crate) struct ReqParts<'py> {
    pub(crate) placement: Option<Bound<'py, PyString>>,
    pub(crate) user: Option<Bound<'py, PyString>>,
    pub(crate) session: Option<Bound<'py, PyString>>,
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
pub(crate) fn parse_request<'py>(req: &Bound<'py, PyAny>, require_placement: bool) -> PyResult<ReqParts<'py>> {
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
pub(crate) fn with_request<'py, R>(
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

pub(crate) fn now_ms_of(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
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
