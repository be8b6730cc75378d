//! Push (SPEC §9) against real servers on 127.0.0.1: the control plane's SSE stream (in-process,
//! SQLite, real HTTP; restarted on its port), a scripted stream server for the cases a real
//! control plane never produces (silence, foreign and stale notices, a bad snapshot), and a
//! `redis-server` of the test's own (killed subscribers, a restart, lost messages).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Admin as Api, RedisServer, snapshot, temp_dir, wait_until};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vario::core::{Reason, Request};
use vario::{Client, ClientBuilder, Expose, PushState};

const ADMIN: &str = "push-admin";

fn control(db: &std::path::Path, listen: &str, redis: Option<String>) -> vario_control::Server {
    vario_control::Server::start(vario_control::Config {
        db_url: format!("sqlite://{}", db.display()),
        listen: listen.into(),
        admin_token: Some(ADMIN.into()),
        redis_url: redis,
        ..vario_control::Config::default()
    })
    .unwrap()
}

/// An environment with a RUNNING 50/50 experiment on `pdp`: (environment id, SDK key, experiment id).
fn author(api: &Api, name: &str) -> (String, String, String) {
    let env = api.ok("POST", "/environments", Some(json!({"name": name})));
    let (env, sdk) = (env["id"].as_str().unwrap().to_string(), env["sdk_key"].as_str().unwrap().to_string());
    api.ok("PUT", &format!("/environments/{env}/placements/pdp"), Some(json!({"default_params": {"algo": "base"}})));
    let exp = api.ok(
        "POST",
        "/experiments",
        Some(json!({"environment_id": env, "key": "pdp_algo", "name": "PDP", "placements": ["pdp"],
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}],
            "allocation": {"weights": {"control": 50, "two_tower": 50}}})),
    );
    let exp = exp["id"].as_str().unwrap().to_string();
    api.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": "RUNNING"})));
    (env, sdk, exp)
}

fn reason(client: &Client) -> Reason {
    client.decide_with(&Request::new("pdp").user("u-1"), Expose::Later, |d, _| d.reason())
}

#[test]
fn the_stream_delivers_a_publish_and_survives_a_control_plane_restart() {
    let dir = temp_dir("push-stream");
    let db = dir.join("c.db");
    let server = control(&db, "127.0.0.1:0", None);
    let listen = server.addr().to_string();
    let api = Api::new(server.url(), ADMIN);
    let (env, sdk, exp) = author(&api, "push");
    let publish =
        |api: &Api| api.ok("POST", &format!("/environments/{env}/publish"), None)["version"].as_u64().unwrap();
    assert_eq!(publish(&api), 1);

    // Polling every minute: within this test only the stream can bring a publish in time.
    let client = ClientBuilder::new()
        .config_url(server.url() + "/sdk/v1/snapshot")
        .stream_url(server.url() + "/sdk/v1/stream")
        .sdk_key(sdk)
        .poll_interval(Duration::from_secs(60))
        .sink_file(dir.join("events.jsonl"))
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));
    assert_eq!(reason(&client), Reason::Assigned);

    api.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": "PAUSED"})));
    let t = Instant::now();
    assert_eq!(publish(&api), 2);
    assert!(client.wait_for_version(2, Duration::from_secs(5)), "the stream brought v2");
    eprintln!("publish -> v2 in use: {:?}", t.elapsed());
    assert_eq!(reason(&client), Reason::NotRunning);
    let s = client.stats();
    assert_eq!(s.config_digest.as_deref().map(str::len), Some(64));
    assert!(s.push_notifications >= 2, "{s:?}");
    assert!(
        s.config_fetches <= 3,
        "a poll at start, a fetch for the push (and one if the stream beat the poll): {s:?}"
    );

    // The control plane goes away: the stream is lost, the client keeps serving v2.
    server.shutdown();
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Reconnecting));
    assert_eq!(reason(&client), Reason::NotRunning);
    // Back on the same port and database; the publish may come before the client reconnects (its
    // notice is then lost), and the version event at connect brings it anyway.
    let server = control(&db, &listen, None);
    let api = Api::new(server.url(), ADMIN);
    api.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": "RUNNING"})));
    assert_eq!(publish(&api), 3);
    assert!(client.wait_for_version(3, Duration::from_secs(10)), "v3 after the restart: {:?}", client.stats());
    assert_eq!(reason(&client), Reason::Assigned);
    let s = client.stats();
    assert!(s.push_connects >= 2 && s.push_disconnects >= 1, "{s:?}");
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));
    client.close(Duration::from_secs(2)).unwrap();
    assert_eq!(client.stats().push, PushState::Off);
    server.shutdown();
}

