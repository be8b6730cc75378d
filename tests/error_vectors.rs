//! The shared error vectors (`contract/vectors/errors.json`) through the Rust runtime: every input
//! is refused with the stable code the C, Python and Node suites check too. Client calls go through
//! `vario::host::HostClient`, the layer the bindings share (it owns the closed state), built from
//! the same JSON options a binding would pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::time::Duration;
use vario::core::{Coded, ErrorCode, OwnedRequest, Snapshot};
use vario::host::{HostClient, Surface};

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contract/vectors/errors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("errors.json")).expect("JSON")
}

fn client(snapshot: &Value, sink: &std::path::Path, extra: &Map<String, Value>) -> Result<HostClient, ErrorCode> {
    let mut opts = json!({"bootstrap": snapshot.to_string(), "sink_path": sink.display().to_string()});
    for (k, v) in extra {
        opts[k] = v.clone();
    }
    HostClient::from_json(&opts.to_string(), Surface::Rust).map_err(|e| e.code())
}

/// The code the runtime gives the case's input, or `None` when it was accepted.
fn run(case: &Value, snapshot: &Value, sink: &std::path::Path) -> Option<ErrorCode> {
    let text = |k: &str| case[k].as_str().unwrap_or_default().to_owned();
    match case["call"].as_str()? {
        "snapshot" => Snapshot::from_json(&text("snapshot_text")).err().map(|e| e.code()),
        "request" => OwnedRequest::from_value(&case["request"], true).err().map(|e| e.code()),
        "options" => {
            let extra = case["options"].as_object().cloned().unwrap_or_default();
            let c = client(snapshot, sink, &extra).err()?;
            Some(c)
        }
        call => {
            let mut extra = Map::new();
            for key in ["id_hash_key", "allow_unsigned_tokens"] {
                if let Some(v) = case.get(key) {
                    extra.insert(key.into(), v.clone());
                }
            }
            let host = client(snapshot, sink, &extra).expect("the base options build a client");
            let got = match call {
                "token" => host.client().expect("open").expose(&text("token")).err().map(|e| e.code()),
                "update" => {
                    host.client().expect("open").update_snapshot(&text("snapshot_text")).err().map(|e| e.code())
                }
                "after_close" => {
                    host.close(Duration::from_secs(1)).expect("close");
                    // Every method of a binding's client starts by asking the host for the client,
                    // which a closed handle refuses.
                    assert!(matches!(case["method"].as_str(), Some("decide" | "track" | "flush")), "{case}");
                    host.client().err().map(|e| e.code())
                }
                other => panic!("unknown call {other}"),
            };
            let _ = host.close(Duration::from_secs(1));
            got
        }
    }
}

#[test]
fn every_error_vector_has_its_code() {
    let doc = vectors();
    let snapshot = doc["snapshot"].clone();
    let sink = std::env::temp_dir().join(format!("vario-rust-error-vectors-{}.jsonl", std::process::id()));
    let cases = doc["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap_or("?");
        let want = case["expect"]["code"].as_str().unwrap_or("?");
        match run(case, &snapshot, &sink) {
            Some(code) if code.as_str() == want => {}
            Some(code) => failures.push(format!("{id}: expected {want}, got {code}")),
            None => failures.push(format!("{id}: expected {want}, the call succeeded")),
        }
    }
    let _ = std::fs::remove_file(&sink);
    eprintln!("{} error vectors", cases.len());
    assert!(cases.len() >= 20, "only {} error vectors", cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
