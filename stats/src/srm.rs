//! Sample-ratio mismatch: Pearson's chi-square of the units seen per arm against the shares the
//! allocation intended.
//!
//! Arms with zero weight are left out of the test and its degrees of freedom (gbstats counts them,
//! which inflates the p-value); a zero-weight arm that received units is itself a mismatch, reported
//! with `p_value = 0`.

use crate::{StatsError, check_alpha};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The SRM verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Srm {
    /// The chi-square statistic over the arms with a positive weight.
    pub chi2: f64,
    /// Degrees of freedom: arms with a positive weight − 1.
    pub dof: u32,
    /// The p-value.
    pub p_value: f64,
    /// `p_value < alpha`.
    pub mismatch: bool,
}

/// Tests `observed` units per arm against `weights` (any positive scale) at `alpha`.
pub fn srm(observed: &[u64], weights: &[f64], alpha: f64) -> Result<Srm, StatsError> {
    check_alpha(alpha)?;
    if observed.len() != weights.len() {
        return Err(StatsError::Domain(format!("{} arms observed, {} weights", observed.len(), weights.len())));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(StatsError::Domain("weights must be finite and >= 0".into()));
    }
    let live: Vec<(f64, f64)> =
        observed.iter().zip(weights).filter(|(_, w)| **w > 0.0).map(|(o, w)| (*o as f64, *w)).collect();
    if live.len() < 2 {
        return Err(StatsError::NotEnoughData("SRM needs at least two arms with a positive weight".into()));
    }
    let stray = observed.iter().zip(weights).any(|(o, w)| *w == 0.0 && *o > 0);
    let n: f64 = live.iter().map(|(o, _)| o).sum();
    let wsum: f64 = live.iter().map(|(_, w)| w).sum();
    let dof = (live.len() - 1) as u32;
    if n == 0.0 {
        return Err(StatsError::NotEnoughData("no units observed".into()));
    }
    let chi2: f64 = live
        .iter()
        .map(|(o, w)| {
            let e = n * w / wsum;
            (o - e).powi(2) / e
        })
        .sum();
    let dist = ChiSquared::new(f64::from(dof)).map_err(|e| StatsError::Domain(e.to_string()))?;
    let p_value = if stray { 0.0 } else { dist.sf(chi2) };
    Ok(Srm { chi2, dof, p_value, mismatch: p_value < alpha })
}
