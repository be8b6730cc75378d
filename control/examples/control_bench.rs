//! The control plane's acceptance figures (issue 15), measured: publish latency of an environment
//! with 1,000 experiments, and the SDK endpoint's throughput answering `304` and answering `200`
//! with a 1 MB snapshot (wrk, 64 connections, a separate process), with the service's memory
//! before and after the load.
//!
//! ```sh
//! cargo run --release -p vario-control --example control_bench -- [--db URL] [--quick]
//! ```
//!
//! `--db` defaults to a SQLite file in a fresh temporary folder; give `postgres://…` for Postgres.
//! With `VARIO_JSON_OUT=path` the figures are also written as JSON (for BENCHMARKS.md). Needs
//! `wrk` (Debian's package) on the PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)] // an example: a failed unwrap is a failed run

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "../../tests/common/admin.rs"]
mod admin;
use admin::Admin as Api;

const ADMIN: &str = "bench-admin";

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs wrk and returns requests/s (and the status-code check it printed).
fn wrk(url: &str, key: &str, etag: Option<&str>, secs: u64) -> (f64, String) {
    let mut args = vec![
        "-t2".to_string(),
        "-c64".into(),
        format!("-d{secs}s"),
        "--latency".into(),
        "-H".into(),
        format!("Authorization: Bearer {key}"),
    ];
    if let Some(e) = etag {
        args.push("-H".into());
        args.push(format!("If-None-Match: {e}"));
    }
    args.push(url.to_string());
    let out = Command::new("wrk").args(&args).output().expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps =
        text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0);
    (rps, text)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let dir = std::env::temp_dir().join(format!("vario-control-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = args
        .iter()
        .position(|a| a == "--db")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("c.db").display()));
    let backend = if db.starts_with("postgres") { "postgres" } else { "sqlite" };
    let server = vario_control::Server::start(vario_control::Config {
        db_url: db.clone(),
        listen: "127.0.0.1:0".into(),
        admin_token: Some(ADMIN.into()),
        ..vario_control::Config::default()
    })
    .unwrap();
    let api = Api::new(server.url(), ADMIN);
    let name = format!("bench-{}", std::process::id());

    // 1,000 RUNNING experiments in one layer on one placement (10 buckets each), and a flag.
    let env = api.ok("POST", "/environments", Some(json!({"name": name})));
    let (env, key) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    api.ok("PUT", &format!("/environments/{env}/placements/pdp"), Some(json!({"default_params": {"algo": "base"}})));
    api.ok("PUT", &format!("/environments/{env}/layers/l"), Some(json!({"salt": "l"})));
    let n = if quick { 200 } else { 1000 };
    let t = Instant::now();
    for i in 0..n {
        let start = i * 10;
        let e = api.ok(
            "POST",
            "/experiments",
            Some(json!({
                "environment_id": env, "key": format!("exp_{i:04}"), "name": format!("experiment {i}"),
                "placements": ["pdp"], "unit": "user", "layer": {"key": "l", "range": [start, start + 10]},
                "targeting": {"attr": "country", "op": "in", "values": ["DE", "FR", "GB"]},
                "variants": [{"key": "control"}, {"key": "treatment", "params": {"algo": format!("m{i}")}}],
                "allocation": {"weights": {"control": 50, "treatment": 50}},
            })),
        );
        api.ok(
            "PATCH",
            &format!("/experiments/{}/status", e["id"].as_str().unwrap()),
            Some(json!({"status": "RUNNING"})),
        );
    }
    let setup = t.elapsed();
    let flag = |on: bool| json!({"enabled": on, "variants": {"on": true, "off": false}, "default_variant": "off"});
    api.ok("PUT", &format!("/environments/{env}/flags/bench"), Some(flag(true)));
    let first = api.ok("POST", &format!("/environments/{env}/publish"), None);
    let bytes = api.ok("GET", &format!("/environments/{env}/versions/{}", first["version"]), None).to_string().len();

    // Publish latency: each round changes the flag (so every publish is a new version).
    let rounds = if quick { 10 } else { 40 };
    let mut times = Vec::new();
    for r in 0..rounds {
        api.ok("PUT", &format!("/environments/{env}/flags/bench"), Some(flag(r % 2 == 1)));
        let t = Instant::now();
        let p = api.ok("POST", &format!("/environments/{env}/publish"), None);
        times.push(t.elapsed());
        assert_eq!(p["changed"], true);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p50 = ms(times[times.len() / 2]);
    let p90 = ms(times[times.len() * 9 / 10]);
    println!(
        "[{backend}] publish of {n} experiments ({:.0} KB snapshot): p50 {p50:.1} ms, p90 {p90:.1} ms over {rounds} publishes (setup {setup:?})",
        bytes as f64 / 1e3
    );

    // The SDK endpoint under wrk: 304s, then 200s with a 1 MB snapshot.
    let url = format!("{}/sdk/v1/snapshot", server.url());
    let etag = reqwest::blocking::Client::new()
        .get(&url)
        .bearer_auth(&key)
        .send()
        .unwrap()
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let secs = if quick { 3 } else { 10 };
    // Two runs: the first warms the runtime's threads and buffers; memory must not grow after it.
    let rss0 = rss_kib();
    let (warm_304, _) = wrk(&url, &key, Some(&etag), secs);
    let rss1 = rss_kib();
    let (rps_304, out_304) = wrk(&url, &key, Some(&etag), secs);
    let rss_304 = rss_kib();
    println!(
        "[{backend}] GET /sdk/v1/snapshot answered 304: {rps_304:.0} requests/s (64 connections; warm-up run {warm_304:.0}); RSS {rss0} -> {rss1} -> {rss_304} KiB"
    );

    let big = api.ok("POST", "/environments", Some(json!({"name": format!("{name}-big")})));
    let (big, big_key) = (big["id"].as_str().unwrap().to_string(), big["sdk_key"].as_str().unwrap().to_string());
    for s in 0..2 {
        let ids: Vec<String> = (0..17_500).map(|i| format!("user-{s}-{i:010}-padding")).collect();
        api.ok("PUT", &format!("/environments/{big}/segments/s{s}"), Some(json!({"ids": ids})));
    }
    let p = api.ok("POST", &format!("/environments/{big}/publish"), None);
    let big_bytes = api.ok("GET", &format!("/environments/{big}/versions/{}", p["version"]), None).to_string().len();
    let rss2 = rss_kib();
    let (warm_200, _) = wrk(&url, &big_key, None, secs);
    let rss3 = rss_kib();
    let (rps_200, out_200) = wrk(&url, &big_key, None, secs);
    let rss_200 = rss_kib();
    println!(
        "[{backend}] GET /sdk/v1/snapshot answered 200 with a {:.2} MB snapshot: {rps_200:.0} requests/s (warm-up run {warm_200:.0}); RSS {rss2} -> {rss3} -> {rss_200} KiB",
        big_bytes as f64 / 1e6
    );
    for out in [&out_304, &out_200] {
        if out.contains("Non-2xx") && !out.contains("Non-2xx or 3xx responses: 0") {
            // wrk counts 304 as non-2xx: only fail when a 200 run saw errors.
            if out == &out_200 {
                panic!("errors under load:\n{out}");
            }
        }
        if out.contains("Socket errors") {
            println!("{out}");
        }
    }
    if let Ok(path) = std::env::var("VARIO_JSON_OUT") {
        let doc = json!({
            "backend": backend, "experiments": n, "snapshot_bytes": bytes, "publish_p50_ms": p50, "publish_p90_ms": p90,
            "publishes": rounds, "rps_304": rps_304, "rps_200_1mb": rps_200, "big_snapshot_bytes": big_bytes,
            "rss_kib": {"before_304": rss0, "after_304_warmup": rss1, "after_304": rss_304,
                        "before_200": rss2, "after_200_warmup": rss3, "after_200": rss_200},
            "wrk_seconds": secs, "connections": 64,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
