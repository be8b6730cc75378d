//! Off-policy evaluation (issue 19): the value a *target* policy would have had, estimated from
//! traffic a *logging* policy decided, through the propensity it logged for each decision
//! (`allocation_share` in an exposure).
//!
//! Per logged unit `i`, with `a_i` the variant shown, `p_i` its logged propensity, `r_i` the
//! reward and `π_i` the target policy's probability of `a_i`, the importance weight is
//! `w_i = π_i / p_i`, clipped at `M` when a clip is given. Three estimators, each on sums that add
//! up ([`OffPolicyStats`]):
//!
//! - **IPS**: `Σ w r / n`, with the CLT interval of a mean.
//! - **Self-normalised IPS**: `Σ w r / Σ w`, with the delta-method interval of a ratio. It trades
//!   a small bias for much less variance when weights are large.
//! - **Doubly robust**: with a reward model `q̂`, the mean of
//!   `d_i = Σ_a π(a | x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i))`. It is unbiased when either the
//!   propensities or the model are right, and tighter than IPS when the model is good.
//!
//! The **effective sample size** `(Σ w)² / Σ w²` says how many units the estimate is really
//! worth; a small one means a few heavily weighted units decide it.

use crate::{StatsError, check_alpha};
use statrs::distribution::{ContinuousCDF, Normal};
use std::ops::Add;

/// The sums the three estimators need, over logged units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OffPolicyStats {
    /// Units.
    pub n: f64,
    /// `Σ w`.
    pub sum_w: f64,
    /// `Σ w²`.
    pub sum_w_sq: f64,
    /// `Σ w r`.
    pub sum_wr: f64,
    /// `Σ (w r)²`.
    pub sum_wr_sq: f64,
    /// `Σ w · w r` (the cross term of the self-normalised ratio's variance).
    pub sum_w_wr: f64,
    /// `Σ d`, the doubly robust terms (0 without a reward model).
    pub sum_d: f64,
    /// `Σ d²`.
    pub sum_d_sq: f64,
}

impl Add for OffPolicyStats {
    type Output = OffPolicyStats;
    fn add(self, o: OffPolicyStats) -> OffPolicyStats {
        OffPolicyStats {
            n: self.n + o.n,
            sum_w: self.sum_w + o.sum_w,
            sum_w_sq: self.sum_w_sq + o.sum_w_sq,
            sum_wr: self.sum_wr + o.sum_wr,
            sum_wr_sq: self.sum_wr_sq + o.sum_wr_sq,
            sum_w_wr: self.sum_w_wr + o.sum_w_wr,
            sum_d: self.sum_d + o.sum_d,
            sum_d_sq: self.sum_d_sq + o.sum_d_sq,
        }
    }
}

/// One estimate of the target policy's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyValue {
    /// The estimated mean reward per unit under the target policy.
    pub value: f64,
    /// Its standard error.
    pub se: f64,
    /// Its two-sided `1 − alpha` normal interval.
    pub ci: (f64, f64),
}

/// The three estimates and the effective sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffPolicy {
    /// Inverse propensity scoring.
    pub ips: PolicyValue,
    /// Self-normalised IPS.
    pub snips: PolicyValue,
    /// Doubly robust, when a reward model was given.
    pub dr: Option<PolicyValue>,
    /// `(Σ w)² / Σ w²`.
    pub ess: f64,
    /// Units.
    pub n: f64,
}

fn check(s: &OffPolicyStats) -> Result<(), StatsError> {
    let all = [s.n, s.sum_w, s.sum_w_sq, s.sum_wr, s.sum_wr_sq, s.sum_w_wr, s.sum_d, s.sum_d_sq];
    if all.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::Domain("off-policy sums must be finite".into()));
    }
    if s.sum_w < 0.0 || s.sum_w_sq < 0.0 || s.sum_wr_sq < 0.0 || s.sum_d_sq < 0.0 {
        return Err(StatsError::Domain("weights and sums of squares cannot be negative".into()));
    }
    if s.n < 2.0 {
        return Err(StatsError::NotEnoughData("fewer than 2 logged units".into()));
    }
    if s.sum_w <= 0.0 {
        return Err(StatsError::NotEnoughData(
            "no logged unit got a decision the target policy would make (every weight is 0)".into(),
        ));
    }
    Ok(())
}

