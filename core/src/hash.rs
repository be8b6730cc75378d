//! The bucketing rule of SPEC §1, byte for byte:
//! `bucket = xxh32(utf8(unit_id ":" key ":" salt), seed) mod 10000`.
//!
//! Pure and allocation-free: short inputs are assembled on the stack and hashed in one shot, long
//! ones are streamed, and both give the same digest (xxh32 is defined over the byte string only).

use xxhash_rust::xxh32::{Xxh32, xxh32};

/// Number of buckets in the bucket space: every range is a sub-range of `[0, BUCKETS)`.
pub const BUCKETS: u32 = 10_000;

/// Inputs up to this many bytes are hashed from a stack buffer.
const STACK_INPUT: usize = 256;

/// The xxh32 digest of `unit_id ":" key ":" salt` under `seed`.
pub fn digest(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    digest_parts(&[unit_id.as_bytes(), b":", key.as_bytes(), b":", salt.as_bytes()], seed)
}

/// The bucket in `[0, 10000)` of `unit_id` for `key` and `salt` under `seed` (SPEC §1).
pub fn bucket(unit_id: &str, key: &str, salt: &str, seed: u32) -> u32 {
    digest(unit_id, key, salt, seed) % BUCKETS
}

/// The xxh32 digest of the concatenation of `parts`.
///
/// Used by compiled items that keep their `":" key ":" salt` suffix precomputed, so the hot path
/// hashes two slices instead of five.
pub(crate) fn digest_parts(parts: &[&[u8]], seed: u32) -> u32 {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // Two stack tiers: typical ids (UUIDs, numeric ids) plus key and salt fit in 64 bytes, and
    // zeroing a small buffer is measurably cheaper than a 256-byte one on every decision.
    if len <= 64 {
        concat_hash::<64>(parts, seed)
    } else if len <= STACK_INPUT {
        concat_hash::<STACK_INPUT>(parts, seed)
    } else {
        let mut h = Xxh32::new(seed);
        for p in parts {
            h.update(p);
        }
        h.digest()
    }
}

#[inline(always)]
fn concat_hash<const N: usize>(parts: &[&[u8]], seed: u32) -> u32 {
    let mut buf = [0u8; N];
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    xxh32(&buf[..at], seed)
}

/// A hashing target (experiment, layer, holdout or flag) with its `":" key ":" salt` suffix
/// precomputed at compile time.
#[derive(Debug, Clone)]
pub(crate) struct Salted {
    suffix: Box<str>,
}

impl Salted {
    pub(crate) fn new(key: &str, salt: &str) -> Self {
        let mut s = String::with_capacity(key.len() + salt.len() + 2);
        s.push(':');
        s.push_str(key);
        s.push(':');
        s.push_str(salt);
        Salted { suffix: s.into_boxed_str() }
    }

    pub(crate) fn digest(&self, unit_id: &str, seed: u32) -> u32 {
        digest_parts(&[unit_id.as_bytes(), self.suffix.as_bytes()], seed)
    }

    pub(crate) fn bucket(&self, unit_id: &str, seed: u32) -> u32 {
        self.digest(unit_id, seed) % BUCKETS
    }
}

/// Converts a percentage with at most two decimals into basis points (`round(p * 100)`).
///
/// `None` when `p` is outside `[0, 100]`, not finite, or has more than two decimals.
pub(crate) fn percent_bp(p: f64) -> Option<u32> {
    if !p.is_finite() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let x = p * 100.0;
    let r = x.round();
    if (x - r).abs() > 1e-6 {
        return None;
    }
    // r is within [0, 10000] here, so the cast is exact.
    Some(r as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(digest("a", "b", "c", 0), xxh32(b"a:b:c", 0));
    }

    #[test]
    fn stack_and_stream_paths_agree() {
        let long = "x".repeat(300);
        let s = Salted::new("exp", "salt");
        assert_eq!(s.digest(&long, 7), xxh32(format!("{long}:exp:salt").as_bytes(), 7));
        assert_eq!(s.digest("u1", 7), xxh32(b"u1:exp:salt", 7));
        assert_eq!(digest(&long, "exp", "salt", 7), s.digest(&long, 7));
    }
}
