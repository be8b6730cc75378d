//! `vario._vario`: the native module behind the `vario` Python package.
//!
//! The Python facade (`python/vario/__init__.py`) re-exports everything here and adds fork and
//! exit handling. Design points:
//!
//! - **No JSON per call.** Requests are read straight from the caller's dict; the context is
//!   converted into a thread-local map that is updated in place when consecutive requests have the
//!   same keys (the common case), so steady-state decisions allocate nothing for it.
//! - **Nothing rebuilt per call.** Each snapshot gets a `View` (`view.rs`) that converts every experiment key,
//!   variant key and params map to a Python object once, on first use; decisions hand out
//!   references. Params are read-only mappings (`types.MappingProxyType`), so a caller cannot
//!   corrupt what the next decision returns.
//! - **Arrow in, Arrow out** (`arrow.rs`): `decide_arrow` reads Arrow string columns in place
//!   through the PyCapsule interface and returns a `pyarrow.Table` built from the loop's vectors;
//!   `SnapshotHistory` replays rows through the version live at each row's time.
//! - **GIL released** for bulk decisions and for everything that waits (flush, close, init).
//! - **Panics** are caught at every entry point and raised as `vario.PanicError` (an
//!   `InternalError`); every exception carries `.code` from the core's table (`errors.rs`).

mod analysis;
mod arrow;
mod client;
mod codes;
mod convert;
mod decision;
mod errors;
mod hashing;
mod interleave;
mod logging;
mod options;
mod request;
mod snapshot;
mod view;

use pyo3::prelude::*;

use crate::analysis::{_adjust, _compare, _compare_pair, _mde, _off_policy, _preference, _sequential_bounds, _srm};
use crate::arrow::SnapshotHistory;
use crate::client::Client;
use crate::codes::{_code_tables, add_aliases};
use crate::decision::{Decision, FlagDecision};
use crate::errors::{_debug_panic, add_classes};
use crate::hashing::{bucket, digest, pseudonymize};
use crate::interleave::{Interleaving, py_credit, py_credit_record, py_interleave, py_winner};
use crate::logging::PyLogger;
use crate::options::_option_keys;
use crate::snapshot::{DecisionBatch, Snapshot};

#[pymodule]
fn _vario(m: &Bound<'_, PyModule>) -> PyResult<()> {
    static LOGGER: PyLogger = PyLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(digest, m)?)?;
    m.add_function(wrap_pyfunction!(pseudonymize, m)?)?;
    m.add_function(wrap_pyfunction!(py_interleave, m)?)?;
    m.add_function(wrap_pyfunction!(py_credit_record, m)?)?;
    m.add_function(wrap_pyfunction!(py_credit, m)?)?;
    m.add_function(wrap_pyfunction!(py_winner, m)?)?;
    m.add_function(wrap_pyfunction!(_debug_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_code_tables, m)?)?;
    m.add_function(wrap_pyfunction!(_option_keys, m)?)?;
    m.add_function(wrap_pyfunction!(_compare, m)?)?;
    m.add_function(wrap_pyfunction!(_compare_pair, m)?)?;
    m.add_function(wrap_pyfunction!(_srm, m)?)?;
    m.add_function(wrap_pyfunction!(_adjust, m)?)?;
    m.add_function(wrap_pyfunction!(_preference, m)?)?;
    m.add_function(wrap_pyfunction!(_off_policy, m)?)?;
    m.add_function(wrap_pyfunction!(_sequential_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(_mde, m)?)?;
    add_aliases(m)?;
    m.add_class::<Snapshot>()?;
    m.add_class::<SnapshotHistory>()?;
    m.add_class::<Decision>()?;
    m.add_class::<FlagDecision>()?;
    m.add_class::<DecisionBatch>()?;
    m.add_class::<Client>()?;
    m.add_class::<Interleaving>()?;
    add_classes(m)?;
    Ok(())
}
