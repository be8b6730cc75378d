//! Config sync against hostile endpoints: redirects, wrong content types, bodies over the cap and a
//! gzip bomb, and the last error's life cycle. Its own test binary, so the bomb's peak-memory check
//! sees no other test's allocations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use std::time::Duration;
use vario::core::Coded;
use vario::{ClientBuilder, ConfigErrorKind};

fn fast(b: ClientBuilder) -> ClientBuilder {
    b.poll_interval(Duration::from_millis(50))
        .max_backoff(Duration::from_millis(200))
        .retry_base(Duration::from_millis(10))
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn config_client(url: String, dir: &std::path::Path) -> ClientBuilder {
    fast(ClientBuilder::new().config_url(url).sink_file(dir.join("local.jsonl")))
}

#[test]
fn a_redirect_is_not_followed_unless_asked_and_then_only_to_the_same_host() {
    let dir = temp_dir("cfg_redirect");
    let other =
        Scripted::start(|_, _| Reply::new(200, snapshot(5).to_string()).header("content-type", "application/json"));
    let to_other = other.url("/config");
    let redirecting = Scripted::start(move |_, _| Reply::new(302, "").header("location", &to_other));
    let c = config_client(redirecting.url("/config"), &dir).build().expect("client");
    assert!(c.wait_for_init(Duration::from_millis(600)).is_err(), "a redirect must not install a snapshot");
    let s = c.stats();
    assert_eq!((s.config_version, s.last_config_error_kind), (None, Some(ConfigErrorKind::Redirect)), "{s:?}");
    assert!(other.requests().is_empty(), "the redirect target was contacted");
    c.close(Duration::from_secs(1)).ok();

    // Opted in: still not to another port.
    let c = config_client(redirecting.url("/config"), &dir).follow_redirects(true).build().expect("client");
    assert!(c.wait_for_init(Duration::from_millis(600)).is_err());
    assert!(other.requests().is_empty(), "a redirect to another port was followed");
    c.close(Duration::from_secs(1)).ok();

    // Opted in, same host and port: followed.
    let same = Scripted::start(|_, seen| {
        if seen.url == "/real" {
            Reply::new(200, snapshot(6).to_string()).header("content-type", "application/json")
        } else {
            Reply::new(307, "").header("location", "/real")
        }
    });
    let c = config_client(same.url("/config"), &dir).follow_redirects(true).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("a same-host redirect is followed when asked");
    assert_eq!(c.stats().config_version, Some(6));
}

#[test]
fn an_html_page_is_not_parsed_as_a_snapshot() {
    let dir = temp_dir("cfg_html");
    let server = Scripted::start(|_, _| {
        Reply::new(200, snapshot(3).to_string()).header("content-type", "text/html; charset=utf-8")
    });
    let c = config_client(server.url("/config"), &dir).build().expect("client");
    assert!(c.wait_for_init(Duration::from_millis(500)).is_err());
    let s = c.stats();
    assert_eq!((s.config_version, s.last_config_error_kind), (None, Some(ConfigErrorKind::ContentType)), "{s:?}");
}

#[test]
fn a_body_over_the_cap_is_refused_counted_and_never_persisted() {
    let dir = temp_dir("cfg_cap");
    let persisted = dir.join("last-good.json");
    let body = snapshot(4).to_string();
    let len = body.len();
    let server = Scripted::start(move |_, _| Reply::new(200, body.clone()).header("content-type", "application/json"));
    let c = config_client(server.url("/config"), &dir)
        .max_config_bytes(len - 1)
        .persist_path(&persisted)
        .build()
        .expect("client");
    assert!(wait_until(Duration::from_secs(5), || c.stats().config_too_large >= 2), "{:?}", c.stats());
    let s = c.stats();
    assert_eq!((s.config_version, s.last_config_error_kind), (None, Some(ConfigErrorKind::TooLarge)), "{s:?}");
    assert!(s.last_config_error_at_ms.is_some());
    assert!(!persisted.exists(), "an oversized body was persisted");
    c.close(Duration::from_secs(1)).ok();
    // Exactly at the cap it is accepted.
    let c = config_client(server.url("/config"), &dir).max_config_bytes(len).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("a body of exactly max_config_bytes is accepted");
}

#[test]
fn a_gzip_bomb_costs_at_most_the_cap() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let dir = temp_dir("cfg_bomb");
    // 512 MiB of spaces inflate from about half a megabyte.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..512 {
        gz.write_all(&chunk).expect("compress");
    }
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let server = Scripted::start(move |_, _| {
        Reply::new(200, bomb.clone()).header("content-type", "application/json").header("content-encoding", "gzip")
    });
    let before = peak_rss_kib();
    let c = config_client(server.url("/config"), &dir).build().expect("client");
    assert!(wait_until(Duration::from_secs(20), || c.stats().config_too_large >= 1), "{:?}", c.stats());
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert_eq!(c.stats().config_version, None);
    // The default cap is 32 MiB; reading the whole body would have cost 512 MiB.
    assert!(grown_mib < 160, "peak RSS grew by {grown_mib} MiB");
}

