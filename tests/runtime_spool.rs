//! The disk spool across process death: a child process (this test binary, re-executed with
//! `VARIO_SPOOL_CHILD` set) queues exposures while the ingestion endpoint is down (a closed port)
//! and then dies (`kill -9` after `flush`, SIGTERM handled by `close`, or a normal exit); a new
//! client on the same spool directory, with a recording endpoint up, must deliver every event,
//! checked by `event_id`. Also: a truncated segment, the disk bound, and an outage within one
//! process. `fault_matrix` prints one row per scenario (generated, delivered, counted drops,
//! lost) and fails when anything within the spool's capacity was lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vario::core::Request;
use vario::{ClientBuilder, Expose};

/// Exposures each scenario generates.
const N: usize = 20_000;

fn client(ingest: &str, spool: &Path) -> ClientBuilder {
    ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .ingest_url(ingest)
        .id_hash_key("test-key")
        .spool_path(spool)
        .batch_interval(Duration::from_millis(20))
        .retry_base(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(200))
        .request_timeout(Duration::from_millis(1000))
        .max_in_flight(IN_FLIGHT)
}

/// Batches out at once, live or replayed (the default).
const IN_FLIGHT: usize = 8;
/// The children's batch size (the default).
const BATCH: u64 = 500;

/// Decides for `n` distinct users on `home`: each is one exposure (ASSIGNED at full traffic).
fn expose_n(c: &vario::Client, n: usize) {
    for i in 0..n {
        let id = format!("u{i}");
        c.decide_with(&Request::new("home").user(&id).session("s"), Expose::Now, |d, _| {
            assert_eq!(d.reason(), vario::core::Reason::Assigned)
        });
    }
}

fn stats_json(c: &vario::Client) -> String {
    serde_json::to_string(&c.stats()).unwrap()
}

