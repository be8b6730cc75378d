//! Redis and the SSE stream, against a real `redis-server` this test starts on 127.0.0.1 (so it
//! can flush, kill and restart it) and the service over real HTTP: the hash and the
//! `config:updates` message after a publish, the reconciler repairing a flush and a restart, the
//! compare-and-set never lowering a version; the stream's events, pings, environment filter and
//! its end at shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Api, TempDir, services_required, start};
use serde_json::Value;

struct Redis {
    child: Child,
    port: u16,
    bin: String,
}

impl Redis {
    fn bin() -> Option<String> {
        if let Ok(b) = std::env::var("VARIO_TEST_REDIS_SERVER")
            && !b.is_empty()
        {
            return Some(b);
        }
        let found = Command::new("sh").args(["-c", "command -v redis-server"]).output().ok()?;
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        (!path.is_empty()).then_some(path)
    }

    fn start_on(bin: &str, port: u16) -> Redis {
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Redis { child, port, bin: bin.to_string() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.conn().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not come up on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(1))
    }

    fn restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        *self = Redis::start_on(&self.bin.clone(), self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn redis() -> Option<Redis> {
    match Redis::bin() {
        Some(b) => Some(Redis::start_on(&b, free_port())),
        None if services_required() => panic!("VARIO_REQUIRE_SERVICES=1 but redis-server is not installed"),
        None => {
            eprintln!("note: no redis-server: the Redis tests did not run");
            None
        }
    }
}

fn hash(r: &Redis, env: &str) -> std::collections::HashMap<String, String> {
    redis::cmd("HGETALL").arg(format!("env:{env}:config")).query(&mut r.conn().unwrap()).unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn redis_gets_the_hash_and_message_is_repaired_and_never_lowered() {
    let Some(mut r) = redis() else { return };
    let dir = TempDir::new("redis");
    let server = start(&format!("sqlite://{}", dir.0.join("c.db").display()), Some(r.url()));
    let api = Api::new(&server);
    let (env, sdk) = api.environment("redis");
    let name = api.admin("GET", &format!("/environments/{env}"), None).ok(200)["name"].as_str().unwrap().to_string();
    // Subscribe first, then publish.
    let mut sub = r.conn().unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ps = sub.as_pubsub();
    ps.subscribe("config:updates").unwrap();
    let exp = api.experiment(&env, "x", "pdp");
    api.status(&exp, "RUNNING").ok(200);
    let p = api.publish(&env);
    let msg: String = ps.get_message().unwrap().get_payload().unwrap();
    let msg: Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(msg, serde_json::json!({"environment": name, "version": 1, "digest": p["digest"]}));
    let served = api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[]).text;
    wait_until("the hash", Duration::from_secs(5), || hash(&r, &name).get("version").map(String::as_str) == Some("1"));
    let h = hash(&r, &name);
    assert_eq!(h["digest"], p["digest"].as_str().unwrap());
    assert_eq!(h["snapshot"], served, "the hash holds the bytes the SDK endpoint serves");
    drop(ps);

    // FLUSHALL: the reconciler (every 200 ms here) writes the latest version back.
    let _: () = redis::cmd("FLUSHALL").query(&mut r.conn().unwrap()).unwrap();
    assert!(hash(&r, &name).is_empty());
    wait_until("the reconciler after FLUSHALL", Duration::from_secs(5), || hash(&r, &name).contains_key("version"));
    assert_eq!(hash(&r, &name)["snapshot"], served);

    // A restart (empty, no persistence): repaired too, and publishing works again afterwards.
    r.restart();
    wait_until("the reconciler after a restart", Duration::from_secs(10), || hash(&r, &name).contains_key("version"));
    api.status(&exp, "PAUSED").ok(200);
    let p2 = api.publish(&env);
    wait_until("version 2 in Redis", Duration::from_secs(10), || {
        hash(&r, &name).get("version").map(String::as_str) == Some("2")
    });
    assert_eq!(hash(&r, &name)["digest"], p2["digest"].as_str().unwrap());

    // Never lowered: a newer version already in Redis stays; the script reports it did not write.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sync = vario_control::redis_sync::RedisSync::new(&r.url()).unwrap();
    assert!(!rt.block_on(sync.write(&name, 1, "old", "{}")).unwrap(), "version 1 written over version 2");
    assert_eq!(hash(&r, &name)["version"], "2");
    let _: () = redis::cmd("HSET")
        .arg(format!("env:{name}:config"))
        .arg("version")
        .arg(99)
        .query(&mut r.conn().unwrap())
        .unwrap();
    api.status(&exp, "RUNNING").ok(200);
    assert_eq!(api.publish(&env)["version"], 3);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(hash(&r, &name)["version"], "99", "the reconciler or a publish lowered a version");
    // Health says so when Redis is gone; publishes still commit.
    let health = api.call("GET", "/health", None, None, &[]).ok(200);
    assert_eq!(health["redis"], "ok");
    drop(r);
    let health = api.call("GET", "/health", None, None, &[]);
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "degraded", "{}", health.text);
    api.status(&exp, "PAUSED").ok(200);
    assert_eq!(api.publish(&env)["version"], 4, "Redis down must not fail a publish");
    server.shutdown();
}

/// Reads an SSE response line by line on a thread.
fn stream(api: &Api, key: &str) -> (mpsc::Receiver<String>, u16) {
    let client = reqwest::blocking::Client::builder().timeout(None).build().unwrap();
    let resp = client.get(format!("{}/sdk/v1/stream", api.base)).bearer_auth(key).send().unwrap();
    let status = resp.status().as_u16();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (rx, status)
}

/// The next `event: version` data on `rx`, skipping pings.
fn next_version(rx: &mpsc::Receiver<String>, pings: &mut usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut event = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("no version event");
        if line.starts_with(": ping") || line == ":ping" {
            *pings += 1;
        } else if let Some(e) = line.strip_prefix("event: ") {
            event = Some(e.to_string());
        } else if let Some(d) = line.strip_prefix("data: ") {
            assert_eq!(event.as_deref(), Some("version"));
            return serde_json::from_str(d).unwrap();
        }
    }
}

