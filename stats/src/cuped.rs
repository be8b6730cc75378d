//! CUPED (variance reduction with a pre-period covariate) and ratio metrics (the delta method),
//! both on sufficient statistics, both ending in [`Estimate`]s for
//! [`compare_estimates`](crate::compare::compare_estimates).

use crate::compare::{Comparison, Estimate, compare_estimates};
use crate::{StatsError, check_alpha};
use std::ops::Add;

/// Two per-unit values of one arm, `x` and `y`, with their sums, squares and cross-products:
/// for CUPED `y` is the metric and `x` its pre-period covariate; for a ratio metric `y` is the
/// numerator and `x` the denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairStats {
    /// Units.
    pub n: f64,
    /// Σy.
    pub sum_y: f64,
    /// Σy².
    pub sum_y_sq: f64,
    /// Σx.
    pub sum_x: f64,
    /// Σx².
    pub sum_x_sq: f64,
    /// Σxy.
    pub sum_xy: f64,
}

impl Add for PairStats {
    type Output = PairStats;
    fn add(self, o: PairStats) -> PairStats {
        PairStats {
            n: self.n + o.n,
            sum_y: self.sum_y + o.sum_y,
            sum_y_sq: self.sum_y_sq + o.sum_y_sq,
            sum_x: self.sum_x + o.sum_x,
            sum_x_sq: self.sum_x_sq + o.sum_x_sq,
            sum_xy: self.sum_xy + o.sum_xy,
        }
    }
}

impl PairStats {
    fn check(&self, arm: &str) -> Result<(), StatsError> {
        let all = [self.n, self.sum_y, self.sum_y_sq, self.sum_x, self.sum_x_sq, self.sum_xy];
        if all.iter().any(|v| !v.is_finite()) || self.n < 2.0 {
            return Err(StatsError::NotEnoughData(format!("{arm}: finite sums of at least 2 units needed")));
        }
        Ok(())
    }
    fn var_y(&self) -> f64 {
        ((self.sum_y_sq - self.sum_y * self.sum_y / self.n) / (self.n - 1.0)).max(0.0)
    }
    fn var_x(&self) -> f64 {
        ((self.sum_x_sq - self.sum_x * self.sum_x / self.n) / (self.n - 1.0)).max(0.0)
    }
    fn cov(&self) -> f64 {
        (self.sum_xy - self.sum_x * self.sum_y / self.n) / (self.n - 1.0)
    }
}

/// Below this pooled covariate variance CUPED falls back to the raw metric (`theta = 0`).
const MIN_VAR_X: f64 = 1e-12;

/// CUPED: `theta = cov(x, y) / var(x)` pooled over both arms, each arm's mean adjusted to
/// `ȳ − theta (x̄ − x̄_pooled)` (centred on the pooled pre-period mean), its variance
/// `(var y + theta² var x − 2 theta cov) / n`. With a covariate of (near) zero variance the
/// comparison is the raw one and carries no `cuped` adjustment. Returns the comparison and theta.
pub fn compare_cuped(control: &PairStats, treatment: &PairStats, alpha: f64) -> Result<(Comparison, f64), StatsError> {
    check_alpha(alpha)?;
    control.check("control")?;
    treatment.check("treatment")?;
    let pooled = *control + *treatment;
    let var_x = pooled.var_x();
    let (theta, adjustments) =
        if var_x > MIN_VAR_X { (pooled.cov() / var_x, vec!["cuped"]) } else { (0.0, Vec::new()) };
    let mean_x = pooled.sum_x / pooled.n;
    let est = |a: &PairStats| Estimate {
        mean: a.sum_y / a.n - theta * (a.sum_x / a.n - mean_x),
        var_of_mean: ((a.var_y() + theta * theta * a.var_x() - 2.0 * theta * a.cov()) / a.n).max(0.0),
        n: a.n,
    };
    Ok((compare_estimates(&est(control), &est(treatment), alpha, adjustments)?, theta))
}

/// A ratio metric (`Σy / Σx` per arm, e.g. clicks / impressions with units as the randomisation
/// unit), its variance by the delta method:
/// `(var y / x̄² − 2 ȳ cov / x̄³ + ȳ² var x / x̄⁴) / n`.
pub fn compare_ratio(control: &PairStats, treatment: &PairStats, alpha: f64) -> Result<Comparison, StatsError> {
    control.check("control")?;
    treatment.check("treatment")?;
    let est = |a: &PairStats| -> Result<Estimate, StatsError> {
        let (my, mx) = (a.sum_y / a.n, a.sum_x / a.n);
        if mx == 0.0 {
            return Err(StatsError::NotEnoughData("a ratio with a zero denominator".into()));
        }
        let v = a.var_y() / (mx * mx) - 2.0 * my * a.cov() / mx.powi(3) + my * my * a.var_x() / mx.powi(4);
        Ok(Estimate { mean: my / mx, var_of_mean: (v / a.n).max(0.0), n: a.n })
    };
    compare_estimates(&est(control)?, &est(treatment)?, alpha, vec!["delta_method"])
}
