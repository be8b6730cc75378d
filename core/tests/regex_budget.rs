//! The per-snapshot regex budget (contract/snapshot.md, "Regex budget"): past 5,000 `matches`
//! patterns, or 64 MiB of them compiled, an item is `BAD_REGEX` and decides `CONFIG_ERROR`, and
//! the items before it keep deciding as before.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Value, json};
use vario_core::{FlagReason, LintCode, Reason, Request, Snapshot};

/// `n` experiments, each alone on placement `p<i>` and targeted by `pattern(i)` on `user_id`,
/// then one flag whose rule uses the pattern `flag_pattern`.
fn snapshot(n: usize, pattern: impl Fn(usize) -> String, flag_pattern: &str) -> Value {
    let placements: serde_json::Map<String, Value> = (0..n).map(|i| (format!("p{i}"), json!({}))).collect();
    let experiments: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": i, "key": format!("e{i}"), "status": "RUNNING", "placements": [format!("p{i}")],
                "targeting": {"attr": "user_id", "op": "matches", "value": pattern(i)},
                "variants": [{"key": "a"}, {"key": "b"}], "allocation": {"weights": {"a": 50, "b": 50}}
            })
        })
        .collect();
    json!({
        "schema_version": 1, "version": 1, "placements": placements, "experiments": experiments,
        "flags": [{"key": "f", "variants": {"off": false, "on": true}, "default_variant": "off",
                   "rules": [{"kind": "target", "targeting": {"attr": "user_id", "op": "matches", "value": flag_pattern},
                              "rollout": {"variant": "on"}}]}]
    })
}

fn bad_regex_items(snap: &Snapshot) -> Vec<String> {
    snap.lints().iter().filter(|l| l.code == LintCode::BadRegex).map(|l| l.item.clone()).collect()
}

#[test]
fn the_5001st_pattern_is_over_the_count() {
    let snap = Snapshot::from_value(&snapshot(5_000, |i| format!("^u{i}$"), "^u0$")).expect("loads");
    // 5,000 experiments fit; the flag's pattern is the 5,001st (flags compile after experiments).
    assert_eq!(bad_regex_items(&snap), ["flag:f"]);
    let lint = snap.lints().iter().find(|l| l.item == "flag:f").expect("lint");
    assert!(lint.message.contains("budget of 5000 regexes"), "{}", lint.message);
    assert_eq!(snap.flag("f", &Request::new("").user("u0"), 0).reason(), FlagReason::ConfigError);
    for i in [0, 4_999] {
        let (p, u) = (format!("p{i}"), format!("u{i}"));
        assert_eq!(snap.decide(&Request::new(&p).user(&u), 0).reason(), Reason::Assigned, "e{i}");
        assert_eq!(snap.decide(&Request::new(&p).user("other"), 0).reason(), Reason::TargetingMiss, "e{i}");
    }
    // One fewer experiment: the flag fits and serves.
    let snap = Snapshot::from_value(&snapshot(4_999, |i| format!("^u{i}$"), "^u0$")).expect("loads");
    assert!(bad_regex_items(&snap).is_empty(), "{:?}", snap.lints());
    assert_eq!(snap.flag("f", &Request::new("").user("u0"), 0).reason(), FlagReason::TargetMatch);
}

#[test]
fn large_patterns_run_out_of_bytes_first() {
    // Each `\w{40}` is a large Unicode NFA: the 64 MiB run out long before 5,000 patterns.
    let n = 200;
    let snap = Snapshot::from_value(&snapshot(n, |i| format!("^{i}-\\w{{40}}$"), "^x$")).expect("loads");
    let bad = bad_regex_items(&snap);
    assert!(!bad.is_empty() && bad.len() < n, "{} of {n} refused", bad.len());
    let first_bad: usize = bad[0].trim_start_matches("experiment:e").parse().expect("an experiment");
    // Charged in document order: everything before the first refused item compiled, and every
    // experiment after it is refused too (they are all the same size); the small flag still fits.
    assert_eq!(bad.len(), n - first_bad, "{bad:?}");
    assert!(!bad.contains(&"flag:f".to_owned()));
    let lint = snap.lints().iter().find(|l| l.item == bad[0]).expect("lint");
    assert!(lint.message.contains("64 MiB"), "{}", lint.message);
    let ok_user = format!("0-{}", "é".repeat(40));
    assert_eq!(snap.decide(&Request::new("p0").user(&ok_user), 0).reason(), Reason::Assigned);
    let p = format!("p{first_bad}");
    assert_eq!(snap.decide(&Request::new(&p).user("any"), 0).reason(), Reason::ConfigError);
}
