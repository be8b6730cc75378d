//! The `vario` binary as scripts use it: `dev-server` prints the line they parse, then serves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vario");

#[test]
fn dev_server_prints_its_url_and_serves_the_snapshot() {
    let dir = std::env::temp_dir().join(format!("vario-tools-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = dir.join("events.jsonl");
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/snapshot.json");
    let mut child = Command::new(BIN)
        .args(["dev-server", "--snapshot", snapshot, "--port", "0", "--out"])
        .arg(&events)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // The same pattern as tests/c/run.sh: `vario dev server on http://ADDR (events -> FILE)`.
    let rest = line.strip_prefix("vario dev server on http://").unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let (addr, tail) = rest.split_once(' ').unwrap();
    assert_eq!(tail.trim_end(), format!("(events -> {})", events.display()));
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["dev-server"][..], &["dev-server", "--snapshot", "s", "--port", "x"][..], &["nope"][..]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_describes_every_subcommand() {
    let top = Command::new(BIN).arg("--help").output().unwrap();
    assert!(top.status.success());
    let top = String::from_utf8(top.stdout).unwrap();
    assert!(top.contains("dev-server"), "{top}");
    let sub = Command::new(BIN).args(["dev-server", "--help"]).output().unwrap();
    assert!(sub.status.success());
    let sub = String::from_utf8(sub.stdout).unwrap();
    for word in ["--snapshot", "--port", "8088", "--out", "vario-dev-events.jsonl", "exactly once per event_id"] {
        assert!(sub.contains(word), "{word} missing from\n{sub}");
    }
}
