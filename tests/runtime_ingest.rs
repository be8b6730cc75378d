//! Exposure and outcome delivery against real HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
#[allow(unused_imports)]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use vario::core::Request;
use vario::{ClientBuilder, Expose, Outcome};
use vario_tools::devserver::{DevServer, DevServerOptions};

fn client(ingest: String) -> ClientBuilder {
    ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .ingest_url(ingest)
        .id_hash_key("test-key")
        .batch_size(50)
        .batch_interval(Duration::from_millis(20))
        .retry_base(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(200))
        .request_timeout(Duration::from_millis(500))
}

/// Decides for `n` distinct users on `home` (every one is ASSIGNED at 100 % traffic).
fn expose_n(c: &vario::Client, n: usize, prefix: &str) {
    for i in 0..n {
        let id = format!("{prefix}{i}");
        c.decide_with(&Request::new("home").user(&id).session("s"), Expose::Now, |d, _| {
            assert_eq!(d.reason(), vario::core::Reason::Assigned)
        });
    }
}

#[test]
fn ingestion_down_then_up_loses_nothing_within_capacity() {
    let addr = free_addr();
    let c = client(format!("http://{addr}/ingest")).max_attempts(200).build().expect("client");
    expose_n(&c, 300, "u");
    assert!(wait_until(Duration::from_secs(2), || c.stats().batch_retries >= 2), "{:?}", c.stats());
    let server = Scripted::start_on(addr, |_, _| Reply::new(200, "{}"));
    c.flush(Duration::from_secs(10)).expect("flush after recovery");
    let ids: HashSet<String> =
        server.events().iter().map(|e| e["event_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(ids.len(), 300);
    let s = c.stats();
    assert_eq!((s.events_sent, s.dropped_queue_full, s.dropped_retries_exhausted), (300, 0, 0));
}

#[test]
fn honours_retry_after_on_429_and_keeps_the_batch_id() {
    let server = Scripted::start(|n, _| {
        if n == 0 { Reply::new(429, "slow down").header("retry-after", "1") } else { Reply::new(200, "{}") }
    });
    let c = client(server.url("/ingest")).build().expect("client");
    expose_n(&c, 10, "u");
    c.flush(Duration::from_secs(10)).expect("flush");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one 429, one success");
    assert!(reqs[1].at.duration_since(reqs[0].at) >= Duration::from_millis(950), "Retry-After: 1 honoured");
    assert_eq!(reqs[0].json()["batch_id"], reqs[1].json()["batch_id"]);
    assert_eq!(reqs[0].json()["events"], reqs[1].json()["events"]);
    assert_eq!(c.stats().batch_retries, 1);
}

#[test]
fn bursts_of_500_are_retried_with_the_same_batch_id() {
    let server = Scripted::start(|n, _| if n < 4 { Reply::new(503, "busy") } else { Reply::new(200, "{}") });
    let c = client(server.url("/ingest")).batch_size(1000).build().expect("client");
    expose_n(&c, 40, "u");
    c.flush(Duration::from_secs(10)).expect("flush");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    let ids: HashSet<String> = reqs.iter().map(|r| r.json()["batch_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(ids.len(), 1, "one batch_id across retries");
    let s = c.stats();
    assert_eq!((s.batch_retries, s.events_sent, s.batches_sent), (4, 40, 1));
}

#[test]
fn a_400_drops_the_batch_and_counts_it() {
    let server = Scripted::start(|_, _| Reply::new(400, "bad batch"));
    let c = client(server.url("/ingest")).batch_size(1000).build().expect("client");
    expose_n(&c, 25, "u");
    c.flush(Duration::from_secs(5)).expect("flush");
    let s = c.stats();
    assert_eq!((s.dropped_rejected, s.events_sent, s.batch_retries), (25, 0, 0));
    assert_eq!(server.requests().len(), 1, "a 4xx is not retried");
}

#[test]
fn retries_are_bounded_and_exhaustion_is_counted() {
    let server = Scripted::start(|_, _| Reply::new(500, "down"));
    let c = client(server.url("/ingest")).batch_size(1000).max_attempts(3).build().expect("client");
    expose_n(&c, 7, "u");
    c.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(c.stats().dropped_retries_exhausted, 7);
}

#[test]
fn a_slow_server_never_blocks_the_caller_and_overflow_is_counted() {
    let server = Scripted::start(|_, _| Reply::new(200, "{}").delay(Duration::from_millis(300)));
    // One request at a time: with several in flight, requests queued behind the 300 ms answers
    // outlive the 500 ms timeout and are retried, so the server would see some batches twice.
    let c = client(server.url("/ingest")).queue_capacity(100).batch_size(10).max_in_flight(1).build().expect("client");
    let t = Instant::now();
    let n = 5_000;
    expose_n(&c, n, "u");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "5,000 decide+enqueue took {took:?}: the caller was blocked");
    let s = c.stats();
    assert!(s.dropped_queue_full > 0, "{s:?}");
    assert_eq!(s.exposures_enqueued + s.dropped_queue_full, n as u64, "every exposure is accounted for");
    c.close(Duration::from_secs(30)).expect("close delivers the rest");
    let s = c.stats();
    assert_eq!(s.events_sent + s.dropped_at_close, s.exposures_enqueued, "{s:?}");
    assert_eq!(server.events().len() as u64, s.events_sent);
}

#[test]
fn flush_and_close_deliver_everything_gzipped_when_large() {
    let server = Scripted::start(|_, _| Reply::new(204, ""));
    let c = client(server.url("/ingest")).batch_size(400).gzip_threshold(8 * 1024).build().expect("client");
    expose_n(&c, 1000, "u");
    c.track(Outcome {
        user_id: Some("u1".into()),
        event_type: "add_to_cart".into(),
        item_id: Some("sku-1".into()),
        value: Some(19.99),
        currency: Some("EUR".into()),
        placement: Some("home".into()),
        ..Outcome::default()
    });
    c.close(Duration::from_secs(10)).expect("close");
    assert!(c.close(Duration::from_secs(1)).is_ok(), "close is idempotent");
    let events = server.events();
    assert_eq!(events.len(), 1001);
    assert!(server.requests().iter().any(|r| r.gzipped), "large bodies are gzipped");
    let s = c.stats();
    assert_eq!((s.events_sent, s.dropped_at_close), (1001, 0));
}

#[test]
fn events_carry_pseudonyms_join_keys_and_attribution() {
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let c = client(server.url("/ingest")).sdk_key("k-1").build().expect("client");
    let ctx = json!({"placement": "home", "page_type": "home", "locale": "de-DE"});
    let variant = c.decide_with(
        &Request::new("home").user("alice").session("sess-a").context(ctx.as_object().expect("map")),
        Expose::Now,
        |d, _| d.variant().map(str::to_owned),
    );
    // The same exposure again is de-duplicated.
    c.decide_with(&Request::new("home").user("alice").session("sess-a"), Expose::Now, |_, _| ());
    c.track(Outcome {
        user_id: Some("alice".into()),
        event_type: "add_to_cart".into(),
        item_id: Some("sku-9".into()),
        ..Outcome::default()
    });
    c.flush(Duration::from_secs(5)).expect("flush");
    let reqs = server.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer k-1"));
    for r in &reqs {
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(!body.contains("alice") && !body.contains("sess-a"), "raw ids leaked: {body}");
    }
    let events = server.events();
    assert_eq!(events.len(), 2, "{events:?}");
    let p = vario::core::Pseudonymizer::new(Some("test-key"));
    let (ex, out) = (&events[0], &events[1]);
    assert_eq!(ex["type"], "exposure");
    assert_eq!(ex["user_id"], p.apply("alice"));
    assert_eq!(ex["session_id"], p.apply("sess-a"));
    assert_eq!(ex["variant"].as_str(), variant.as_deref());
    assert_eq!(ex["context"], json!({"locale": "de-DE"}));
    assert_eq!(ex["page_type"], "home");
    assert_eq!(out["type"], "outcome");
    assert_eq!(
        out["assignments"],
        json!([{"experiment_id": "e-home", "experiment_key": "home_algo", "variant": variant}])
    );
    assert_eq!(c.stats().exposures_deduplicated, 1);
    let batch = reqs[0].json();
    assert!(batch["batch_id"].is_string() && batch["sent_at"].is_string() && batch["sdk"]["name"] == "vario-rust");
}

#[test]
fn expose_later_by_token_from_another_client() {
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let a = client(server.url("/ingest")).build().expect("client a");
    let token =
        a.decide_with(&Request::new("home").user("bob"), Expose::Later, |_, t| t.map(str::to_owned)).expect("token");
    a.flush(Duration::from_secs(5)).expect("flush");
    assert!(server.events().is_empty(), "expose later logs nothing at decision time");
    let b = client(server.url("/ingest")).build().expect("client b (another process in production)");
    assert!(b.expose(&token).expect("valid token"));
    assert!(b.expose("v1.garbage").is_err());
    b.flush(Duration::from_secs(5)).expect("flush");
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], vario::core::Pseudonymizer::new(Some("test-key")).apply("bob"));
    assert_eq!(b.stats().tokens_rejected, 1);
}

#[test]
fn exactly_once_at_the_dev_server_by_event_id() {
    let dir = temp_dir("ingest_dev");
    std::fs::write(dir.join("snap.json"), snapshot(1).to_string()).expect("write");
    let server = DevServer::start(DevServerOptions {
        snapshot: dir.join("snap.json"),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    })
    .expect("dev server");
    let c = client(server.url() + "/ingest").build().expect("client");
    expose_n(&c, 120, "u");
    c.flush(Duration::from_secs(5)).expect("flush");
    // Replay the written events as a retried batch: nothing is written twice.
    let lines: Vec<Value> = std::fs::read_to_string(dir.join("events.jsonl"))
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 120);
    let http = reqwest::blocking::Client::new();
    let body = json!({"batch_id": "replay", "sent_at": "2026-01-01T00:00:00.000Z", "sdk": {"name": "t", "version": "0"}, "events": lines});
    let resp: Value = serde_json::from_str(
        &http.post(server.url() + "/ingest").body(body.to_string()).send().expect("post").text().expect("text"),
    )
    .expect("json");
    assert_eq!(resp, json!({"accepted": 0, "duplicates": 120}));
    assert_eq!(std::fs::read_to_string(dir.join("events.jsonl")).expect("read").lines().count(), 120);
    assert_eq!(server.stats.duplicates.load(Ordering::Relaxed), 120);
}

