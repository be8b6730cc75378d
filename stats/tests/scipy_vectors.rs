//! The crate against scipy and statsmodels: `stats/vectors/scipy.json`, written by
//! `stats/vectors/gen.py` (Welch's t, its dof and CI, the delta method's relative CI and p, the
//! chi-square SRM, BH and Holm, the MDE), including p-values far in the tails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::Value;
use vario_stats::{AdjustMethod, MeanStats, adjust, compare, mde, srm};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/scipy.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Within `rel` of `want` relative to its size (a p-value of 1e-200 is held to its own scale).
fn close(what: &str, got: f64, want: f64, rel: f64) {
    let tol = rel * want.abs().max(f64::MIN_POSITIVE);
    assert!((got - want).abs() <= tol, "{what}: got {got:e}, scipy {want:e} (tolerance {tol:e})");
}

fn stats(v: &Value) -> MeanStats {
    MeanStats { n: f(&v[0]), sum: f(&v[1]), sum_sq: f(&v[2]) }
}

#[test]
fn welch_and_the_delta_method_match_scipy() {
    let doc = vectors();
    let cases = doc["welch"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for (i, c) in cases.iter().enumerate() {
        let r = compare(&stats(&c["control"]), &stats(&c["treatment"]), f(&c["alpha"])).unwrap();
        let w = &c["want"];
        let at = |k: &str| format!("case {i} {k}");
        close(&at("dof"), r.dof, f(&w["dof"]), 1e-9);
        close(&at("abs_effect"), r.abs_effect, f(&w["abs_effect"]), 1e-9);
        close(&at("rel_effect"), r.rel_effect, f(&w["rel_effect"]), 1e-9);
        // The CI's width is where the t quantile shows.
        let (lo, hi) = (f(&w["abs_ci"][0]), f(&w["abs_ci"][1]));
        close(&at("abs_ci width"), r.abs_ci.1 - r.abs_ci.0, hi - lo, 1e-8);
        close(&at("abs_ci lo"), r.abs_ci.0, lo, 1e-8);
        let (lo, hi) = (f(&w["rel_ci"][0]), f(&w["rel_ci"][1]));
        close(&at("rel_ci width"), r.rel_ci.1 - r.rel_ci.0, hi - lo, 1e-8);
        close(&at("p_value"), r.p_value, f(&w["p_value"]), 1e-6);
        close(&at("rel_p_value"), r.rel_p_value, f(&w["rel_p_value"]), 1e-6);
    }
}

#[test]
fn srm_matches_scipy_chisquare_down_to_tiny_p_values() {
    let doc = vectors();
    for (i, c) in doc["srm"].as_array().unwrap().iter().enumerate() {
        let observed: Vec<u64> = c["observed"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        let weights: Vec<f64> = c["weights"].as_array().unwrap().iter().map(f).collect();
        let r = srm(&observed, &weights, 0.01).unwrap();
        let w = &c["want"];
        close(&format!("case {i} chi2"), r.chi2, f(&w["chi2"]), 1e-12);
        assert_eq!(u64::from(r.dof), w["dof"].as_u64().unwrap(), "case {i} dof");
        close(&format!("case {i} p"), r.p_value, f(&w["p_value"]), 1e-6);
    }
}

#[test]
fn bh_and_holm_match_statsmodels() {
    let doc = vectors();
    for (i, c) in doc["adjust"].as_array().unwrap().iter().enumerate() {
        let p: Vec<f64> = c["p_values"].as_array().unwrap().iter().map(f).collect();
        let method = if c["method"] == "bh" { AdjustMethod::BenjaminiHochberg } else { AdjustMethod::Holm };
        let got = adjust(&p, method).unwrap();
        for (j, (g, w)) in got.iter().zip(c["want"].as_array().unwrap()).enumerate() {
            close(&format!("case {i} [{j}]"), *g, f(w), 1e-12);
        }
    }
}

#[test]
fn mde_matches_scipy_normal_quantiles() {
    let doc = vectors();
    for (i, c) in doc["mde"].as_array().unwrap().iter().enumerate() {
        let got = mde(f(&c["n_per_arm"]), f(&c["variance"]), f(&c["alpha"]), f(&c["power"])).unwrap();
        close(&format!("case {i}"), got, f(&c["want"]), 1e-9);
    }
}
