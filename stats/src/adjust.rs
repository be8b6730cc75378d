//! Multiple-testing control: adjusted p-values, returned in the input's order.

use crate::StatsError;

/// How to adjust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustMethod {
    /// Benjamini–Hochberg (false discovery rate).
    BenjaminiHochberg,
    /// Holm (family-wise error rate, step-down Bonferroni).
    Holm,
}

/// Adjusted p-values for `p` (each in `[0, 1]`), in the same order.
pub fn adjust(p: &[f64], method: AdjustMethod) -> Result<Vec<f64>, StatsError> {
    if p.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return Err(StatsError::Domain("p-values must be in [0, 1]".into()));
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    match method {
        AdjustMethod::BenjaminiHochberg => {
            // From the largest p down: q_(i) = min(q_(i+1), p_(i) · m / i).
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min(p[i] * m as f64 / (rank + 1) as f64);
                out[i] = running.min(1.0);
            }
        }
        AdjustMethod::Holm => {
            // From the smallest p up: q_(i) = max(q_(i−1), p_(i) · (m − i + 1)).
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max(p[i] * (m - rank) as f64);
                out[i] = running.min(1.0);
            }
        }
    }
    Ok(out)
}