/// The child's side, not a test of its own: `fault_matrix` re-executes this binary with
/// `--ignored --exact child` and `VARIO_SPOOL_CHILD` set.
#[test]
#[ignore = "the child process of fault_matrix"]
fn child() {
    let Ok(mode) = std::env::var("VARIO_SPOOL_CHILD") else { return };
    let spool = PathBuf::from(std::env::var("VARIO_SPOOL_DIR").unwrap());
    let ingest = std::env::var("VARIO_INGEST").unwrap();
    let max_bytes: u64 = std::env::var("VARIO_SPOOL_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(256 << 20);
    let term = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone()).unwrap();
    let c = client(&ingest, &spool).spool_max_bytes(max_bytes).build().unwrap();
    if mode == "replay" {
        // Replays what an earlier child left (no new events); killed once part of it is through.
        assert!(wait_until(Duration::from_secs(60), || c.stats().events_replayed >= 5_000), "{}", stats_json(&c));
        println!("VARIO-READY {}", stats_json(&c));
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    expose_n(&c, N);
    match mode.as_str() {
        "kill9" => {
            // Durable once flush returns (delivered or spooled); then wait to be killed.
            c.flush(Duration::from_secs(60)).unwrap();
            println!("VARIO-READY {}", stats_json(&c));
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        "sigterm" => {
            // No flush: the events are still in the pipeline when the signal comes.
            println!("VARIO-READY {}", stats_json(&c));
            while !term.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let closed = c.close(Duration::from_secs(10));
            println!("VARIO-STATS {closed:?} {}", stats_json(&c));
        }
        _ => {
            // A normal exit: what dropping the client does (close with its 2 s default), then the
            // stats it left.
            println!("VARIO-READY {}", stats_json(&c));
            let closed = c.close(Duration::from_secs(2));
            println!("VARIO-STATS {closed:?} {}", stats_json(&c));
        }
    }
}

struct Child {
    proc: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Child {
    fn start(mode: &str, spool: &Path, ingest: &str, max_bytes: Option<u64>) -> Child {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--ignored", "--exact", "child", "--nocapture", "--test-threads=1"])
            .env("VARIO_SPOOL_CHILD", mode)
            .env("VARIO_SPOOL_DIR", spool)
            .env("VARIO_INGEST", ingest)
            .stdout(Stdio::piped());
        if let Some(m) = max_bytes {
            cmd.env("VARIO_SPOOL_MAX", m.to_string());
        }
        let mut proc = cmd.spawn().unwrap();
        let out = proc.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Child { proc, lines }
    }

    /// The stats printed after `tag`.
    fn wait_for(&self, tag: &str) -> Value {
        loop {
            let l = self.lines.recv_timeout(Duration::from_secs(120)).expect("child line");
            // The test harness may print `test child ... ` before the line.
            if let Some(at) = l.find(tag) {
                let rest = l[at + tag.len()..].trim();
                let json = &rest[rest.find('{').unwrap()..];
                return serde_json::from_str(json).unwrap();
            }
        }
    }
}

/// One row of the fault matrix.
#[derive(Debug)]
struct Row {
    scenario: &'static str,
    generated: u64,
    delivered: u64,
    duplicates: u64,
    counted_drops: u64,
    corrupt_records: u64,
    within_capacity: bool,
}

impl Row {
    fn lost(&self) -> i64 {
        self.generated as i64 - self.delivered as i64 - self.counted_drops as i64
    }
}

/// Every drop a stats object counts.
fn drops(s: &Value) -> u64 {
    [
        "dropped_queue_full",
        "dropped_rejected",
        "dropped_retries_exhausted",
        "dropped_stale_config",
        "dropped_at_close",
        "dropped_sink_error",
        "dropped_spool_full",
    ]
    .iter()
    .map(|k| s[*k].as_u64().unwrap())
    .sum()
}

/// A new client on `spool` with a recording endpoint up: replays what is there; returns the
/// distinct event ids delivered, the duplicates, and the client's stats.
fn restart_and_collect(spool: &Path) -> (HashMap<String, u64>, Value) {
    let server = Scripted::start(|_, _| Reply::new(200, "{}"));
    let c = client(&server.url("/ingest"), spool).build().expect("restart on the spool");
    // Done when no segment file is left: every record delivered (or skipped as corrupt).
    let done = wait_until(Duration::from_secs(120), || c.stats().spool_bytes == 0);
    assert!(done, "the spool drained: {:?}", c.stats());
    c.close(Duration::from_secs(10)).expect("close after replay");
    let stats: Value = serde_json::from_str(&stats_json(&c)).unwrap();
    let mut ids: HashMap<String, u64> = HashMap::new();
    for e in server.events() {
        *ids.entry(e["event_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    (ids, stats)
}

fn segments(spool: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vspool"))
        .collect();
    v.sort();
    v
}

/// Offsets and event counts of the records of a segment file (the format of `src/pipeline/spool.rs`).
fn records(bytes: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"VSR1");
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let events = u32::from_le_bytes(bytes[at + 13..at + 17].try_into().unwrap()) as u64;
        out.push((at, 12 + len, events));
        at += 12 + len;
    }
    out
}

fn process_death(scenario: &'static str, mode: &str) -> Row {
    let spool = temp_dir(&format!("spool-{mode}"));
    let down = format!("http://{}/ingest", free_addr());
    let mut ch = Child::start(mode, &spool, &down, None);
    let ready = ch.wait_for("VARIO-READY");
    let child_stats = match mode {
        "kill9" => {
            ch.proc.kill().unwrap(); // SIGKILL
            ch.proc.wait().unwrap();
            ready
        }
        "sigterm" => {
            let st = Command::new("kill").args(["-TERM", &ch.proc.id().to_string()]).status().unwrap();
            assert!(st.success());
            let s = ch.wait_for("VARIO-STATS");
            assert!(ch.proc.wait().unwrap().success());
            s
        }
        _ => {
            let s = ch.wait_for("VARIO-STATS");
            assert!(ch.proc.wait().unwrap().success());
            s
        }
    };
    let _ = ready;
    let generated = child_stats["exposures_enqueued"].as_u64().unwrap();
    assert_eq!(generated, N as u64, "{child_stats}");
    assert!(!segments(&spool).is_empty(), "the child left its events in the spool");
    let (ids, stats) = restart_and_collect(&spool);
    Row {
        scenario,
        generated,
        delivered: ids.len() as u64,
        duplicates: ids.values().map(|n| n - 1).sum(),
        // The child's drops (kill -9: those counted before it died) and the restart's.
        counted_drops: drops(&child_stats) + drops(&stats),
        corrupt_records: stats["spool_corrupt_records"].as_u64().unwrap(),
        within_capacity: true,
    }
}

fn truncated_segment() -> Row {
    let spool = temp_dir("spool-truncated");
    let down = format!("http://{}/ingest", free_addr());
    let mut ch = Child::start("exit", &spool, &down, None);
    let left = ch.wait_for("VARIO-STATS");
    assert!(ch.proc.wait().unwrap().success());
    let generated = left["exposures_enqueued"].as_u64().unwrap();
    assert_eq!(drops(&left), 0, "{left}");
    let last = segments(&spool).pop().expect("a segment");
    let bytes = std::fs::read(&last).unwrap();
    let recs = records(&bytes);
    assert!(recs.len() >= 2, "{} records", recs.len());
    let &(at, len, tail_events) = recs.last().unwrap();
    // Cut the file in the middle of its last record.
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len((at + len / 2) as u64).unwrap();
    let (ids, stats) = restart_and_collect(&spool);
    assert_eq!(stats["spool_corrupt_records"], 1, "{stats}");
    assert_eq!(ids.len() as u64, generated - tail_events, "every record before the cut was replayed");
    Row {
        scenario: "truncated segment tail",
        generated,
        delivered: ids.len() as u64,
        duplicates: ids.values().map(|n| n - 1).sum(),
        // The cut record's events: skipped and counted (as one corrupt record).
        counted_drops: tail_events + drops(&stats),
        corrupt_records: 1,
        within_capacity: true,
    }
}

fn disk_bound() -> Row {
    let spool = temp_dir("spool-bound");
    let down = format!("http://{}/ingest", free_addr());
    let mut ch = Child::start("exit", &spool, &down, Some(300_000));
    let left = ch.wait_for("VARIO-STATS");
    assert!(ch.proc.wait().unwrap().success());
    let generated = left["exposures_enqueued"].as_u64().unwrap();
    assert!(left["dropped_spool_full"].as_u64().unwrap() > 0, "the bound was reached: {left}");
    let on_disk: u64 = segments(&spool).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(on_disk <= 300_000, "{on_disk} bytes on disk");
    let (ids, stats) = restart_and_collect(&spool);
    let delivered = ids.len() as u64;
    assert!(delivered > 0 && delivered < generated, "{delivered} of {generated}");
    Row {
        scenario: "disk bound (300 kB), endpoint down",
        generated,
        delivered,
        duplicates: ids.values().map(|n| n - 1).sum(),
        counted_drops: drops(&left) + drops(&stats),
        corrupt_records: stats["spool_corrupt_records"].as_u64().unwrap(),
        within_capacity: false,
    }
}

/// `kill -9` in the middle of a replay: the next client resumes at the spool's cursor, so only a
/// batch whose answer had not been recorded yet is sent twice (at least once), and nothing is
/// lost.
fn killed_during_replay() -> Row {
    let spool = temp_dir("spool-replay");
    let down = format!("http://{}/ingest", free_addr());
    let mut first = Child::start("exit", &spool, &down, None);
    let left = first.wait_for("VARIO-STATS");
    assert!(first.proc.wait().unwrap().success());
    let generated = left["exposures_enqueued"].as_u64().unwrap();
    // A slow endpoint, so the kill lands mid-replay.
    let slow = Scripted::start(|_, _| Reply::new(200, "{}").delay(Duration::from_millis(50)));
    let mut second = Child::start("replay", &spool, &slow.url("/ingest"), None);
    let _ = second.wait_for("VARIO-READY");
    second.proc.kill().unwrap();
    second.proc.wait().unwrap();
    let before_kill = slow.events();
    assert!(before_kill.len() as u64 >= 5_000 && (before_kill.len() as u64) < generated, "{}", before_kill.len());
    let (mut ids, stats) = restart_and_collect(&spool);
    for e in before_kill {
        *ids.entry(e["event_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    Row {
        scenario: "kill -9 during replay, then restart",
        generated,
        delivered: ids.len() as u64,
        duplicates: ids.values().map(|n| n - 1).sum(),
        counted_drops: drops(&left) + drops(&stats),
        corrupt_records: stats["spool_corrupt_records"].as_u64().unwrap(),
        within_capacity: true,
    }
}

/// An outage within one process: flush returns with the events on disk; when the endpoint comes
/// back on the same address they are replayed.
fn outage_in_process() -> Row {
    let spool = temp_dir("spool-outage");
    let addr = free_addr();
    let c = client(&format!("http://{addr}/ingest"), &spool).build().unwrap();
    expose_n(&c, N);
    c.flush(Duration::from_secs(60)).expect("flush returns once everything is spooled");
    let s = c.stats();
    assert_eq!((s.events_spooled, s.events_sent), (N as u64, 0), "{s:?}");
    let server = Scripted::start_on(addr, |_, _| Reply::new(200, "{}"));
    assert!(wait_until(Duration::from_secs(120), || c.stats().spool_bytes == 0), "{:?}", c.stats());
    c.close(Duration::from_secs(10)).expect("close");
    let stats: Value = serde_json::from_str(&stats_json(&c)).unwrap();
    let mut ids: HashMap<String, u64> = HashMap::new();
    for e in server.events() {
        *ids.entry(e["event_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(stats["events_replayed"], N as u64, "{stats}");
    Row {
        scenario: "endpoint down, then up (1 process)",
        generated: stats["exposures_enqueued"].as_u64().unwrap(),
        delivered: ids.len() as u64,
        duplicates: ids.values().map(|n| n - 1).sum(),
        counted_drops: drops(&stats),
        corrupt_records: 0,
        within_capacity: true,
    }
}

#[test]
fn a_second_client_cannot_share_the_spool() {
    let spool = temp_dir("spool-locked");
    let down = format!("http://{}/ingest", free_addr());
    let first = client(&down, &spool).build().unwrap();
    let e = client(&down, &spool).build().expect_err("the directory is locked");
    assert!(matches!(e, vario::BuildError::Spool(_)), "{e}");
    assert_eq!(vario::core::Coded::code(&e), vario::core::ErrorCode::InvalidOptions);
    first.close(Duration::from_secs(2)).unwrap();
    client(&down, &spool).build().expect("free again after close");
}

#[test]
fn fault_matrix() {
    if std::env::var("VARIO_SPOOL_CHILD").is_ok() {
        return;
    }
    let rows = vec![
        outage_in_process(),
        process_death("kill -9, endpoint down", "kill9"),
        process_death("SIGTERM -> close, endpoint down", "sigterm"),
        process_death("normal exit, endpoint down", "exit"),
        killed_during_replay(),
        truncated_segment(),
        disk_bound(),
    ];
    println!("\nspool fault matrix ({N} exposures per scenario)");
    println!(
        "{:<38} {:>9} {:>9} {:>10} {:>13} {:>7} {:>5}",
        "scenario", "generated", "delivered", "duplicates", "counted drops", "corrupt", "lost"
    );
    for r in &rows {
        println!(
            "{:<38} {:>9} {:>9} {:>10} {:>13} {:>7} {:>5}",
            r.scenario,
            r.generated,
            r.delivered,
            r.duplicates,
            r.counted_drops,
            r.corrupt_records,
            r.lost()
        );
    }
    for r in &rows {
        assert_eq!(r.lost(), 0, "{r:?}");
        // A crash re-sends at most the batches that were out (the replay window), never more.
        assert!(r.duplicates <= IN_FLIGHT as u64 * BATCH, "{r:?}");
        if r.within_capacity && r.corrupt_records == 0 {
            assert_eq!(r.delivered, r.generated, "{r:?}");
        }
    }
}

/// The fuzz target's entry point (`vario::fuzzing::spool_replay`) on its seed files: whole
/// records are replayed, a cut or corrupted one is counted and ends its segment, and a record
/// appended afterwards always reads back.
#[test]
fn spool_reader_seeds() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/spool_reader");
    for (name, want) in [("two-records", (3, 0)), ("truncated-tail", (2, 1)), ("bad-checksum", (1, 1))] {
        let bytes = std::fs::read(seeds.join(name)).expect("seed");
        let dir = tempfile_dir(name);
        assert_eq!(vario::fuzzing::spool_replay(&dir, &bytes).expect(name), want, "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vario-spool-seed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// With a spool, live delivery still keeps `max_in_flight` batches in flight: against an endpoint
/// that answers after 100 ms, one batch at a time could never have two requests arrive within
/// 90 ms of each other; and with a 500 in the middle every event still arrives exactly once.
#[test]
fn with_a_spool_several_live_batches_are_in_flight_and_a_failure_loses_nothing() {
    let failed = Arc::new(AtomicBool::new(false));
    let f2 = failed.clone();
    let server = Scripted::start(move |n, _| {
        // The 5th request fails once: its batch is written down and replayed.
        if n == 4 && !f2.swap(true, Ordering::Relaxed) {
            return Reply::new(500, "{}");
        }
        Reply::new(200, "{}").delay(Duration::from_millis(100))
    });
    let dir = tempfile_dir("in-flight");
    let c = client(&server.url("/ingest"), &dir).batch_size(50).max_in_flight(8).build().unwrap();
    expose_n(&c, 2_000);
    c.flush(Duration::from_secs(30)).unwrap();
    assert!(wait_until(Duration::from_secs(30), || c.stats().spool_bytes == 0), "the spool drains: {}", stats_json(&c));
    c.close(Duration::from_secs(5)).unwrap();
    let seen = server.requests();
    let mut at: Vec<_> = seen.iter().map(|s| s.at).collect();
    at.sort();
    let most =
        (0..at.len()).map(|i| at[i..].iter().take_while(|t| **t - at[i] < Duration::from_millis(90)).count()).max();
    assert!(most.unwrap_or(0) >= 4, "at most {most:?} requests within 90 ms: one batch at a time");
    // Every event delivered once (the failed batch twice on the wire, once in the counts).
    let mut ids: HashMap<String, u64> = HashMap::new();
    for s in seen.iter().filter(|s| s.url == "/ingest") {
        let v: Value = serde_json::from_slice(&s.body).unwrap();
        for e in v["events"].as_array().unwrap() {
            *ids.entry(e["event_id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    let s = c.stats();
    assert_eq!(s.events_sent, 2_000, "{}", stats_json(&c));
    assert!(failed.load(Ordering::Relaxed) && s.events_spooled >= 1 && s.events_replayed == s.events_spooled);
    assert_eq!(ids.len(), 2_000);
    let twice = ids.values().filter(|n| **n == 2).count() as u64;
    assert!(ids.values().all(|n| *n <= 2) && twice >= 1 && twice <= s.events_spooled, "only the failed batch twice");
    let _ = std::fs::remove_dir_all(&dir);
}
