//! Per-call latency distributions (p50, p90, p99), which criterion's means do not show.
//! Run: `cargo bench --bench probes latency`. Writes `target/bench/latency.json`.
//!
//! Each call is timed with `Instant::now()` on both sides; the timer's own cost is in every
//! sample of both rows, so the difference of two rows is the difference of the code.

use crate::common;
use std::time::{Duration, Instant};
use vario::core::{Request, Snapshot};
use vario::{ClientBuilder, Expose};

fn pct(mut v: Vec<u64>) -> (u64, u64, u64) {
    v.sort_unstable();
    let at = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    (at(0.5), at(0.9), at(0.99))
}

pub fn run() {
    let text = common::snapshot_json();
    let snap = Snapshot::from_json(&text).expect("valid");
    let client = ClientBuilder::new()
        .bootstrap(text)
        .sink_callback(|e| {
            std::hint::black_box(e);
        })
        .build()
        .expect("client");
    let ids = common::user_ids();
    let ctx = common::context();
    let ctx = &ctx;
    let rounds = 20;
    let per_round = 20_000;
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    // Alternate the two rows round by round so drift (frequency, the other core) hits both alike.
    for r in 0..rounds {
        for (k, id) in ids.iter().skip(r * per_round % ids.len()).take(per_round).enumerate() {
            let req = Request::new("pdp_ymal").user(id).context(ctx);
            if k % 2 == 0 {
                let t = Instant::now();
                let d = snap.decide(&req, 0);
                std::hint::black_box(d.params());
                bare.push(t.elapsed().as_nanos() as u64);
            } else {
                let t = Instant::now();
                client.decide_with(&req, Expose::Now, |d, _| {
                    std::hint::black_box(d.params());
                });
                full.push(t.elapsed().as_nanos() as u64);
            }
        }
        // Let the pipeline drain between rounds so the queue never fills (drops are not measured).
        client.flush(Duration::from_secs(30)).expect("flush");
    }
    let s = client.stats();
    assert_eq!(s.dropped_queue_full, 0, "{s:?}");
    let (b50, b90, b99) = pct(bare);
    let (f50, f90, f99) = pct(full);
    println!("per call, ns (timer included)     p50     p90     p99");
    println!("bare Snapshot::decide          {b50:>7} {b90:>7} {b99:>7}");
    println!("Client::decide_with + enqueue  {f50:>7} {f90:>7} {f99:>7}");
    println!("enqueue adds at p50: {} ns", f50 as i64 - b50 as i64);
    common::write_result(
        "latency.json",
        &serde_json::json!({
            "timer_included": true, "calls_per_row": rounds * per_round / 2,
            "bare_decide": {"p50_ns": b50, "p90_ns": b90, "p99_ns": b99},
            "client_decide_enqueue": {"p50_ns": f50, "p90_ns": f90, "p99_ns": f99},
            "enqueue_adds_p50_ns": f50 as i64 - b50 as i64,
        }),
    );
}
