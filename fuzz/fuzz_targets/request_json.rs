//! A request given as JSON (SPEC §5, the path of `decide_json`, `trace`, `forced`): parsed, then
//! decided, exposed and flag-evaluated on the bundled example snapshot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vario_core::{OwnedRequest, Snapshot};

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        Snapshot::from_json(include_str!("../../examples/snapshot.json"))
            .unwrap_or_else(|e| panic!("example snapshot: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let snap = snapshot();
    for require_placement in [true, false] {
        let Ok(req) = OwnedRequest::from_json(text, require_placement) else { continue };
        let r = req.as_request();
        let d = snap.decide(&r, 1_793_491_200_000);
        let _ = d.to_json();
        let _ = d.exposure_key();
        let _ = snap.flag("cart_upsell", &r, 1_793_491_200_000);
    }
});
