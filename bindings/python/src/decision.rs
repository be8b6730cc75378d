//! `Decision` and `FlagDecision`: one placement decision and one flag evaluation.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::{Map, Value};
use std::sync::Arc;
use vario_core::{Decision as CoreDecision, FlagDecision as CoreFlag, FlagReason, InterleaveMethod, Reason, UnitType};

use crate::codes::{flag_reason_name, reason_name, unit_name};
use crate::convert::{frozen_map, map_to_dict, to_py};
use crate::errors::safe;
use crate::request::ReqParts;
use crate::view::{Defaults, ExpObjs, View};

/// One placement decision (SPEC §5). Attributes are read-only and resolved on access from the
/// snapshot's cached objects; `params` is a read-only mapping (copy it with `dict(d.params)`);
/// `to_dict()` gives the SPEC JSON shape.
#[pyclass(frozen, module = "vario._vario")]
pub(crate) struct Decision {
    view: Option<Arc<View>>,
    placement: Py<PyString>,
    unit_id: Option<Py<PyString>>,
    experiment: Option<u32>,
    variant_index: Option<u32>,
    params_id: Option<u32>,
    reason: Reason,
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
    /// An interleaved decision's plan (rare: built only for interleaved experiments).
    plan: Option<Plan>,
}

/// What `Decision.interleaving` shows and `Decision.interleave` needs.
struct Plan {
    method: InterleaveMethod,
    key: String,
    salt: String,
    seed: u32,
    /// `{"method", "a": {"variant", "params"}, "b": …, "key", "salt", "seed"}`.
    dict: Py<PyDict>,
}

fn plan_of(py: Python<'_>, d: &CoreDecision<'_>) -> PyResult<Option<Plan>> {
    let Some(p) = d.interleaving() else { return Ok(None) };
    let dict = PyDict::new(py);
    dict.set_item("method", p.method.as_str())?;
    for (name, r) in [("a", p.a), ("b", p.b)] {
        let side = PyDict::new(py);
        side.set_item("variant", r.variant)?;
        side.set_item("params", map_to_dict(py, r.params)?)?;
        dict.set_item(name, side)?;
    }
    dict.set_item("key", p.key())?;
    dict.set_item("salt", p.salt())?;
    dict.set_item("seed", p.seed())?;
    Ok(Some(Plan {
        method: p.method,
        key: p.key().to_owned(),
        salt: p.salt().to_owned(),
        seed: p.seed(),
        dict: dict.unbind(),
    }))
}

impl Decision {
    pub(crate) fn build(
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
                    item.set_item("reason", reason_name(py, e.reason))?;
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
            reason: d.reason(),
            unit: d.unit_type(),
            bucket: d.bucket(),
            allocation_share: d.allocation_share(),
            iteration: d.iteration(),
            config_version: d.config_version(),
            trace,
            exposure_token: token.map(|t| PyString::new(py, t).unbind()),
            defaults: defaults.map(|(o, m)| (o.clone_ref(py), m.clone())),
            plan: plan_of(py, d)?,
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
        reason_name(py, self.reason)
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
        self.reason == Reason::Assigned
    }

    /// The `event_id` the exposure token will log under (None without a token): a click names it
    /// as `properties["impression_id"]` to be credited to exactly this impression.
    #[getter]
    fn exposure_id(&self, py: Python<'_>) -> PyResult<Option<String>> {
        match &self.exposure_token {
            None => Ok(None),
            Some(t) => vario_core::token_event_id(t.bind(py).to_str()?).map(Some).map_err(|e| crate::errors::coded(&e)),
        }
    }

    /// For an interleaved experiment's unit on a declared placement: `{"method", "a": {"variant",
    /// "params"}, "b": {...}, "key", "salt", "seed"}`; rank with both params, then call
    /// `interleave`. None otherwise.
    #[getter]
    fn interleaving<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.plan.as_ref().map(|p| p.dict.bind(py).copy()).transpose()
    }

    /// Merges rankings `a` (ranked with `interleaving["a"]["params"]`) and `b` by this decision's
    /// method and unit coin (SPEC §10); `INVALID_REQUEST` when the decision is not interleaved.
    /// Log what was shown with `Client.expose(token, interleaving=result)`.
    #[pyo3(signature = (a, b, query="", length=None))]
    fn interleave(
        &self,
        py: Python<'_>,
        a: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
        query: &str,
        length: Option<i64>,
    ) -> PyResult<crate::interleave::Interleaving> {
        safe(|| {
            let (Some(p), Some(unit)) = (&self.plan, &self.unit_id) else {
                return Err(crate::errors::invalid("this decision is not interleaved (see Decision.interleaving)"));
            };
            let unit_id = unit.bind(py).to_str()?;
            let coin = vario_core::Coin { unit_id, key: &p.key, salt: &p.salt, query, seed: p.seed };
            crate::interleave::merge(py, p.method, a, b, &coin, length)
        })
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
            if let Some(p) = &self.plan {
                d.set_item("interleaving", p.dict.bind(py).copy()?)?;
            }
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
            self.reason.as_str(),
            self.bucket
        ))
    }
}

/// One flag evaluation. `to_dict()` gives the SPEC JSON shape.
#[pyclass(frozen, module = "vario._vario")]
pub(crate) struct FlagDecision {
    #[pyo3(get)]
    flag: String,
    #[pyo3(get)]
    variant: Option<String>,
    #[pyo3(get)]
    value: Py<PyAny>,
    reason: FlagReason,
    #[pyo3(get)]
    rule_index: Option<usize>,
    unit_type: Option<UnitType>,
    #[pyo3(get)]
    bucket: Option<u32>,
    #[pyo3(get)]
    shadow_variant: Option<String>,
    #[pyo3(get)]
    config_version: u64,
    json: String,
}

impl FlagDecision {
    pub(crate) fn from_core(py: Python<'_>, f: &CoreFlag<'_>) -> PyResult<FlagDecision> {
        let json = f.to_json();
        Ok(FlagDecision {
            flag: f.flag().to_owned(),
            variant: f.variant().map(str::to_owned),
            value: match f.value() {
                Some(v) => to_py(py, v)?.unbind(),
                None => py.None(),
            },
            reason: f.reason(),
            rule_index: f.rule_index(),
            unit_type: f.unit_type(),
            bucket: f.bucket(),
            shadow_variant: f.shadow_variant().map(str::to_owned),
            config_version: f.config_version(),
            json,
        })
    }
}

#[pymethods]
impl FlagDecision {
    /// Why (SPEC flag reason name).
    #[getter]
    fn reason(&self, py: Python<'_>) -> Py<PyString> {
        flag_reason_name(py, self.reason)
    }

    /// `"user"`, `"session"` or None.
    #[getter]
    fn unit_type(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.unit_type.map(|u| unit_name(py, u))
    }

    /// The flag result as a plain dict with SPEC field names.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v: Value = serde_json::from_str(&self.json).unwrap_or(Value::Null);
        to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!("FlagDecision(flag='{}', variant={:?}, reason='{}')", self.flag, self.variant, self.reason.as_str())
    }
}