/// A stream and config server the test scripts: `/stream` holds each connection open and writes
/// what [`StreamServer::send`] is given (nothing at all when silent); `/config` answers the
/// current body.
struct StreamServer {
    addr: std::net::SocketAddr,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    config: Arc<Mutex<String>>,
    connects: Arc<AtomicUsize>,
    config_requests: Arc<AtomicUsize>,
}

impl StreamServer {
    fn start(config: String) -> StreamServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = StreamServer {
            addr: listener.local_addr().unwrap(),
            streams: Arc::default(),
            config: Arc::new(Mutex::new(config)),
            connects: Arc::default(),
            config_requests: Arc::default(),
        };
        let (streams, body, connects, requests) =
            (s.streams.clone(), s.config.clone(), s.connects.clone(), s.config_requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut line = String::new();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head.
                let mut h = String::new();
                while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                if line.contains("/stream") {
                    connects.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
                    streams.lock().unwrap().push(conn);
                } else {
                    requests.fetch_add(1, Ordering::SeqCst);
                    let b = body.lock().unwrap().clone();
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                        b.len()
                    );
                }
            }
        });
        s
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Writes a `version` event to every open stream.
    fn send(&self, data: Value) {
        let ev = format!("event: version\ndata: {data}\n\n");
        for c in self.streams.lock().unwrap().iter_mut() {
            let _ = c.write_all(ev.as_bytes());
        }
    }

    fn client(&self, dir: &std::path::Path, idle: Duration) -> Client {
        ClientBuilder::new()
            .config_url(self.url("/config"))
            .stream_url(self.url("/stream"))
            .environment("prod")
            .poll_interval(Duration::from_secs(60))
            .push_idle_timeout(idle)
            .sink_file(dir.join("events.jsonl"))
            .build()
            .unwrap()
    }
}

fn env_snapshot(version: u64) -> String {
    let mut s = snapshot(version);
    s["environment"] = json!("prod");
    s.to_string()
}

#[test]
fn a_silent_stream_is_declared_dead_and_reconnected() {
    let dir = temp_dir("push-silent");
    let server = StreamServer::start(env_snapshot(1));
    let client = server.client(&dir, Duration::from_millis(300));
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    // The server never writes a byte, not even a ping: declared dead twice, connected three times.
    let s = || client.stats();
    assert!(wait_until(Duration::from_secs(5), || s().push_disconnects >= 2 && s().push_connects >= 3), "{:?}", s());
    assert!(s().push_idle_timeouts >= 2 && server.connects.load(Ordering::SeqCst) >= 3, "{:?}", s());
    assert!(s().last_push_error.as_deref().is_some_and(|e| e.contains("silent")), "{:?}", s());
    // Still serving the snapshot it had.
    assert_eq!(client.snapshot().map(|s| s.version()), Some(1));
}