#[test]
fn local_file_sink_without_an_ingest_url() {
    let dir = temp_dir("ingest_file");
    let path = dir.join("events.jsonl");
    let c = ClientBuilder::new().bootstrap(snapshot(1).to_string()).sink_file(&path).build().expect("client");
    expose_n(&c, 30, "u");
    c.close(Duration::from_secs(5)).expect("close");
    let lines = std::fs::read_to_string(&path).expect("read").lines().count();
    assert_eq!(lines, 30);
}

#[test]
fn a_408_is_retried_and_an_http_date_retry_after_is_honoured() {
    let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let server = Scripted::start(move |n, _| match n {
        0 => Reply::new(408, "timeout"),
        1 => Reply::new(503, "later").header("retry-after", &when),
        _ => Reply::new(200, "{}"),
    });
    let c = client(server.url("/ingest")).build().expect("client");
    expose_n(&c, 5, "u");
    c.flush(Duration::from_secs(10)).expect("flush");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    // The date was ~2 s ahead (second resolution): the third attempt waited about a second or more.
    assert!(reqs[2].at.duration_since(reqs[1].at) >= Duration::from_millis(900), "HTTP-date Retry-After ignored");
    assert_eq!(c.stats().events_sent, 5);
}

#[test]
fn redirects_are_not_followed_and_count_as_rejected() {
    let server = Scripted::start(|_, _| Reply::new(302, "").header("location", "/elsewhere"));
    let c = client(server.url("/ingest")).build().expect("client");
    expose_n(&c, 4, "u");
    c.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(server.requests().len(), 1, "no GET to the redirect target");
    assert_eq!((c.stats().dropped_rejected, c.stats().events_sent), (4, 0));
}

