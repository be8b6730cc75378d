//! The control-plane tests' harness: the service started in-process on 127.0.0.1 (port 0) over a
//! real database — a SQLite file in a fresh folder, and the Postgres the test command started
//! (`VARIO_TEST_POSTGRES_URL`) — and a blocking HTTP client.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use vario_control::{Config, Server};

pub const ADMIN: &str = "test-admin-token";

/// Set by the test command: a missing server is then a failure, never a skip.
pub fn services_required() -> bool {
    std::env::var("VARIO_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh, unique folder under the temp dir (removed by [`TempDir`]'s drop).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vario-control-{tag}-{}-{}", std::process::id(), uuid_like()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A unique environment name (Postgres is shared by every test).
pub fn env_name(tag: &str) -> String {
    format!("{tag}-{}", uuid_like()).chars().take(64).collect::<String>().to_lowercase()
}

/// The databases every API test runs on: `(label, url, folder kept alive)`.
pub fn backends(tag: &str) -> Vec<(&'static str, String, Option<TempDir>)> {
    let dir = TempDir::new(tag);
    let sqlite = format!("sqlite://{}", dir.0.join("control.db").display());
    let mut out = vec![("sqlite", sqlite, Some(dir))];
    match std::env::var("VARIO_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => out.push(("postgres", u, None)),
        _ if services_required() => panic!("VARIO_REQUIRE_SERVICES=1 but VARIO_TEST_POSTGRES_URL is not set"),
        _ => eprintln!("note: VARIO_TEST_POSTGRES_URL not set: {tag} runs on SQLite only"),
    }
    out
}

pub fn start(db_url: &str, redis: Option<String>) -> Server {
    Server::start(Config {
        db_url: db_url.to_string(),
        listen: "127.0.0.1:0".into(),
        redis_url: redis,
        admin_token: Some(ADMIN.into()),
        reconcile_every: Duration::from_millis(200),
        ping_every: Duration::from_millis(300),
        ..Config::default()
    })
    .unwrap()
}

/// A response: status, headers, JSON body (`Null` when empty or not JSON).
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    #[track_caller]
    pub fn ok(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self.body
    }
}

pub struct Api {
    pub base: String,
    pub http: Client,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api { base: server.url(), http: Client::builder().timeout(Duration::from_secs(30)).build().unwrap() }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b.to_string());
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = r.send().unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    /// As the bootstrap admin.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, Some(ADMIN), body.as_ref(), &[])
    }

    /// A new environment with a `pdp` and a `home` placement: `(id, sdk_key)`.
    pub fn environment(&self, tag: &str) -> (String, String) {
        let env = self.admin("POST", "/environments", Some(json!({"name": env_name(tag)}))).ok(201);
        let id = env["id"].as_str().unwrap().to_string();
        for p in ["pdp", "home"] {
            self.admin(
                "PUT",
                &format!("/environments/{id}/placements/{p}"),
                Some(json!({"default_params": {"algo": "baseline"}})),
            )
            .ok(200);
        }
        (id, env["sdk_key"].as_str().unwrap().to_string())
    }

    /// A DRAFT 80/20 experiment on `placement`: its id.
    pub fn experiment(&self, env: &str, key: &str, placement: &str) -> String {
        let body = json!({
            "environment_id": env, "key": key, "name": key, "placements": [placement],
            "variants": [{"key": "control", "is_control": true}, {"key": "treatment", "params": {"algo": "two_tower"}}],
            "allocation": {"weights": {"control": 80, "treatment": 20}},
        });
        self.admin("POST", "/experiments", Some(body)).ok(201)["id"].as_str().unwrap().to_string()
    }

    pub fn status(&self, exp: &str, status: &str) -> Resp {
        self.admin("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": status})))
    }

    pub fn publish(&self, env: &str) -> Value {
        self.admin("POST", &format!("/environments/{env}/publish"), None).ok(200)
    }
}
