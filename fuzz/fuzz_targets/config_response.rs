//! The config endpoint's 200 answer (SPEC §7): a `content-type` header and a body, checked as the
//! config thread checks them (`vario::fuzzing::config_body`), then compiled as a snapshot.
//!
//! Input layout: the first byte is the header's length (255: no header), then the header's bytes,
//! then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vario::fuzzing::{BodyRefusal, config_body};
use vario_core::Snapshot;

/// A small cap, so the size check is reached by inputs of a fuzzable size.
const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let (header, body) = if n == 255 {
        (None, rest)
    } else {
        let n = usize::from(n).min(rest.len());
        (Some(&rest[..n]), &rest[n..])
    };
    match config_body(header, body.to_vec(), CAP) {
        Ok(text) => {
            assert!(text.len() <= CAP);
            let _ = Snapshot::from_json(&text);
        }
        Err(BodyRefusal::TooLarge) => assert!(body.len() > CAP),
        Err(BodyRefusal::NotUtf8) => assert!(std::str::from_utf8(body).is_err()),
        Err(BodyRefusal::ContentType(shown)) => assert!(shown.chars().count() <= 80),
    }
});