#[test]
fn stream_notices_that_are_not_news_change_nothing_and_a_bad_snapshot_is_kept_out() {
    let dir = temp_dir("push-notices");
    let server = StreamServer::start(env_snapshot(5));
    let client = server.client(&dir, Duration::from_secs(30));
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));
    let fetched = server.config_requests.load(Ordering::SeqCst);

    server.send(json!({"environment": "staging", "version": 9, "digest": "x"}));
    server.send(json!({"environment": "prod", "version": 4, "digest": "y"}));
    server.send(json!({"environment": "prod", "version": 5, "digest": "z"}));
    server.send(json!("not a notice"));
    assert!(wait_until(Duration::from_secs(5), || client.stats().push_notifications_ignored >= 4));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.config_requests.load(Ordering::SeqCst), fetched, "no fetch for a notice that is not news");

    // News, but the endpoint serves a broken document: refused, counted, v5 kept.
    *server.config.lock().unwrap() = "{\"schema_version\": 1, \"version\": 6, \"experiments\": 7".into();
    let rejected = client.stats().config_rejected;
    server.send(json!({"environment": "prod", "version": 6, "digest": "w"}));
    assert!(wait_until(Duration::from_secs(5), || client.stats().config_rejected > rejected));
    assert_eq!(client.snapshot().map(|s| s.version()), Some(5));
    assert!(client.stats().last_config_error.is_some());

    // The same notice again once the document is fixed: v6.
    *server.config.lock().unwrap() = env_snapshot(6);
    server.send(json!({"environment": "prod", "version": 6, "digest": "w"}));
    assert!(client.wait_for_version(6, Duration::from_secs(5)));
    let s = client.stats();
    assert_eq!(s.push_notifications, 6, "{s:?}");
    assert!(s.last_config_error.is_none(), "cleared by the good fetch: {s:?}");
}

fn write_hash(r: &RedisServer, env: &str, version: u64, text: &str) {
    let _: () = redis::cmd("HSET")
        .arg(format!("env:{env}:config"))
        .arg("version")
        .arg(version)
        .arg("digest")
        .arg(format!("d{version}"))
        .arg("snapshot")
        .arg(text)
        .query(&mut r.conn().unwrap())
        .unwrap();
}

fn announce(r: &RedisServer, env: &str, version: u64) {
    let msg = json!({"environment": env, "version": version, "digest": format!("d{version}")}).to_string();
    let _: i64 = redis::cmd("PUBLISH").arg("config:updates").arg(msg).query(&mut r.conn().unwrap()).unwrap();
}

#[test]
fn redis_delivers_publishes_and_recovers_from_a_killed_subscriber_and_a_restart() {
    let Some(mut r) = RedisServer::start() else { return };
    let dir = temp_dir("push-redis");
    write_hash(&r, "prod", 1, &env_snapshot(1));
    // Redis is the only source: no config_url.
    let client = ClientBuilder::new()
        .redis(r.url(), "prod")
        .persist_path(dir.join("last-good.json"))
        .sink_file(dir.join("events.jsonl"))
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert_eq!(client.stats().config_source, vario::ConfigSource::Redis);

    write_hash(&r, "prod", 2, &env_snapshot(2));
    let t = Instant::now();
    announce(&r, "prod", 2);
    assert!(client.wait_for_version(2, Duration::from_secs(5)));
    eprintln!("PUBLISH -> v2 in use: {:?}", t.elapsed());
    // Persisted as the last good snapshot right after the swap.
    let persisted = || std::fs::read_to_string(dir.join("last-good.json")).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(5), || persisted().contains("\"version\":2")));

    // The subscriber is killed; v3 lands while it is away and its message is lost (nobody is
    // subscribed). The re-read after the reconnect catches it.
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query(&mut r.conn().unwrap()).unwrap();
    assert_eq!(killed, 1);
    write_hash(&r, "prod", 3, &env_snapshot(3));
    announce(&r, "prod", 3);
    assert!(client.wait_for_version(3, Duration::from_secs(5)), "{:?}", client.stats());
    assert!(client.stats().push_disconnects >= 1);

    // A restart (kill -9; the new server is empty): reconnects; the next publish arrives.
    r.restart();
    assert!(wait_until(Duration::from_secs(10), || client.stats().push_connects >= 3), "{:?}", client.stats());
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));
    write_hash(&r, "prod", 4, &env_snapshot(4));
    announce(&r, "prod", 4);
    assert!(client.wait_for_version(4, Duration::from_secs(5)), "{:?}", client.stats());
    client.close(Duration::from_secs(2)).unwrap();
}

