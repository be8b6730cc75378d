//! Items that fail their strict parse keep their identity (contract/snapshot.md, "Per-item
//! isolation"): whatever else an item holds (a number past f64, nesting past the parser's depth
//! limit, a lone surrogate escape), it answers CONFIG_ERROR under its own key on its own
//! placements, and a flag's kill switch still serves its default variant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use vario_core::{FlagReason, LintCode, Reason, Request, Snapshot};

/// The values the strict parse cannot hold, each put inside an otherwise valid item.
fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("huge exponent", "1e400".to_owned()),
        ("400 digits", format!("1{}", "0".repeat(400))),
        ("deep nesting", format!("{}1{}", "[".repeat(200), "]".repeat(200))),
        ("lone surrogate", r#""a\ud800b""#.to_owned()),
    ]
}

/// A snapshot with one experiment and one kill-switch flag; `experiment_value` is a param of its
/// variant `b`, `flag_value` the value of the flag's variant `on` (not the default).
fn snapshot(experiment_value: &str, flag_value: &str, flag_extra: &str, key_suffix: &str) -> String {
    format!(
        r#"{{"schema_version": 1, "version": 3,
            "placements": {{"home": {{"default_params": {{"algo": "base"}}}}, "cart": {{}}}},
            "experiments": [{{"id": 7, "key": "home_algo{key_suffix}", "status": "RUNNING", "placements": ["home"],
              "variants": [{{"key": "a"}}, {{"key": "b", "params": {{"x": {experiment_value}}}}}],
              "allocation": {{"weights": {{"a": 50, "b": 50}}}}}}],
            "flags": [{{"key": "checkout_kill{key_suffix}", "kill_switch": true, "default_variant": "off",
              "variants": {{"on": {flag_value}, "off": false}}{flag_extra}}}]}}"#
    )
}

#[test]
fn hostile_values_do_not_erase_an_item() {
    for (what, value) in hostile() {
        let text = snapshot(&value, &value, "", "");
        let snap = Snapshot::from_json(&text).unwrap_or_else(|e| panic!("{what}: the document is refused: {e}"));
        let d = snap.decide(&Request::new("home").user("u-1"), 0);
        assert_eq!(d.reason(), Reason::ConfigError, "{what}: {}", d.to_json());
        assert_eq!(d.experiment_key(), Some("home_algo"), "{what}");
        assert_eq!(d.params().get("algo").and_then(|v| v.as_str()), Some("base"), "{what}");
        let f = snap.flag("checkout_kill", &Request::new("home").user("u-1"), 0);
        assert_eq!(f.reason(), FlagReason::KillSwitch, "{what}: {}", f.to_json());
        assert_eq!(f.variant(), Some("off"), "{what}");
        assert_eq!(f.value(), Some(&serde_json::Value::Bool(false)), "{what}");
        let items: Vec<_> = snap.lints().iter().map(|l| (l.code, l.item.as_str())).collect();
        assert!(items.contains(&(LintCode::Malformed, "experiment:home_algo")), "{what}: {items:?}");
        assert!(items.contains(&(LintCode::Malformed, "flag:checkout_kill")), "{what}: {items:?}");
    }
}

#[test]
fn a_lone_surrogate_in_the_key_becomes_a_replacement_character() {
    let snap = Snapshot::from_json(&snapshot("1e400", "true", "", r"\udc00")).expect("the document loads");
    let key = "home_algo\u{fffd}";
    let d = snap.decide(&Request::new("home").user("u-1"), 0);
    assert_eq!((d.reason(), d.experiment_key()), (Reason::ConfigError, Some(key)), "{}", d.to_json());
    let f = snap.flag("checkout_kill\u{fffd}", &Request::new("home"), 0);
    assert_eq!(f.reason(), FlagReason::KillSwitch);
}

#[test]
fn an_invalid_flag_without_a_usable_kill_switch_is_a_config_error() {
    for (value, extra) in [("true", r#", "rules": [{"kind": "nope"}]"#), ("1e400", "")] {
        let text = snapshot("1", value, extra, "").replace(r#""kill_switch": true"#, r#""kill_switch": false"#);
        let snap = Snapshot::from_json(&text).expect("loads");
        assert_eq!(snap.flag("checkout_kill", &Request::new("home"), 0).reason(), FlagReason::ConfigError, "{extra}");
    }
    // A kill switch naming a variant the flag does not define cannot serve anything.
    let text = snapshot("1", "1e400", "", "").replace(r#""default_variant": "off""#, r#""default_variant": "gone""#);
    let snap = Snapshot::from_json(&text).expect("loads");
    assert_eq!(snap.flag("checkout_kill", &Request::new("home"), 0).reason(), FlagReason::ConfigError);
}

#[test]
fn a_huge_bad_regex_is_quoted_not_copied() {
    let pattern = format!("({}", "a".repeat(5 << 20));
    let text = snapshot("1", "true", "", "").replace(
        r#""allocation": {"weights""#,
        &format!(
            r#""targeting": {{"attr": "locale", "op": "matches", "value": "{pattern}"}}, "allocation": {{"weights""#
        ),
    );
    let snap = Snapshot::from_json(&text).expect("loads");
    let lint = snap.lints().iter().find(|l| l.code == LintCode::BadRegex).expect("a BAD_REGEX lint");
    assert_eq!(lint.item, "experiment:home_algo");
    assert!(lint.message.len() <= 2048, "a {}-byte message", lint.message.len());
    assert!(lint.message.contains("more bytes"), "{}", lint.message);
}
