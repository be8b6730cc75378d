//! Signed snapshots over real HTTP (the dev server on 127.0.0.1), from files, bootstraps, the
//! persisted last-good copy and `update_snapshot`; and exposure tokens without a key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;
use vario::core::signing::{SigningKey, sign_snapshot};
use vario::core::{Coded, ErrorCode, Request, TokenError};
use vario::{Client, ClientBuilder, ConfigErrorKind, ConfigSource, Expose, UpdateError};
use vario_tools::devserver::{DevServer, DevServerOptions};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn signed(k: &SigningKey, version: u64) -> String {
    sign_snapshot(k, &snapshot(version).to_string())
}

fn fast(b: ClientBuilder) -> ClientBuilder {
    b.poll_interval(Duration::from_millis(30))
        .request_timeout(Duration::from_millis(500))
        .max_backoff(Duration::from_millis(60))
        .sink_callback(|_| {})
}

fn serve(dir: &Path, file: &Path, signing_key: Option<SigningKey>) -> DevServer {
    DevServer::start(DevServerOptions {
        snapshot: file.to_owned(),
        events_out: dir.join("events.jsonl"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        signing_key,
    })
    .expect("dev server")
}

fn version(c: &Client) -> Option<u64> {
    c.snapshot().map(|s| s.version())
}

/// Waits for the signature-refusal counter to pass `above` with a refusal saying `why` recorded
/// (a poll in flight may still refuse the previous body), then checks what a refusal leaves. Returns that stats snapshot (each poll clears the last error before it
/// offers a body, so it is read once, in the same snapshot as the counter).
fn refused_after(c: &Client, above: u64, why: &str, keep: Option<u64>) -> vario::Stats {
    let mut st = c.stats();
    assert!(
        wait_until(Duration::from_secs(10), || {
            st = c.stats();
            st.config_signature_rejected > above
                && st.last_config_error_kind == Some(ConfigErrorKind::Signature)
                && st.last_config_error.as_deref().is_some_and(|m| m.contains(why))
        }),
        "no refusal counted: {st:?}"
    );
    assert_eq!(version(c), keep, "the last good snapshot stays");
    let msg = st.last_config_error.clone().unwrap_or_default();
    assert!(msg.contains("SNAPSHOT_SIGNATURE"), "{msg}");
    assert!(st.config_rejected >= st.config_signature_rejected, "also counted as rejected: {st:?}");
    st
}

#[test]
fn the_dev_server_signs_and_only_the_matching_key_installs() {
    let dir = temp_dir("sign_devserver");
    let file = dir.join("snapshot.json");
    std::fs::write(&file, snapshot(4).to_string()).unwrap();
    let k = key(1);
    let server = serve(&dir, &file, Some(k.clone()));
    let url = format!("{}/config", server.url());

    let good = fast(ClientBuilder::new().config_url(&url).snapshot_public_key(k.public_key().to_text()))
        .build()
        .expect("client");
    good.wait_for_init(Duration::from_secs(10)).expect("the signed snapshot installs");
    assert_eq!(version(&good), Some(4));
    assert_eq!(good.stats().config_signature_rejected, 0);
    assert_eq!(good.stats().config_source, ConfigSource::Http);

    let wrong = fast(ClientBuilder::new().config_url(&url).snapshot_public_key(key(2).public_key().to_text()))
        .build()
        .expect("client");
    refused_after(&wrong, 0, "does not verify", None);
    assert!(wrong.wait_for_init(Duration::ZERO).is_err());

    // Without a key the envelope is unwrapped (signature unchecked): signing before every client
    // has the key does not break them.
    let keyless = fast(ClientBuilder::new().config_url(&url)).build().expect("client");
    keyless.wait_for_init(Duration::from_secs(10)).expect("unwrapped");
    assert_eq!(version(&keyless), Some(4));
}

#[test]
fn unsigned_tampered_and_wrong_key_bodies_are_refused_counted_and_the_last_good_kept() {
    let dir = temp_dir("sign_sequence");
    let file = dir.join("current.json");
    let persist = dir.join("last-good.json");
    let k = key(3);
    std::fs::write(&file, signed(&k, 1)).unwrap();
    // A plain dev server: it serves the file's bytes as they are, envelopes written by the test.
    let server = serve(&dir, &file, None);
    let c = fast(
        ClientBuilder::new()
            .config_url(format!("{}/config", server.url()))
            .snapshot_public_key(k.public_key().to_text())
            .persist_path(&persist),
    )
    .build()
    .expect("client");
    c.wait_for_init(Duration::from_secs(10)).expect("v1 signed");
    assert_eq!(version(&c), Some(1));

    // Unsigned.
    std::fs::write(&file, snapshot(2).to_string()).unwrap();
    let st = refused_after(&c, 0, "not signed", Some(1));
    // Tampered: signed v3, then the version in the signed bytes edited to 30.
    let tampered = signed(&k, 3).replace("\"version\":3", "\"version\":30");
    assert!(tampered.contains("\"version\":30"));
    std::fs::write(&file, tampered).unwrap();
    let st = refused_after(&c, st.config_signature_rejected, "does not verify", Some(1));
    // Signed with another key.
    std::fs::write(&file, signed(&key(4), 4)).unwrap();
    let before = st.config_signature_rejected;
    // Wrong key and tampered give the same message: wait for a count past every refusal so far.
    let st = refused_after(&c, before, "does not verify", Some(1));
    assert!(wait_until(Duration::from_secs(10), || c.stats().config_signature_rejected > st.config_signature_rejected));
    assert_eq!(version(&c), Some(1));
    // What was persisted is the last good envelope, never a refused body.
    let persisted = std::fs::read_to_string(&persist).expect("persisted");
    assert_eq!(persisted, signed(&k, 1));

    // A good one is installed again.
    std::fs::write(&file, signed(&k, 5)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || version(&c) == Some(5)), "{:?}", c.stats());
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(&persist).ok() == Some(signed(&k, 5))));
    c.close(Duration::from_secs(2)).expect("close");
    drop(server);

    // Cold start with the endpoint down: the persisted envelope is re-verified on load.
    let down = format!("http://{}/config", free_addr());
    let cold = |key_text: String| {
        fast(ClientBuilder::new().config_url(&down).snapshot_public_key(key_text).persist_path(&persist))
            .build()
            .expect("client")
    };
    let c = cold(k.public_key().to_text());
    assert_eq!((version(&c), c.stats().config_source), (Some(5), ConfigSource::Persisted));
    drop(c);
    let c = cold(key(4).public_key().to_text());
    assert_eq!(version(&c), None, "the persisted copy does not verify with another key");
    assert_eq!(c.stats().config_signature_rejected, 1);
    drop(c);
    // A persisted copy edited on disk is refused too.
    std::fs::write(&persist, signed(&k, 6).replace("\"version\":6", "\"version\":60")).unwrap();
    let c = cold(k.public_key().to_text());
    assert_eq!(version(&c), None);
    // The count, not the last error: the config thread's failing polls of the dead endpoint
    // replace that message at any moment.
    assert_eq!(c.stats().config_signature_rejected, 1);
}

