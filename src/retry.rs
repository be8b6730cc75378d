//! Retry timing and error redaction shared by the two HTTP stages (config sync, event poster).
//!
//! Pure apart from the random jitter: no I/O, no state, nothing from the crate.

use std::time::{Duration, SystemTime};

/// Longest `Retry-After` honoured.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(600);

/// Exponential backoff with jitter: a delay in `[d/2, d]` with `d = min(cap, base * 2^n)`.
pub(crate) fn backoff(base: Duration, n: u32, cap: Duration) -> Duration {
    let d = base.saturating_mul(1u32 << n.min(20)).min(cap);
    d.mul_f64(0.5 + 0.5 * fastrand::f64())
}

/// ±10 % so a fleet started together does not poll in lockstep.
pub(crate) fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A reqwest error without its URL (which can carry a key in a query string).
pub(crate) fn redact(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "bad body"
    } else {
        "request error"
    };
    let mut e2 = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = e2 {
        detail = s.to_string();
        e2 = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        for n in 0..30 {
            let d = backoff(base, n, cap);
            let full = base.saturating_mul(1u32 << n.min(20)).min(cap);
            assert!(d >= full / 2 && d <= full, "n={n}: {d:?} outside [{:?}, {full:?}]", full / 2);
        }
        let j = jitter(Duration::from_secs(10));
        assert!(j >= Duration::from_secs(9) && j <= Duration::from_secs(11), "{j:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO), "a past date: no wait");
        assert_eq!(retry_after("soon"), None);
    }
}