#[test]
fn redis_notices_that_are_not_news_change_nothing_and_a_bad_snapshot_is_kept_out() {
    let Some(r) = RedisServer::start() else { return };
    let dir = temp_dir("push-redis-notices");
    write_hash(&r, "prod", 5, &env_snapshot(5));
    let client = ClientBuilder::new().redis(r.url(), "prod").sink_file(dir.join("events.jsonl")).build().unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));

    // Another environment's publish, and a stale notice for ours (the hash says 9 for staging).
    write_hash(&r, "staging", 9, &env_snapshot(9));
    announce(&r, "staging", 9);
    announce(&r, "prod", 4);
    assert!(wait_until(Duration::from_secs(5), || client.stats().push_notifications_ignored >= 2));
    assert_eq!(client.snapshot().map(|s| s.version()), Some(5));

    // A notice pointing at an invalid snapshot: refused and counted, v5 kept.
    write_hash(&r, "prod", 7, "{\"schema_version\": 1, \"version\": 7, \"flags\": 3");
    let rejected = client.stats().config_rejected;
    announce(&r, "prod", 7);
    assert!(wait_until(Duration::from_secs(5), || client.stats().config_rejected > rejected));
    assert_eq!(client.snapshot().map(|s| s.version()), Some(5));
    // And a snapshot in the hash whose version is lower than the one in use is never installed.
    write_hash(&r, "prod", 8, &env_snapshot(3));
    announce(&r, "prod", 8);
    assert!(wait_until(Duration::from_secs(5), || client.stats().config_rejected > rejected + 1));
    assert_eq!(client.snapshot().map(|s| s.version()), Some(5));
    write_hash(&r, "prod", 8, &env_snapshot(8));
    announce(&r, "prod", 8);
    assert!(client.wait_for_version(8, Duration::from_secs(5)));
}

#[test]
fn the_control_plane_publishes_reach_a_redis_client() {
    let Some(r) = RedisServer::start() else { return };
    let dir = temp_dir("push-control-redis");
    let server = control(&dir.join("c.db"), "127.0.0.1:0", Some(r.url()));
    let api = Api::new(server.url(), ADMIN);
    let (env, _sdk, exp) = author(&api, "live");
    assert_eq!(api.ok("POST", &format!("/environments/{env}/publish"), None)["version"], 1);
    let client = ClientBuilder::new()
        .redis(r.url(), "live")
        .stale_after(Duration::from_secs(60))
        .sink_file(dir.join("events.jsonl"))
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert_eq!(reason(&client), Reason::Assigned);
    api.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": "PAUSED"})));
    let published = api.ok("POST", &format!("/environments/{env}/publish"), None);
    assert!(client.wait_for_version(2, Duration::from_secs(5)));
    assert_eq!(reason(&client), Reason::NotRunning);
    let s = client.stats();
    assert_eq!(s.config_digest.as_deref(), published["digest"].as_str(), "the digest the control plane announced");
    assert!(!s.config_stale && s.config_sync_age_ms < 60_000, "{s:?}");
    assert!(s.config_age_ms.is_some_and(|a| (0..60_000).contains(&a)), "age since published_at: {s:?}");
    server.shutdown();
}

