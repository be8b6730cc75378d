//! Sufficient statistics that add up: two days, strata or shards of an arm merge with `+`.

use crate::StatsError;
use std::ops::Add;

/// A mean metric of one arm: `n` units, the sum of their values and of their squares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanStats {
    /// Units.
    pub n: f64,
    /// Sum of the per-unit values.
    pub sum: f64,
    /// Sum of the squared per-unit values.
    pub sum_sq: f64,
}

impl MeanStats {
    /// The mean.
    pub fn mean(&self) -> f64 {
        self.sum / self.n
    }

    /// The sample variance (`n − 1` in the denominator), never negative (rounding clamps at 0).
    pub fn variance(&self) -> f64 {
        ((self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1.0)).max(0.0)
    }

    pub(crate) fn check(&self, arm: &str) -> Result<(), StatsError> {
        if !(self.n.is_finite() && self.sum.is_finite() && self.sum_sq.is_finite()) || self.n < 0.0 || self.sum_sq < 0.0
        {
            return Err(StatsError::Domain(format!("{arm}: counts and sums must be finite, n and sum_sq >= 0")));
        }
        if self.n < 2.0 {
            return Err(StatsError::NotEnoughData(format!("{arm} has {} units (at least 2 needed)", self.n)));
        }
        Ok(())
    }
}

impl Add for MeanStats {
    type Output = MeanStats;
    fn add(self, o: MeanStats) -> MeanStats {
        MeanStats { n: self.n + o.n, sum: self.sum + o.sum, sum_sq: self.sum_sq + o.sum_sq }
    }
}

/// A proportion metric of one arm (conversion: units with at least one `add_to_cart`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProportionStats {
    /// Units.
    pub n: f64,
    /// Units that converted.
    pub successes: f64,
}

impl ProportionStats {
    /// As a mean metric of 0/1 values, with the variance `p(1 − p)` (gbstats' convention) rather
    /// than the `n − 1` sample variance: `sum_sq` is chosen so that [`MeanStats::variance`] is
    /// exactly `p(1 − p)`.
    pub fn to_mean(&self) -> MeanStats {
        let p = self.successes / self.n;
        let var = p * (1.0 - p);
        MeanStats { n: self.n, sum: self.successes, sum_sq: var * (self.n - 1.0) + self.successes * p }
    }
}

impl Add for ProportionStats {
    type Output = ProportionStats;
    fn add(self, o: ProportionStats) -> ProportionStats {
        ProportionStats { n: self.n + o.n, successes: self.successes + o.successes }
    }
}
