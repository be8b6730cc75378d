//! Fixtures shared by the runtime benches: one experiment, one targeting rule, three variants.

use serde_json::{Map, Value, json};

/// The bench snapshot (JSON text).
pub fn snapshot_json() -> String {
    json!({
        "schema_version": 1, "version": 1, "privacy": {"id_hash_key": "bench"},
        "placements": {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}}},
        "experiments": [{
            "id": 1, "key": "ymal_algo", "status": "RUNNING", "placements": ["pdp_ymal"],
            "targeting": {"attr": "locale", "op": "eq", "value": "en-GB"},
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}, {"key": "graph", "params": {"algo": "graph"}}],
            "allocation": {"weights": {"control": 34, "two_tower": 33, "graph": 33}}
        }]
    })
    .to_string()
}

/// 100 000 distinct user ids.
#[allow(dead_code)] // the memory bench makes its own 10 M
pub fn user_ids() -> Vec<String> {
    (0..100_000).map(|i| format!("user-{i:07}")).collect()
}

/// A request context that matches the targeting rule.
pub fn context() -> Map<String, Value> {
    json!({"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB"}).as_object().cloned().unwrap_or_default()
}

/// Writes a result file for `benches/report.py` into `target/bench/` (or `$VARIO_BENCH_OUT`).
#[allow(dead_code)] // not every bench writes result files
pub fn write_result(name: &str, v: &Value) {
    let dir: std::path::PathBuf = std::env::var_os("VARIO_BENCH_OUT").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), Into::into)
                .join("bench")
        },
        Into::into,
    );
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap_or_default()).expect("write bench result");
    println!("wrote {}", path.display());
}

/// A `redis-server` of the bench's own on a free loopback port (no persistence), killed on drop.
pub struct Redis(std::process::Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Redis {
    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.1)
    }
}

/// Starts `VARIO_TEST_REDIS_SERVER` (else `redis-server` from the PATH) and waits until it answers.
pub fn redis_server() -> Redis {
    use std::time::{Duration, Instant};
    let bin = std::env::var("VARIO_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let r = Redis(child, port);
    let t = Instant::now();
    while redis::Client::open(r.url().as_str()).and_then(|c| c.get_connection()).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    r
}

/// Writes `doc` as version `v` of environment `env` into Redis and announces it on
/// `config:updates`, as the control plane does (SPEC §8).
pub fn redis_publish(con: &mut redis::Connection, env: &str, doc: &mut Value, v: u64) {
    doc["version"] = json!(v);
    let body = doc.to_string();
    let _: () = redis::cmd("HSET")
        .arg(format!("env:{env}:config"))
        .arg("version")
        .arg(v)
        .arg("digest")
        .arg(v)
        .arg("snapshot")
        .arg(body)
        .query(con)
        .unwrap();
    let msg = json!({"environment": env, "version": v}).to_string();
    let _: i64 = redis::cmd("PUBLISH").arg("config:updates").arg(msg).query(con).unwrap();
}
