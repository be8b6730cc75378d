//! Concurrency and memory bounds of the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vario::core::{Reason, Request};
use vario::{ClientBuilder, Expose};

#[test]
fn decisions_stay_consistent_while_snapshots_swap_every_millisecond() {
    let c = Arc::new(
        ClientBuilder::new()
            .bootstrap(snapshot(1).to_string())
            .sink_callback(|_| {})
            .queue_capacity(1 << 16)
            .build()
            .expect("client"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..4 {
        let (c, stop) = (c.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            let mut last_version = 0u64;
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("t{t}-{n}");
                let t0 = Instant::now();
                let (version, v_param, reason) = c.decide_with(&Request::new("home").user(&id), Expose::Now, |d, _| {
                    (d.config_version(), d.params().get("v").and_then(|v| v.as_u64()), d.reason())
                });
                slowest = slowest.max(t0.elapsed());
                // No torn read: the params come from the very snapshot that decided.
                assert_eq!(v_param, Some(version), "params of v{v_param:?} in a v{version} decision");
                assert_eq!(reason, Reason::Assigned);
                assert!(version >= last_version, "a thread never sees an older snapshot after a newer one");
                last_version = version;
                n += 1;
            }
            (n, last_version, slowest)
        }));
    }
    let start = Instant::now();
    let mut version = 1;
    while start.elapsed() < Duration::from_millis(1500) {
        version += 1;
        assert_eq!(c.update_snapshot(&snapshot(version).to_string()), Ok(true));
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let (n, last, slowest) = w.join().expect("worker");
        assert!(n > 1000, "a worker made only {n} decisions: stalled?");
        assert_eq!(last, version, "every worker ends on the newest snapshot");
        // A stall would show up as a decision that waited on the writer (generous bound: debug build, 2 cores).
        assert!(slowest < Duration::from_millis(250), "slowest decision {slowest:?}");
    }
    assert!(version > 300, "only {version} swaps");
    c.flush(Duration::from_secs(10)).expect("flush");
    let s = c.stats();
    assert_eq!(s.dropped_stale_config, 0, "every exposure resolved against its own snapshot: {s:?}");
    assert_eq!(s.events_sent + s.exposures_deduplicated + s.dropped_queue_full, s.decisions, "{s:?}");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_million_distinct_users_keep_dedup_and_attribution_memory_bounded() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let c = ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .id_hash_key("k")
        .sink_callback(move |_| {
            s2.fetch_add(1, Ordering::Relaxed);
        })
        .dedup_capacity(10_000)
        .assignment_capacity(10_000)
        .build()
        .expect("client");
    let n = 1_000_000u64;
    let before = rss_kib();
    let mut peak_gauges = (0, 0);
    for i in 0..n {
        let id = format!("user-{i}");
        c.decide_with(&Request::new("home").user(&id), Expose::Now, |_, _| ());
        // Pace the producer so every exposure goes through the LRUs instead of the full queue.
        while c.stats().queue_len > 25_000 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if i % 100_000 == 0 {
            let s = c.stats();
            peak_gauges = (peak_gauges.0.max(s.dedup_entries), peak_gauges.1.max(s.assignment_units));
        }
    }
    c.flush(Duration::from_secs(300)).expect("flush");
    let s = c.stats();
    eprintln!("1M users: {s:?}");
    assert_eq!(s.events_sent + s.dropped_queue_full, n, "{s:?}");
    // Most exposures really went through the LRUs (a test that dropped them all would prove nothing).
    assert!(s.events_sent > n * 9 / 10, "{s:?}");
    assert_eq!(sent.load(Ordering::Relaxed), s.events_sent);
    assert!(s.dedup_entries <= 10_000 && s.assignment_units <= 10_000, "{s:?}");
    assert!(peak_gauges.0 <= 10_000 && peak_gauges.1 <= 10_000, "{peak_gauges:?}");
    assert_eq!(s.dedup_entries, 10_000, "the LRU is full, not empty: the bound is what holds it");
    let grown = rss_kib().saturating_sub(before);
    // 1 M users through unbounded maps would cost hundreds of MiB; the bounded LRUs stay small.
    assert!(grown < 150 * 1024, "RSS grew by {grown} KiB");
}

/// The de-dup and assignment gauges move while traffic flows, not only when the queue empties.
/// The sink lets events through only as the test hands out permits, so the processor never
/// catches up with the queue: with gauges published only on an empty queue they would stay at
/// what the first few items left (at most a few batches, while the sink was still shut).
#[test]
fn gauges_move_while_the_queue_never_empties() {
    use std::sync::{Condvar, Mutex};
    let permits = Arc::new((Mutex::new(0u64), Condvar::new()));
    let p2 = permits.clone();
    let c = ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .sink_callback(move |_| {
            let (m, cv) = &*p2;
            let mut left = m.lock().unwrap();
            while *left == 0 {
                left = cv.wait(left).unwrap();
            }
            *left -= 1;
        })
        .batch_size(10)
        .queue_capacity(20_000)
        .build()
        .expect("client");
    let n = 10_000u64;
    for i in 0..n {
        c.decide_with(&Request::new("home").user(&format!("g-{i}")), Expose::Now, |_, _| ());
    }
    let release = |k: u64| {
        let (m, cv) = &*permits;
        *m.lock().unwrap() = k;
        cv.notify_all();
    };
    release(1_000);
    // 1,000 events through the sink means at least 100 batches cut after 1,000 items.
    let mut seen = c.stats();
    let live = wait_until(Duration::from_secs(60), || {
        seen = c.stats();
        seen.dedup_entries >= 1_000 && seen.assignment_units >= 1_000
    });
    assert!(live, "the gauges did not follow the traffic: {seen:?}");
    // ...while most of the traffic is still queued: the queue never emptied.
    assert!(seen.queue_len > 5_000, "{seen:?}");
    release(u64::MAX);
    c.flush(Duration::from_secs(120)).expect("flush");
    let s = c.stats();
    assert_eq!((s.events_sent, s.dedup_entries, s.assignment_units), (n, n, n), "{s:?}");
}