#[test]
fn a_good_fetch_clears_the_last_config_error() {
    let dir = temp_dir("cfg_clear");
    let server = Scripted::start(|n, _| {
        if n < 2 {
            Reply::new(503, "down")
        } else {
            Reply::new(200, snapshot(7).to_string()).header("content-type", "application/json")
        }
    });
    let c = config_client(server.url("/config"), &dir).build().expect("client");
    assert!(wait_until(Duration::from_secs(5), || c.stats().last_config_error_kind == Some(ConfigErrorKind::Http)));
    c.wait_for_init(Duration::from_secs(10)).expect("recovers");
    let s = c.stats();
    assert_eq!((s.last_config_error.as_deref(), s.last_config_error_at_ms), (None, None), "{s:?}");
}

#[test]
fn a_suspicious_version_jump_is_refused_and_the_next_real_publish_gets_through() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let dir = temp_dir("cfg_version_jump");
    let serving = Arc::new(AtomicU64::new(5));
    let s2 = serving.clone();
    let server = Scripted::start(move |_, _| {
        Reply::new(200, snapshot(s2.load(Ordering::SeqCst)).to_string()).header("content-type", "application/json")
    });
    let c = config_client(server.url("/config"), &dir).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("v5");
    // One bad publish of the largest version a snapshot may carry: with nothing bounding the jump,
    // every later real publish would be a "regression".
    serving.store((1 << 53) - 1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(400));
    let s = c.stats();
    assert_eq!((s.config_version, s.last_config_error_kind), (Some(5), Some(ConfigErrorKind::VersionJump)), "{s:?}");
    assert!(s.config_rejected >= 1, "{s:?}");
    assert!(s.last_config_error.as_deref().unwrap_or("").contains("max_version_jump"), "{s:?}");
    serving.store(6, Ordering::SeqCst);
    assert!(c.wait_for_version(6, Duration::from_secs(5)), "the real publish after the bad one: {:?}", c.stats());
    c.close(Duration::from_secs(1)).ok();

    // The bound is exact: with max_version_jump 10 on v6, 16 is accepted and then 27 is not.
    let c = config_client(server.url("/config"), &dir).max_version_jump(10).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("v6");
    serving.store(16, Ordering::SeqCst);
    assert!(c.wait_for_version(16, Duration::from_secs(5)), "a jump of exactly the bound: {:?}", c.stats());
    serving.store(27, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.stats().config_version, Some(16));
    assert_eq!(
        c.update_snapshot(&snapshot(27).to_string()).unwrap_err().code(),
        vario::core::ErrorCode::InvalidSnapshot
    );
    c.close(Duration::from_secs(1)).ok();

    let e = config_client(server.url("/config"), &dir).max_version_jump(0).build().map(|_| ()).unwrap_err();
    assert_eq!(e.code(), vario::core::ErrorCode::InvalidOptions);
}
