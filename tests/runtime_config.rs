//! Config sync against real HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vario::core::{Coded, ErrorCode, FlagReason, Request, SnapshotError};
use vario::{ClientBuilder, ConfigErrorKind, ConfigSource, Expose, UpdateError};
use vario_tools::devserver::{DevServer, DevServerOptions};

fn fast(b: ClientBuilder) -> ClientBuilder {
    b.poll_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_millis(500))
        .max_backoff(Duration::from_millis(100))
        .batch_interval(Duration::from_millis(20))
        .retry_base(Duration::from_millis(10))
}

fn decide(c: &vario::Client, user: &str) -> Value {
    serde_json::from_str(&c.decide_json(&Request::new("home").user(user), Expose::Now)).expect("json")
}

fn dev_server(dir: &std::path::Path, snap: &Value) -> DevServer {
    let path = dir.join("snapshot.json");
    std::fs::write(&path, snap.to_string()).expect("write");
    DevServer::start(DevServerOptions {
        snapshot: path,
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    })
    .expect("dev server")
}

#[test]
fn etag_200_then_304_then_new_version() {
    let dir = temp_dir("cfg_etag");
    let server = dev_server(&dir, &snapshot(1));
    let c = fast(ClientBuilder::new().config_url(server.url() + "/config").sink_file(dir.join("local.jsonl")))
        .build()
        .expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("init");
    assert!(wait_until(Duration::from_secs(5), || c.stats().config_not_modified >= 3), "{:?}", c.stats());
    let s = c.stats();
    assert_eq!((s.config_updates, s.config_version, s.config_source), (1, Some(1), ConfigSource::Http));
    assert_eq!(server.stats.config_served.load(std::sync::atomic::Ordering::Relaxed), 1);

    std::fs::write(dir.join("snapshot.json"), snapshot(2).to_string()).expect("write");
    assert!(wait_until(Duration::from_secs(5), || c.stats().config_version == Some(2)));
    assert_eq!(decide(&c, "u1")["config_version"], 2);
    assert_eq!(decide(&c, "u1")["params"]["v"], 2);
}

#[test]
fn server_down_at_start_serves_caller_defaults_then_recovers() {
    let addr = free_addr();
    let dir = temp_dir("cfg_down");
    let c = fast(
        ClientBuilder::new()
            .config_url(format!("http://{addr}/config"))
            .sink_file(dir.join("local.jsonl"))
            .default_params("home", json!({"algo": "fallback"}).as_object().cloned().expect("map")),
    )
    .build()
    .expect("client");
    let d = decide(&c, "u1");
    assert_eq!(d["reason"], "NO_CONFIG");
    assert_eq!(d["params"], json!({"algo": "fallback"}));
    let err = c.wait_for_init(Duration::from_millis(300)).expect_err("nothing listening");
    assert_eq!(err.last_error.as_ref().map(|e| e.0), Some(ConfigErrorKind::Network), "{err}");
    assert!(c.stats().config_errors >= 1);

    let path = dir.join("snapshot.json");
    std::fs::write(&path, snapshot(3).to_string()).expect("write");
    let _server = DevServer::start(DevServerOptions {
        snapshot: path,
        events_out: dir.join("ev.jsonl"),
        bind: addr,
        signing_key: None,
    })
    .expect("server on the same port");
    c.wait_for_init(Duration::from_secs(5)).expect("recovered");
    assert_eq!(decide(&c, "u1")["reason"], "ASSIGNED");
}

#[test]
fn http_500s_back_off_then_recover() {
    let good = snapshot(4).to_string();
    let server =
        Scripted::start(move |n, _| if n < 3 { Reply::new(500, "oops") } else { Reply::new(200, good.clone()) });
    // Poll every 50 ms; failures back off from 50 ms, doubling (jittered to [d/2, d]) up to 2 s.
    let c = fast(ClientBuilder::new().config_url(server.url("/config")).sink_callback(|_| {}))
        .max_backoff(Duration::from_secs(2))
        .build()
        .expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("recovers after the 500s");
    let s = c.stats();
    assert!(s.config_errors >= 3, "{s:?}");
    // The 500s are counted; the good fetch that followed cleared the last error.
    assert_eq!(s.last_config_error_kind, None, "{s:?}");
    // The third retry waits 100-200 ms: longer than the 45-55 ms poll cadence could explain.
    let reqs = server.requests();
    let gap = reqs[3].at.duration_since(reqs[2].at);
    assert!(gap >= Duration::from_millis(95), "third backoff was only {gap:?}");
}

#[test]
fn slower_than_timeout_never_blocks_decisions() {
    let server = Scripted::start(|_, _| Reply::new(200, snapshot(5).to_string()).delay(Duration::from_secs(3)));
    let c = fast(ClientBuilder::new().config_url(server.url("/config")).request_timeout(Duration::from_millis(200)))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    // While the config request hangs, decisions answer at once with NO_CONFIG.
    for _ in 0..100 {
        let t = Instant::now();
        assert_eq!(decide(&c, "u1")["reason"], "NO_CONFIG");
        assert!(t.elapsed() < Duration::from_millis(100), "decide blocked for {:?}", t.elapsed());
    }
    assert!(wait_until(Duration::from_secs(3), || c.stats().config_errors >= 1));
    assert_eq!(c.stats().last_config_error_kind, Some(ConfigErrorKind::Network));
    let close = Instant::now();
    c.close(Duration::from_secs(2)).ok();
    assert!(close.elapsed() < Duration::from_secs(3));
}

