//! Python <-> JSON values: request values in, decision fields, stats and lints out.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

use crate::errors::invalid;

pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
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
        let f = obj.extract::<f64>().map_err(|_| invalid("integer out of range"))?;
        return serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid("integer out of range"));
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
