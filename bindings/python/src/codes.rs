//! The core's code tables as interned Python names.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use vario_core::{Reason, UnitType};

pub(crate) const REASONS: [(Reason, &str); 17] = [
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

pub(crate) fn reason_code(r: Reason) -> u8 {
    REASONS.iter().position(|(x, _)| *x == r).unwrap_or(0) as u8
}

pub(crate) struct Names {
    pub(crate) reasons: Vec<Py<PyString>>,
    user: Py<PyString>,
    session: Py<PyString>,
}

pub(crate) fn names(py: Python<'_>) -> &Names {
    static NAMES: PyOnceLock<Names> = PyOnceLock::new();
    NAMES.get_or_init(py, || Names {
        reasons: REASONS.iter().map(|(_, n)| PyString::intern(py, n).unbind()).collect(),
        user: PyString::intern(py, "user").unbind(),
        session: PyString::intern(py, "session").unbind(),
    })
}

pub(crate) fn unit_name(py: Python<'_>, u: UnitType) -> Py<PyString> {
    match u {
        UnitType::User => names(py).user.clone_ref(py),
        UnitType::Session => names(py).session.clone_ref(py),
    }
}
