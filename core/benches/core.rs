//! Criterion benches of the pure engine. Run: `cargo bench -p vario-core --bench core`.
//!
//! `decide`: 1 experiment, 1 targeting rule, 3 variants, 100 k distinct users cycled so the
//! branch predictor and caches see realistic variety. `decide_20_experiments`: 20 experiments in
//! one layer on one placement (the candidate walk). `batch_decide`: the bulk path of
//! `decide_many`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use serde_json::{Value, json};
use vario_core::{Request, Snapshot, bucket};

fn one_experiment() -> Snapshot {
    let doc = json!({
        "schema_version": 1, "version": 1,
        "placements": {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}}},
        "experiments": [{
            "id": 1, "key": "ymal_algo", "status": "RUNNING", "placements": ["pdp_ymal"],
            "targeting": {"attr": "locale", "op": "eq", "value": "en-GB"},
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}, {"key": "graph", "params": {"algo": "graph"}}],
            "allocation": {"weights": {"control": 34, "two_tower": 33, "graph": 33}}
        }]
    });
    Snapshot::from_value(&doc).expect("valid")
}

/// A snapshot with `n` experiments spread over placements (each placement a layer).
pub fn many_experiments(n: usize) -> String {
    let placements: serde_json::Map<String, Value> = (0..n / 10 + 1)
        .map(|p| (format!("p{p}"), json!({"default_params": {"algo": "baseline", "limit": 12}})))
        .collect();
    let layers: Vec<Value> = (0..n / 10 + 1).map(|p| json!({"key": format!("l{p}")})).collect();
    let experiments: Vec<Value> = (0..n)
        .map(|i| {
            let slot = (i % 10) as u32;
            json!({
                "id": i, "key": format!("exp_{i}"), "status": "RUNNING", "placements": [format!("p{}", i / 10)],
                "layer": {"key": format!("l{}", i / 10), "range": [slot * 1000, slot * 1000 + 1000]},
                "targeting": {"all": [
                    {"attr": "locale", "op": "in", "values": ["en-GB", "en-US", "de-DE"]},
                    {"attr": "app_version", "op": "semver_gte", "value": "3.1.0"},
                    {"attr": "page_type", "op": "matches", "value": format!("^(pdp|plp)_{i}$")}
                ]},
                "variants": [{"key": "control"}, {"key": "a", "params": {"algo": "a"}}, {"key": "b", "params": {"algo": "b"}}],
                "allocation": {"weights": {"control": 34, "a": 33, "b": 33}, "traffic": 50}
            })
        })
        .collect();
    json!({"schema_version": 1, "version": 1, "placements": placements, "layers": layers, "experiments": experiments})
        .to_string()
}

/// One placement with `n` experiments in one layer (equal ranges), each behind a targeting rule
/// that matches: a decision walks the candidates until the unit's layer bucket falls in one.
pub fn one_placement(n: usize) -> Snapshot {
    let width = 10_000 / n as u32;
    let experiments: Vec<Value> = (0..n as u32)
        .map(|i| {
            json!({
                "id": i, "key": format!("feed_{i}"), "status": "RUNNING", "placements": ["newsfeed"],
                "layer": {"key": "feed", "range": [i * width, (i + 1) * width]},
                "targeting": {"attr": "locale", "op": "in", "values": ["en-GB", "en-US", "de-DE"]},
                "variants": [{"key": "control"}, {"key": "a", "params": {"rank": "a"}}, {"key": "b", "params": {"rank": "b"}}],
                "allocation": {"weights": {"control": 34, "a": 33, "b": 33}}
            })
        })
        .collect();
    let doc = json!({"schema_version": 1, "version": 1,
        "placements": {"newsfeed": {"default_params": {"rank": "baseline"}}},
        "layers": [{"key": "feed", "salt": "feed"}], "experiments": experiments});
    Snapshot::from_value(&doc).expect("valid")
}

