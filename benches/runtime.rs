//! Runtime benches. Run: `cargo bench --bench runtime`.
//!
//! - `bare_decide` vs `client_decide_enqueue`: the same request on the same snapshot, with and
//!   without the client (ArcSwap load, clock read, exposure enqueue). Timed in rounds of 50 000
//!   calls with an untimed flush between rounds, so the queue never fills and every enqueue
//!   succeeds (the drop path is not what is measured).
//! - `client_decide_enqueue_redis_quiet`, `client_decide_enqueue_push_10hz`,
//!   `client_decide_enqueue_redis_quiet_after`: the same on one client that follows Redis, with no
//!   publish, then while a new version is published (and swapped in) every 100 ms, then with no
//!   publish again (an A-B-A design against drift); needs `redis-server` (on the PATH or in `VARIO_TEST_REDIS_SERVER`).
//! - `pipeline_to_dev_server`: events per second from enqueue to acknowledged delivery at the
//!   loopback dev server (gzip, JSON, HMAC pseudonyms, de-dup all included).
//! - `pipeline_to_20ms_endpoint_gzip_spool_in_flight_8`: the 8-in-flight row with a disk spool
//!   (`spool_path`), timed until the spool is empty again.
//! - `pipeline_to_20ms_endpoint_gzip_in_flight_<n>`: the same to an endpoint that acknowledges
//!   every request 20 ms after reading it, without parsing it (the dev server's `--delay-ms 20
//!   --ack-only`), with `n` batches in flight: 1 is one request at a time (before issue 14), 8
//!   the default. The loopback gzip case runs with 1 as well, for the same comparison.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
mod common;

use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use vario::core::{Request, Snapshot};
use vario::{Client, ClientBuilder, Expose};
use vario_tools::devserver::{DevServer, DevServerOptions, IngestMode};

const ROUND: u64 = 50_000;

/// `iters` decide + enqueue calls on `client`, timed in rounds of [`ROUND`] with an untimed flush
/// between rounds; `i` walks `ids` across calls.
fn decide_rounds(client: &Client, ids: &[String], ctx: &Map<String, Value>, i: &mut usize, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(ROUND);
        let t = Instant::now();
        for _ in 0..n {
            *i += 1;
            if *i == ids.len() {
                *i = 0;
            }
            client.decide_with(&Request::new("pdp_ymal").user(&ids[*i]).context(ctx), Expose::Now, |d, _| {
                black_box(d.params());
            });
        }
        total += t.elapsed();
        left -= n;
        let _ = client.flush(Duration::from_secs(60));
    }
    total
}