#[test]
fn the_stream_announces_every_publish_pings_and_ends_at_shutdown() {
    let dir = TempDir::new("sse");
    let server = start(&format!("sqlite://{}", dir.0.join("c.db").display()), None);
    let api = Api::new(&server);
    let (env, sdk) = api.environment("sse");
    let (other, _) = api.environment("sse-other");
    let exp = api.experiment(&env, "x", "pdp");
    api.status(&exp, "RUNNING").ok(200);
    let p1 = api.publish(&env);
    assert_eq!(stream(&api, common::ADMIN).1, 401, "admin tokens are not valid on /sdk/v1/*");
    let (rx, status) = stream(&api, &sdk);
    assert_eq!(status, 200);
    let mut pings = 0;
    let first = next_version(&rx, &mut pings);
    assert_eq!(first["version"], 1, "the current version at connect");
    assert_eq!(first["digest"], p1["digest"]);
    // Another environment's publish is not this stream's.
    let oexp = api.experiment(&other, "y", "pdp");
    api.status(&oexp, "RUNNING").ok(200);
    api.publish(&other);
    api.status(&exp, "PAUSED").ok(200);
    let p2 = api.publish(&env);
    let second = next_version(&rx, &mut pings);
    assert_eq!((second["version"].as_i64(), second["digest"].as_str()), (Some(2), p2["digest"].as_str()));
    // Pings every 300 ms here: wait long enough to see some.
    std::thread::sleep(Duration::from_millis(1000));
    while let Ok(l) = rx.try_recv() {
        if l.starts_with(':') {
            pings += 1;
        }
    }
    assert!(pings >= 2, "{pings} pings in about a second at 300 ms");
    // Shutdown ends the open stream and returns promptly.
    let t = Instant::now();
    server.shutdown();
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown waited {:?} on an open stream", t.elapsed());
    let ended = loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            Err(mpsc::RecvTimeoutError::Timeout) => break false,
        }
    };
    assert!(ended, "the stream did not end at shutdown");
}
