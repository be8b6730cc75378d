//! Exposure data, pseudonymisation and exposure tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Value, json};
use vario_core::{Coded, Pseudonymizer, Reason, Request, Sdk, Snapshot, TokenError};

fn snap() -> Snapshot {
    Snapshot::from_value(&json!({
        "schema_version": 1, "version": 42,
        "placements": {"home": {"default_params": {"algo": "baseline"}}},
        "experiments": [{"id": "exp-1", "key": "home_algo", "status": "RUNNING", "placements": ["home"], "iteration": 2,
            "variants": [{"key": "control"}, {"key": "treatment", "params": {"algo": "two_tower"}}],
            "allocation": {"weights": {"control": 50, "treatment": 50}}}]
    }))
    .expect("valid")
}

const NOW: i64 = 1_780_315_200_123; // 2026-06-01T12:00:00.123Z

#[test]
fn exposure_carries_join_keys_and_only_pseudonyms() {
    let s = snap();
    let ctx = json!({"placement": "home", "page_type": "home", "locale": "en-GB", "email": "a@b.c"});
    let ctx = ctx.as_object().expect("object");
    let req = Request::new("home").user("user-123").session("sess-9").context(ctx);
    let d = s.decide(&req, NOW);
    assert_eq!(d.reason(), Reason::Assigned);
    let raw = d.exposure(NOW, &["locale"], Some(ctx)).expect("ASSIGNED logs an exposure");
    assert_eq!(raw.user_id.as_deref(), Some("user-123"));
    assert_eq!(raw.session_id.as_deref(), Some("sess-9"));
    let p = Pseudonymizer::new(Some("secret"));
    let data = raw.pseudonymize(&p);
    let ev = data.clone().into_event(
        "7f0c2a4e-0000-4000-8000-000000000001".into(),
        NOW + 5,
        Sdk { name: "vario-rust".into(), version: "0.1.0".into() },
    );
    let text = serde_json::to_string(&ev).expect("serialises");
    assert!(!text.contains("user-123") && !text.contains("sess-9"), "raw ids leaked: {text}");
    assert!(!text.contains("a@b.c"), "unselected context leaked: {text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["type"], "exposure");
    assert_eq!(v["timestamp"], "2026-06-01T12:00:00.128Z");
    assert_eq!(v["decided_at"], "2026-06-01T12:00:00.123Z");
    assert_eq!(v["user_id"], p.apply("user-123"));
    assert_eq!(v["session_id"], p.apply("sess-9"));
    assert_eq!(v["experiment_id"], "exp-1");
    assert_eq!(v["experiment_key"], "home_algo");
    assert_eq!(v["iteration"], 2);
    assert_eq!(v["unit_type"], "user");
    assert_eq!(v["placement"], "home");
    assert_eq!(v["page_type"], "home");
    assert_eq!(v["reason"], "ASSIGNED");
    assert_eq!(v["allocation_share"], 0.5);
    assert_eq!(v["config_version"], 42);
    assert_eq!(v["context"], json!({"locale": "en-GB"}));
    assert_eq!(v["sdk"]["name"], "vario-rust");
    assert_eq!(v["variant"], d.variant().expect("variant"));
}

#[test]
fn no_exposure_without_assignment() {
    let s = snap();
    for req in [
        Request::new("home"),
        {
            let mut r = Request::new("home").user("u");
            r.consent = false;
            r
        },
        Request::new("nope").user("u"),
    ] {
        let d = s.decide(&req, NOW);
        assert!(d.exposure(NOW, &[], None).is_none(), "{:?}", d.reason());
    }
}

fn token_for(p: &Pseudonymizer) -> (String, vario_core::TokenPayload) {
    let s = snap();
    let d = s.decide(&Request::new("home").user("user-123"), NOW);
    let data = d.exposure(NOW, &[], None).expect("exposure").pseudonymize(p);
    let payload = vario_core::TokenPayload { event_id: "0b3f5c1e-7a59-4c1e-9d2e-1f5a8b9c0d11".into(), data };
    (p.encode_token(&payload), payload)
}

#[test]
fn signed_tokens_round_trip_and_detect_tampering() {
    let p = Pseudonymizer::new(Some("secret"));
    let (tok, data) = token_for(&p);
    assert!(tok.starts_with("v1.") && tok.split('.').count() == 3, "{tok}");
    assert!(tok.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'), "URL-safe: {tok}");
    assert!(!tok.contains("user-123"));
    assert_eq!(p.decode_token(&tok).expect("valid token"), data);

    // Another process with the same key decodes it.
    assert_eq!(Pseudonymizer::new(Some("secret")).decode_token(&tok).expect("same key"), data);

    // Flip one payload character: the signature no longer matches.
    let mut parts: Vec<String> = tok.split('.').map(str::to_owned).collect();
    let mid = parts[1].len() / 2;
    let c = parts[1].as_bytes()[mid];
    parts[1].replace_range(mid..=mid, if c == b'A' { "B" } else { "A" });
    assert_eq!(p.decode_token(&parts.join(".")), Err(TokenError::BadSignature));

    // Another key, an unsigned copy, a future version, garbage.
    assert_eq!(Pseudonymizer::new(Some("other")).decode_token(&tok), Err(TokenError::BadSignature));
    let unsigned = tok.rsplit_once('.').map(|(a, _)| a.to_owned()).expect("three parts");
    assert_eq!(p.decode_token(&unsigned), Err(TokenError::MissingSignature));
    assert!(
        matches!(p.decode_token(&tok.replacen("v1.", "v9.", 1)), Err(TokenError::UnsupportedVersion(v)) if v == "v9")
    );
    assert_eq!(p.decode_token("nonsense"), Err(TokenError::Malformed));
    assert_eq!(p.decode_token("a.b.c.d"), Err(TokenError::Malformed));
}

#[test]
fn unsigned_tokens_without_a_key_only_when_allowed() {
    let refusing = Pseudonymizer::new(None);
    let (tok, data) = token_for(&refusing);
    assert_eq!(tok.split('.').count(), 2, "no key, no signature: {tok}");
    // By default nothing verifies an unsigned token, so nothing redeems it: an edited one would
    // otherwise be delivered.
    assert_eq!(refusing.decode_token(&tok), Err(TokenError::MissingSignature));
    let p = Pseudonymizer::new(None).allow_unsigned_tokens(true);
    assert_eq!(p.decode_token(&tok).expect("valid"), data);
    assert!(matches!(p.decode_token("v1.!!!"), Err(TokenError::Payload(_))));
    assert!(matches!(p.decode_token("v1.e30"), Err(TokenError::Payload(_))), "{{}} is not an exposure");
    for e in [TokenError::Malformed, TokenError::BadSignature, TokenError::MissingSignature] {
        assert!(e.code().as_str().starts_with("TOKEN_") && !e.to_string().is_empty());
    }
}

#[test]
fn a_token_secret_signs_without_an_id_key() {
    let p = Pseudonymizer::new(None).with_token_secret(&[5; 32]);
    assert!(p.signs_tokens() && !p.is_keyed(), "ids stay plain SHA-256; tokens are signed");
    let (tok, data) = token_for(&p);
    assert_eq!(tok.split('.').count(), 3, "{tok}");
    assert_eq!(p.decode_token(&tok).expect("same process"), data);
    // Another process (another secret) cannot redeem it; an edited copy is refused.
    let other = Pseudonymizer::new(None).with_token_secret(&[6; 32]);
    assert_eq!(other.decode_token(&tok), Err(TokenError::BadSignature));
    let unsigned = tok.rsplit_once('.').map(|(a, _)| a.to_owned()).expect("three parts");
    assert_eq!(p.decode_token(&unsigned), Err(TokenError::MissingSignature));
    // An id key wins over the secret: tokens move between processes sharing it.
    let keyed = Pseudonymizer::new(Some("secret")).with_token_secret(&[5; 32]);
    assert_eq!(Pseudonymizer::new(Some("secret")).encode_token(&data), keyed.encode_token(&data));
}

#[test]
fn pseudonyms_match_hmac_sha256_test_vector() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert_eq!(
        Pseudonymizer::new(Some("Jefe")).apply("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        Pseudonymizer::new(None).apply("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn exposure_key_resolves_to_the_same_exposure() {
    let s = snap();
    for i in 0..200 {
        let id = format!("u{i}");
        let d = s.decide(&Request::new("home").user(&id), NOW);
        let direct = d.exposure(NOW, &[], None).expect("all assigned at 100% traffic").data;
        let key = d.exposure_key().expect("key");
        let via_key = s.exposure_fields(&key, None, NOW, serde_json::Map::new()).expect("same version");
        assert_eq!(direct, via_key);
        let mut stale = key;
        stale.config_version += 1;
        assert!(s.exposure_fields(&stale, None, NOW, serde_json::Map::new()).is_none());
    }
    let no_cfg_defaults = serde_json::Map::new();
    let d = vario_core::Decision::no_config("home", &no_cfg_defaults);
    assert_eq!(d.reason(), Reason::NoConfig);
    assert!(d.exposure_key().is_none() && d.exposure(NOW, &[], None).is_none());
}

#[test]
fn hand_written_exposure_event_equals_the_serde_event_byte_for_byte() {
    let s = Snapshot::from_value(&json!({
        "schema_version": 1, "version": 7,
        "placements": {"pdp \"ymal\"": {"default_params": {}}, "home": {}},
        "experiments": [{"id": {"n": 1}, "key": "k\\ü\"", "status": "RUNNING", "placements": ["pdp \"ymal\"", "home"], "iteration": 3,
            "variants": [{"key": "c"}, {"key": "t\n"}], "allocation": {"weights": {"c": 33.33, "t\n": 66.67}}}]
    }))
    .expect("valid");
    let sdk = Sdk { name: "vario-rust".into(), version: "0.1.0".into() };
    let sdk_json = serde_json::to_string(&sdk).expect("sdk");
    let ctx = json!({"page_type": "p\"dp", "locale": "de-DE", "tags": [1, "x"]});
    let ctx = ctx.as_object().expect("map");
    for (i, placement) in ["pdp \"ymal\"", "home"].iter().enumerate() {
        for (user, session) in [(Some("u1"), Some("s1")), (None, Some("s2")), (Some("ü"), None)] {
            let mut req = Request::new(placement).context(ctx);
            req.user_id = user;
            req.session_id = session;
            let d = s.decide(&req, NOW);
            let key = d.exposure_key().expect("assigned");
            let page_type = if i == 0 { d.page_type() } else { None };
            let context: serde_json::Map<String, Value> = if i == 0 {
                serde_json::Map::new()
            } else {
                [("locale".to_owned(), json!("de-DE")), ("tags".to_owned(), json!([1, "x"]))].into_iter().collect()
            };
            let p = Pseudonymizer::new(Some("k"));
            let (pu, ps) = (user.map(|u| p.apply(u)), session.map(|x| p.apply(x)));
            let fields =
                s.exposure_fields(&key, page_type.map(str::to_owned), NOW - 5, context.clone()).expect("fields");
            let via_serde = serde_json::to_string(
                &vario_core::ExposureData { user_id: pu.clone(), session_id: ps.clone(), fields }.into_event(
                    "id-1".into(),
                    NOW,
                    sdk.clone(),
                ),
            )
            .expect("serde");
            let mut hand = Vec::new();
            let ctx_json = serde_json::to_vec(&context).expect("ctx");
            assert!(s.exposure_dict().write_event(
                &mut hand,
                &key,
                "id-1",
                NOW,
                &sdk_json,
                pu.as_deref(),
                ps.as_deref(),
                page_type,
                NOW - 5,
                &ctx_json
            ));
            assert_eq!(String::from_utf8(hand).expect("utf8"), via_serde);
        }
    }
}
