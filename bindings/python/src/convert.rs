//! Python <-> JSON values: request values in, decision fields, stats and lints out.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

use crate::errors::invalid;

/// A Python value as JSON, converted with an explicit stack instead of recursion: however deep the
/// value, the C stack use is constant (a worker thread's small stack included). Nesting is bounded by
/// [`vario::host::MAX_VALUE_DEPTH`], so a cyclic (`v = []; v.append(v)`) or very deep value is an
/// `InvalidRequestError`, never a stack overflow or an endless loop.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Some(v) = scalar(obj)? {
        return Ok(v);
    }
    let mut stack = vec![open(obj, None)?];
    loop {
        let Some(top) = stack.last_mut() else {
            return Err(invalid("internal: empty conversion stack"));
        };
        if let Some((key, child)) = top.items.get(top.next).cloned() {
            top.next += 1;
            match scalar(&child)? {
                Some(v) => top.out.push(key, v),
                None => {
                    if stack.len() > vario::host::MAX_VALUE_DEPTH as usize {
                        return Err(invalid(format!(
                            "a value nests deeper than {} levels (or holds a cycle)",
                            vario::host::MAX_VALUE_DEPTH
                        )));
                    }
                    stack.push(open(&child, key)?);
                }
            }
            continue;
        }
        let Some(done) = stack.pop() else { continue };
        let value = done.out.into_value();
        match stack.last_mut() {
            Some(parent) => parent.out.push(done.key, value),
            None => return Ok(value),
        }
    }
}

/// A container being converted: its children (with their keys, for a mapping), the next one to
/// convert, what is converted so far, and its own key in its parent.
struct Frame<'py> {
    items: Vec<(Option<String>, Bound<'py, PyAny>)>,
    next: usize,
    out: Out,
    key: Option<String>,
}

enum Out {
    Array(Vec<Value>),
    Object(Map<String, Value>),
}

impl Out {
    fn push(&mut self, key: Option<String>, v: Value) {
        match self {
            Out::Array(a) => a.push(v),
            Out::Object(m) => {
                m.insert(key.unwrap_or_default(), v);
            }
        }
    }

    fn into_value(self) -> Value {
        match self {
            Out::Array(a) => Value::Array(a),
            Out::Object(m) => Value::Object(m),
        }
    }
}

/// `Some` for a value that holds no other values; `None` for a container (see [`open`]).
fn scalar(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if obj.is_none() {
        return Ok(Some(Value::Null));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(Value::String(s.to_str()?.to_owned())));
    }
    // bool before int: bool is a subclass of int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Some(Value::Bool(b.is_true())));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Some(Value::from(i)));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Some(Value::from(u)));
        }
        let f = obj.extract::<f64>().map_err(|_| invalid("integer out of range"))?;
        return serde_json::Number::from_f64(f)
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| invalid("integer out of range"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| invalid("numbers must be finite"));
    }
    if obj.is_instance_of::<PyDict>() || obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Ok(None);
    }
    if obj.hasattr("items")? {
        return Ok(None);
    }
    Err(invalid(format!("unsupported value of type {}", obj.get_type().name()?)))
}

/// The frame of a container: a dict (keys must be `str`), a list, a tuple, or another mapping
/// (`MappingProxyType`, e.g. params handed back in), whose items are copied into a dict first.
fn open<'py>(obj: &Bound<'py, PyAny>, key: Option<String>) -> PyResult<Frame<'py>> {
    let from_dict = |d: &Bound<'py, PyDict>| -> PyResult<Frame<'py>> {
        let mut items = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| invalid("mapping keys must be str"))?;
            items.push((Some(k.to_str()?.to_owned()), v));
        }
        Ok(Frame { out: Out::Object(Map::with_capacity(items.len())), items, next: 0, key: key.clone() })
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        return from_dict(d);
    }
    let seq = |items: Vec<Bound<'py, PyAny>>| Frame {
        out: Out::Array(Vec::with_capacity(items.len())),
        items: items.into_iter().map(|v| (None, v)).collect(),
        next: 0,
        key: key.clone(),
    };
    if let Ok(l) = obj.cast::<PyList>() {
        return Ok(seq(l.iter().collect()));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return Ok(seq(t.iter().collect()));
    }
    let d = PyDict::new(obj.py());
    d.update(obj.cast()?)?;
    from_dict(&d)
}

/// Plain Python objects (dicts, lists) from JSON: for `to_dict()`, stats and flag values.
pub(crate) fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
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

pub(crate) fn map_to_dict<'py>(py: Python<'py>, m: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in m {
        d.set_item(k, to_py(py, v)?)?;
    }
    Ok(d)
}

/// Read-only Python objects from JSON: objects become `MappingProxyType`s, arrays tuples.
pub(crate) fn frozen<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Array(a) => PyTuple::new(py, a.iter().map(|x| frozen(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Object(m) => frozen_map(py, m)?,
        other => to_py(py, other)?,
    })
}

pub(crate) fn frozen_map<'py>(py: Python<'py>, m: &Map<String, Value>) -> PyResult<Bound<'py, PyAny>> {
    static PROXY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let proxy = PROXY
        .get_or_try_init(py, || -> PyResult<_> { Ok(py.import("types")?.getattr("MappingProxyType")?.unbind()) })?;
    let d = PyDict::new(py);
    for (k, v) in m {
        d.set_item(k, frozen(py, v)?)?;
    }
    proxy.bind(py).call1((d,))
}
