//! Whole-snapshot limits: a section with more than `MAX_ITEMS` items is refused before any item
//! is compiled (issue 14's budget on items), and one at the limit is not refused for its size.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use vario_core::{Coded, ErrorCode, MAX_ITEMS, Snapshot};

fn with_section(name: &str, n: usize, object: bool) -> String {
    let items = if object {
        let body: Vec<String> = (0..n).map(|i| format!("\"p{i}\":{{}}")).collect();
        format!("{{{}}}", body.join(","))
    } else {
        format!("[{}]", vec!["{}"; n].join(","))
    };
    format!(r#"{{"schema_version": 1, "version": 1, "{name}": {items}}}"#)
}

#[test]
fn a_section_over_the_item_cap_is_refused_whole() {
    for (name, object) in [("experiments", false), ("flags", false), ("layers", false), ("placements", true)] {
        let e = Snapshot::from_json(&with_section(name, MAX_ITEMS + 1, object)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSnapshot, "{name}");
        assert!(e.to_string().contains(name), "{name}: {e}");
    }
    // At the cap: compiled (every empty item is a lint, none refuses the snapshot).
    let s = Snapshot::from_json(&with_section("placements", MAX_ITEMS, true)).expect("at the cap");
    assert!(s.lints().len() <= MAX_ITEMS);
}
