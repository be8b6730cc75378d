//! `vario control` killed mid-publish (SIGKILL) leaves the database consistent, and the next start
//! serves the last committed version (contract/control.md "Publish": the version row and its
//! audit entry are one transaction, announced only after the commit).
//!
//! One environment with a placement and a `RUNNING` experiment; several threads change a flag and
//! publish as fast as they can; after a random 100 to 600 ms the child gets SIGKILL. Restarted on
//! the same SQLite file, the service must hold versions 1..=N exactly, each with bytes matching
//! its digest and carrying its own version, serve N on the SDK endpoint with N's digest as ETag,
//! still hold every publish it acknowledged before the kill, and have one `publish` audit entry
//! per version. Three kills and restarts on the same file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_vario");
const ADMIN: &str = "control-kill-test-admin-token";
/// Publishing threads (each its own flag, so two threads never fight over one item).
const WRITERS: usize = 4;
const ROUNDS: usize = 3;
/// Every loop is bounded in count as well as in time: a writer stops after this many publishes
/// in a round even if the kill has not come (about 200 publishes a second here, all writers
/// together, against a kill within 600 ms). Bounded so the environment's audit entries, three
/// rounds of them, fit in one `GET /audit` page (at most 1,000).
const MAX_PUBLISHES_PER_WRITER: usize = 75;

/// A running `vario control`; killed (SIGKILL) on drop, so a failed assertion leaks no process.
struct Service {
    child: Child,
    url: String,
    // Held so the child never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Service {
    fn start(db: &Path) -> Service {
        let mut child = Command::new(BIN)
            .args(["control", "--listen", "127.0.0.1:0", "--db"])
            .arg(format!("sqlite://{}", db.display()))
            .env("VARIO_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.trim_end().strip_prefix("vario control on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vario control did not start: {line:?}");
        };
        let url = format!("http://{}", addr.trim_end_matches('/'));
        Service { child, url, _stdout: stdout }
    }

    /// SIGKILL (`Child::kill` on unix): no shutdown code runs.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "{status:?}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("vario-control-kill-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn http() -> Client {
    Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// A JSON request body (the workspace's reqwest is built without its `json` feature).
trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}

impl JsonBody for RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json").body(v.to_string())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The JSON body of a response that must have `status`.
fn expect(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let body = r.text().unwrap();
    assert_eq!(got, status, "{body}");
    if body.is_empty() { Value::Null } else { serde_json::from_str(&body).unwrap() }
}

fn admin_get(c: &Client, url: &str) -> Value {
    expect(c.get(url).bearer_auth(ADMIN).send().unwrap(), StatusCode::OK)
}

/// The flag body writer `w` puts on its `n`th change: valid for the engine (core/src/compile/flags.rs
/// `RawFlag`: `variants` and a `default_variant` naming one of them) and different every time, so
/// every publish has something new to publish.
fn flag_body(round: usize, w: usize, n: usize) -> Value {
    json!({
        "enabled": true,
        "variants": {"on": true, "off": false, "marker": format!("r{round}-w{w}-n{n}")},
        "default_variant": "off",
    })
}

/// The environment: one placement, one `RUNNING` 50/50 experiment on it, and no version yet.
fn set_up(c: &Client, url: &str) -> (String, String) {
    let r =
        c.post(format!("{url}/environments")).bearer_auth(ADMIN).json_body(&json!({"name": "kill"})).send().unwrap();
    let env = expect(r, StatusCode::CREATED);
    let (env_id, sdk_key) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    let r = c
        .put(format!("{url}/environments/{env_id}/placements/home"))
        .bearer_auth(ADMIN)
        .json_body(&json!({"default_params": {"algo": "baseline"}}))
        .send()
        .unwrap();
    expect(r, StatusCode::OK);
    let r = c
        .post(format!("{url}/experiments"))
        .bearer_auth(ADMIN)
        .json_body(&json!({
            "environment_id": env_id,
            "key": "home_algo",
            "name": "Home algorithm",
            "placements": ["home"],
            "variants": [
                {"key": "control", "params": {"algo": "baseline"}, "is_control": true},
                {"key": "treatment", "params": {"algo": "fresh"}},
            ],
            "allocation": {"weights": {"control": 50, "treatment": 50}},
        }))
        .send()
        .unwrap();
    let exp = expect(r, StatusCode::CREATED);
    assert_eq!(exp["status"], "DRAFT");
    let exp_id = exp["id"].as_str().unwrap();
    let r = c
        .patch(format!("{url}/experiments/{exp_id}/status"))
        .bearer_auth(ADMIN)
        .json_body(&json!({"status": "RUNNING"}))
        .send()
        .unwrap();
    assert_eq!(expect(r, StatusCode::OK)["status"], "RUNNING");
    (env_id, sdk_key)
}

/// Publishes acknowledged (a complete `200` body) before the kill: version → digest.
type Acked = Arc<Mutex<BTreeMap<i64, String>>>;