#[test]
fn close_timeout_still_accounts_for_every_event() {
    let server = Scripted::start(|_, _| Reply::new(503, "down"));
    let c = client(server.url("/ingest")).max_attempts(1000).batch_size(10).build().expect("client");
    expose_n(&c, 40, "u");
    let t = Instant::now();
    assert!(c.close(Duration::from_millis(300)).is_err(), "cannot deliver to a server that is down");
    assert!(t.elapsed() < Duration::from_secs(2), "close overran its timeout: {:?}", t.elapsed());
    // The detached sender gives up at the deadline and counts what it could not deliver.
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = c.stats();
            s.dropped_at_close == 40 && s.events_sent == 0
        }),
        "{:?}",
        c.stats()
    );
    assert!(!c.track(Outcome { event_type: "click".into(), ..Outcome::default() }), "closed clients take nothing");
    assert_eq!(c.stats().dropped_at_close, 41);
}

#[test]
fn a_panicking_callback_is_counted_and_the_sender_survives() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let calls2 = calls.clone();
    let c = ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .batch_size(5)
        .sink_callback(move |_| {
            if calls2.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("sink bug");
            }
        })
        .build()
        .expect("client");
    expose_n(&c, 5, "a");
    c.flush(Duration::from_secs(5)).expect("flush");
    expose_n(&c, 5, "b");
    c.flush(Duration::from_secs(5)).expect("the sender is still alive");
    let s = c.stats();
    assert_eq!((s.dropped_sink_error, s.events_sent), (5, 5), "{s:?}");
}

