//! Exposure tokens (`v1.<payload>[.<signature>]`) decoded with and without a key: any text is a
//! payload or a `TokenError`, and a payload that decodes re-encodes to a token that decodes to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vario_core::events::Pseudonymizer;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    for p in [Pseudonymizer::new(None), Pseudonymizer::new(Some("fuzz-key"))] {
        if let Ok(payload) = p.decode_token(token) {
            let again = p.encode_token(&payload);
            assert_eq!(p.decode_token(&again).ok().as_ref(), Some(&payload), "round trip of {token:?}");
        }
    }
});
