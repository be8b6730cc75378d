//! Snapshot JSON (SPEC §3) compiled by the core: any text is a snapshot or a `SnapshotError`, and a
//! compiled one decides and evaluates flags without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vario_core::{Request, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(snap) = Snapshot::from_json(text) else { return };
    let _ = snap.lints();
    let placements: Vec<String> = snap.placement_names().map(str::to_owned).collect();
    for p in &placements {
        let d = snap.decide(&Request::new(p).user("u-1").session("s-1").with_trace(), 1_793_491_200_000);
        let _ = d.to_json();
        let _ = snap.flag(p, &Request::new(p).user("u-1"), 1_793_491_200_000);
    }
});
