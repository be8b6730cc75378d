//! Memory with 10 M distinct users: the exposure de-dup LRU and the recent-assignment memory must
//! stay at their bounds, so resident memory goes flat once they are full instead of growing with
//! the number of users seen. Not criterion (it measures bytes, not time).
//! Run: `cargo bench --bench probes memory` (`VARIO_MEMORY_USERS` to change the count). Writes
//! `target/bench/memory.json` (or under `$VARIO_BENCH_OUT`).
//!
//! Every decision is exposed (`Expose::Now`) to a callback sink that drops the events, so the whole
//! pipeline (de-dup, attribution, pseudonyms, batching) runs; the queue is flushed every 100 000
//! decisions so nothing is lost to a full queue (checked at the end).

use crate::common;
use std::time::{Duration, Instant};
use vario::core::Request;
use vario::{ClientBuilder, Expose};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

pub fn run() {
    let users: u64 = std::env::var("VARIO_MEMORY_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let (dedup_cap, assign_cap) = (100_000usize, 100_000usize);
    let client = ClientBuilder::new()
        .bootstrap(common::snapshot_json())
        .sink_callback(|e| {
            std::hint::black_box(e);
        })
        .dedup_capacity(dedup_cap)
        .assignment_capacity(assign_cap)
        // Room for the 100 000 decisions between two flushes: every exposure is processed.
        .queue_capacity(200_000)
        .build()
        .expect("client");
    let ctx = common::context();
    let step = (users / 10).max(1);
    let start_rss = rss_mib();
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let mut id = String::new();
    println!("users seen   RSS MiB   de-dup entries   assignment units");
    for u in 0..users {
        id.clear();
        use std::fmt::Write;
        let _ = write!(id, "user-{u:08}");
        client.decide_with(&Request::new("pdp_ymal").user(&id).context(&ctx), Expose::Now, |d, _| {
            std::hint::black_box(d.params());
        });
        if (u + 1) % 100_000 == 0 {
            client.flush(Duration::from_secs(60)).expect("flush");
        }
        if (u + 1) % step == 0 {
            let s = client.stats();
            let rss = rss_mib();
            println!("{:>10} {:>9.1} {:>16} {:>18}", u + 1, rss, s.dedup_entries, s.assignment_units);
            samples.push(serde_json::json!({"users": u + 1, "rss_mib": rss,
                "dedup_entries": s.dedup_entries, "assignment_units": s.assignment_units}));
        }
    }
    client.flush(Duration::from_secs(60)).expect("flush");
    let s = client.stats();
    assert_eq!(s.dropped_queue_full, 0, "events were dropped, memory of the pipeline not measured: {s:?}");
    let rss = |i: usize| samples[i]["rss_mib"].as_f64().unwrap_or(f64::NAN);
    // Flat: growth over the second half of the run (the bounded structures are full long before).
    let (half, last) = (samples.len() / 2 - 1, samples.len() - 1);
    let growth = rss(last) - rss(half);
    println!(
        "RSS at start {start_rss:.1} MiB; from {} to {} users: {growth:+.1} MiB; {:.1} s; events sent {}",
        samples[half]["users"],
        users,
        t0.elapsed().as_secs_f64(),
        s.events_sent
    );
    let _ = client.close(Duration::from_secs(5));
    let v = serde_json::json!({"users": users, "dedup_capacity": dedup_cap, "assignment_capacity": assign_cap,
        "start_rss_mib": start_rss, "second_half_growth_mib": growth, "events_sent": s.events_sent,
        "seconds": t0.elapsed().as_secs_f64(), "samples": samples});
    common::write_result("memory.json", &v);
}