#[test]
fn files_bootstraps_and_update_snapshot_need_a_signature_too() {
    let dir = temp_dir("sign_local");
    let k = key(5);
    let public = k.public_key().to_text();

    let file = dir.join("snapshot.json");
    std::fs::write(&file, signed(&k, 1)).unwrap();
    let c = fast(ClientBuilder::new().config_path(&file).snapshot_public_key(&public)).build().expect("client");
    assert_eq!((version(&c), c.stats().config_source), (Some(1), ConfigSource::File));
    std::fs::write(&file, snapshot(2).to_string()).unwrap();
    refused_after(&c, 0, "not signed", Some(1));

    let c = fast(ClientBuilder::new().bootstrap(snapshot(1).to_string()).snapshot_public_key(&public))
        .build()
        .expect("an unsigned bootstrap is refused, the client still starts");
    assert_eq!((version(&c), c.stats().config_signature_rejected), (None, 1));
    let c = fast(ClientBuilder::new().bootstrap(signed(&k, 1)).snapshot_public_key(&public)).build().expect("client");
    assert_eq!(version(&c), Some(1));

    let e = c.update_snapshot(&snapshot(2).to_string()).expect_err("unsigned");
    assert!(matches!(e, UpdateError::Signature(_)));
    assert_eq!(e.code(), ErrorCode::SnapshotSignature);
    assert_eq!(c.update_snapshot(&signed(&key(6), 2)).expect_err("other key").code(), ErrorCode::SnapshotSignature);
    assert_eq!(c.update_snapshot(&signed(&k, 2)), Ok(true));
    assert_eq!((version(&c), c.stats().config_signature_rejected), (Some(2), 2));

    // A key text that is not a key is an options error at build.
    for bad in ["", "not base64!", "AAAA", &public[..40]] {
        let e = ClientBuilder::new().bootstrap("{}").snapshot_public_key(bad).build().expect_err(bad);
        assert_eq!(e.code(), ErrorCode::InvalidOptions, "{bad:?}");
    }
}

/// Edits a token's payload (one exposure field) and drops the signature, as a client-side
/// attacker would.
fn edited(token: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = token.split('.').nth(1).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    v["variant"] = "treatment-edited".into();
    format!("v1.{}", b64.encode(v.to_string()))
}

#[test]
fn without_a_key_tokens_are_signed_per_process_and_edited_ones_refused() {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    let a = ClientBuilder::new()
        .bootstrap(snapshot(1).to_string())
        .batch_interval(Duration::from_millis(10))
        .sink_callback(move |e| seen.lock().unwrap().push(e.to_owned()))
        .build()
        .expect("client");
    let token = a
        .decide_with(&Request::new("home").user("u-1"), Expose::Later, |_, t| t.map(str::to_owned))
        .expect("an exposure token");
    assert_eq!(token.split('.').count(), 3, "signed although no key is configured: {token}");
    assert_eq!(a.expose(&edited(&token)), Err(TokenError::MissingSignature));
    assert_eq!(a.expose(&edited(&token)).unwrap_err().code(), ErrorCode::TokenUnsigned);
    let unsigned_original = token.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(a.expose(&unsigned_original), Err(TokenError::MissingSignature));
    assert_eq!(a.stats().tokens_rejected, 3);
    assert_eq!(a.expose(&token), Ok(true), "this process redeems its own token");
    a.flush(Duration::from_secs(5)).expect("flush");
    let delivered = events.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "only the genuine exposure: {delivered:?}");
    assert!(!delivered[0].contains("treatment-edited"));

    // Another process (another random key) cannot redeem it: a shared id_hash_key is needed.
    let b = fast(ClientBuilder::new().bootstrap(snapshot(1).to_string())).build().expect("client");
    assert_eq!(b.expose(&token), Err(TokenError::BadSignature));

    // allow_unsigned_tokens: the old behaviour, tokens unsigned and redeemed unverified.
    let open = fast(ClientBuilder::new().bootstrap(snapshot(1).to_string()).allow_unsigned_tokens(true))
        .build()
        .expect("client");
    let t =
        open.decide_with(&Request::new("home").user("u-1"), Expose::Later, |_, t| t.map(str::to_owned)).expect("token");
    assert_eq!(t.split('.').count(), 2, "{t}");
    assert_eq!(open.expose(&edited(&t)), Ok(true), "explicitly allowed");
}
