//! Fixtures shared by the runtime benches: one experiment, one targeting rule, three variants.

use serde_json::{Map, Value, json};

/// The bench snapshot (JSON text).
pub fn snapshot_json() -> String {
    json!({
        "schema_version": 1, "version": 1, "privacy": {"id_hash_key": "bench"},
        "placements": {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}}},
        "experiments": [{
            "id": 1, "key": "ymal_algo", "status": "RUNNING", "placements": ["pdp_ymal"],
            "targeting": {"attr": "locale", "op": "eq", "value": "en-GB"},
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}, {"key": "graph", "params": {"algo": "graph"}}],
            "allocation": {"weights": {"control": 34, "two_tower": 33, "graph": 33}}
        }]
    })
    .to_string()
}

/// 100 000 distinct user ids.
#[allow(dead_code)] // the memory bench makes its own 10 M
pub fn user_ids() -> Vec<String> {
    (0..100_000).map(|i| format!("user-{i:07}")).collect()
}

/// A request context that matches the targeting rule.
pub fn context() -> Map<String, Value> {
    json!({"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB"}).as_object().cloned().unwrap_or_default()
}

/// Writes a result file for `benches/report.py` into `target/bench/` (or `$VARIO_BENCH_OUT`).
#[allow(dead_code)] // not every bench writes result files
pub fn write_result(name: &str, v: &Value) {
    let dir: std::path::PathBuf = std::env::var_os("VARIO_BENCH_OUT").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), Into::into)
                .join("bench")
        },
        Into::into,
    );
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap_or_default()).expect("write bench result");
    println!("wrote {}", path.display());
}
