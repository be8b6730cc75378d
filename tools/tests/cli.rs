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
    for word in [
        "--snapshot",
        "--port",
        "8088",
        "--out",
        "vario-dev-events.jsonl",
        "exactly once per event_id",
        "--signing-key",
    ] {
        assert!(sub.contains(word), "{word} missing from\n{sub}");
    }
    assert!(top.contains("snapshot"), "{top}");
    let snap = Command::new(BIN).args(["snapshot", "--help"]).output().unwrap();
    let snap = String::from_utf8(snap.stdout).unwrap();
    for word in ["keygen", "sign", "verify"] {
        assert!(snap.contains(word), "{word} missing from\n{snap}");
    }
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// keygen → sign → verify through the binary, then the same key refusing what it did not sign:
/// a tampered envelope, another key's, a plain snapshot. Then the dev server serving it signed.
#[test]
fn snapshot_keygen_sign_verify_round_trip() {
    use std::ffi::OsStr;
    let dir = std::env::temp_dir().join(format!("vario-tools-sign-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (key, other) = (dir.join("key"), dir.join("other-key"));
    let snapshot = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/snapshot.json"));

    let out = run(&[OsStr::new("snapshot"), OsStr::new("keygen"), OsStr::new("--out"), key.as_os_str()]);
    assert!(out.status.success(), "{out:?}");
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(public.len(), 44, "base64 of 32 bytes: {public}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwrites a key.
    let again = run(&[OsStr::new("snapshot"), OsStr::new("keygen"), OsStr::new("--out"), key.as_os_str()]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let out = run(&[OsStr::new("snapshot"), OsStr::new("keygen"), OsStr::new("--out"), other.as_os_str()]);
    let other_public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_ne!(public, other_public);

    let signed = dir.join("signed.json");
    let out = run(&[
        OsStr::new("snapshot"),
        OsStr::new("sign"),
        OsStr::new("--key"),
        key.as_os_str(),
        snapshot.as_os_str(),
        OsStr::new("--out"),
        signed.as_os_str(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let envelope = std::fs::read_to_string(&signed).unwrap();
    assert!(envelope.starts_with(r#"{"vario_signed":1,"signature":"ed25519:"#), "{envelope}");

    let verify = |k: &str, f: &std::path::Path| {
        run(&[OsStr::new("snapshot"), OsStr::new("verify"), OsStr::new("--public-key"), OsStr::new(k), f.as_os_str()])
    };
    let ok = verify(&public, &signed);
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: snapshot version "), "{ok:?}");
    let wrong = verify(&other_public, &signed);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not verify"), "{wrong:?}");
    // One byte of the signed snapshot changed (a version digit).
    let tampered = dir.join("tampered.json");
    let v = envelope.find("\"version\":").expect("a version") + "\"version\":".len();
    let mut bytes = envelope.clone().into_bytes();
    bytes[v] = if bytes[v] == b'9' { b'8' } else { b'9' };
    std::fs::write(&tampered, bytes).unwrap();
    assert_eq!(verify(&public, &tampered).status.code(), Some(1));
    let plain = verify(&public, &snapshot);
    assert_eq!(plain.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("not signed"), "{plain:?}");
    // Signing refuses what is not a snapshot.
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "[]").unwrap();
    let out =
        run(&[OsStr::new("snapshot"), OsStr::new("sign"), OsStr::new("--key"), key.as_os_str(), junk.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // The dev server with --signing-key serves the envelope that verifies with the public key.
    let mut child = Command::new(BIN)
        .args([OsStr::new("dev-server"), OsStr::new("--snapshot"), snapshot.as_os_str(), OsStr::new("--port")])
        .args([OsStr::new("0"), OsStr::new("--out"), dir.join("ev.jsonl").as_os_str()])
        .args([OsStr::new("--signing-key"), key.as_os_str()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.strip_prefix("vario dev server on http://").and_then(|r| r.split_once(' ')).unwrap().0.to_owned();
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    let served = dir.join("served.json");
    std::fs::write(&served, body).unwrap();
    let ok = verify(&public, &served);
    assert!(ok.status.success(), "the served body verifies: {ok:?}\n{reply}");
    let _ = std::fs::remove_dir_all(&dir);
}