#[test]
fn garbage_and_lower_versions_never_replace_the_good_snapshot() {
    let bodies = [
        snapshot(10).to_string(),
        "this is not json".to_string(),
        json!({"schema_version": 2, "version": 99}).to_string(),
        snapshot(7).to_string(),
    ];
    let server = Scripted::start(move |n, _| Reply::new(200, bodies[n.min(3)].clone()));
    let c = fast(ClientBuilder::new().config_url(server.url("/config"))).sink_callback(|_| {}).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("v10");
    assert!(wait_until(Duration::from_secs(5), || c.stats().config_rejected >= 3), "{:?}", c.stats());
    let s = c.stats();
    assert_eq!(s.config_version, Some(10));
    assert_eq!(s.last_config_error_kind, Some(ConfigErrorKind::VersionRegression));
    assert_eq!(decide(&c, "u1")["config_version"], 10);
}

#[test]
fn unauthorized_is_reported_distinctly_with_bearer_auth_sent() {
    let server = Scripted::start(|_, s| {
        if s.header("authorization") == Some("Bearer right-key") {
            Reply::new(200, snapshot(1).to_string())
        } else {
            Reply::new(401, "no")
        }
    });
    let c = fast(ClientBuilder::new().config_url(server.url("/config")).sdk_key("wrong-key"))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    let err = c.wait_for_init(Duration::from_millis(500)).expect_err("401");
    assert_eq!(err.last_error.as_ref().map(|e| e.0), Some(ConfigErrorKind::Unauthorized));
    assert!(err.to_string().contains("sdk_key"), "{err}");
    let ok = fast(ClientBuilder::new().config_url(server.url("/config")).sdk_key("right-key"))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    ok.wait_for_init(Duration::from_secs(5)).expect("right key");
}

#[test]
fn a_50_mb_snapshot_loads() {
    let dir = temp_dir("cfg_big");
    let mut snap = snapshot(8);
    // ~50 MB of segment ids plus 2,000 experiments on their own placements.
    let ids: Vec<String> = (0..2_500_000).map(|i| format!("user-{i:012}")).collect();
    snap["segments"] = json!({"big": ids});
    let mut places = snap["placements"].as_object().expect("map").clone();
    let mut exps = snap["experiments"].as_array().expect("list").clone();
    for i in 0..2000 {
        places.insert(format!("p{i}"), json!({"default_params": {"x": i}}));
        exps.push(json!({"id": i, "key": format!("e{i}"), "status": "RUNNING", "placements": [format!("p{i}")],
            "targeting": {"attr": "user_id", "op": "in_segment", "value": "big"},
            "variants": [{"key": "a"}, {"key": "b"}], "allocation": {"weights": {"a": 50, "b": 50}}}));
    }
    snap["placements"] = Value::Object(places);
    snap["experiments"] = Value::Array(exps);
    let text = snap.to_string();
    assert!(text.len() > 50_000_000, "{} bytes", text.len());
    let server = dev_server(&dir, &snap);
    let c = ClientBuilder::new()
        .config_url(server.url() + "/config")
        .request_timeout(Duration::from_secs(60))
        // Above the 32 MiB default cap: a large snapshot needs the cap raised on purpose.
        .max_config_bytes(64 << 20)
        .sink_callback(|_| {})
        .build()
        .expect("client");
    c.wait_for_init(Duration::from_secs(60)).expect("50 MB snapshot");
    let d: Value = serde_json::from_str(&c.decide_json(&Request::new("p7").user("user-000000000042"), Expose::Later))
        .expect("json");
    assert_eq!(d["reason"], "ASSIGNED");
    let d: Value =
        serde_json::from_str(&c.decide_json(&Request::new("p7").user("stranger"), Expose::Later)).expect("json");
    assert_eq!(d["reason"], "TARGETING_MISS");
}

#[test]
fn a_bad_experiment_is_isolated_and_the_kill_switch_still_applies() {
    let mut snap = snapshot(9);
    snap["experiments"].as_array_mut().expect("list").push(json!({
        "id": "bad", "key": "pdp_bad", "status": "RUNNING", "placements": ["pdp"],
        "targeting": {"attr": "x", "op": "sounds_like", "value": "y"},
        "variants": [{"key": "a"}], "allocation": {"weights": {"a": 100}}}));
    snap["flags"][0]["kill_switch"] = json!(true);
    let text = snap.to_string();
    let server = Scripted::start(move |_, _| Reply::new(200, text.clone()));
    let c = fast(ClientBuilder::new().config_url(server.url("/config"))).sink_callback(|_| {}).build().expect("client");
    c.wait_for_init(Duration::from_secs(5)).expect("init");
    let pdp: Value = serde_json::from_str(&c.decide_json(&Request::new("pdp").user("u1"), Expose::Now)).expect("json");
    assert_eq!(pdp["reason"], "CONFIG_ERROR");
    assert_eq!(pdp["params"], json!({"limit": 12}));
    assert_eq!(decide(&c, "u1")["reason"], "ASSIGNED");
    let reason = c.flag_with("kill", &Request::new("").user("u1"), |f| f.reason());
    assert_eq!(reason, FlagReason::KillSwitch);
    let lints = c.snapshot().expect("snapshot").lints().to_vec();
    assert!(lints.iter().any(|l| l.item == "experiment:pdp_bad"), "{lints:?}");
}

