//! Statistical and property tests of the engine: uniformity, independence, ramp monotonicity,
//! layer exclusivity, and "no input panics".
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use proptest::prelude::*;
use serde_json::{Value, json};
use vario_core::{OwnedRequest, Reason, Request, Snapshot, bucket};

/// Pearson chi-square of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let e = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

// Critical values at p = 0.001 (so a correct hash fails with probability 1/1000 per check; the ids
// are fixed, so the outcome is deterministic either way).
const CHI2_99DF_P001: f64 = 148.23;
const CHI2_9999DF_P001: f64 = 10_535.0;
const CHI2_1DF_P001: f64 = 10.83;
const CHI2_81DF_P001: f64 = 124.84;

#[test]
fn buckets_are_uniform() {
    for (ids, label) in [
        ((0..200_000).map(|i| format!("user-{i}")).collect::<Vec<_>>(), "sequential"),
        ((0..200_000u64).map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))).collect(), "scrambled"),
    ] {
        let mut fine = vec![0u64; 10_000];
        let mut coarse = vec![0u64; 100];
        for id in &ids {
            let b = bucket(id, "pdp_ymal_algo", "s1", 0) as usize;
            fine[b] += 1;
            coarse[b / 100] += 1;
        }
        let c = chi_square(&coarse);
        assert!(c < CHI2_99DF_P001, "{label}: coarse chi-square {c}");
        let f = chi_square(&fine);
        assert!(f < CHI2_9999DF_P001, "{label}: fine chi-square {f}");
    }
}

#[test]
fn two_salts_are_independent() {
    let mut joint = [[0u64; 2]; 2];
    let mut grid = vec![0u64; 81];
    for i in 0..200_000 {
        let id = format!("visitor-{i}");
        let a = bucket(&id, "exp_a", "salt_a", 0);
        let b = bucket(&id, "exp_b", "salt_b", 0);
        joint[usize::from(a < 5000)][usize::from(b < 5000)] += 1;
        // 9×9 grid of deciles (dropping the top decile keeps 81 cells of equal expectation).
        if a < 9000 && b < 9000 {
            grid[(a / 1000 * 9 + b / 1000) as usize] += 1;
        }
    }
    let n: u64 = joint.iter().flatten().sum();
    let row = [joint[0][0] + joint[0][1], joint[1][0] + joint[1][1]];
    let col = [joint[0][0] + joint[1][0], joint[0][1] + joint[1][1]];
    let mut chi = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            let e = row[i] as f64 * col[j] as f64 / n as f64;
            chi += (joint[i][j] as f64 - e).powi(2) / e;
        }
    }
    assert!(chi < CHI2_1DF_P001, "2x2 independence chi-square {chi}");
    let g = chi_square(&grid);
    assert!(g < CHI2_81DF_P001, "grid chi-square {g}");
}

