//! Known answers: gbstats' golden comparison, chi-square p-values from closed forms, and
//! multiple-testing adjustments worked by hand (as statsmodels' `multipletests` gives them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use vario_core::{Coded, ErrorCode};
use vario_stats::{
    AdjustMethod, MeanStats, PairStats, ProportionStats, Spending, StatsError, adjust, compare, compare_cuped,
    compare_ratio, mde, preference, sequential_bounds, srm,
};

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

#[test]
fn gbstats_golden_mean_metric() {
    let c = MeanStats { n: 3407.0, sum: 1396.87, sum_sq: 52377.9767 };
    let t = MeanStats { n: 3461.0, sum: 2422.7, sum_sq: 134698.29 };
    let r = compare(&c, &t, 0.05).unwrap();
    close(r.abs_effect, 0.29, 1e-9);
    close(r.abs_ci.0, 0.04538, 5e-5);
    close(r.abs_ci.1, 0.53462, 5e-5);
    close(r.p_value, 0.02016, 5e-5);
    close(r.rel_effect, 0.70732, 5e-5);
    close(r.rel_ci.0, -0.03526, 5e-5);
    close(r.rel_ci.1, 1.44989, 5e-5);
    close(r.rel_p_value, 0.06191, 5e-5);
    assert!(r.adjustments.is_empty());
}

#[test]
fn sufficient_statistics_add_up() {
    let a = MeanStats { n: 10.0, sum: 4.0, sum_sq: 3.0 };
    let b = MeanStats { n: 5.0, sum: 1.0, sum_sq: 1.0 };
    assert_eq!(a + b, MeanStats { n: 15.0, sum: 5.0, sum_sq: 4.0 });
    let p = ProportionStats { n: 200.0, successes: 50.0 } + ProportionStats { n: 200.0, successes: 30.0 };
    let m = p.to_mean();
    close(m.mean(), 0.2, 1e-12);
    close(m.variance(), 0.2 * 0.8, 1e-12);
}

#[test]
fn srm_matches_the_closed_form_and_ignores_zero_weight_arms() {
    // df = 1: p = erfc(sqrt(chi2 / 2)); 5000 vs 5200 at 50/50 gives chi2 = 3.92157, p = 0.047669.
    let r = srm(&[5000, 5200], &[50.0, 50.0], 0.01).unwrap();
    close(r.chi2, 3.921_568_6, 1e-6);
    close(r.p_value, 0.047_669, 2e-6);
    assert_eq!(r.dof, 1);
    assert!(!r.mismatch);
    // A zero-weight arm with no units changes nothing, not even the degrees of freedom.
    let z = srm(&[5000, 0, 5200], &[50.0, 0.0, 50.0], 0.01).unwrap();
    assert_eq!((z.chi2, z.dof, z.p_value), (r.chi2, r.dof, r.p_value));
    // One that received units is a mismatch.
    assert!(srm(&[5000, 3, 5200], &[50.0, 0.0, 50.0], 0.01).unwrap().mismatch);
    // df = 2: p = exp(-chi2 / 2).
    let r = srm(&[1000, 1100, 900], &[1.0, 1.0, 1.0], 0.01).unwrap();
    close(r.chi2, 20.0, 1e-9);
    close(r.p_value, (-10.0f64).exp(), 1e-9);
    assert!(r.mismatch);
}

#[test]
fn adjusted_p_values() {
    let p = [0.01, 0.04, 0.03, 0.005];
    let bh = adjust(&p, AdjustMethod::BenjaminiHochberg).unwrap();
    for (g, w) in bh.iter().zip([0.02, 0.04, 0.04, 0.02]) {
        close(*g, w, 1e-12);
    }
    let holm = adjust(&p, AdjustMethod::Holm).unwrap();
    for (g, w) in holm.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        close(*g, w, 1e-12);
    }
    assert!(adjust(&[1.5], AdjustMethod::Holm).is_err());
}

