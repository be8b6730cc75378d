//! The main job: load the bundled snapshot, decide for simulated traffic on the demo placements,
//! log exposures to a local JSONL sink, and print the split per variant.
//!
//! ```sh
//! cargo run --release --example demo                 # 200 000 simulated requests
//! cargo run --release --example demo -- 1000000 out.jsonl
//! ```

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use vario::core::{Pseudonymizer, Reason, Request, Sdk, Snapshot};

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
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let sink_path = args.next().unwrap_or_else(|| "target/vario-demo/exposures.jsonl".into());
    let snapshot_path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot.json");

    let text = std::fs::read_to_string(snapshot_path)?;
    let t = Instant::now();
    let snap = Snapshot::from_json(&text)?;
    println!(
        "snapshot {} v{} ({} experiments) compiled in {:?}; {} lint(s)",
        snapshot_path,
        snap.version(),
        snap.experiment_keys().count(),
        t.elapsed(),
        snap.lints().len()
    );
    for l in snap.lints() {
        println!("  lint {:?} {} {}: {}", l.severity, serde_json::to_string(&l.code)?, l.item, l.message);
    }

    let pseudo = Pseudonymizer::new(snap.id_hash_key());
    let sdk = Sdk { name: "vario-rust-demo".into(), version: env!("CARGO_PKG_VERSION").into() };
    if let Some(dir) = std::path::Path::new(&sink_path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut sink = BufWriter::new(std::fs::File::create(&sink_path)?);

    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let placements = ["pdp_you_may_also_like", "newsfeed", "home", "search", "cart"];
    let locales = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL"];
    let mut rng = SplitMix(2026);

    // Simulated request log, built before the clock starts so the timing is the SDK's alone.
    let visitors: Vec<Visit> = (0..n)
        .map(|i| {
            let visitor = rng.next() % (n as u64 / 3 + 1);
            let logged_in = rng.next() % 10 < 7;
            let placement = rng.pick(&placements);
            let ctx = json!({"placement": placement, "page_type": placement, "locale": rng.pick(&locales)});
            let ctx = match ctx {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            (logged_in.then(|| format!("u-{visitor}")), format!("s-{visitor}-{}", i % 3), placement, ctx)
        })
        .collect();

    let mut split: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut exposures = 0u64;
    let mut decide_ns = 0u128;
    for (user, session, placement, ctx) in &visitors {
        let mut req = Request::new(placement).session(session).context(ctx);
        req.user_id = user.as_deref();
        let t = Instant::now();
        let d = snap.decide(&req, now);
        decide_ns += t.elapsed().as_nanos();
        *reasons.entry(format!("{:?}", d.reason())).or_default() += 1;
        if let (Some(exp), Some(v)) = (d.experiment_key(), d.variant()) {
            *split.entry((placement.to_string(), exp.to_owned())).or_default().entry(v.to_owned()).or_default() += 1;
        }
        if let Some(raw) = d.exposure(now, &["locale"], Some(ctx)) {
            let event = raw.pseudonymize(&pseudo).into_event(uuid::Uuid::new_v4().to_string(), now, sdk.clone());
            serde_json::to_writer(&mut sink, &event)?;
            sink.write_all(b"\n")?;
            exposures += 1;
        }
        if *placement == "cart" {
            std::hint::black_box(snap.flag("cart_upsell", &req, now));
        }
    }
    sink.flush()?;

    println!("\n{n} simulated requests, mean decide latency {:.0} ns", decide_ns as f64 / n as f64);
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
    println!(
        "\n{exposures} exposures written to {sink_path} (ids pseudonymised with {})",
        if pseudo.is_keyed() { "HMAC-SHA256" } else { "SHA-256" }
    );
    let enrolled = reasons.get(&format!("{:?}", Reason::Assigned)).copied().unwrap_or(0);
    if enrolled != exposures {
        return Err(format!("exposures ({exposures}) != ASSIGNED decisions ({enrolled})").into());
    }
    Ok(())
}
