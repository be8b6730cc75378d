//! Group-sequential boundaries by Lan–DeMets alpha spending, and the minimum detectable effect.
//!
//! For information fractions `0 < t_1 < … < t_K = 1` and a two-sided level `alpha`, the bound
//! `c_k` on `|Z_k|` spends `α(t_k) − α(t_{k−1})` at look `k`, with
//! Pocock-type `α(t) = alpha · ln(1 + (e − 1) t)` or O'Brien–Fleming-type
//! `α(t) = 2 − 2 Φ(z_{1−alpha/2} / √t)`. The crossing probabilities are computed exactly (up to
//! the grid) by integrating the not-yet-stopped density of the Brownian motion `B(t) = Z(t) √t`
//! from look to look on a grid (Armitage, McPherson and Rowe's recursion).

use crate::{StatsError, check_alpha};
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// How alpha is spent over the looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    /// `alpha · ln(1 + (e − 1) t)`: nearly constant bounds.
    Pocock,
    /// `2 − 2 Φ(z / √t)`: very strict early, close to the fixed-sample bound at the end.
    OBrienFleming,
}

/// Grid points across `(−b, b)` for the density between looks.
const GRID: usize = 801;

fn spent(s: Spending, alpha: f64, t: f64, n: &Normal) -> f64 {
    match s {
        Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
        Spending::OBrienFleming => 2.0 - 2.0 * n.cdf(n.inverse_cdf(1.0 - alpha / 2.0) / t.sqrt()),
    }
}

/// The two-sided z bounds for looks at information `fractions` (increasing, in `(0, 1]`).
pub fn sequential_bounds(fractions: &[f64], alpha: f64, spending: Spending) -> Result<Vec<f64>, StatsError> {
    check_alpha(alpha)?;
    if fractions.is_empty()
        || fractions.windows(2).any(|w| w[0] >= w[1])
        || fractions.iter().any(|t| !(*t > 0.0 && *t <= 1.0))
    {
        return Err(StatsError::Domain("information fractions must increase within (0, 1]".into()));
    }
    let n = Normal::standard();
    let mut bounds = Vec::with_capacity(fractions.len());
    // The density of B(t_k) on the grid `xs` among paths that have not crossed yet.
    let (mut xs, mut dens): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut t_prev, mut spent_prev) = (0.0, 0.0);
    for (k, &t) in fractions.iter().enumerate() {
        let target = (spent(spending, alpha, t, &n) - spent_prev).max(0.0);
        let dt = t - t_prev;
        let sd = dt.sqrt();
        // Probability that a path alive at the previous look is beyond ±b at this one.
        let cross = |b: f64| -> f64 {
            if k == 0 {
                return 2.0 * (1.0 - n.cdf(b / sd));
            }
            integrate(&xs, |i| dens[i] * ((1.0 - n.cdf((b - xs[i]) / sd)) + n.cdf((-b - xs[i]) / sd)))
        };
        // The crossing probability falls as b grows: bisection on the B scale.
        let (mut lo, mut hi) = (0.0f64, 40.0 * t.sqrt());
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if cross(mid) > target { lo = mid } else { hi = mid }
        }
        let b = 0.5 * (lo + hi);
        bounds.push(b / t.sqrt());
        // Carry the density to this look, truncated at ±b.
        let next: Vec<f64> = (0..GRID).map(|j| -b + 2.0 * b * j as f64 / (GRID - 1) as f64).collect();
        let nd: Vec<f64> =
            next.iter()
                .map(|&y| {
                    if k == 0 { n.pdf(y / sd) / sd } else { integrate(&xs, |i| dens[i] * n.pdf((y - xs[i]) / sd) / sd) }
                })
                .collect();
        xs = next;
        dens = nd;
        t_prev = t;
        spent_prev += target;
    }
    Ok(bounds)
}

/// Simpson's rule over an odd number of equally spaced points.
fn integrate(xs: &[f64], f: impl Fn(usize) -> f64) -> f64 {
    let m = xs.len();
    if m < 3 {
        return 0.0;
    }
    let h = (xs[m - 1] - xs[0]) / (m - 1) as f64;
    let mut s = f(0) + f(m - 1);
    for i in 1..m - 1 {
        s += f(i) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// The minimum detectable absolute effect of a two-arm test with `n_per_arm` units per arm,
/// per-unit `variance`, two-sided level `alpha` and `power`: `(z_{1−α/2} + z_power) √(2 var / n)`.
pub fn mde(n_per_arm: f64, variance: f64, alpha: f64, power: f64) -> Result<f64, StatsError> {
    check_alpha(alpha)?;
    // Written so that NaN fails every check.
    let ok = power > 0.0 && power < 1.0 && n_per_arm > 0.0 && variance >= 0.0 && variance.is_finite();
    if !ok {
        return Err(StatsError::Domain("power in (0, 1), n_per_arm > 0 and variance >= 0 needed".into()));
    }
    let n = Normal::standard();
    Ok((n.inverse_cdf(1.0 - alpha / 2.0) + n.inverse_cdf(power)) * (2.0 * variance / n_per_arm).sqrt())
}
