//! `Client(**options)`: keyword arguments to the runtime's one option definition
//! (`vario::host::JsonOptions`).
//!
//! The Python names are the JSON names ([`OPTION_KEYS`]), except durations ([`DURATION_KEYS`]),
//! which Python takes as seconds (int or float) under the name without `_ms`:
//! `poll_interval=0.5` is `"poll_interval_ms": 500`. Every failure (an unknown keyword, a value of
//! the wrong type, an invalid value, two config sources) is `OptionsError` (`INVALID_OPTIONS`).
//! No option name is written here: they all come from the definition.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList};
use serde_json::{Map, Value};
use vario::host::{DURATION_KEYS, JsonOptions, OPTION_KEYS, Surface, parse_options};
use vario::{BuildError, Options};

use crate::convert::to_value;
use crate::errors::{bad_option, bad_option_value, coded};

/// The Python name of an option key: a duration's without `_ms`.
fn python_name(key: &'static str) -> &'static str {
    match key.strip_suffix("_ms") {
        Some(secs) if DURATION_KEYS.contains(&key) => secs,
        _ => key,
    }
}

/// What a Python keyword names: the JSON key, and whether its value is in seconds.
fn json_key(name: &str) -> Option<(&'static str, bool)> {
    OPTION_KEYS.iter().map(|k| (*k, python_name(k))).find(|(_, py)| *py == name).map(|(k, py)| (k, k != py))
}

fn python_names() -> String {
    OPTION_KEYS.iter().map(|k| python_name(k)).collect::<Vec<_>>().join(", ")
}

/// Seconds (int or float, not bool) as whole milliseconds.
fn millis(name: &str, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    let secs = if v.is_instance_of::<PyBool>() { None } else { v.extract::<f64>().ok() };
    match secs {
        Some(s) if s >= 0.0 && s.is_finite() => Ok((s * 1000.0).round() as u64),
        Some(_) => Err(bad_option(format!("invalid option `{name}`: must be non-negative seconds"))),
        None => Err(bad_option(format!("invalid option `{name}`: must be seconds (an int or a float)"))),
    }
}

/// The JSON options object of `Client(**options)`. `None` values are left out (the default).
fn json_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<Map<String, Value>> {
    let mut v = Map::new();
    for (k, val) in options.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract().map_err(|e| bad_option_value(&k.to_string(), e))?;
        let Some((key, in_seconds)) = json_key(&name) else {
            let hint = if DURATION_KEYS.contains(&name.as_str()) {
                format!(" (durations are in seconds: `{}`)", name.trim_end_matches("_ms"))
            } else {
                String::new()
            };
            return Err(bad_option(format!("unknown option `{name}`{hint}; the options are: {}", python_names())));
        };
        if val.is_none() {
            continue;
        }
        let value = if in_seconds {
            Value::from(millis(&name, &val)?)
        } else {
            to_value(&val).map_err(|e| bad_option_value(&name, e))?
        };
        v.insert(key.to_owned(), value);
    }
    Ok(v)
}

/// A rejected options object as `OptionsError`; a value of the wrong type is named (serde's
/// message does not say which key it was), found by reading each key alone.
fn options_error(e: BuildError, v: &Value) -> PyErr {
    if matches!(e, BuildError::InvalidOption(_)) {
        for (k, val) in v.as_object().into_iter().flatten() {
            let one = Value::Object(Map::from_iter([(k.clone(), val.clone())]));
            if let Err(BuildError::InvalidOption(why)) = JsonOptions::from_value(&one) {
                let name = OPTION_KEYS.iter().find(|o| *o == k).map_or(k.as_str(), |o| python_name(o));
                return bad_option(format!("invalid option `{name}`: {why}"));
            }
        }
    }
    coded(&e)
}

/// The options of `Client(**options)`, `sdk_name` defaulting to `vario-python`.
pub(crate) fn client_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    let v = Value::Object(json_options(options)?);
    parse_options(&v, Surface::Python).map_err(|e| options_error(e, &v))
}

/// The runtime's option keys and which of them are durations (`OPTION_KEYS`, `DURATION_KEYS`),
/// JSON names: the stubs' `Client.__new__` keywords are checked against them
/// (`tests/test_stubs.py`).
#[pyfunction]
pub(crate) fn _option_keys(py: Python<'_>) -> PyResult<(Bound<'_, PyList>, Bound<'_, PyList>)> {
    Ok((PyList::new(py, OPTION_KEYS.iter())?, PyList::new(py, DURATION_KEYS.iter())?))
}
