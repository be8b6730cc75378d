//! Outcome JSON (SPEC §5 `outcome`, what `track_json` and the bindings' `track` take): parsed as
//! the C ABI does it (serde_json, then `Outcome::from_value`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vario::Outcome;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let _ = Outcome::from_value(&v);
});