#[test]
fn tokens_are_refused_until_the_snapshot_brings_the_key() {
    let c = ClientBuilder::new()
        .config_url(format!("http://{}/config", free_addr()))
        .max_backoff(Duration::from_millis(100))
        .sink_callback(|_| {})
        .build()
        .expect("client");
    let p = vario::core::Pseudonymizer::new(None);
    let unsigned = p.encode_token(&vario::core::TokenPayload {
        event_id: "e-1".into(),
        data: vario::core::ExposureData {
            user_id: None,
            session_id: Some("x".into()),
            fields: serde_json::from_value(json!({"experiment_id": 1, "experiment_key": "e", "variant": "v", "iteration": 1,
                "unit_type": "session", "placement": "home", "page_type": null, "reason": "ASSIGNED", "allocation_share": 1.0,
                "config_version": 1, "decided_at": "2026-01-01T00:00:00.000Z"})).expect("fields"),
        },
    });
    assert_eq!(c.expose(&unsigned), Err(vario::core::TokenError::KeyUnavailable));
    assert_eq!(c.stats().tokens_rejected, 1);
}

#[test]
fn a_token_redeemed_twice_is_one_event_at_the_dev_server() {
    let dir = temp_dir("ingest_token_twice");
    std::fs::write(dir.join("snap.json"), snapshot(1).to_string()).expect("write");
    let server = DevServer::start(DevServerOptions {
        snapshot: dir.join("snap.json"),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    })
    .expect("dev server");
    let a = client(server.url() + "/ingest").build().expect("client a");
    let token =
        a.decide_with(&Request::new("home").user("carol"), Expose::Later, |_, t| t.map(str::to_owned)).expect("token");
    // Two other processes (here: clients) both report the page as rendered.
    for _ in 0..2 {
        let b = client(server.url() + "/ingest").build().expect("client b");
        assert!(b.expose(&token).expect("valid token"));
        b.close(Duration::from_secs(5)).expect("close");
    }
    assert_eq!(server.stats.events.load(Ordering::Relaxed), 1);
    assert_eq!(server.stats.duplicates.load(Ordering::Relaxed), 1);
}

#[test]
fn repeats_are_skipped_before_the_queue_and_counted() {
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let c = client(server.url("/ingest")).build().expect("client");
    for _ in 0..1_000 {
        expose_n(&c, 3, "same-");
    }
    c.flush(Duration::from_secs(5)).expect("flush");
    let s = c.stats();
    assert_eq!((s.exposures_enqueued, s.exposures_deduplicated, s.events_sent), (3, 2_997, 3), "{s:?}");
    assert_eq!(s.exposures_deduplicated_early, 2_997, "repeats never reach the queue: {s:?}");
    assert_eq!(server.events().len(), 3);

    // Under a one-minute window the caller's filter is off; the pipeline's exact LRU still
    // de-duplicates, so the outcome is the same.
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let c = client(server.url("/ingest")).dedup_window(Duration::from_secs(30)).build().expect("client");
    for _ in 0..100 {
        expose_n(&c, 3, "same-");
    }
    c.flush(Duration::from_secs(5)).expect("flush");
    let s = c.stats();
    assert_eq!((s.exposures_enqueued, s.exposures_deduplicated, s.exposures_deduplicated_early), (300, 297, 0));
    assert_eq!(server.events().len(), 3);
}