#[test]
fn last_good_snapshot_is_persisted_and_used_at_cold_start() {
    let dir = temp_dir("cfg_persist");
    let cache = dir.join("last-good.json");
    {
        let server = Scripted::start(|_, _| Reply::new(200, snapshot(12).to_string()));
        let c = fast(ClientBuilder::new().config_url(server.url("/config")).persist_path(&cache))
            .sink_callback(|_| {})
            .build()
            .expect("client");
        c.wait_for_init(Duration::from_secs(5)).expect("init");
        assert!(wait_until(Duration::from_secs(2), || cache.exists()));
    }
    // Cold start with the endpoint down: the persisted snapshot serves at once.
    let c = fast(ClientBuilder::new().config_url(format!("http://{}/config", free_addr())).persist_path(&cache))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    let s = c.stats();
    assert_eq!((s.config_version, s.config_source), (Some(12), ConfigSource::Persisted));
    assert_eq!(decide(&c, "u1")["reason"], "ASSIGNED");
}

#[test]
fn file_source_reloads_on_change_and_bootstrap_is_immediate() {
    let dir = temp_dir("cfg_file");
    let path = dir.join("snap.json");
    std::fs::write(&path, snapshot(1).to_string()).expect("write");
    let c = fast(ClientBuilder::new().config_path(&path)).sink_callback(|_| {}).build().expect("client");
    assert_eq!(c.stats().config_version, Some(1), "a local file loads before build returns");
    std::fs::write(&path, snapshot(2).to_string()).expect("write");
    assert!(wait_until(Duration::from_secs(5), || c.stats().config_version == Some(2)));

    let b = ClientBuilder::new().bootstrap(snapshot(5).to_string()).sink_callback(|_| {}).build().expect("client");
    assert_eq!((b.stats().config_version, b.stats().config_source), (Some(5), ConfigSource::Bootstrap));
    assert!(ClientBuilder::new().build().is_err(), "a config source is required");
}

#[test]
fn pushed_snapshots_are_refused_with_typed_coded_errors() {
    let c = ClientBuilder::new().bootstrap(snapshot(5).to_string()).sink_callback(|_| {}).build().expect("client");
    assert_eq!(c.update_snapshot(&snapshot(5).to_string()), Ok(false), "same version: unchanged");
    assert_eq!(c.update_snapshot(&snapshot(6).to_string()), Ok(true));

    let lower = c.update_snapshot(&snapshot(4).to_string()).expect_err("lower version");
    assert_eq!(lower, UpdateError::VersionRegression { offered: 4, current: 6 });
    assert_eq!((lower.code(), lower.kind()), (ErrorCode::VersionRegression, ConfigErrorKind::VersionRegression));
    let s = c.stats();
    assert_eq!(s.last_config_error_kind, Some(ConfigErrorKind::VersionRegression));
    assert_eq!(s.last_config_error.as_deref(), Some(lower.to_string().as_str()));

    for (text, code) in [
        ("this is not json".to_string(), ErrorCode::NotJson),
        (json!({"schema_version": 2, "version": 99}).to_string(), ErrorCode::SchemaVersion),
        (json!({"schema_version": 1, "version": "seven"}).to_string(), ErrorCode::InvalidSnapshot),
    ] {
        let e = c.update_snapshot(&text).expect_err("rejected whole");
        assert_eq!(e.code(), code, "{text}: {e}");
        // The compilation error is kept, so the distinction is not lost in a message.
        assert!(matches!(e, UpdateError::Rejected(ref inner) if inner.code() == code), "{e:?}");
        assert!(matches!(
            e.snapshot_error(),
            Some(SnapshotError::NotJson(_) | SnapshotError::SchemaVersion(_) | SnapshotError::Invalid(_))
        ));
        assert_eq!(c.stats().last_config_error_kind, Some(ConfigErrorKind::Invalid));
    }
    let s = c.stats();
    assert_eq!((s.config_version, s.config_rejected, s.config_source), (Some(6), 4, ConfigSource::Manual));
}

#[test]
fn init_and_build_errors_carry_their_codes() {
    let c = fast(ClientBuilder::new().config_url(format!("http://{}/config", free_addr())))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    let err = c.wait_for_init(Duration::from_millis(100)).expect_err("nothing listening");
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert_eq!(ClientBuilder::new().build().expect_err("no source").code(), ErrorCode::InvalidOptions);
    let zero = ClientBuilder::new().bootstrap("{}").queue_capacity(0).build().expect_err("zero capacity");
    assert_eq!(zero.code(), ErrorCode::InvalidOptions);
}
