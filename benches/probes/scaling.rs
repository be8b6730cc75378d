//! Decisions on 1 and 2 threads: does the hot path scale, or does something shared (a lock, a
//! contended cache line) serialise it? Not criterion: a fixed amount of work per thread, timed by
//! wall clock, the two thread counts alternated over repeats, medians reported.
//! Run: `cargo bench --bench probes scaling`. Writes `target/bench/scaling.json` (or `$VARIO_BENCH_OUT`).
//!
//! Rows: bare `Snapshot::decide` on one shared `Arc<Snapshot>`, and `Client::decide_with` with
//! `Expose::Later`: the arc-swap snapshot load, the clock read and the minting of the HMAC-signed
//! exposure token (most of its 2.4 µs per call in the committed run), without the exposure pipeline, whose background thread
//! would otherwise compete for this machine's two cores.

use crate::common;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use vario::core::{Request, Snapshot};
use vario::{Client, ClientBuilder, Expose};

const PER_THREAD: usize = 2_000_000;
const REPEATS: usize = 5;

/// Runs `work(thread, n)` on `threads` threads at once; wall time from the common start.
fn timed(threads: usize, work: &Arc<dyn Fn(usize, usize) + Send + Sync>) -> Duration {
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (start, work) = (start.clone(), work.clone());
            std::thread::spawn(move || {
                start.wait();
                work(t, PER_THREAD);
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join().expect("bench thread");
    }
    t0.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run() {
    let text = common::snapshot_json();
    let snap = Arc::new(Snapshot::from_json(&text).expect("valid"));
    let client: Arc<Client> =
        Arc::new(ClientBuilder::new().bootstrap(text).sink_callback(|_| {}).build().expect("client"));
    let ids = Arc::new(common::user_ids());
    let ctx = Arc::new(common::context());

    let bare: Arc<dyn Fn(usize, usize) + Send + Sync> = {
        let (snap, ids, ctx) = (snap.clone(), ids.clone(), ctx.clone());
        Arc::new(move |t, n| {
            // Each thread walks the ids from its own offset, so they share no cache lines of input.
            let mut i = t * 50_021;
            for _ in 0..n {
                i = (i + 1) % ids.len();
                let d = snap.decide(&Request::new("pdp_ymal").user(&ids[i]).context(&ctx), 0);
                std::hint::black_box(d.params());
            }
        })
    };
    let via_client: Arc<dyn Fn(usize, usize) + Send + Sync> = {
        let (client, ids, ctx) = (client.clone(), ids.clone(), ctx.clone());
        Arc::new(move |t, n| {
            let mut i = t * 50_021;
            for _ in 0..n {
                i = (i + 1) % ids.len();
                client.decide_with(&Request::new("pdp_ymal").user(&ids[i]).context(&ctx), Expose::Later, |d, _| {
                    std::hint::black_box(d.params());
                });
            }
        })
    };

    let mut rows = Vec::new();
    println!("row                                   1 thread M/s  2 threads M/s  ratio");
    for (name, work) in [("snapshot_decide", &bare), ("client_decide_expose_later", &via_client)] {
        let (mut one, mut two) = (Vec::new(), Vec::new());
        timed(1, work); // warm-up
        for r in 0..REPEATS {
            // Alternate which count goes first, so drift hits both alike.
            for threads in if r % 2 == 0 { [1, 2] } else { [2, 1] } {
                let secs = timed(threads, work).as_secs_f64();
                let rate = (threads * PER_THREAD) as f64 / secs;
                if threads == 1 { one.push(rate) } else { two.push(rate) }
            }
        }
        let (m1, m2) = (median(one.clone()), median(two.clone()));
        println!("{name:<38} {:>12.2} {:>14.2} {:>6.2}", m1 / 1e6, m2 / 1e6, m2 / m1);
        rows.push(serde_json::json!({
            "id": name, "per_thread_calls": PER_THREAD, "repeats": REPEATS,
            "one_thread_per_s": m1, "two_threads_per_s": m2, "ratio": m2 / m1,
            "per_repeat": {"one_thread_per_s": one, "two_threads_per_s": two},
        }));
    }
    let _ = client.close(Duration::from_secs(2));
    common::write_result("scaling.json", &serde_json::json!({ "rows": rows }));
}