fn benches(c: &mut Criterion) {
    let text = common::snapshot_json();
    let snap = Snapshot::from_json(&text).expect("valid");
    let ids = common::user_ids();
    let ctx = common::context();
    let ctx = &ctx;

    let mut g = c.benchmark_group("decide");
    let mut i = 0;
    g.bench_function("bare_decide", |b| {
        b.iter(|| {
            i += 1;
            if i == ids.len() {
                i = 0;
            }
            let d = snap.decide(&Request::new("pdp_ymal").user(&ids[i]).context(ctx), 0);
            black_box(d.params());
        })
    });

    let client = ClientBuilder::new()
        .bootstrap(text.clone())
        .sink_callback(|e| {
            black_box(e);
        })
        .queue_capacity(ROUND as usize * 2)
        .build()
        .expect("client");
    let mut i = 0;
    g.bench_function("client_decide_enqueue", |b| {
        b.iter_custom(|iters| decide_rounds(&client, &ids, ctx, &mut i, iters))
    });
    let s = client.stats();
    assert_eq!(s.dropped_queue_full, 0, "the bench measured drops, not enqueues: {s:?}");

    // The same on a client that follows Redis: quiet, then while a publisher announces a new
    // version (a real swap each time) every 100 ms, then quiet again (issue 16: decisions
    // unchanged while notifications arrive). One client for all three rows, so the notifications
    // are the only difference; the push row is compared with the mean of the two quiet rows
    // around it, so a machine that drifts one way during the run does not read as a push cost.
    let redis = common::redis_server();
    let mut con = redis::Client::open(redis.url()).expect("url").get_connection().expect("redis");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    common::redis_publish(&mut con, "bench", &mut doc, 1);
    let pushed = ClientBuilder::new()
        .redis(redis.url(), "bench")
        .sink_callback(|e| {
            black_box(e);
        })
        .queue_capacity(ROUND as usize * 2)
        .build()
        .expect("client");
    pushed.wait_for_init(Duration::from_secs(10)).expect("first snapshot from Redis");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let notifying = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (stop, notifying) = (stop.clone(), notifying.clone());
        std::thread::spawn(move || {
            let mut v = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if notifying.load(std::sync::atomic::Ordering::Relaxed) {
                    v += 1;
                    common::redis_publish(&mut con, "bench", &mut doc, v);
                }
            }
            v - 1
        })
    };
    let mut i = 0;
    g.bench_function("client_decide_enqueue_redis_quiet", |b| {
        b.iter_custom(|iters| decide_rounds(&pushed, &ids, ctx, &mut i, iters))
    });
    let quiet_updates = pushed.stats().config_updates;
    notifying.store(true, std::sync::atomic::Ordering::Relaxed);
    g.bench_function("client_decide_enqueue_push_10hz", |b| {
        b.iter_custom(|iters| decide_rounds(&pushed, &ids, ctx, &mut i, iters))
    });
    let push_updates = pushed.stats().config_updates;
    notifying.store(false, std::sync::atomic::Ordering::Relaxed);
    g.bench_function("client_decide_enqueue_redis_quiet_after", |b| {
        b.iter_custom(|iters| decide_rounds(&pushed, &ids, ctx, &mut i, iters))
    });
    g.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = publisher.join().expect("publisher");
    let s = pushed.stats();
    assert_eq!(s.dropped_queue_full, 0, "the bench measured drops, not enqueues: {s:?}");
    assert!(push_updates > quiet_updates, "no notification was swapped in during the push row: {s:?}");
    eprintln!(
        "client_decide_enqueue_push_10hz: {sent} notifications, {} swaps during the row",
        push_updates - quiet_updates
    );
    drop(pushed);
    drop(redis);

    // Pipeline throughput to the loopback dev server.
    let dir = std::env::temp_dir().join("vario-bench-pipeline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("snap.json"), &text).expect("write");
    let server = DevServer::start(DevServerOptions {
        snapshot: dir.join("snap.json"),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    })
    .expect("dev server");
    let far = DevServer::start_with(
        DevServerOptions {
            snapshot: dir.join("snap.json"),
            events_out: dir.join("events-far.jsonl"),
            bind: "127.0.0.1:0".parse().expect("addr"),
            signing_key: None,
        },
        IngestMode { delay: Duration::from_millis(20), ack_only: true },
    )
    .expect("20 ms dev server");
    let per_iter = 100_000u64;
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(per_iter));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    // Default options (gzip above 16 KiB), and without compression: on loopback gzip saves no
    // bandwidth and costs about a quarter of the CPU (deflate here, inflate in the dev server).
    // Each with the default 8 batches in flight, the gzip one also with 1 (before issue 14); then
    // the 20 ms endpoint, gzip as by default, with 1, 4, 8 (the default) and 16 batches in flight.
    let (near, far_url) = (server.url() + "/ingest", far.url() + "/ingest");
    for (name, url, gzip_threshold, in_flight) in [
        ("pipeline_to_dev_server_gzip", &near, 16 * 1024, 8),
        ("pipeline_to_dev_server_gzip_in_flight_1", &near, 16 * 1024, 1),
        ("pipeline_to_dev_server_plain", &near, usize::MAX, 8),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_1", &far_url, 16 * 1024, 1),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_4", &far_url, 16 * 1024, 4),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_8", &far_url, 16 * 1024, 8),
        ("pipeline_to_20ms_endpoint_gzip_in_flight_16", &far_url, 16 * 1024, 16),
        ("pipeline_to_20ms_endpoint_gzip_spool_in_flight_8", &far_url, 16 * 1024, 8),
    ] {
        // The spool row: the same client with a disk spool, as the main job runs it.
        let spool = name.contains("spool").then(|| dir.join("spool"));
        if let Some(p) = &spool {
            let _ = std::fs::remove_dir_all(p);
        }
        let mut builder = ClientBuilder::new();
        if let Some(p) = &spool {
            builder = builder.spool_path(p);
        }
        let client = builder
            .bootstrap(text.clone())
            .ingest_url(url.clone())
            .batch_size(2000)
            .max_in_flight(in_flight)
            .gzip_threshold(gzip_threshold)
            .queue_capacity(per_iter as usize + 1)
            .dedup_window(Duration::from_millis(1))
            .build()
            .expect("client");
        // Ids are made before the clock starts; with a 1 ms de-dup window, reusing them in the
        // next round (hundreds of ms later) logs them again.
        let round_ids: Vec<String> = (0..per_iter).map(|k| format!("{name}-u{k}")).collect();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::thread::sleep(Duration::from_millis(2));
                    let t = Instant::now();
                    for id in &round_ids {
                        client.decide_with(&Request::new("pdp_ymal").user(id).context(ctx), Expose::Now, |_, _| ());
                    }
                    client.flush(Duration::from_secs(120)).expect("flush");
                    // With a spool, flush returns once every event is delivered *or* on disk:
                    // the row times delivery, so it also waits for the spool to drain.
                    while client.stats().spool_bytes > 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    total += t.elapsed();
                }
                total
            })
        });
        let s = client.stats();
        assert_eq!(s.dropped_queue_full + s.dropped_rejected + s.dropped_retries_exhausted, 0, "{s:?}");
        eprintln!(
            "{name}: {} events delivered ({} spilled to the spool and replayed)",
            s.events_sent, s.events_replayed
        );
    }
    g.finish();
    eprintln!("dev server wrote {} events", server.stats.events.load(std::sync::atomic::Ordering::Relaxed));
    let most = far.stats.ingest_in_flight_max.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "20 ms endpoint: {} batches acknowledged, at most {most} at once",
        far.stats.batches.load(std::sync::atomic::Ordering::Relaxed)
    );
}

criterion_group! {
    name = runtime;
    config = Criterion::default().sample_size(40).measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(runtime);
