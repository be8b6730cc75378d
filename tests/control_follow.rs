//! A Rust `Client` polling the control plane's `/sdk/v1/snapshot` (SDK key, ETags) follows a
//! pause, a ramp and a rollback, each deciding exactly as the engine does on the published bytes.
//! The control plane runs in-process on a SQLite file over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use vario::core::{Reason, Request, Snapshot};
use vario::{ClientBuilder, Expose};

#[path = "common/admin.rs"]
mod admin;
use admin::Admin as Api;

const ADMIN: &str = "follow-admin";

/// Waits until the client decides on `version`.
fn follow(client: &vario::Client, version: u64) {
    let t = Instant::now();
    while client.snapshot().map(|s| s.version()) != Some(version) {
        assert!(t.elapsed() < Duration::from_secs(10), "the client did not follow v{version}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// (reason, variant) for 300 users, from the client and from the engine on `bytes`.
fn decisions(client: &vario::Client, bytes: &str) -> Vec<(Reason, Option<String>)> {
    let snap = Snapshot::from_json(bytes).unwrap();
    (0..300)
        .map(|i| {
            let user = format!("user-{i}");
            let req = Request::new("pdp").user(&user);
            let mine = client.decide_with(&req, Expose::Later, |d, _| (d.reason(), d.variant().map(str::to_owned)));
            let engine = snap.decide(&req, vario_core_now());
            assert_eq!(mine, (engine.reason(), engine.variant().map(str::to_owned)), "{user}");
            mine
        })
        .collect()
}

fn vario_core_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_client_follows_pause_ramp_and_rollback() {
    let dir = std::env::temp_dir().join(format!("vario-follow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = vario_control::Server::start(vario_control::Config {
        db_url: format!("sqlite://{}", dir.join("c.db").display()),
        listen: "127.0.0.1:0".into(),
        admin_token: Some(ADMIN.into()),
        ..vario_control::Config::default()
    })
    .unwrap();
    let api = Api::new(server.url(), ADMIN);
    let env = api.ok("POST", "/environments", Some(json!({"name": "follow"})));
    let (env, sdk) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    api.ok("PUT", &format!("/environments/{env}/placements/pdp"), Some(json!({"default_params": {"algo": "base"}})));
    let exp = api.ok(
        "POST",
        "/experiments",
        Some(json!({
        "environment_id": env, "key": "pdp_algo", "name": "PDP", "placements": ["pdp"],
        "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}],
        "allocation": {"weights": {"control": 50, "two_tower": 50}, "traffic": 50}})),
    );
    let exp = exp["id"].as_str().unwrap().to_string();
    let status = |s: &str| api.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": s})));
    let publish = || api.ok("POST", &format!("/environments/{env}/publish"), None)["version"].as_u64().unwrap();
    let bytes = |v: u64| api.call("GET", &format!("/environments/{env}/versions/{v}"), ADMIN, None).1;
    status("RUNNING");
    assert_eq!(publish(), 1);

    let client = ClientBuilder::new()
        .config_url(server.url() + "/sdk/v1/snapshot")
        .sdk_key(sdk)
        .poll_interval(Duration::from_millis(50))
        .sink_file(dir.join("events.jsonl"))
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    follow(&client, 1);
    let v1 = decisions(&client, &bytes(1));
    let assigned = v1.iter().filter(|d| d.0 == Reason::Assigned).count();
    assert!((100..200).contains(&assigned), "{assigned} of 300 assigned at 50 % traffic");

    status("PAUSED");
    assert_eq!(publish(), 2);
    follow(&client, 2);
    assert!(decisions(&client, &bytes(2)).iter().all(|d| d.0 == Reason::NotRunning && d.1.is_none()));

    status("RUNNING");
    api.ok(
        "PUT",
        &format!("/experiments/{exp}/allocations"),
        Some(json!({"weights": {"control": 50, "two_tower": 50}})),
    );
    assert_eq!(publish(), 3);
    follow(&client, 3);
    let v3 = decisions(&client, &bytes(3));
    assert!(v3.iter().all(|d| d.0 == Reason::Assigned), "at 100 % everyone is assigned");
    for (before, after) in v1.iter().zip(&v3) {
        if before.0 == Reason::Assigned {
            assert_eq!(before.1, after.1, "the ramp moved a unit between variants");
        }
    }

    let rb = api.ok("POST", &format!("/environments/{env}/rollback"), Some(json!({"version": 1})));
    assert_eq!(rb["version"], 4);
    follow(&client, 4);
    assert_eq!(decisions(&client, &bytes(4)), v1, "after the rollback the client decides as on v1");
    let stats = client.stats();
    assert_eq!(stats.config_version, Some(4));
    client.close(Duration::from_secs(5)).unwrap();
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_signing_control_plane_is_trusted_only_with_its_key() {
    use vario_core::signing::SigningKey;
    let dir = std::env::temp_dir().join(format!("vario-follow-signed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = SigningKey::from_seed([7; 32]);
    let server = vario_control::Server::start(vario_control::Config {
        db_url: format!("sqlite://{}", dir.join("c.db").display()),
        listen: "127.0.0.1:0".into(),
        admin_token: Some(ADMIN.into()),
        signing_key: Some(key.clone()),
        ..vario_control::Config::default()
    })
    .unwrap();
    let api = Api::new(server.url(), ADMIN);
    let env = api.ok("POST", "/environments", Some(json!({"name": "signed"})));
    let (env, sdk) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    api.ok("PUT", &format!("/environments/{env}/placements/pdp"), Some(json!({"default_params": {"algo": "base"}})));
    let exp = api.ok(
        "POST",
        "/experiments",
        Some(json!({
        "environment_id": env, "key": "pdp_algo", "name": "PDP", "placements": ["pdp"],
        "variants": [{"key": "control"}, {"key": "b"}], "allocation": {"weights": {"control": 50, "b": 50}}})),
    );
    api.ok(
        "PATCH",
        &format!("/experiments/{}/status", exp["id"].as_str().unwrap()),
        Some(json!({"status": "RUNNING"})),
    );
    let p1 = api.ok("POST", &format!("/environments/{env}/publish"), None);
    // Served and stored as the envelope; the digest is over the envelope's bytes.
    let (_, served) = api.call("GET", "/sdk/v1/snapshot", &sdk, None);
    let inner = vario_core::signing::open_snapshot(&served, Some(&key.public_key())).expect("a valid signature");
    assert_eq!(Snapshot::from_json(inner).unwrap().version(), 1);
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(served.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(p1["digest"], digest);
    let build = |public: String| {
        ClientBuilder::new()
            .config_url(server.url() + "/sdk/v1/snapshot")
            .sdk_key(sdk.clone())
            .poll_interval(Duration::from_millis(50))
            .snapshot_public_key(public)
            .sink_file(dir.join("events.jsonl"))
            .build()
            .unwrap()
    };
    let trusting = build(key.public_key().to_text());
    trusting.wait_for_init(Duration::from_secs(5)).unwrap();
    follow(&trusting, 1);
    // A rollback re-signs the old snapshot as the new version.
    api.ok("PATCH", &format!("/experiments/{}/status", exp["id"].as_str().unwrap()), Some(json!({"status": "PAUSED"})));
    api.ok("POST", &format!("/environments/{env}/publish"), None);
    let rb = api.ok("POST", &format!("/environments/{env}/rollback"), Some(json!({"version": 1})));
    assert_eq!(rb["version"], 3);
    follow(&trusting, 3);
    // A client expecting another key installs nothing and says why.
    let other = build(SigningKey::from_seed([8; 32]).public_key().to_text());
    assert!(other.wait_for_init(Duration::from_millis(1500)).is_err());
    assert!(other.snapshot().is_none());
    assert!(other.stats().config_signature_rejected > 0);
    trusting.close(Duration::from_secs(5)).unwrap();
    other.close(Duration::from_secs(5)).unwrap();
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
