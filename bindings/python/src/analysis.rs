//! The statistics behind `vario.analysis` (`python/vario/analysis.py`): thin calls into the
//! `vario-stats` crate on sufficient statistics. The Python module owns the public shapes
//! (dataclasses); these functions take and return plain numbers, lists and dicts.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use vario_stats::{AdjustMethod, MeanStats, PairStats, Spending};

use crate::errors::{coded, invalid, safe};

/// Welch + delta-method comparison of two mean metrics given as `(n, sum, sum_sq)`.
#[pyfunction]
pub(crate) fn _compare<'py>(
    py: Python<'py>,
    control: (f64, f64, f64),
    treatment: (f64, f64, f64),
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let m = |(n, sum, sum_sq): (f64, f64, f64)| MeanStats { n, sum, sum_sq };
        let r = vario_stats::compare(&m(control), &m(treatment), alpha).map_err(|e| coded(&e))?;
        comparison_dict(py, &r, None)
    })
}

/// Fills the dict `compare` returns (plus `theta` when given).
fn comparison_dict<'py>(
    py: Python<'py>,
    r: &vario_stats::Comparison,
    theta: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("control_mean", r.control_mean)?;
    d.set_item("treatment_mean", r.treatment_mean)?;
    d.set_item("abs_effect", r.abs_effect)?;
    d.set_item("abs_ci", r.abs_ci)?;
    d.set_item("p_value", r.p_value)?;
    d.set_item("rel_effect", r.rel_effect)?;
    d.set_item("rel_ci", r.rel_ci)?;
    d.set_item("rel_p_value", r.rel_p_value)?;
    d.set_item("dof", r.dof)?;
    d.set_item("adjustments", r.adjustments.clone())?;
    if let Some(t) = theta {
        d.set_item("theta", t)?;
    }
    Ok(d)
}

/// A paired comparison on `(n, sum_y, sum_y_sq, sum_x, sum_x_sq, sum_xy)` per arm: `kind`
/// `"cuped"` (y the metric, x its covariate; the dict carries `theta`) or `"ratio"` (y / x by the
/// delta method).
#[pyfunction]
pub(crate) fn _compare_pair<'py>(
    py: Python<'py>,
    control: (f64, f64, f64, f64, f64, f64),
    treatment: (f64, f64, f64, f64, f64, f64),
    alpha: f64,
    kind: &str,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let p = |(n, sum_y, sum_y_sq, sum_x, sum_x_sq, sum_xy): (f64, f64, f64, f64, f64, f64)| PairStats {
            n,
            sum_y,
            sum_y_sq,
            sum_x,
            sum_x_sq,
            sum_xy,
        };
        let (c, t) = (p(control), p(treatment));
        match kind {
            "cuped" => {
                let (r, theta) = vario_stats::compare_cuped(&c, &t, alpha).map_err(|e| coded(&e))?;
                comparison_dict(py, &r, Some(theta))
            }
            "ratio" => {
                let r = vario_stats::compare_ratio(&c, &t, alpha).map_err(|e| coded(&e))?;
                comparison_dict(py, &r, None)
            }
            other => Err(invalid(format!("kind must be \"cuped\" or \"ratio\", not {other:?}"))),
        }
    })
}

/// The SRM chi-square of `observed` units per arm against `weights`.
#[pyfunction]
pub(crate) fn _srm<'py>(
    py: Python<'py>,
    observed: Vec<u64>,
    weights: Vec<f64>,
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let r = vario_stats::srm(&observed, &weights, alpha).map_err(|e| coded(&e))?;
        let d = PyDict::new(py);
        d.set_item("chi2", r.chi2)?;
        d.set_item("dof", r.dof)?;
        d.set_item("p_value", r.p_value)?;
        d.set_item("mismatch", r.mismatch)?;
        Ok(d)
    })
}

/// Adjusted p-values (`method`: `"bh"` or `"holm"`), in the input's order.
#[pyfunction]
pub(crate) fn _adjust(p_values: Vec<f64>, method: &str) -> PyResult<Vec<f64>> {
    safe(|| {
        let m = match method {
            "bh" => AdjustMethod::BenjaminiHochberg,
            "holm" => AdjustMethod::Holm,
            other => return Err(invalid(format!("unknown adjustment {other:?} (bh or holm)"))),
        };
        vario_stats::adjust(&p_values, m).map_err(|e| coded(&e))
    })
}

/// The interleaving preference from impressions won by `a`, by `b`, and tied.
#[pyfunction]
pub(crate) fn _preference<'py>(
    py: Python<'py>,
    wins_a: u64,
    wins_b: u64,
    ties: u64,
    alpha: f64,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let r = vario_stats::preference(wins_a, wins_b, ties, alpha).map_err(|e| coded(&e))?;
        let d = PyDict::new(py);
        d.set_item("delta", r.delta)?;
        d.set_item("ci", r.ci)?;
        d.set_item("p_value", r.p_value)?;
        d.set_item("impressions", r.impressions)?;
        Ok(d)
    })
}

/// Off-policy estimates from the sums `(n, Σw, Σw², Σwr, Σ(wr)², Σw·wr, Σd, Σd²)`: a dict with
/// `ips`, `snips` and `dr` (each `(value, se, (lo, hi))`, `dr` `None` without `with_dr`), `ess`
/// and `n`.
#[pyfunction]
pub(crate) fn _off_policy<'py>(
    py: Python<'py>,
    sums: (f64, f64, f64, f64, f64, f64, f64, f64),
    alpha: f64,
    with_dr: bool,
) -> PyResult<Bound<'py, PyDict>> {
    safe(|| {
        let (n, sum_w, sum_w_sq, sum_wr, sum_wr_sq, sum_w_wr, sum_d, sum_d_sq) = sums;
        let s = vario_stats::OffPolicyStats { n, sum_w, sum_w_sq, sum_wr, sum_wr_sq, sum_w_wr, sum_d, sum_d_sq };
        let r = vario_stats::off_policy(&s, alpha, with_dr).map_err(|e| coded(&e))?;
        let v = |p: vario_stats::PolicyValue| (p.value, p.se, p.ci);
        let d = PyDict::new(py);
        d.set_item("ips", v(r.ips))?;
        d.set_item("snips", v(r.snips))?;
        d.set_item("dr", r.dr.map(v))?;
        d.set_item("ess", r.ess)?;
        d.set_item("n", r.n)?;
        Ok(d)
    })
}

/// Two-sided z bounds by Lan–DeMets alpha spending (`spending`: `"pocock"` or `"obrien_fleming"`).
#[pyfunction]
pub(crate) fn _sequential_bounds(fractions: Vec<f64>, alpha: f64, spending: &str) -> PyResult<Vec<f64>> {
    safe(|| {
        let s = match spending {
            "pocock" => Spending::Pocock,
            "obrien_fleming" => Spending::OBrienFleming,
            other => return Err(invalid(format!("unknown spending {other:?} (pocock or obrien_fleming)"))),
        };
        vario_stats::sequential_bounds(&fractions, alpha, s).map_err(|e| coded(&e))
    })
}

/// The minimum detectable absolute effect.
#[pyfunction]
pub(crate) fn _mde(n_per_arm: f64, variance: f64, alpha: f64, power: f64) -> PyResult<f64> {
    safe(|| vario_stats::mde(n_per_arm, variance, alpha, power).map_err(|e| coded(&e)))
}