/// A mean's estimate from its sum and sum of squares over `n` units (sample variance).
fn mean_value(n: f64, sum: f64, sum_sq: f64, z: f64) -> PolicyValue {
    let value = sum / n;
    let var = ((sum_sq - n * value * value) / (n - 1.0)).max(0.0);
    let se = (var / n).sqrt();
    PolicyValue { value, se, ci: (value - z * se, value + z * se) }
}

/// The three estimates from `s` at two-sided level `alpha`; `with_dr` when `s` carries the
/// doubly robust terms of a reward model.
pub fn off_policy(s: &OffPolicyStats, alpha: f64, with_dr: bool) -> Result<OffPolicy, StatsError> {
    check_alpha(alpha)?;
    check(s)?;
    let z = Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
    let ips = mean_value(s.n, s.sum_wr, s.sum_wr_sq, z);
    // The ratio R = Σ w r / Σ w by the delta method: Var(R) ≈ Σ (w r − R w)² / (Σ w)², expanded
    // into the sums, with the small-sample factor n / (n − 1).
    let r = s.sum_wr / s.sum_w;
    let resid = (s.sum_wr_sq - 2.0 * r * s.sum_w_wr + r * r * s.sum_w_sq).max(0.0);
    let se = (resid / (s.sum_w * s.sum_w) * s.n / (s.n - 1.0)).sqrt();
    let snips = PolicyValue { value: r, se, ci: (r - z * se, r + z * se) };
    let dr = with_dr.then(|| mean_value(s.n, s.sum_d, s.sum_d_sq, z));
    let ess = if s.sum_w_sq > 0.0 { s.sum_w * s.sum_w / s.sum_w_sq } else { 0.0 };
    Ok(OffPolicy { ips, snips, dr, ess, n: s.n })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run
    use super::*;

    fn sums(rows: &[(f64, f64, f64)]) -> OffPolicyStats {
        // (w, r, d)
        rows.iter().fold(OffPolicyStats::default(), |s, &(w, r, d)| {
            s + OffPolicyStats {
                n: 1.0,
                sum_w: w,
                sum_w_sq: w * w,
                sum_wr: w * r,
                sum_wr_sq: (w * r) * (w * r),
                sum_w_wr: w * w * r,
                sum_d: d,
                sum_d_sq: d * d,
            }
        })
    }

    #[test]
    fn on_policy_every_estimate_is_the_mean_reward() {
        // The target is the logging policy: every weight is 1.
        let rows: Vec<_> = (0..100).map(|i| (1.0, f64::from(i % 3), f64::from(i % 3))).collect();
        let e = off_policy(&sums(&rows), 0.05, true).unwrap();
        let mean = rows.iter().map(|r| r.1).sum::<f64>() / 100.0;
        for v in [e.ips, e.snips, e.dr.unwrap()] {
            assert!((v.value - mean).abs() < 1e-12, "{v:?}");
        }
        // With w = 1 the ratio's delta-method variance is the sample variance of r.
        assert!((e.snips.se - e.ips.se).abs() < 1e-12);
        assert!((e.ess - 100.0).abs() < 1e-9);
    }

    #[test]
    fn sums_add_and_bad_input_is_refused() {
        let a = sums(&[(2.0, 1.0, 0.5), (0.0, 1.0, 0.2)]);
        let b = sums(&[(1.0, 0.0, 0.1)]);
        assert_eq!(a + b, sums(&[(2.0, 1.0, 0.5), (0.0, 1.0, 0.2), (1.0, 0.0, 0.1)]));
        assert!(off_policy(&sums(&[(0.0, 1.0, 0.0), (0.0, 0.0, 0.0)]), 0.05, false).is_err());
        assert!(off_policy(&sums(&[(1.0, 1.0, 0.0)]), 0.05, false).is_err());
        assert!(off_policy(&sums(&[(1.0, f64::NAN, 0.0), (1.0, 0.0, 0.0)]), 0.05, false).is_err());
        assert!(off_policy(&a, 1.5, false).is_err());
        assert!(off_policy(&a, 0.05, false).unwrap().dr.is_none());
    }
}
