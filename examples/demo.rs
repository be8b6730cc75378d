//! The main job, end to end: the bundled snapshot is served by the dev server on 127.0.0.1, the
//! client polls it, decides for simulated traffic on the demo placements, delivers exposures and
//! add-to-cart outcomes back to the dev server, and prints a summary.
//!
//! ```sh
//! cargo run --release --example demo                 # 200 000 simulated requests
//! cargo run --release --example demo -- 1000000
//! ```
//!
//! The client spools what it cannot deliver at once to `target/vario-demo/spool` (replayed when
//! the endpoint answers, and by the next run if this one dies). SIGTERM stops the traffic and
//! closes the client, which writes what is undelivered to the spool: the library installs no
//! signal handler, so the job does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vario::core::{Reason, Request};
use vario::{ClientBuilder, Expose, Outcome};
use vario_tools::devserver::{DevServer, DevServerOptions};

/// A small deterministic generator so every run simulates the same traffic.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick(&mut self, xs: &[&'static str]) -> &'static str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// One simulated request: (user id if logged in, session id, placement, context).
type Visit = (Option<String>, String, &'static str, Map<String, Value>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let out_dir = std::path::PathBuf::from("target/vario-demo");
    std::fs::create_dir_all(&out_dir)?;
    let events_path = out_dir.join("delivered-events.jsonl");
    let _ = std::fs::remove_file(&events_path);

    let server = DevServer::start(DevServerOptions {
        snapshot: concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot.json").into(),
        events_out: events_path.clone(),
        bind: "127.0.0.1:0".parse()?,
        signing_key: None,
    })?;
    println!("dev server on {} serving examples/snapshot.json", server.url());

    let client = ClientBuilder::new()
        .config_url(server.url() + "/config")
        .ingest_url(server.url() + "/ingest")
        .sdk("vario-demo", env!("CARGO_PKG_VERSION"))
        .default_params(
            "pdp_you_may_also_like",
            json!({"algo": "co_purchase", "limit": 12}).as_object().cloned().unwrap_or_default(),
        )
        .exposure_context_keys(&["locale"])
        // The simulated burst decides far faster than real traffic arrives; size the queue for it
        // so nothing is dropped (drops would be counted and printed below).
        .queue_capacity(n.max(50_000))
        .spool_path(out_dir.join("spool"))
        .build()?;
    // SIGTERM: `signal_hook::flag` only sets an atomic in the handler; the loop below checks it.
    let term = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone())?;
    let t = Instant::now();
    client.wait_for_init(Duration::from_secs(5))?;
    let snap = client.snapshot().ok_or("no snapshot after init")?;
    println!(
        "snapshot v{} ({} experiments, {} lints) in use after {:?}",
        snap.version(),
        snap.experiment_keys().count(),
        snap.lints().len(),
        t.elapsed()
    );

    let placements = ["pdp_you_may_also_like", "newsfeed", "home", "search", "cart"];
    let locales = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL"];
    let mut rng = SplitMix(2026);
    // The simulated request log is built before the clock starts, so timings are the SDK's alone.
    let visits: Vec<Visit> = (0..n)
        .map(|i| {
            let visitor = rng.next() % (n as u64 / 3 + 1);
            let logged_in = rng.next() % 10 < 7;
            let placement = rng.pick(&placements);
            let ctx = json!({"placement": placement, "page_type": placement, "locale": rng.pick(&locales)});
            let ctx = if let Value::Object(m) = ctx { m } else { Map::new() };
            (logged_in.then(|| format!("u-{visitor}")), format!("s-{visitor}-{}", i % 3), placement, ctx)
        })
        .collect();

    let mut split: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(n / 16 + 1);
    let mut carts = 0u64;
    let start = Instant::now();
    for (i, (user, session, placement, ctx)) in visits.iter().enumerate() {
        if i % 1024 == 0 && term.load(Ordering::Relaxed) {
            let closed = client.close(Duration::from_secs(5));
            let s = client.stats();
            println!(
                "SIGTERM after {i} requests: closed ({closed:?}); {} events delivered, {} in the spool for the next run",
                s.events_sent,
                s.events_spooled - s.events_replayed.min(s.events_spooled)
            );
            return Ok(());
        }
        let mut req = Request::new(placement).session(session).context(ctx);
        req.user_id = user.as_deref();
        let t = Instant::now();
        let (reason, exp, variant) = client.decide_with(&req, Expose::Now, |d, _| {
            (d.reason(), d.experiment_key().map(str::to_owned), d.variant().map(str::to_owned))
        });
        if i % 16 == 0 {
            latencies.push(t.elapsed());
        }
        *reasons.entry(format!("{reason:?}")).or_default() += 1;
        if let (Some(exp), Some(v)) = (exp, variant) {
            *split.entry((placement.to_string(), exp)).or_default().entry(v).or_default() += 1;
        }
        // One in 20 PDP visits adds the recommended item to the cart.
        if *placement == "pdp_you_may_also_like" && reason == Reason::Assigned && i % 20 == 0 {
            carts += 1;
            client.track(Outcome {
                user_id: user.clone(),
                session_id: Some(session.clone()),
                event_type: "add_to_cart".into(),
                item_id: Some(format!("sku-{}", i % 977)),
                value: Some(19.99),
                currency: Some("EUR".into()),
                placement: Some((*placement).into()),
                ..Outcome::default()
            });
        }
    }
    let loop_time = start.elapsed();
    client.flush(Duration::from_secs(60))?;
    // With the spool, flush means "delivered or durable on disk"; the demo wants delivered, so it
    // waits for the spool to drain too (the dev server is up, so it does).
    let drain_until = Instant::now() + Duration::from_secs(60);
    while client.stats().spool_bytes > 0 && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let delivered_after = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();

    println!("\n{n} simulated requests in {loop_time:?} (decide + enqueue, one thread)");
    println!("decision latency (1 in 16 timed, includes the timer): p50 {:?}, p99 {:?}", pct(0.5), pct(0.99));
    println!("\nsplit per variant (units that received a variant):");
    for ((placement, exp), variants) in &split {
        let total: u64 = variants.values().sum();
        println!("  {placement} / {exp}  ({total} decisions)");
        for (v, c) in variants {
            println!("    {v:<14} {c:>8}  {:>6.2} %", 100.0 * *c as f64 / total as f64);
        }
    }
    println!("\nreasons:");
    for (r, c) in &reasons {
        println!("  {r:<16} {c:>8}");
    }
    let s = client.stats();
    let written = server.stats.events.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "\nevents: {} exposures queued ({} repeats de-duplicated), {carts} add-to-cart outcomes; {} delivered in {} batches, all within {delivered_after:?}",
        s.exposures_enqueued, s.exposures_deduplicated, s.events_sent, s.batches_sent
    );
    println!(
        "dropped: queue full {}, rejected {}, retries exhausted {}, spool full {}; spooled {}, replayed {}; dev server wrote {written} events to {}",
        s.dropped_queue_full,
        s.dropped_rejected,
        s.dropped_retries_exhausted,
        s.dropped_spool_full,
        s.events_spooled,
        s.events_replayed,
        events_path.display()
    );
    client.close(Duration::from_secs(5))?;
    // Repeats skipped before the queue were never enqueued; the pipeline's were. Events an
    // earlier, interrupted run left in the spool are replayed too (replayed beyond this run's
    // spooled ones).
    let carried = s.events_replayed.saturating_sub(s.events_spooled);
    if carried > 0 {
        println!("{carried} events left in the spool by an earlier run were delivered too");
    }
    let expected = s.exposures_enqueued - (s.exposures_deduplicated - s.exposures_deduplicated_early)
        + s.outcomes_enqueued
        + carried;
    if written != expected || s.events_sent != expected {
        return Err(format!("delivered {} / written {written}, expected {expected}", s.events_sent).into());
    }
    Ok(())
}