/// Several batches in flight against an endpoint that answers every request after 300 ms: the
/// server sees more than one request at a time but never more than `max_in_flight`, and a flush
/// returns only once every batch before it is delivered (its marker waits for the slowest).
#[test]
fn several_batches_in_flight_and_flush_waits_for_all_of_them() {
    use vario_tools::devserver::IngestMode;
    let dir = temp_dir("ingest_in_flight");
    std::fs::write(dir.join("snap.json"), snapshot(1).to_string()).expect("write");
    let opts = DevServerOptions {
        snapshot: dir.join("snap.json"),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    };
    let server = DevServer::start_with(opts, IngestMode { delay: Duration::from_millis(300), ack_only: false })
        .expect("dev server");
    let c = client(server.url() + "/ingest").batch_size(10).max_in_flight(3).build().expect("client");
    // 12 batches of 10 events each, cut as fast as the processor writes them.
    expose_n(&c, 120, "f");
    c.flush(Duration::from_secs(60)).expect("flush");
    let s = c.stats();
    // Everything before the flush was delivered when it returned, in the file as in the stats.
    assert_eq!((s.events_sent, s.batches_sent), (120, 12), "{s:?}");
    assert_eq!(server.stats.events.load(Ordering::SeqCst), 120);
    let most = server.stats.ingest_in_flight_max.load(Ordering::SeqCst);
    assert!((2..=3).contains(&most), "at most 3 batches at once, and more than one: {most}");
    // The bound holds for close as well, and close waits for the last batch too.
    expose_n(&c, 40, "g");
    c.close(Duration::from_secs(60)).expect("close");
    assert_eq!(server.stats.events.load(Ordering::SeqCst), 160);
    assert!(server.stats.ingest_in_flight_max.load(Ordering::SeqCst) <= 3);
}

/// With one batch in flight (`max_in_flight` 1, the old behaviour) the endpoint never sees two
/// requests at once.
#[test]
fn one_batch_in_flight_is_strictly_sequential() {
    use vario_tools::devserver::IngestMode;
    let dir = temp_dir("ingest_one_in_flight");
    std::fs::write(dir.join("snap.json"), snapshot(1).to_string()).expect("write");
    let opts = DevServerOptions {
        snapshot: dir.join("snap.json"),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key: None,
    };
    let server = DevServer::start_with(opts, IngestMode { delay: Duration::from_millis(50), ack_only: false })
        .expect("dev server");
    let c = client(server.url() + "/ingest").batch_size(10).max_in_flight(1).build().expect("client");
    expose_n(&c, 60, "s");
    c.flush(Duration::from_secs(60)).expect("flush");
    assert_eq!(c.stats().events_sent, 60);
    assert_eq!(server.stats.ingest_in_flight_max.load(Ordering::SeqCst), 1);
}

/// Ids of users the 50/50 `home_algo` of [`snapshot`] puts in each variant, from the pure engine.
fn users_by_variant(per_variant: usize) -> (Vec<String>, Vec<String>) {
    let snap = vario::core::Snapshot::from_json(&snapshot(1).to_string()).unwrap();
    let (mut control, mut treatment) = (Vec::new(), Vec::new());
    let mut i = 0;
    while control.len() < per_variant || treatment.len() < per_variant {
        let id = format!("srm-{i}");
        i += 1;
        let variant = snap.decide(&Request::new("home").user(&id), 0).variant().map(str::to_owned);
        match variant.as_deref() {
            Some("control") if control.len() < per_variant => control.push(id),
            Some("treatment") if treatment.len() < per_variant => treatment.push(id),
            _ => {}
        }
    }
    (control, treatment)
}

#[test]
fn the_srm_monitor_flags_a_52_48_split_and_not_50_50() {
    let (control, treatment) = users_by_variant(5200);
    for (name, n_c, n_t, mismatch) in [("skewed", 5200, 4800, true), ("even", 5000, 5000, false)] {
        let dir = temp_dir(&format!("srm_{name}"));
        let c = ClientBuilder::new()
            .bootstrap(snapshot(1).to_string())
            .sink_file(dir.join("events.jsonl"))
            .id_hash_key("k")
            .build()
            .expect("client");
        for id in control[..n_c].iter().chain(&treatment[..n_t]) {
            // Twice: a unit counts once, however often it is decided.
            for _ in 0..2 {
                c.decide_with(&Request::new("home").user(id).session("s"), Expose::Now, |_, _| ());
            }
        }
        c.flush(Duration::from_secs(10)).expect("flush");
        let srm = c.stats().srm;
        assert_eq!(srm.len(), 1, "{name}: {srm:?}");
        let s = &srm[0];
        assert_eq!((s.experiment_key.as_str(), s.iteration), ("home_algo", 1));
        assert_eq!((s.units["control"], s.units["treatment"]), (n_c as u64, n_t as u64), "{name}");
        assert_eq!((s.expected["control"], s.expected["treatment"]), (0.5, 0.5), "{name}");
        let p = s.p_value.expect("a p-value");
        assert_eq!(s.srm_mismatch, mismatch, "{name}: p = {p}");
        if mismatch {
            assert!(p < 1e-3, "{name}: p = {p}");
        } else {
            assert!(p > 0.5, "{name}: p = {p}");
        }
        assert!(!s.units_capped);
        c.close(Duration::from_secs(5)).expect("close");
    }
}