#[test]
fn bad_input_is_an_invalid_request() {
    let ok = MeanStats { n: 100.0, sum: 10.0, sum_sq: 5.0 };
    for (c, t, alpha) in [
        (MeanStats { n: 1.0, sum: 1.0, sum_sq: 1.0 }, ok, 0.05),
        (MeanStats { n: f64::NAN, sum: 1.0, sum_sq: 1.0 }, ok, 0.05),
        (ok, ok, 0.0),
        (MeanStats { n: 100.0, sum: 0.0, sum_sq: 0.0 }, ok, 0.05),
    ] {
        let e: StatsError = compare(&c, &t, alpha).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
    }
    assert!(srm(&[1, 2], &[1.0], 0.01).is_err());
    assert!(srm(&[1, 2], &[1.0, -1.0], 0.01).is_err());
}

#[test]
fn interleaving_preference_and_sign_test() {
    // 60 wins for a, 40 for b, 0 ties: Δ = 0.1; the scores are 0/1 so se = sqrt(0.6·0.4/100).
    let r = preference(60, 40, 0, 0.05).unwrap();
    close(r.delta, 0.1, 1e-12);
    let half = 1.959_964 * (0.24f64 / 100.0).sqrt();
    close(r.ci.0, 0.1 - half, 1e-6);
    close(r.ci.1, 0.1 + half, 1e-6);
    // Exact two-sided binomial: 2·P(X <= 40 | n = 100, p = ½) = 0.056888 (the binomial coefficients summed exactly).
    close(r.p_value, 0.056_887, 2e-6);
    // Ties count half in Δ and not at all in the sign test.
    let t = preference(60, 40, 100, 0.05).unwrap();
    close(t.delta, 0.05, 1e-12);
    assert_eq!(t.p_value, r.p_value);
    assert_eq!(preference(0, 0, 5, 0.05).unwrap().p_value, 1.0);
    assert!(preference(0, 0, 0, 0.05).is_err());
}

/// A deterministic normal generator for simulated units (splitmix64 + Box–Muller).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

fn pair(rows: &[(f64, f64)]) -> PairStats {
    rows.iter().fold(PairStats::default(), |a, &(x, y)| {
        a + PairStats { n: 1.0, sum_y: y, sum_y_sq: y * y, sum_x: x, sum_x_sq: x * x, sum_xy: x * y }
    })
}

#[test]
fn cuped_shrinks_the_interval_by_sqrt_one_minus_rho_squared() {
    // y = rho·x + sqrt(1 − rho²)·e (unit variances), treatment adds 0.05.
    let rho: f64 = 0.8;
    let mut rng = Rng(11);
    let mut arm = |lift: f64| {
        let rows: Vec<(f64, f64)> = (0..20_000)
            .map(|_| {
                let x = rng.normal();
                (x, rho * x + (1.0 - rho * rho).sqrt() * rng.normal() + lift)
            })
            .collect();
        pair(&rows)
    };
    let (c, t) = (arm(0.0), arm(0.05));
    let raw = compare(
        &MeanStats { n: c.n, sum: c.sum_y, sum_sq: c.sum_y_sq },
        &MeanStats { n: t.n, sum: t.sum_y, sum_sq: t.sum_y_sq },
        0.05,
    )
    .unwrap();
    let (cuped, theta) = compare_cuped(&c, &t, 0.05).unwrap();
    close(theta, rho, 0.02);
    let ratio = (cuped.abs_ci.1 - cuped.abs_ci.0) / (raw.abs_ci.1 - raw.abs_ci.0);
    close(ratio, (1.0 - rho * rho).sqrt(), 0.02);
    assert_eq!(cuped.adjustments, vec!["cuped"]);
    // A constant covariate: the raw comparison, no adjustment claimed.
    let flat = |s: PairStats| PairStats { sum_x: s.n, sum_x_sq: s.n, sum_xy: s.sum_y, ..s };
    let (same, theta) = compare_cuped(&flat(c), &flat(t), 0.05).unwrap();
    assert_eq!(theta, 0.0);
    assert!(same.adjustments.is_empty());
    close(same.abs_effect, raw.abs_effect, 1e-12);
}

