//! Publish → every client deciding on the new version, with 50 clients in their own processes on
//! loopback: over the control plane's SSE stream, over Redis, and by polling at the default
//! interval; then decide + enqueue latency with and without push notifications arriving at 10/s.
//! Run: `cargo bench --bench probes push` (needs `redis-server` on the PATH or in
//! `VARIO_TEST_REDIS_SERVER`). Writes `target/bench/push.json`.
//!
//! The control plane runs in this process (SQLite in a temp dir, with Redis); each client is this
//! binary again (`--push-child`), which prints the wall-clock time (µs since the epoch) at which
//! each new version was swapped in, woken by `Client::wait_for_version`. A round's latency per
//! client is that time minus the time just before the publish request was sent.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vario::core::Request;
use vario::{ClientBuilder, Expose, PushState};

use crate::admin::Admin as Api;

const ADMIN: &str = "push-bench-admin";

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// The client side: `--push-child MODE CONFIG_URL SDK_KEY REDIS_URL ENV ROUNDS`.
pub fn child(args: &[String]) {
    let [mode, config_url, sdk_key, redis_url, env, rounds] = args else { panic!("child args: {args:?}") };
    let rounds: u64 = rounds.parse().unwrap();
    let mut b = ClientBuilder::new().sink_callback(|e| {
        std::hint::black_box(e);
    });
    b = match mode.as_str() {
        "stream" => b
            .config_url(format!("{config_url}/sdk/v1/snapshot"))
            .stream_url(format!("{config_url}/sdk/v1/stream"))
            .sdk_key(sdk_key),
        "redis" => b.redis(redis_url, env),
        // Polling at the default interval (30 s, jittered).
        _ => b.config_url(format!("{config_url}/sdk/v1/snapshot")).sdk_key(sdk_key),
    };
    let client = b.build().unwrap();
    client.wait_for_init(Duration::from_secs(30)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while mode != "poll" && client.stats().push != PushState::Connected {
        assert!(Instant::now() < deadline, "push never connected: {:?}", client.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    let first = client.snapshot().unwrap().version();
    println!("ready {first}");
    std::io::stdout().flush().unwrap();
    for v in first + 1..=first + rounds {
        assert!(client.wait_for_version(v, Duration::from_secs(120)), "v{v} never came");
        let t = now_us();
        // Deciding on it: the decision reports the version it was made on.
        let seen =
            client.decide_with(&Request::new("pdp").user("bench-user"), Expose::Later, |d, _| d.config_version());
        println!("got {seen} {t}");
        std::io::stdout().flush().unwrap();
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs `clients` children in `mode` through `rounds` publishes; the latencies in ms.
fn fleet(api: &Api, env_id: &str, sdk: &str, redis_url: &str, mode: &str, clients: usize, rounds: u64) -> Vec<f64> {
    let exe = std::env::current_exe().unwrap();
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut children = Vec::new();
    for i in 0..clients {
        let mut c = Command::new(&exe)
            .arg("--push-child")
            .args([mode, &api.base, sdk, redis_url, "bench", &rounds.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(c.stdout.take().unwrap());
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send((i, line));
            }
        });
        children.push(c);
    }
    let mut ready = 0;
    while ready < clients {
        let (_, line) = rx.recv_timeout(Duration::from_secs(60)).expect("children ready");
        ready += usize::from(line.starts_with("ready"));
    }
    let mut lat = Vec::new();
    for r in 0..rounds {
        // A change to publish (an unchanged environment is not published again).
        api.ok(
            "PUT",
            &format!("/environments/{env_id}/placements/home"),
            Some(json!({"default_params": {"round": r, "mode": mode}})),
        );
        let t0 = now_us();
        let v = api.ok("POST", &format!("/environments/{env_id}/publish"), None)["version"].as_u64().unwrap();
        let mut got = 0;
        while got < clients {
            let (i, line) = rx.recv_timeout(Duration::from_secs(90)).expect("every client gets the version");
            let f: Vec<&str> = line.split_whitespace().collect();
            if let ["got", seen, t] = f[..] {
                assert_eq!(seen.parse::<u64>().unwrap(), v, "client {i} decided on another version");
                lat.push((t.parse::<u64>().unwrap().saturating_sub(t0)) as f64 / 1000.0);
                got += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for mut c in children {
        let _ = c.wait();
    }
    lat
}

fn summary(name: &str, mut lat: Vec<f64>) -> Value {
    let (p50, p99, max) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
    println!("{name:<8} n={:<5} p50 {p50:>9.2} ms  p99 {p99:>9.2} ms  max {max:>9.2} ms", lat.len());
    json!({"samples": lat.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max})
}

/// Decide + enqueue p50 on a Redis-pushed client, alternating rounds with and without a
/// publisher announcing a new version (a real swap each time) every 100 ms.
fn decide_under_notifications(redis_url: &str) -> Value {
    let text = crate::common::snapshot_json();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let mut con = redis::Client::open(redis_url).unwrap().get_connection().unwrap();
    crate::common::redis_publish(&mut con, "quiet", &mut doc, 1);
    let client = ClientBuilder::new()
        .redis(redis_url, "quiet")
        .sink_callback(|e| {
            std::hint::black_box(e);
        })
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(10)).unwrap();
    let ids = crate::common::user_ids();
    let ctx = crate::common::context();
    let (mut quiet, mut busy) = (Vec::new(), Vec::new());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let notifying = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (stop, notifying, url) = (stop.clone(), notifying.clone(), redis_url.to_string());
        let mut doc = doc.clone();
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut v = 1;
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if notifying.load(std::sync::atomic::Ordering::Relaxed) {
                    v += 1;
                    crate::common::redis_publish(&mut con, "quiet", &mut doc, v);
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            sent
        })
    };
    let per_round = 20_000;
    let rounds = 20;
    for r in 0..rounds {
        let busy_round = r % 2 == 1;
        notifying.store(busy_round, std::sync::atomic::Ordering::Relaxed);
        if busy_round {
            // Let a notification or two land inside the round.
            std::thread::sleep(Duration::from_millis(150));
        }
        let started = Instant::now();
        for id in ids.iter().skip(r * per_round % ids.len()).take(per_round) {
            let req = Request::new("pdp_ymal").user(id).context(&ctx);
            let t = Instant::now();
            client.decide_with(&req, Expose::Now, |d, _| {
                std::hint::black_box(d.params());
            });
            let ns = t.elapsed().as_nanos() as f64;
            if busy_round { busy.push(ns) } else { quiet.push(ns) }
        }
        // A round lasts about as long as a few notification periods; keep busy rounds at least
        // 300 ms so each sees several.
        if busy_round {
            while started.elapsed() < Duration::from_millis(300) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        notifying.store(false, std::sync::atomic::Ordering::Relaxed);
        client.flush(Duration::from_secs(30)).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = publisher.join().unwrap();
    let s = client.stats();
    let (q50, b50) = (pct(&mut quiet, 0.5), pct(&mut busy, 0.5));
    let (q99, b99) = (pct(&mut quiet, 0.99), pct(&mut busy, 0.99));
    println!(
        "decide + enqueue p50 {q50:.0} ns quiet, {b50:.0} ns with notifications at 10/s ({:+.1} %); p99 {q99:.0} / {b99:.0} ns; {sent} notifications, {} swaps",
        (b50 / q50 - 1.0) * 100.0,
        s.config_updates
    );
    json!({"quiet_p50_ns": q50, "busy_p50_ns": b50, "quiet_p99_ns": q99, "busy_p99_ns": b99,
           "notifications": sent, "swaps": s.config_updates, "notifications_per_s": 10})
}

pub fn run() {
    let clients: usize = std::env::var("VARIO_PUSH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let rounds: u64 = std::env::var("VARIO_PUSH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let redis = crate::common::redis_server();
    let redis_url = redis.url();
    let dir = std::env::temp_dir().join(format!("vario-push-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = vario_control::Server::start(vario_control::Config {
        db_url: format!("sqlite://{}", dir.join("c.db").display()),
        listen: "127.0.0.1:0".into(),
        admin_token: Some(ADMIN.into()),
        redis_url: Some(redis_url.clone()),
        ..vario_control::Config::default()
    })
    .unwrap();
    let api = Api::new(server.url(), ADMIN);
    let env = api.ok("POST", "/environments", Some(json!({"name": "bench"})));
    let (env_id, sdk) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    api.ok("PUT", &format!("/environments/{env_id}/placements/pdp"), Some(json!({"default_params": {"algo": "base"}})));
    api.ok("POST", &format!("/environments/{env_id}/publish"), None);

    println!("publish -> {clients} clients deciding on the new version ({rounds} publishes per channel; polling: 1)");
    let stream = summary("stream", fleet(&api, &env_id, &sdk, &redis_url, "stream", clients, rounds));
    let redis_row = summary("redis", fleet(&api, &env_id, &sdk, &redis_url, "redis", clients, rounds));
    let poll = summary("poll", fleet(&api, &env_id, &sdk, &redis_url, "poll", clients, 1));
    let decide = decide_under_notifications(&redis_url);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    crate::common::write_result(
        "push.json",
        &json!({"clients": clients, "rounds": rounds, "stream": stream, "redis": redis_row, "poll": poll,
                "poll_interval_ms": 30_000, "decide": decide}),
    );
}
