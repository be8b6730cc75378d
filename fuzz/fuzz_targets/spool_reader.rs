//! The spool reader (`src/pipeline/spool.rs`): arbitrary bytes as a segment file left by an
//! earlier process, opened and replayed as a client does at start (`vario::fuzzing::spool_replay`).
//! Never a panic; corrupt or truncated records are counted, and a record this process appends
//! after them reads back intact.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("vario-fuzz-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = vario::fuzzing::spool_replay(&dir, data);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = r {
        panic!("spool replay failed: {e}");
    }
});
