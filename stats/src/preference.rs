//! Interleaving preference (issue 19): from per-impression winners, the preference score
//! `Δ = (wins_a + ties / 2) / (wins_a + wins_b + ties) − 0.5` with a normal confidence interval,
//! and the two-sided sign test of `a` against `b` (ties left out, as the sign test does).

use crate::{StatsError, check_alpha};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};

/// The preference for ranking `a` over `b`: positive favours `a`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preference {
    /// `Δ`.
    pub delta: f64,
    /// Its two-sided `1 − alpha` confidence interval (normal approximation on the per-impression
    /// scores 1, ½, 0).
    pub ci: (f64, f64),
    /// The exact two-sided sign-test p-value of `wins_a` among `wins_a + wins_b`.
    pub p_value: f64,
    /// Impressions with a winner or a tie (`none` impressions are not counted).
    pub impressions: u64,
}

/// The preference from counts of impressions won by `a`, won by `b` and tied.
pub fn preference(wins_a: u64, wins_b: u64, ties: u64, alpha: f64) -> Result<Preference, StatsError> {
    check_alpha(alpha)?;
    let n = wins_a + wins_b + ties;
    if n == 0 {
        return Err(StatsError::NotEnoughData("no impression with a click".into()));
    }
    let nf = n as f64;
    let score = (wins_a as f64 + ties as f64 / 2.0) / nf;
    let mean_sq = (wins_a as f64 + ties as f64 / 4.0) / nf;
    let se = ((mean_sq - score * score).max(0.0) / nf).sqrt();
    let z = Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
    let decided = wins_a + wins_b;
    let p_value = if decided == 0 {
        1.0
    } else {
        let b = Binomial::new(0.5, decided).map_err(|e| StatsError::Domain(e.to_string()))?;
        let k = wins_a.min(wins_b);
        (2.0 * b.cdf(k)).min(1.0)
    };
    let delta = score - 0.5;
    Ok(Preference { delta, ci: (delta - z * se, delta + z * se), p_value, impressions: n })
}