/// Two control-plane instances on one database and one Redis: a publish made through one reaches
/// a stream client of the other at once (the other hears it on `config:updates`), not at its next
/// poll; and each instance announces each publish once.
#[test]
fn a_publish_through_another_instance_reaches_this_instances_stream() {
    let Some(r) = RedisServer::start() else { return };
    let dir = temp_dir("push-two-instances");
    let db = dir.join("c.db");
    let a = control(&db, "127.0.0.1:0", Some(r.url()));
    let b = control(&db, "127.0.0.1:0", Some(r.url()));
    let api_b = Api::new(b.url(), ADMIN);
    let (env, sdk, exp) = author(&api_b, "shared");
    assert_eq!(api_b.ok("POST", &format!("/environments/{env}/publish"), None)["version"], 1);

    // Polling every minute: only a stream can bring a publish in time. `client` follows A, the
    // instance that does not publish; `own` follows B, which hears its own publishes back.
    let follower = |server: &vario_control::Server, events: &str| {
        let c = ClientBuilder::new()
            .config_url(server.url() + "/sdk/v1/snapshot")
            .stream_url(server.url() + "/sdk/v1/stream")
            .sdk_key(sdk.clone())
            .poll_interval(Duration::from_secs(60))
            .sink_file(dir.join(events))
            .build()
            .unwrap();
        c.wait_for_init(Duration::from_secs(5)).unwrap();
        assert!(wait_until(Duration::from_secs(5), || c.stats().push == PushState::Connected));
        c
    };
    let (client, own) = (follower(&a, "a.jsonl"), follower(&b, "b.jsonl"));
    assert_eq!(reason(&client), Reason::Assigned);
    // The stream announces the version in use on connect; count from after that notice, which
    // can arrive after `Connected` (a fresh-clone CI run once counted it as a late ignored one).
    for c in [&client, &own] {
        assert!(wait_until(Duration::from_secs(5), || c.stats().push_notifications >= 1), "{:?}", c.stats());
    }
    let before = [client.stats(), own.stats()];

    for (v, status, want) in [(2, "PAUSED", Reason::NotRunning), (3, "RUNNING", Reason::Assigned)] {
        api_b.ok("PATCH", &format!("/experiments/{exp}/status"), Some(json!({"status": status})));
        let t = Instant::now();
        assert_eq!(api_b.ok("POST", &format!("/environments/{env}/publish"), None)["version"], v);
        assert!(
            client.wait_for_version(v, Duration::from_secs(5)),
            "B's v{v} through A's stream: {:?}",
            client.stats()
        );
        eprintln!("publish on B -> v{v} in use on A's client: {:?}", t.elapsed());
        assert_eq!(reason(&client), want);
    }
    assert!(own.wait_for_version(3, Duration::from_secs(5)));
    // Give a duplicate announcement time to arrive, then count: v2 and v3, one notice each on
    // either instance (a duplicate would be counted as ignored).
    std::thread::sleep(Duration::from_millis(300));
    for (c, was) in [(&client, &before[0]), (&own, &before[1])] {
        let s = c.stats();
        assert_eq!(s.push_notifications - was.push_notifications, 2, "{s:?}");
        assert_eq!(s.push_notifications_ignored, was.push_notifications_ignored, "{s:?}");
        c.close(Duration::from_secs(2)).unwrap();
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_fetch_that_lags_the_notice_is_retried_and_an_unreachable_announced_version_is_stale() {
    let dir = temp_dir("push-chase");
    let server = StreamServer::start(env_snapshot(5));
    let client = ClientBuilder::new()
        .config_url(server.url("/config"))
        .stream_url(server.url("/stream"))
        .environment("prod")
        .poll_interval(Duration::from_secs(60))
        .stale_after(Duration::from_millis(300))
        .sink_file(dir.join("events.jsonl"))
        .build()
        .unwrap();
    client.wait_for_init(Duration::from_secs(5)).unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.stats().push == PushState::Connected));

    // The notice comes before the endpoint serves v6 (a replica a moment behind): the first
    // fetch still gets v5, and the retries a few hundred ms apart get v6, long before the poll.
    server.send(json!({"environment": "prod", "version": 6, "digest": "a"}));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(client.snapshot().map(|s| s.version()), Some(5));
    *server.config.lock().unwrap() = env_snapshot(6);
    assert!(client.wait_for_version(6, Duration::from_secs(3)), "{:?}", client.stats());

    // v7 is announced but never served (the endpoint keeps v6): the stream stays alive with
    // pings, yet the config is not confirmed as the latest, so it turns stale.
    server.send(json!({"environment": "prod", "version": 7, "digest": "b"}));
    let ping = || {
        for c in server.streams.lock().unwrap().iter_mut() {
            let _ = c.write_all(b": ping\n\n");
        }
    };
    let stale = wait_until(Duration::from_secs(5), || {
        ping();
        client.stats().config_stale
    });
    assert!(stale, "{:?}", client.stats());
    assert_eq!(client.stats().push, PushState::Connected);
    // Served at last: fresh again.
    *server.config.lock().unwrap() = env_snapshot(7);
    server.send(json!({"environment": "prod", "version": 7, "digest": "b"}));
    assert!(client.wait_for_version(7, Duration::from_secs(3)));
    assert!(wait_until(Duration::from_secs(2), || !client.stats().config_stale), "{:?}", client.stats());
}