/// An interleaved placement end to end in Rust: the decision names both rankers, the caller
/// merges its two rankings, and each impression's exposure carries the teams (balanced: also the
/// ranks), not de-duplicated per unit, while plain exposures still are.
#[test]
fn interleaved_impressions_carry_their_teams_and_each_one_counts() {
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let mut snap = snapshot(1);
    snap["experiments"][0]["interleaving"] =
        json!({"method": "balanced", "rankers": {"a": "treatment", "b": "control"}});
    let c = client(server.url("/ingest")).bootstrap(snap.to_string()).build().expect("client");
    let (a, b) = (["p1", "p2", "p3", "p4"], ["p3", "p5", "p1", "p6"]);
    let mut logged = Vec::new();
    for query in ["shoes", "boots", "shoes"] {
        let (token, picks, record) = c.decide_with(&Request::new("home").user("ann"), Expose::Later, |d, t| {
            let plan = d.interleaving().expect("an interleaved decision");
            assert_eq!((plan.a.variant, plan.b.variant), ("treatment", "control"));
            assert_eq!(plan.a.params["algo"], "two_tower", "ranker a's merged params");
            assert_eq!(plan.b.params["algo"], "baseline", "ranker b's: the placement default");
            let picks = plan.interleave(&a, &b, query, None).expect("merged");
            let coin = vario::core::Coin { unit_id: "ann", key: "home_algo", salt: "home_algo", query, seed: 0 };
            let direct = vario::core::interleave::interleave(plan.method, &a, &b, &coin, None).expect("merged");
            assert_eq!(picks, direct, "the plan's coin is the SPEC coin of this experiment");
            let record = vario::core::Impression::new(plan.method, &a, &b, &picks);
            (t.expect("token").to_owned(), picks, record)
        });
        assert_eq!(record.teams.len(), picks.len());
        assert!(c.expose_interleaved(&token, record.clone()).expect("accepted"));
        logged.push((vario::core::token_event_id(&token).expect("event id"), record));
    }
    // Not an interleaved placement's record: refused and counted, nothing queued.
    let token = c.decide_with(&Request::new("home").user("bo"), Expose::Later, |_, t| t.expect("token").to_owned());
    let mut bad = logged[0].1.clone();
    bad.ranks = None;
    let e = c.expose_interleaved(&token, bad).expect_err("balanced without ranks");
    assert_eq!(vario::core::Coded::code(&e), vario::core::ErrorCode::TokenPayload);
    // Two plain exposures of one unit: the second is de-duplicated as before.
    for _ in 0..2 {
        c.decide_with(&Request::new("home").user("cy"), Expose::Now, |_, _| ());
    }
    c.flush(Duration::from_secs(5)).expect("flush");
    let events = server.events();
    let ann = vario::core::Pseudonymizer::new(Some("test-key")).apply("ann");
    let mine: Vec<&Value> = events.iter().filter(|e| e["user_id"] == ann.as_str()).collect();
    assert_eq!(mine.len(), 3, "three impressions of one unit, three events: {events:?}");
    for (e, (event_id, record)) in mine.iter().zip(&logged) {
        assert_eq!(e["event_id"], event_id.as_str(), "the impression id a click names");
        assert_eq!(e["interleaving"], serde_json::to_value(record).expect("json"));
        assert_eq!(e["interleaving"]["method"], "balanced");
        assert!(e["interleaving"]["ranks"]["a"].is_array());
    }
    assert_eq!(events.len(), 4, "ann's three impressions and cy's one exposure");
    assert_eq!(c.stats().tokens_rejected, 1);
}
