//! Interleaving (SPEC §10): `interleave`, `credit`, `winner`, over the core's
//! `vario_core::interleave`.
//!
//! Rankings are any iterable of `str` (lists, tuples, numpy string arrays) or an Arrow array
//! (anything with `to_pylist()`). The merged list hands back the caller's own `str` objects, and
//! the team names are interned, so a call allocates no Python string.
//!
//! Items are never converted to UTF-8: the merge depends on the item ids only through which of
//! them are equal, so the engine sees each item as its Python hash (cached in every `str`) and
//! compares two items only when their hashes match. Equal means equal code points, the same as
//! comparing their UTF-8 on the other surfaces (a lone surrogate is an item like any other, as on
//! Node). A `str` subclass, whose `__hash__` or `__eq__` could be anything, is first copied into a
//! plain `str`.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use vario_core::interleave::{self, Coin, Credit, Impression};
use vario_core::{InterleaveMethod, Team, Winner};

use crate::errors::{coded, invalid, safe};

/// A sequence of `str` (the caller's own objects), each mapped by `f` as it is read.
fn ranking_map<'py, T>(
    v: &Bound<'py, PyAny>,
    name: &str,
    mut f: impl FnMut(Bound<'py, PyString>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    if v.is_instance_of::<PyString>() {
        return Err(invalid(format!("`{name}` must be a sequence of str, not a str")));
    }
    let list = if v.is_instance_of::<PyList>() {
        v.clone()
    } else if v.hasattr(intern!(v.py(), "to_pylist"))? {
        v.call_method0(intern!(v.py(), "to_pylist"))?
    } else {
        v.clone()
    };
    let mut one = |item: Bound<'py, PyAny>| match item.cast_into::<PyString>() {
        Ok(s) => f(s),
        Err(e) => {
            let ty = e.into_inner().get_type().name().map(|n| n.to_string()).unwrap_or_default();
            Err(invalid(format!("`{name}` holds a {ty}, not a str")))
        }
    };
    if let Ok(l) = list.cast::<PyList>() {
        // A list is read by index, without an iterator object per call.
        return l.iter().map(one).collect();
    }
    let mut out = Vec::with_capacity(list.len().unwrap_or(0));
    for item in list.try_iter()? {
        out.push(one(item?)?);
    }
    Ok(out)
}

/// A sequence of `str`, as the caller's own objects.
fn ranking<'py>(v: &Bound<'py, PyAny>, name: &str) -> PyResult<Vec<Bound<'py, PyString>>> {
    ranking_map(v, name, Ok)
}

/// One item as the engine sees it: its `str` hash and the plain `str` to compare on a match,
/// with the caller's object when that is a subclass (a plain `str` is both).
struct Item<'py> {
    hash: isize,
    key: Bound<'py, PyString>,
    subclass: Option<Bound<'py, PyString>>,
}

impl<'py> Item<'py> {
    fn new(s: Bound<'py, PyString>) -> PyResult<Item<'py>> {
        if s.is_exact_instance_of::<PyString>() {
            return Ok(Item { hash: s.hash()?, key: s, subclass: None });
        }
        let key = PyString::new(s.py(), s.to_str()?);
        Ok(Item { hash: key.hash()?, key, subclass: Some(s) })
    }

    /// The caller's own object.
    fn object(&self) -> &Bound<'py, PyString> {
        self.subclass.as_ref().unwrap_or(&self.key)
    }
}

impl std::hash::Hash for Item<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_isize(self.hash);
    }
}

impl PartialEq for Item<'_> {
    fn eq(&self, other: &Self) -> bool {
        // Comparing two plain `str`s cannot raise; were it to, "not equal" keeps the items apart.
        self.hash == other.hash && (self.key.is(&other.key) || self.key.as_any().eq(&other.key).unwrap_or(false))
    }
}

impl Eq for Item<'_> {}

/// A ranking's items, read once.
fn items<'py>(v: &Bound<'py, PyAny>, name: &str) -> PyResult<Vec<Item<'py>>> {
    ranking_map(v, name, Item::new)
}

fn team_name<'py>(py: Python<'py>, t: Team) -> &'py Bound<'py, PyString> {
    match t {
        Team::A => intern!(py, "a"),
        Team::B => intern!(py, "b"),
    }
}

/// The result of `interleave`: the merged `items` (the caller's own strings) and, per position,
/// the `teams` (`"a"` or `"b"`) that contributed it; `record()` is what its exposure logs.
#[pyclass(module = "vario._vario", frozen)]
pub(crate) struct Interleaving {
    /// The method used.
    #[pyo3(get)]
    method: Py<PyString>,
    /// The merged list.
    #[pyo3(get)]
    items: Py<PyList>,
    /// The team of each position.
    #[pyo3(get)]
    teams: Py<PyList>,
    /// What `Client.expose(token, interleaving=...)` logs.
    record: Impression,
}

impl Interleaving {
    /// The impression record (teams, and ranks for balanced) this list's exposure carries.
    pub(crate) fn impression(&self) -> &Impression {
        &self.record
    }
}