#[test]
fn ratio_metric_variance_is_the_delta_method() {
    // Clicks over impressions per unit; the delta-method variance of the ratio of means equals
    // the variance of the linearised per-unit values (y − r·x) / x̄, divided by n.
    let mut rng = Rng(5);
    let rows: Vec<(f64, f64)> = (0..5000)
        .map(|_| {
            let imps = 1.0 + (rng.uniform() * 20.0).floor();
            (imps, (imps * 0.1 + rng.normal()).max(0.0).round())
        })
        .collect();
    let s = pair(&rows);
    let (mx, r) = (s.sum_x / s.n, s.sum_y / s.sum_x);
    let lin: Vec<f64> = rows.iter().map(|(x, y)| (y - r * x) / mx).collect();
    let m = lin.iter().sum::<f64>() / s.n;
    let var_lin = lin.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (s.n - 1.0) / s.n;
    let c = compare_ratio(&s, &s, 0.05).unwrap();
    close(c.control_mean, r, 1e-12);
    // The CI half-width of a zero difference is q·sqrt(2·var): recover var and compare.
    let q = 1.960_2; // t quantile at ~10k dof
    let var = ((c.abs_ci.1 - c.abs_ci.0) / 2.0 / q).powi(2) / 2.0;
    close(var / var_lin, 1.0, 1e-3);
    assert_eq!(c.adjustments, vec!["delta_method"]);
}

#[test]
fn one_look_is_the_fixed_sample_bound_and_mde_is_the_textbook_formula() {
    for s in [Spending::Pocock, Spending::OBrienFleming] {
        close(sequential_bounds(&[1.0], 0.05, s).unwrap()[0], 1.959_964, 1e-5);
    }
    // (1.959964 + 0.841621) · sqrt(2 / 1000) = 0.125291
    close(mde(1000.0, 1.0, 0.05, 0.8).unwrap(), 0.125_291, 1e-5);
}

#[test]
fn sequential_bounds_spend_alpha_as_promised() {
    let fr = [0.2, 0.4, 0.6, 0.8, 1.0];
    let pocock = sequential_bounds(&fr, 0.05, Spending::Pocock).unwrap();
    let obf = sequential_bounds(&fr, 0.05, Spending::OBrienFleming).unwrap();
    // Shapes: O'Brien–Fleming strict early and near 1.96 at the end; Pocock nearly flat.
    assert!(obf.windows(2).all(|w| w[0] > w[1]) && obf[0] > 4.0 && obf[4] < 2.1, "{obf:?}");
    assert!(pocock.iter().all(|b| (2.3..2.5).contains(b)), "{pocock:?}");
    // Monte Carlo under the null: the rejection rate at each look is the alpha spent there.
    let mut rng = Rng(3);
    let runs = 400_000;
    let n = statrs::distribution::Normal::standard();
    let pocock_spend = |t: f64| 0.05 * (1.0 + (std::f64::consts::E - 1.0) * t).ln();
    let obf_spend = |t: f64| {
        use statrs::distribution::ContinuousCDF;
        2.0 - 2.0 * n.cdf(n.inverse_cdf(0.975) / t.sqrt())
    };
    type Case<'a> = (&'a Vec<f64>, &'a dyn Fn(f64) -> f64);
    let cases: [Case; 2] = [(&pocock, &pocock_spend), (&obf, &obf_spend)];
    for (bounds, spend) in cases {
        let mut first = [0u64; 5];
        for _ in 0..runs {
            let (mut b, mut t_prev) = (0.0, 0.0);
            for (k, &t) in fr.iter().enumerate() {
                b += rng.normal() * (t - t_prev).sqrt();
                t_prev = t;
                if (b / t.sqrt()).abs() > bounds[k] {
                    first[k] += 1;
                    break;
                }
            }
        }
        let total = first.iter().sum::<u64>() as f64 / runs as f64;
        // 400k runs: the standard error of a 5 % rate is 0.00034; allow 4 of them.
        close(total, 0.05, 0.0014);
        let mut prev = 0.0;
        for (k, &t) in fr.iter().enumerate() {
            let want = spend(t) - prev;
            prev = spend(t);
            let got = first[k] as f64 / runs as f64;
            close(got, want, 4.0 * (want / runs as f64).sqrt() + 1e-4);
        }
    }
}