fn ramp_snapshot(weights: [f64; 3], traffic: f64) -> Snapshot {
    let doc = json!({
        "schema_version": 1, "version": 1,
        "placements": {"home": {"default_params": {"algo": "baseline"}}},
        "experiments": [{
            "id": "e1", "key": "home_algo", "status": "RUNNING", "placements": ["home"],
            "variants": [{"key": "a"}, {"key": "b"}, {"key": "c"}],
            "allocation": {"weights": {"a": weights[0], "b": weights[1], "c": weights[2]}, "traffic": traffic}
        }]
    });
    Snapshot::from_value(&doc).expect("valid snapshot")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Raising traffic never moves an enrolled unit (SPEC §1).
    #[test]
    fn raising_traffic_moves_nobody(a in 0u32..=100, b in 0u32..=100, t1 in 0u32..=10_000, dt in 0u32..=10_000) {
        let (a, b) = (a.min(100), b.min(100 - a.min(100)));
        let w = [f64::from(a), f64::from(b), f64::from(100 - a - b)];
        let t2 = (t1 + dt).min(10_000);
        let lo = ramp_snapshot(w, f64::from(t1) / 100.0);
        let hi = ramp_snapshot(w, f64::from(t2) / 100.0);
        for i in 0..500 {
            let id = format!("u{i}");
            let req = Request::new("home").user(&id);
            let dl = lo.decide(&req, 0);
            let dh = hi.decide(&req, 0);
            if dl.reason() == Reason::Assigned {
                prop_assert_eq!(dh.reason(), Reason::Assigned);
                prop_assert_eq!(dl.variant(), dh.variant());
            }
            prop_assert_eq!(dl.bucket(), dh.bucket());
        }
    }

    /// Arbitrary JSON never panics the compiler, and decisions over it never panic either. The
    /// arbitrary parts sit inside a schema-1 skeleton so compilation and decisions really run.
    #[test]
    fn arbitrary_json_never_panics(doc in arb_json(), exp in arb_json(), flag in arb_json(), req in arb_json(), ctx in arb_json()) {
        let _ = Snapshot::from_value(&doc);
        let _ = OwnedRequest::from_value(&req, true);
        let wrapped = json!({"schema_version": 1, "version": 1, "placements": {"home": {}, "p": {}},
            "segments": {"s": ["u1"]}, "layers": [{"key": "l"}], "experiments": [exp], "flags": [flag]});
        let s = Snapshot::from_value(&wrapped);
        prop_assert!(s.is_ok(), "a schema-1 skeleton compiles whatever its items: {:?}", s.err());
        if let Ok(s) = s {
            let ctx = match ctx { Value::Object(m) => m, _ => serde_json::Map::new() };
            for p in ["home", "p"] {
                let r = Request::new(p).user("u1").session("s1").context(&ctx).with_trace();
                prop_assert!(serde_json::from_str::<Value>(&s.decide(&r, 0).to_json()).is_ok());
            }
            let key = flag.get("key").and_then(Value::as_str).unwrap_or("f");
            prop_assert!(serde_json::from_str::<Value>(&s.flag(key, &Request::new("").user("u1").context(&ctx), 0).to_json()).is_ok());
            if let Ok(r) = OwnedRequest::from_value(&req, false) {
                let _ = s.decide(&r.as_request(), 0).to_json();
            }
        }
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = Snapshot::from_json(&text);
        let _ = OwnedRequest::from_json(&text, true);
    }

    /// A valid snapshot with one field replaced by arbitrary JSON still compiles or is rejected
    /// cleanly, and every decision on it is well-formed.
    #[test]
    fn mutated_snapshots_never_panic(path in 0usize..FIELDS.len(), v in arb_json(), uid in "[a-z0-9:]{0,8}", ctx in arb_json()) {
        let mut doc = base_doc();
        if let Some(slot) = doc.pointer_mut(FIELDS[path]) {
            *slot = v;
        }
        if let Ok(s) = Snapshot::from_value(&doc) {
            let ctx = match ctx { Value::Object(m) => m, _ => serde_json::Map::new() };
            for p in ["home", "pdp_ymal", "nope"] {
                let req = Request::new(p).user(&uid).session("s").context(&ctx).with_trace();
                let d = s.decide(&req, 1_780_000_000_000);
                prop_assert!(serde_json::from_str::<Value>(&d.to_json()).is_ok());
                // The bulk path (targeting memoised per batch) decides exactly alike.
                let batch = s.batch(&req, 1_780_000_000_000);
                prop_assert_eq!(batch.decide(Some(&uid), Some("s")).to_json(), d.to_json());
                let row = batch.row(Some(&uid), Some("s"));
                prop_assert_eq!((row.reason, row.experiment_index, row.variant_index, row.bucket),
                    (d.reason(), d.experiment_index(), d.variant_index(), d.bucket()));
            }
            for f in ["checkout_v2", "nope"] {
                let d = s.flag(f, &Request::new("").user(&uid).context(&ctx), 1_780_000_000_000);
                prop_assert!(serde_json::from_str::<Value>(&d.to_json()).is_ok());
            }
        }
    }
}

const FIELDS: &[&str] = &[
    "/schema_version",
    "/version",
    "/hashing",
    "/hashing/seed",
    "/placements",
    "/placements/home",
    "/layers",
    "/layers/0/salt",
    "/holdouts/0/percent",
    "/holdouts/0/experiments",
    "/segments",
    "/segments/vip",
    "/experiments/0",
    "/experiments/0/status",
    "/experiments/0/variants",
    "/experiments/0/variants/0/params",
    "/experiments/0/allocation",
    "/experiments/0/allocation/weights/control",
    "/experiments/0/allocation/traffic",
    "/experiments/0/targeting",
    "/experiments/0/targeting/all/0/value",
    "/experiments/0/targeting/all/1/op",
    "/experiments/0/layer",
    "/experiments/0/layer/range",
    "/experiments/0/overrides",
    "/experiments/0/start_time",
    "/experiments/1/allocation/ranges/0/end",
    "/flags/0/rules",
    "/flags/0/rules/0/rollout",
    "/flags/0/rules/0/schedule",
    "/flags/0/variants",
    "/flags/0/default_variant",
];

