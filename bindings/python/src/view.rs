//! A compiled snapshot plus the Python objects decisions hand out, converted once each.

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use vario::host::BulkCodes;

use crate::convert::{frozen_map, to_py};

/// The caller's default params for one placement: frozen for `params`, the map for `to_dict()`.
pub(crate) type Defaults = (Py<PyAny>, Arc<Map<String, Value>>);

pub(crate) struct ExpObjs {
    pub(crate) key: Py<PyString>,
    pub(crate) id: Py<PyAny>,
    pub(crate) variants: Vec<Py<PyString>>,
}

/// A compiled snapshot plus its Python objects, converted lazily, once each. A client keeps its
/// views in a `vario::host::SnapshotCache`; a `Snapshot` object owns its one view.
pub(crate) struct View {
    pub(crate) snap: Arc<vario_core::Snapshot>,
    params: Vec<OnceLock<Py<PyAny>>>,
    experiments: Vec<OnceLock<ExpObjs>>,
    /// The context attributes decisions read (interned names), see `with_request`.
    pub(crate) attrs: Vec<(Py<PyString>, String)>,
    /// `decide_many`'s code tables, built on its first call.
    bulk: OnceLock<BulkCodes>,
}

impl View {
    /// `attrs`: the context attributes decisions read (`vario::host::snapshot_attributes` for a
    /// bare snapshot, `HostClient::context_attributes` for a client's).
    pub(crate) fn new(py: Python<'_>, snap: Arc<vario_core::Snapshot>, attrs: Vec<String>) -> View {
        let params = (0..snap.params_count()).map(|_| OnceLock::new()).collect();
        let experiments = (0..snap.experiment_count()).map(|_| OnceLock::new()).collect();
        let attrs = attrs.into_iter().map(|name| (PyString::intern(py, &name).unbind(), name)).collect();
        View { snap, params, experiments, attrs, bulk: OnceLock::new() }
    }

    /// The variant, experiment and reason codes of bulk decisions on this snapshot.
    pub(crate) fn bulk(&self) -> &BulkCodes {
        self.bulk.get_or_init(|| BulkCodes::new(&self.snap))
    }

    pub(crate) fn params(&self, py: Python<'_>, id: u32) -> PyResult<Py<PyAny>> {
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

    pub(crate) fn experiment(&self, py: Python<'_>, index: usize) -> PyResult<Option<&ExpObjs>> {
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
