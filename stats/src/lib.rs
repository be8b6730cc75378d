//! Experiment statistics on **sufficient statistics**: counts and sums that any warehouse can
//! aggregate and that add up (`+` merges days or strata), so the analysis never needs raw rows.
//!
//! | module | owns | pure? |
//! |---|---|---|
//! | [`suff`] | the sufficient statistics: [`MeanStats`] `(n, sum, sum_sq)`, [`ProportionStats`] `(n, successes)` | yes |
//! | [`compare`](mod@compare) | two-arm comparison: Welch's t for the absolute difference, the delta method for the relative lift | yes |
//! | [`cuped`] | CUPED with theta pooled over both arms, ratio metrics by the delta method (`PairStats`) | yes |
//! | [`sequential`] | Lan–DeMets group-sequential bounds (Pocock- and O'Brien–Fleming-type spending), the MDE | yes |
//! | [`srm`](mod@srm) | the sample-ratio-mismatch chi-square guardrail | yes |
//! | [`adjust`](mod@adjust) | multiple-testing control: Benjamini–Hochberg and Holm adjusted p-values | yes |
//! | [`preference`](mod@preference) | interleaving: the preference score with its CI and the sign test | yes |
//! | [`offpolicy`] | off-policy value from logged propensities: IPS, self-normalised IPS, doubly robust, the effective sample size | yes |
//!
//! Everything is pure and thread-safe (plain values in, plain values out). Distributions come from
//! `statrs` (maintained, pure Rust, no linear algebra without its default features), held to
//! scipy 1.17 and statsmodels 0.15 by `tests/scipy_vectors.rs` on answers `vectors/gen.py`
//! wrote: p-values come from its survival functions (to 1e-6 relative, down to 1e-243), and its
//! Student's t quantile, about 2e-6 off at hundreds of thousands of degrees of freedom, is
//! polished by Newton steps (CI widths to 1e-8). Every error is an [`StatsError`] whose code is the core's `INVALID_REQUEST`, so each
//! surface reports it like any other bad input.
//!
//! ```
//! use vario_stats::{MeanStats, compare};
//! // gbstats' golden numbers.
//! let c = MeanStats { n: 3407.0, sum: 1396.87, sum_sq: 52377.9767 };
//! let t = MeanStats { n: 3461.0, sum: 2422.7, sum_sq: 134698.29 };
//! let r = compare(&c, &t, 0.05)?;
//! assert!((r.abs_effect - 0.29).abs() < 1e-9);
//! assert!((r.p_value - 0.02016).abs() < 5e-5);
//! # Ok::<(), vario_stats::StatsError>(())
//! ```

#![deny(missing_docs)]

pub mod adjust;
pub mod compare;
pub mod cuped;
pub mod offpolicy;
pub mod preference;
pub mod sequential;
pub mod srm;
pub mod suff;

pub use adjust::{AdjustMethod, adjust};
pub use compare::{Comparison, Estimate, compare, compare_estimates};
pub use cuped::{PairStats, compare_cuped, compare_ratio};
pub use offpolicy::{OffPolicy, OffPolicyStats, PolicyValue, off_policy};
pub use preference::{Preference, preference};
pub use sequential::{Spending, mde, sequential_bounds};
pub use srm::{Srm, srm};
pub use suff::{MeanStats, ProportionStats};

use vario_core::{Coded, ErrorCode};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// An input is out of its domain (a negative count, a probability outside `[0, 1]`, …).
    #[error("{0}")]
    Domain(String),
    /// Not enough data (an arm with fewer than two units, a zero control mean for a relative lift).
    #[error("not enough data: {0}")]
    NotEnoughData(String),
}

impl Coded for StatsError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// Checks `alpha` in `(0, 1)`.
pub(crate) fn check_alpha(alpha: f64) -> Result<(), StatsError> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(StatsError::Domain(format!("alpha must be in (0, 1), not {alpha}")))
    }
}
