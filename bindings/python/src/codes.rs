//! The core's code tables (`vario_core::codes`) as Python sees them: interned names for the hot
//! paths, `_code_tables()` and the `Literal` aliases of the stubs. Nothing here is a copy of a
//! table: every name comes from `ALL` and `as_str()`, so a member added to the core shows up here
//! (and fails `tests/test_codes.py` until the stubs are regenerated). Reason names and their
//! small-integer codes are the host layer's (`vario::host::{REASON_NAMES, reason_index}`), the
//! tables `decide_many`'s `reason_codes` index.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use vario::host::{REASON_NAMES, reason_index};
use vario_core::{FlagReason, Reason, TABLES, UnitType};

/// The tables whose names the Python API shows, in the order the stubs list them: each is a
/// `Literal` alias in `_vario.pyi` (the generated block) and at run time.
const SHOWN: [&str; 7] = ["Reason", "FlagReason", "UnitType", "ErrorCode", "InterleaveMethod", "Team", "Winner"];

/// True when every flag reason's code is its index in `ALL` (codes `0, 1, 2, …`): names are then
/// looked up by code. (The host layer checks the same of `Reason` for `REASON_NAMES`.)
const FLAG_REASONS_DENSE: bool = {
    let mut ok = true;
    let mut i = 0;
    while i < FlagReason::ALL.len() {
        ok &= FlagReason::ALL[i].code() == i as u32;
        i += 1;
    }
    ok
};

const _: () = assert!(FLAG_REASONS_DENSE, "FlagReason codes index FlagReason::ALL");

/// Interned names: reasons by `reason_index`, flag reasons by code.
struct Names {
    reasons: Vec<Py<PyString>>,
    flag_reasons: Vec<Py<PyString>>,
    units: Vec<(UnitType, Py<PyString>)>,
}

fn names(py: Python<'_>) -> &Names {
    static NAMES: PyOnceLock<Names> = PyOnceLock::new();
    NAMES.get_or_init(py, || Names {
        reasons: REASON_NAMES.iter().map(|n| PyString::intern(py, n).unbind()).collect(),
        flag_reasons: FlagReason::ALL.iter().map(|r| PyString::intern(py, r.as_str()).unbind()).collect(),
        units: UnitType::ALL.iter().map(|u| (*u, PyString::intern(py, u.as_str()).unbind())).collect(),
    })
}

/// The SPEC name of a decision reason.
pub(crate) fn reason_name(py: Python<'_>, r: Reason) -> Py<PyString> {
    names(py).reasons[usize::from(reason_index(r))].clone_ref(py)
}

/// The SPEC name of a flag reason.
pub(crate) fn flag_reason_name(py: Python<'_>, r: FlagReason) -> Py<PyString> {
    names(py).flag_reasons[r.code() as usize].clone_ref(py)
}

/// `"user"` or `"session"`.
pub(crate) fn unit_name(py: Python<'_>, u: UnitType) -> Py<PyString> {
    let units = &names(py).units;
    units.iter().find(|(x, _)| *x == u).map_or_else(|| PyString::new(py, u.as_str()).unbind(), |(_, n)| n.clone_ref(py))
}

/// Every reason name, indexed by `reason_index` (what `DecisionBatch.reason_codes` hold).
pub(crate) fn reason_names(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    PyList::new(py, names(py).reasons.iter().map(|n| n.bind(py)))
}

/// The member names of a core table, in order.
fn members(table: &str) -> Vec<&'static str> {
    TABLES
        .iter()
        .find(|t| t.name == table)
        .map(|t| (t.members)().into_iter().map(|(_, n)| n).collect())
        .unwrap_or_default()
}

/// The code tables the Python API shows, from the core: `{"Reason": ["NO_CONFIG", …], …}` in
/// the core's order. The stubs' generated block is rendered from this (`tests/test_codes.py`).
#[pyfunction]
pub(crate) fn _code_tables(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for name in SHOWN {
        d.set_item(name, members(name))?;
    }
    Ok(d)
}

/// Adds the run-time form of each shown table's `Literal` alias: `Union[Literal["A"], …]`, the
/// same type as the stubs' `Literal["A", …]` and the form stubtest checks an alias of a union
/// against.
pub(crate) fn add_aliases(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let typing = py.import("typing")?;
    let literal = typing.getattr("Literal")?;
    let union = typing.getattr("Union")?;
    for name in SHOWN {
        let each = members(name).into_iter().map(|n| literal.get_item(n)).collect::<PyResult<Vec<_>>>()?;
        m.add(name, union.get_item(PyTuple::new(py, each)?)?)?;
    }
    Ok(())
}