/// One writer: change its flag, publish, record the acknowledgement; until a request fails (the
/// kill) or its bound is reached. Returns the publishes acknowledged and whether the kill cut it.
fn writer(url: String, env_id: String, round: usize, w: usize, acked: Acked, stop: Arc<AtomicBool>) -> (usize, bool) {
    let c = http();
    let mut done = 0;
    for n in 0..MAX_PUBLISHES_PER_WRITER {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let put = c
            .put(format!("{url}/environments/{env_id}/flags/f{w}"))
            .bearer_auth(ADMIN)
            .json_body(&flag_body(round, w, n))
            .send();
        match put {
            Ok(r) if r.status() == StatusCode::OK => {}
            Ok(r) => panic!("flag PUT answered {}: {:?}", r.status(), r.text()),
            Err(_) => return (done, true), // killed
        }
        let Ok(r) = c.post(format!("{url}/environments/{env_id}/publish")).bearer_auth(ADMIN).send() else {
            return (done, true);
        };
        let status = r.status();
        // A body cut by the kill is not an acknowledgement.
        let Ok(text) = r.text() else { return (done, true) };
        assert_eq!(status, StatusCode::OK, "publish: {text}");
        let Ok(p) = serde_json::from_str::<Value>(&text) else { return (done, true) };
        let (version, digest) = (p["version"].as_i64().unwrap(), p["digest"].as_str().unwrap().to_string());
        let mut a = acked.lock().unwrap();
        if let Some(d) = a.insert(version, digest.clone()) {
            assert_eq!(d, digest, "two acknowledgements of version {version} with different digests");
        }
        done += 1;
    }
    (done, stop.load(Ordering::Relaxed))
}

/// What a restarted service must show; returns the latest version.
fn check_consistent(c: &Client, url: &str, env_id: &str, sdk_key: &str, acked: &BTreeMap<i64, String>) -> i64 {
    let versions = admin_get(c, &format!("{url}/environments/{env_id}/versions"));
    let versions = versions.as_array().unwrap();
    let numbers: Vec<i64> = versions.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    let n = numbers.len() as i64;
    assert!(n >= 1, "nothing published");
    // Newest first, exactly N..=1: no gap, no repeat.
    assert_eq!(numbers, (1..=n).rev().collect::<Vec<_>>(), "versions are not exactly 1..={n}");
    let mut digests = BTreeMap::new();
    for v in versions {
        let (version, digest) = (v["version"].as_i64().unwrap(), v["digest"].as_str().unwrap());
        assert_eq!(v["published_by"], "bootstrap");
        let r = c.get(format!("{url}/environments/{env_id}/versions/{version}")).bearer_auth(ADMIN).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers().get("etag").unwrap().to_str().unwrap().to_string();
        assert_eq!(etag, format!("\"{digest}\""), "version {version}");
        let bytes = r.bytes().unwrap();
        assert_eq!(sha256_hex(&bytes), digest, "version {version}: the bytes do not hash to the digest");
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["version"].as_i64(), Some(version));
        assert_eq!(doc["environment"], "kill");
        assert_eq!(doc["experiments"].as_array().map(Vec::len), Some(1), "version {version}");
        digests.insert(version, digest.to_string());
    }
    // A publish acknowledged is durable, with the digest it was acknowledged with.
    for (version, digest) in acked {
        assert_eq!(digests.get(version), Some(digest), "acknowledged version {version} lost or changed");
    }
    // The SDK endpoint serves the last committed version.
    let r = c.get(format!("{url}/sdk/v1/snapshot")).bearer_auth(sdk_key).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers().get("etag").unwrap().to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", digests[&n]));
    let bytes = r.bytes().unwrap();
    assert_eq!(sha256_hex(&bytes), digests[&n]);
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["version"].as_i64(), Some(n));
    let r = c.get(format!("{url}/sdk/v1/snapshot")).bearer_auth(sdk_key).header("If-None-Match", &etag).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // One `publish` audit entry per version (the same transaction as the version row).
    let audit = admin_get(c, &format!("{url}/audit?entity=environment&entity_id={env_id}&limit=1000"));
    let audit = audit.as_array().unwrap();
    assert!(audit.len() < 1000, "the audit list may be cut at its limit");
    let mut published: Vec<(i64, String)> = audit
        .iter()
        .filter(|e| e["action"] == "publish")
        .map(|e| (e["after"]["version"].as_i64().unwrap(), e["after"]["digest"].as_str().unwrap().to_string()))
        .collect();
    published.sort();
    assert_eq!(published, digests.into_iter().collect::<Vec<_>>(), "publish audit entries ≠ versions");
    n
}

#[test]
fn sigkill_mid_publish_leaves_the_database_consistent() {
    let dir = TempDir::new();
    let db = dir.0.join("c.db");
    let c = http();
    let mut service = Service::start(&db);
    let (env_id, sdk_key) = set_up(&c, &service.url);
    let acked: Acked = Arc::default();
    let mut last = 0;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (url, env_id, acked, stop) = (service.url.clone(), env_id.clone(), acked.clone(), stop.clone());
                std::thread::spawn(move || writer(url, env_id, round, w, acked, stop))
            })
            .collect();
        let delay = Duration::from_millis(fastrand::u64(100..=600));
        let started = Instant::now();
        std::thread::sleep(delay);
        service.kill();
        stop.store(true, Ordering::Relaxed);
        let ends: Vec<(usize, bool)> = writers.into_iter().map(|t| t.join().unwrap()).collect();
        let done: usize = ends.iter().map(|e| e.0).sum();
        let cut = ends.iter().filter(|e| e.1).count();
        let acked_now = acked.lock().unwrap().clone();
        println!(
            "round {round}: SIGKILL after {delay:?} ({:?} since the writers started), {done} publishes acknowledged \
             this round, {cut} of {WRITERS} writers cut by the kill, highest acknowledged v{}",
            started.elapsed(),
            acked_now.keys().next_back().copied().unwrap_or(0),
        );
        // The premise: the kill came while publishes were being made, not after the writers were done.
        assert!(cut > 0, "every writer reached its bound before the kill: nothing was killed mid-publish");
        service = Service::start(&db);
        let n = check_consistent(&c, &service.url, &env_id, &sdk_key, &acked_now);
        assert!(n >= last, "version went back from {last} to {n}");
        println!("round {round}: restarted, versions 1..={n} consistent, v{n} served");
        last = n;
    }
    assert!(last as usize > ROUNDS, "too few publishes to have tested anything ({last})");
    drop(service);
}