fn benches(c: &mut Criterion) {
    let snap = one_experiment();
    let ids: Vec<String> = (0..100_000).map(|i| format!("user-{i:07}")).collect();
    let ctx = json!({"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB"});
    let ctx = ctx.as_object().expect("object");

    let mut i = 0;
    c.bench_function("decide", |b| {
        b.iter(|| {
            i += 1;
            if i == ids.len() {
                i = 0;
            }
            let d = snap.decide(&Request::new("pdp_ymal").user(&ids[i]).context(ctx), 0);
            black_box(d.params());
            black_box(d.reason())
        })
    });
    let mut i = 0;
    c.bench_function("decide_with_trace", |b| {
        b.iter(|| {
            i += 1;
            if i == ids.len() {
                i = 0;
            }
            let d = snap.decide(&Request::new("pdp_ymal").user(&ids[i]).context(ctx).with_trace(), 0);
            black_box(d.trace().map(<[_]>::len))
        })
    });
    let feed = one_placement(20);
    let feed_ctx = json!({"placement": "newsfeed", "page_type": "home", "locale": "en-GB"});
    let feed_ctx = feed_ctx.as_object().expect("object");
    for trace in [false, true] {
        let mut i = 0;
        let name = if trace { "decide_20_experiments_with_trace" } else { "decide_20_experiments" };
        c.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                if i == ids.len() {
                    i = 0;
                }
                let mut r = Request::new("newsfeed").user(&ids[i]).context(feed_ctx);
                r.trace = trace;
                let d = feed.decide(&r, 0);
                black_box(d.params());
                black_box(d.reason())
            })
        });
    }
    // Bulk decisions (decide_many): one template, targeting evaluated once per batch.
    let batch = snap.batch(&Request::new("pdp_ymal").context(ctx), 0);
    let mut i = 0;
    c.bench_function("batch_row", |b| {
        b.iter(|| {
            i += 1;
            if i == ids.len() {
                i = 0;
            }
            let row = batch.row(Some(&ids[i]), None);
            black_box(row.variant_index);
            black_box(row.bucket)
        })
    });
    let mut i = 0;
    c.bench_function("bucket", |b| {
        b.iter(|| {
            i += 1;
            if i == ids.len() {
                i = 0;
            }
            black_box(bucket(black_box(&ids[i]), "ymal_algo", "ymal_algo", 0))
        })
    });
    // Issue 19's budget: two 50-item rankings (half shared) merged, ≤ 2 µs.
    let items: Vec<String> = (0..75).map(|i| format!("sku-{i:04}")).collect();
    let a: Vec<&str> = items[..50].iter().map(String::as_str).collect();
    let b: Vec<&str> = items[25..].iter().map(String::as_str).collect();
    let unit_ids: Vec<String> = (0..1024).map(|i| format!("user-{i}")).collect();
    let mut g = c.benchmark_group("interleave");
    for m in vario_core::InterleaveMethod::ALL {
        let mut i = 0usize;
        g.bench_function(format!("{m}_50x50"), |bch| {
            bch.iter(|| {
                i = (i + 1) % unit_ids.len();
                let coin = vario_core::Coin { unit_id: &unit_ids[i], key: "ymal_rank", salt: "s", query: "", seed: 0 };
                black_box(
                    vario_core::interleave::interleave(*m, black_box(&a), black_box(&b), &coin, None).map(|p| p.len()),
                )
            })
        });
    }
    g.finish();
    let text = many_experiments(1000);
    // ~30 ms an iteration: ten samples are plenty, sixty took a minute of `make bench`.
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("compile_1000_experiments", |b| {
        b.iter_batched(
            || text.clone(),
            |t| black_box(Snapshot::from_json(&t).map(|s| s.version())),
            BatchSize::LargeInput,
        )
    });
    // Issue 14's bound: 100,000 experiments in one layer (10,000 one-bucket ranges accepted, the rest
    // refused as overlaps), which compiled quadratically before the conflict checks were indexed.
    let text = one_layer(100_000);
    g.bench_function("compile_100k_experiments_one_layer", |b| {
        b.iter_batched(
            || text.clone(),
            |t| black_box(Snapshot::from_json(&t).map(|s| s.lints().len())),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// `n` RUNNING experiments on one placement, all in one layer, experiment `i` on layer range
/// `[i % 10000, i % 10000 + 1)`.
fn one_layer(n: usize) -> String {
    let exps: Vec<_> = (0..n)
        .map(|i| {
            let s = i % 10_000;
            serde_json::json!({"id": i, "key": format!("e{i}"), "status": "RUNNING", "placements": ["home"],
                "layer": {"key": "L", "range": [s, s + 1]},
                "variants": [{"key": "a"}, {"key": "b"}], "allocation": {"weights": {"a": 50, "b": 50}}})
        })
        .collect();
    serde_json::json!({"schema_version": 1, "version": 1, "placements": {"home": {}},
        "layers": [{"key": "L", "salt": "L"}], "experiments": exps})
    .to_string()
}

criterion_group! {
    name = core;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(4));
    targets = benches
}
criterion_main!(core);