fn base_doc() -> Value {
    json!({
        "schema_version": 1, "version": 5, "hashing": {"algorithm": "xxh32", "seed": 7},
        "placements": {"home": {"default_params": {"limit": 12}}, "pdp_ymal": {"default_params": {"algo": "base"}}},
        "layers": [{"key": "recs", "salt": "l1"}],
        "holdouts": [{"key": "global", "percent": 5, "experiments": "*"}],
        "segments": {"vip": ["u1", "u2"]},
        "experiments": [
            {"id": 1, "key": "home_x", "status": "RUNNING", "placements": ["home"],
             "layer": {"key": "recs", "range": [0, 5000]},
             "targeting": {"all": [{"attr": "locale", "op": "eq", "value": "en-GB"}, {"attr": "app_version", "op": "semver_gte", "value": "2.1"}]},
             "variants": [{"key": "control", "params": {}}, {"key": "t", "params": {"limit": 24}}],
             "allocation": {"weights": {"control": 50, "t": 50}, "traffic": 80},
             "overrides": [{"unit": "user", "id": "qa", "variant": "t"}],
             "start_time": "2026-01-01T00:00:00Z"},
            {"id": 2, "key": "pdp_y", "status": "RUNNING", "placements": ["pdp_ymal"],
             "variants": [{"key": "a"}, {"key": "b"}],
             "allocation": {"ranges": [{"variant": "a", "start": 0, "end": 3000}, {"variant": "b", "start": 5000, "end": 10000}]}}
        ],
        "flags": [{"key": "checkout_v2", "variants": {"off": false, "on": true}, "default_variant": "off",
                   "rules": [{"kind": "gradual", "targeting": {"attr": "user_id", "op": "in_segment", "value": "vip"},
                              "rollout": {"variant": "on", "percent": 10},
                              "schedule": [{"at": "2026-01-01T00:00:00Z", "percent": 50}]}]}]
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z_:\\-0-9]{0,10}".prop_map(Value::String),
        prop_oneof![Just("RUNNING"), Just("user"), Just("eq"), Just("xxh32"), Just("home"), Just("*")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,8}",
                    Just("key".to_owned()),
                    Just("schema_version".to_owned()),
                    Just("placement".to_owned()),
                    Just("user_id".to_owned()),
                    Just("all".to_owned()),
                    Just("attr".to_owned()),
                    Just("op".to_owned()),
                    Just("value".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn no_unit_in_two_experiments_of_one_layer() {
    let doc = json!({
        "schema_version": 1, "version": 1,
        "placements": {"home": {}, "feed": {}, "search": {}},
        "layers": [{"key": "recs"}],
        "experiments": [
            {"id": 1, "key": "a", "status": "RUNNING", "placements": ["home"], "layer": {"key": "recs", "range": [0, 3333]},
             "variants": [{"key": "c"}, {"key": "t"}], "allocation": {"weights": {"c": 50, "t": 50}}},
            {"id": 2, "key": "b", "status": "RUNNING", "placements": ["feed"], "layer": {"key": "recs", "range": [3333, 6666]},
             "variants": [{"key": "c"}, {"key": "t"}], "allocation": {"weights": {"c": 50, "t": 50}}},
            {"id": 3, "key": "c", "status": "RUNNING", "placements": ["search"], "layer": {"key": "recs", "range": [6666, 10000]},
             "variants": [{"key": "c"}, {"key": "t"}], "allocation": {"weights": {"c": 50, "t": 50}}}
        ]
    });
    let s = Snapshot::from_value(&doc).expect("valid");
    assert!(s.lints().is_empty(), "{:?}", s.lints());
    let mut per_exp = [0u32; 3];
    for i in 0..30_000 {
        let id = format!("u{i}");
        let enrolled: Vec<usize> = ["home", "feed", "search"]
            .iter()
            .enumerate()
            .filter(|(_, p)| s.decide(&Request::new(p).user(&id), 0).reason() == Reason::Assigned)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(enrolled.len(), 1, "{id} enrolled in {enrolled:?}");
        per_exp[enrolled[0]] += 1;
    }
    for n in per_exp {
        assert!((9_500..10_500).contains(&n), "layer split {per_exp:?}");
    }
}

#[test]
fn mutation_base_is_valid_and_decides() {
    let s = Snapshot::from_value(&base_doc()).expect("base snapshot compiles");
    assert!(s.lints().is_empty(), "{:?}", s.lints());
    let ctx = json!({"locale": "en-GB", "app_version": "2.3.0"});
    let ctx = ctx.as_object().expect("object");
    let reasons: std::collections::BTreeSet<String> = (0..2000)
        .map(|i| format!("u{i}"))
        .map(|id| format!("{:?}", s.decide(&Request::new("home").user(&id).context(ctx), 1_780_000_000_000).reason()))
        .collect();
    // The base exercises holdout, layer, traffic and assignment paths.
    for r in ["Assigned", "Holdout", "LayerMiss", "TrafficMiss"] {
        assert!(reasons.contains(r), "{r} not reached: {reasons:?}");
    }
}