#[pymethods]
impl Interleaving {
    /// The exposure's `interleaving` field: `{"method", "teams"}`, plus `"ranks": {"a", "b"}`
    /// (each position's 1-based rank in each ranking, None where absent) for balanced.
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(&self.record).map_err(|e| invalid(e.to_string()))?;
        crate::convert::to_py(py, &v)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.items.bind(py).len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Interleaving(method={}, items={}, teams={})", self.method, self.items.bind(py), self.teams.bind(py))
    }
}

/// Merges rankings `a` and `b` by `method` (`"team_draft"` or `"balanced"`) with the coin
/// `bucket(unit_id, key, f"{salt}:{query}:{i}", seed) < 5000` (SPEC §10). `length=None` is
/// `min(len(a) + len(b), 100)`; a given length is used as is.
#[pyfunction(name = "interleave")]
#[pyo3(signature = (method, a, b, unit_id, key, salt, query="", length=None, seed=0))]
#[allow(clippy::too_many_arguments)] // the SPEC's signature, keyword arguments in Python
pub(crate) fn py_interleave(
    py: Python<'_>,
    method: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    unit_id: &str,
    key: &str,
    salt: &str,
    query: &str,
    length: Option<i64>,
    seed: u32,
) -> PyResult<Interleaving> {
    safe(|| {
        let m = interleave::parse_method(method).map_err(|e| coded(&e))?;
        merge(py, m, a, b, &Coin { unit_id, key, salt, query, seed }, length)
    })
}

/// `interleave` with a parsed method and a built coin (also `Decision.interleave`).
pub(crate) fn merge(
    py: Python<'_>,
    m: InterleaveMethod,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    coin: &Coin<'_>,
    length: Option<i64>,
) -> PyResult<Interleaving> {
    let length = match length {
        Some(n) => Some(usize::try_from(n).map_err(|_| invalid(format!("`length` must be >= 0, not {n}")))?),
        None => None,
    };
    let (ak, bk) = (items(a, "a")?, items(b, "b")?);
    let (picks, record) = interleave::interleave_recorded(m, &ak, &bk, coin, length).map_err(|e| coded(&e))?;
    let items =
        PyList::new(py, picks.iter().map(|p| if p.team == Team::A { &ak } else { &bk }[p.index as usize].object()))?;
    let teams = PyList::new(py, picks.iter().map(|p| team_name(py, p.team)))?;
    let method = match m {
        InterleaveMethod::TeamDraft => intern!(py, "team_draft"),
        InterleaveMethod::Balanced => intern!(py, "balanced"),
    };
    Ok(Interleaving { method: method.clone().unbind(), items: items.unbind(), teams: teams.unbind(), record })
}

/// Credited clicks per ranking, `{"a": n, "b": m}`, from an impression's logged record (the
/// exposure's `interleaving` field: `{"method", "teams", "ranks"?}`) and its `clicks`, with no
/// need for the two rankings: equal to `credit` over the rankings the record came from.
#[pyfunction(name = "credit_record")]
pub(crate) fn py_credit_record<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    clicks: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let v = crate::convert::to_value(record)?;
        let rec: Impression =
            serde_json::from_value(v).map_err(|e| invalid(format!("bad interleaving record: {e}")))?;
        let positions = click_positions(clicks)?;
        let c = rec.credit(&positions).map_err(|e| coded(&e))?;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "a"), c.a)?;
        d.set_item(intern!(py, "b"), c.b)?;
        Ok(d)
    })
}

fn click_positions(clicks: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut positions = Vec::new();
    for c in clicks.try_iter()? {
        let c: i64 = c?.extract()?;
        positions.push(usize::try_from(c).map_err(|_| invalid(format!("click position {c} is negative")))?);
    }
    Ok(positions)
}

/// Credited clicks per ranking, `{"a": n, "b": m}`: `clicks` (0-based positions) on the merged
/// list that `teams` rebuilds from `a` and `b`, by `method`'s rule (SPEC §10). A position clicked
/// twice counts once.
#[pyfunction(name = "credit")]
pub(crate) fn py_credit<'py>(
    py: Python<'py>,
    method: &str,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    teams: &Bound<'py, PyAny>,
    clicks: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let m = interleave::parse_method(method).map_err(|e| coded(&e))?;
        let (at, bt) = (items(a, "a")?, items(b, "b")?);
        let team_list = ranking(teams, "teams")?;
        let teams = team_list
            .iter()
            .map(|t| interleave::parse_team(t.to_str()?).map_err(|e| coded(&e)))
            .collect::<PyResult<Vec<_>>>()?;
        let positions = click_positions(clicks)?;
        let c = interleave::credit(m, &at, &bt, &teams, &positions).map_err(|e| coded(&e))?;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "a"), c.a)?;
        d.set_item(intern!(py, "b"), c.b)?;
        Ok(d)
    })
}

/// The winner of an impression from its `credit` (`{"a": n, "b": m}`): `"a"`, `"b"`, `"tie"`
/// (equal, at least one click) or `"none"` (no clicks).
#[pyfunction(name = "winner")]
pub(crate) fn py_winner(credit: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    safe(|| {
        let get = |k: &str| -> PyResult<u32> {
            let v: i64 = credit.get_item(k)?.extract()?;
            u32::try_from(v).map_err(|_| invalid(format!("credit[{k:?}] must be a count, not {v}")))
        };
        let w: Winner = Credit { a: get("a")?, b: get("b")? }.winner();
        Ok(w.as_str())
    })
}
