//! The control-plane API end to end over real HTTP, on SQLite and on Postgres (SPEC §8): lifecycle
//! edges, reshuffle refusal and new iterations, If-Match, auth per role, body limits and bad
//! bodies, the engine's lints, audit, publish and the SDK endpoint, concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ADMIN, Api, backends, start};
use serde_json::{Value, json};
use vario_core::{Request, Snapshot};

const STATES: [&str; 5] = ["DRAFT", "RUNNING", "PAUSED", "COMPLETED", "ARCHIVED"];

/// An experiment brought to `state` through allowed transitions.
fn experiment_in(api: &Api, env: &str, key: &str, state: &str) -> String {
    let id = api.experiment(env, key, "pdp");
    let path: &[&str] = match state {
        "DRAFT" => &[],
        "RUNNING" => &["RUNNING"],
        "PAUSED" => &["RUNNING", "PAUSED"],
        "COMPLETED" => &["RUNNING", "COMPLETED"],
        _ => &["ARCHIVED"],
    };
    for s in path {
        let body =
            if *s == "COMPLETED" { json!({"status": s, "shipped_variant": "treatment"}) } else { json!({"status": s}) };
        api.admin("PATCH", &format!("/experiments/{id}/status"), Some(body)).ok(200);
    }
    id
}

#[test]
fn every_lifecycle_edge_is_allowed_or_refused_as_specified() {
    let allowed = [
        ("DRAFT", "RUNNING"),
        ("DRAFT", "ARCHIVED"),
        ("RUNNING", "PAUSED"),
        ("PAUSED", "RUNNING"),
        ("RUNNING", "COMPLETED"),
        ("PAUSED", "COMPLETED"),
        ("RUNNING", "ARCHIVED"),
        ("PAUSED", "ARCHIVED"),
        ("COMPLETED", "ARCHIVED"),
    ];
    for (label, url, _dir) in backends("lifecycle") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("lifecycle");
        let mut n = 0;
        for from in STATES {
            for to in STATES {
                n += 1;
                // One experiment per edge, on its own placement so RUNNING ones never collide.
                let placement = format!("p{n}");
                api.admin(
                    "PUT",
                    &format!("/environments/{env}/placements/{placement}"),
                    Some(json!({"default_params": {}})),
                )
                .ok(200);
                let id = {
                    let body = json!({
                        "environment_id": env, "key": format!("e{n}"), "name": "edge", "placements": [placement],
                        "variants": [{"key": "control"}, {"key": "treatment"}],
                        "allocation": {"weights": {"control": 50, "treatment": 50}},
                    });
                    let id = api.admin("POST", "/experiments", Some(body)).ok(201)["id"].as_str().unwrap().to_string();
                    let steps: &[&str] = match from {
                        "DRAFT" => &[],
                        "RUNNING" => &["RUNNING"],
                        "PAUSED" => &["RUNNING", "PAUSED"],
                        "COMPLETED" => &["RUNNING", "COMPLETED"],
                        _ => &["ARCHIVED"],
                    };
                    for s in steps {
                        let b = json!({"status": s, "shipped_variant": if *s == "COMPLETED" { Some("treatment") } else { None }});
                        let b = if *s == "COMPLETED" { b } else { json!({"status": s}) };
                        api.admin("PATCH", &format!("/experiments/{id}/status"), Some(b)).ok(200);
                    }
                    id
                };
                let body = if to == "COMPLETED" {
                    json!({"status": to, "shipped_variant": "control"})
                } else {
                    json!({"status": to})
                };
                let r = api.admin("PATCH", &format!("/experiments/{id}/status"), Some(body));
                if allowed.contains(&(from, to)) {
                    assert_eq!(r.status, 200, "[{label}] {from} -> {to} must be allowed: {}", r.text);
                    assert_eq!(r.body["status"], to);
                } else {
                    assert_eq!(
                        (r.status, r.code()),
                        (409, "INVALID_TRANSITION"),
                        "[{label}] {from} -> {to}: {}",
                        r.text
                    );
                }
            }
        }
        // COMPLETED needs a shipped variant that is one of the experiment's.
        let id = experiment_in(&api, &env, "ship", "RUNNING");
        for body in [json!({"status": "COMPLETED"}), json!({"status": "COMPLETED", "shipped_variant": "nope"})] {
            let r = api.admin("PATCH", &format!("/experiments/{id}/status"), Some(body));
            assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "[{label}] {}", r.text);
        }
        // Pause and resume keep salt, iteration and allocation.
        let before = api.admin("GET", &format!("/experiments/{id}"), None).ok(200);
        api.status(&id, "PAUSED").ok(200);
        let after = api.status(&id, "RUNNING").ok(200);
        for k in ["salt", "iteration", "allocation", "variants"] {
            assert_eq!(before[k], after[k], "[{label}] {k} changed across pause/resume");
        }
        server.shutdown();
    }
}

#[test]
fn a_live_ramp_that_moves_units_is_refused_unless_a_new_iteration() {
    for (label, url, _dir) in backends("ramp") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, sdk) = api.environment("ramp");
        let id = api.experiment(&env, "pdp_algo", "pdp");
        let alloc = |b: Value| api.admin("PUT", &format!("/experiments/{id}/allocations"), Some(b));
        // A draft may change freely.
        alloc(json!({"weights": {"control": 50, "treatment": 50}, "traffic": 10})).ok(200);
        api.status(&id, "RUNNING").ok(200);
        // Ramping traffic up and down with the same weights moves nobody between variants.
        for t in [50, 100, 30] {
            alloc(json!({"weights": {"control": 50, "treatment": 50}, "traffic": t})).ok(200);
        }
        // New weights at 30 % traffic: control [0, 1500) → [0, 600), treatment [5000, 6500) →
        // [2000, 4400). Against the previous allocation alone no bucket changes variant, but
        // [2000, 4400) was control while traffic was at 100 %: those units would move. Refused.
        assert_eq!(count_moved(), 0);
        let r = alloc(json!({"weights": {"control": 20, "treatment": 80}, "traffic": 30}));
        assert_eq!((r.status, r.code()), (409, "RESHUFFLE"), "[{label}] {}", r.text);
        assert_eq!(r.body["error"]["details"]["buckets_moved"], 2400, "[{label}] {}", r.text);
        // At 100 %, 20/80: treatment takes [2000, 5000) from control.
        let r = alloc(json!({"weights": {"control": 20, "treatment": 80}}));
        assert_eq!(r.body["error"]["details"]["buckets_moved"], 3000, "[{label}] {}", r.text);
        // Explicit ranges that only grow into unenrolled buckets are a ramp.
        alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 1500}, {"variant": "treatment", "start": 5000, "end": 6500}]}))
            .ok(200);
        alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 2000}, {"variant": "treatment", "start": 5000, "end": 7000}]}))
            .ok(200);
        let r = alloc(
            json!({"ranges": [{"variant": "treatment", "start": 0, "end": 100}, {"variant": "control", "start": 100, "end": 2000}]}),
        );
        assert_eq!((r.status, r.code()), (409, "RESHUFFLE"));
        assert_eq!(r.body["error"]["details"]["buckets_moved"], 100);
        // Two steps that each move nobody cannot together: shrinking treatment away, then giving
        // its buckets to control, is refused at the second step, against every variant a bucket
        // has had since RUNNING ([5000, 8000) was treatment at 100 % traffic).
        alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 2000}]})).ok(200);
        let r = alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 8000}]}));
        assert_eq!((r.status, r.code()), (409, "RESHUFFLE"), "[{label}] two-step reshuffle: {}", r.text);
        assert_eq!(r.body["error"]["details"]["buckets_moved"], 3000);
        // Pausing and resuming keeps that memory.
        api.status(&id, "PAUSED").ok(200);
        api.status(&id, "RUNNING").ok(200);
        let r = alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 6000}]}));
        assert_eq!(r.status, 409, "[{label}] after pause/resume: {}", r.text);
        alloc(json!({"ranges": [{"variant": "control", "start": 0, "end": 2000}, {"variant": "treatment", "start": 5000, "end": 7000}]}))
            .ok(200);
        // On purpose: a new iteration, and the published salt says so.
        api.publish(&env);
        let v1 = snapshot(&api, &sdk);
        let e = alloc(json!({"weights": {"control": 20, "treatment": 80}, "new_iteration": true})).ok(200);
        assert_eq!(e["iteration"], 2);
        api.publish(&env);
        let v2 = snapshot(&api, &sdk);
        assert_eq!(v1["experiments"][0]["salt"], "pdp_algo");
        assert_eq!(v2["experiments"][0]["salt"], "pdp_algo:2");
        assert_eq!(v2["experiments"][0]["iteration"], 2);
        server.shutdown();
    }
}

/// Weights 50/50 at 30 % → 20/80 at 30 %: control [0,1500)→[0,600), treatment [5000,6500)→[2000,4400).
/// No bucket is in both an old and a new range of different variants.
fn count_moved() -> u64 {
    let old: Vec<(u32, u32, &str)> = vec![(0, 1500, "c"), (5000, 6500, "t")];
    let new: Vec<(u32, u32, &str)> = vec![(0, 600, "c"), (2000, 4400, "t")];
    let at = |v: &[(u32, u32, &'static str)], b: u32| v.iter().find(|r| r.0 <= b && b < r.1).map(|r| r.2);
    (0..10_000).filter(|&b| matches!((at(&old, b), at(&new, b)), (Some(x), Some(y)) if x != y)).count() as u64
}

fn snapshot(api: &Api, sdk: &str) -> Value {
    api.call("GET", "/sdk/v1/snapshot", Some(sdk), None, &[]).ok(200)
}

#[test]
fn if_match_conflicts_and_etags() {
    for (label, url, _dir) in backends("ifmatch") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("ifmatch");
        let id = api.experiment(&env, "x", "pdp");
        let r = api.admin("GET", &format!("/experiments/{id}"), None);
        assert_eq!(r.header("etag").as_deref(), Some("\"1\""), "[{label}]");
        let patch = |rev: &str, name: &str| {
            api.call(
                "PATCH",
                &format!("/experiments/{id}"),
                Some(ADMIN),
                Some(&json!({"name": name})),
                &[("if-match", rev)],
            )
        };
        let ok = patch("\"1\"", "first");
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body["revision"], 2);
        assert_eq!(ok.header("etag").as_deref(), Some("\"2\""));
        let stale = patch("\"1\"", "lost");
        assert_eq!((stale.status, stale.code()), (412, "REVISION_CONFLICT"), "[{label}] {}", stale.text);
        let stale = api.call(
            "PATCH",
            &format!("/experiments/{id}/status"),
            Some(ADMIN),
            Some(&json!({"status": "RUNNING"})),
            &[("if-match", "\"1\"")],
        );
        assert_eq!(stale.status, 412);
        let now = api.admin("GET", &format!("/experiments/{id}"), None).ok(200);
        assert_eq!((now["name"].as_str(), now["status"].as_str()), (Some("first"), Some("DRAFT")));
        server.shutdown();
    }
}

#[test]
fn auth_per_role_and_key_kind() {
    for (label, url, _dir) in backends("auth") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, sdk) = api.environment("auth");
        let mk = |role: &str| {
            let t = api.admin("POST", "/tokens", Some(json!({"name": format!("{role}-bot"), "role": role}))).ok(201);
            (t["id"].as_str().unwrap().to_string(), t["token"].as_str().unwrap().to_string())
        };
        let ((_, viewer), (editor_id, editor), (_, admin)) = (mk("viewer"), mk("editor"), mk("admin"));
        let get = |t: Option<&str>, path: &str| api.call("GET", path, t, None, &[]);
        let post = |t: &str, path: &str, b: Value| api.call("POST", path, Some(t), Some(&b), &[]);
        assert_eq!(get(None, "/environments").status, 401, "[{label}]");
        assert_eq!(get(Some("nope"), "/environments").code(), "UNAUTHORIZED");
        assert_eq!(get(Some(&sdk), "/environments").status, 401, "an SDK key on an admin route");
        assert_eq!(get(Some(ADMIN), "/sdk/v1/snapshot").status, 401, "an admin token on the SDK route");
        assert_eq!(get(None, "/health").status, 200);
        assert_eq!(get(None, "/openapi.json").status, 200);
        assert_eq!(get(Some(&viewer), "/environments").status, 200);
        let r = post(&viewer, &format!("/environments/{env}/publish"), json!({}));
        assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
        assert_eq!(post(&viewer, "/environments", json!({"name": common::env_name("v")})).status, 403);
        assert_eq!(post(&editor, "/environments", json!({"name": common::env_name("e")})).status, 201);
        assert_eq!(
            post(&editor, "/tokens", json!({"name": "x", "role": "admin"})).status,
            403,
            "tokens are admin-only"
        );
        assert_eq!(get(Some(&editor), "/tokens").status, 403);
        let listed = get(Some(&admin), "/tokens").ok(200);
        assert!(listed.as_array().unwrap().iter().all(|t| t.get("token").is_none()), "secrets are never listed");
        // The actor of a write is the token's name.
        let e = api
            .call(
                "POST",
                "/experiments",
                Some(&editor),
                Some(&json!({
            "environment_id": env, "key": "by_editor", "name": "n", "placements": ["pdp"]})),
                &[],
            )
            .ok(201);
        let audit =
            get(Some(&viewer), &format!("/audit?entity=experiment&entity_id={}", e["id"].as_str().unwrap())).ok(200);
        assert_eq!(audit[0]["actor"], "editor-bot");
        // A deleted token stops at once.
        assert_eq!(api.call("DELETE", &format!("/tokens/{editor_id}"), Some(&admin), None, &[]).status, 204);
        assert_eq!(get(Some(&editor), "/environments").status, 401);
        server.shutdown();
    }
}

#[test]
fn bodies_over_one_mib_malformed_and_unknown_fields() {
    for (label, url, _dir) in backends("bodies") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("bodies");
        let big = json!({"ids": (0..70_000).map(|i| format!("user-{i:08}")).collect::<Vec<_>>()});
        assert!(big.to_string().len() > 1 << 20);
        let r = api.admin("PUT", &format!("/environments/{env}/segments/big"), Some(big));
        assert_eq!((r.status, r.code()), (413, "TOO_LARGE"), "[{label}] {}", r.text);
        let raw =
            api.http.post(format!("{}/environments", api.base)).bearer_auth(ADMIN).body("{not json").send().unwrap();
        assert_eq!(raw.status(), 400);
        let cases = [
            ("POST", "/environments".to_string(), json!({"name": "ok", "extra": 1})),
            ("POST", "/environments".to_string(), json!({"name": "Bad Name"})),
            ("POST", "/environments".to_string(), json!({"name": 7})),
            (
                "POST",
                "/experiments".to_string(),
                json!({"environment_id": env, "key": "k", "name": "n", "placements": [], "colour": 1}),
            ),
            ("POST", "/experiments".to_string(), json!({"key": "k", "name": "n", "placements": []})),
            ("PUT", format!("/environments/{env}/placements/p"), json!({"default_params": {}, "x": 1})),
            ("PUT", format!("/environments/{env}/segments/s"), json!({"ids": [1, 2]})),
            ("POST", "/tokens".to_string(), json!({"name": "x", "role": "root"})),
        ];
        for (m, path, body) in cases {
            let r = api.admin(m, &path, Some(body.clone()));
            assert_eq!((r.status, r.code()), (400, "BAD_REQUEST"), "[{label}] {m} {path} {body}: {}", r.text);
        }
        let r = api.admin("GET", "/environments/nope", None);
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));
        let r = api.admin(
            "POST",
            "/environments",
            Some(json!({"name": api.admin("GET", &format!("/environments/{env}"), None).body["name"]})),
        );
        assert_eq!((r.status, r.code()), (409, "CONFLICT"));
        server.shutdown();
    }
}

#[test]
fn writes_the_engine_would_disable_are_refused_with_its_lints() {
    for (label, url, _dir) in backends("lints") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("lints");
        let bad_regex = json!({"attr": "ua", "op": "matches", "value": "(unclosed"});
        let body = json!({"environment_id": env, "key": "rx", "name": "n", "placements": ["pdp"], "targeting": bad_regex,
            "variants": [{"key": "a"}], "allocation": {"weights": {"a": 100}}});
        let r = api.admin("POST", "/experiments", Some(body));
        assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "[{label}] {}", r.text);
        assert_eq!(r.body["error"]["details"][0]["code"], "BAD_REGEX");
        assert_eq!(r.body["error"]["details"][0]["item"], "experiment:rx");
        let id = api.experiment(&env, "w", "pdp");
        let r = api.admin(
            "PUT",
            &format!("/experiments/{id}/allocations"),
            Some(json!({"weights": {"control": 70, "treatment": 20}})),
        );
        assert_eq!(r.body["error"]["details"][0]["code"], "BAD_ALLOCATION", "{}", r.text);
        // Two RUNNING experiments on one placement outside a layer: refused at the transition.
        let other = api.experiment(&env, "w2", "pdp");
        api.status(&id, "RUNNING").ok(200);
        let r = api.status(&other, "RUNNING");
        assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{}", r.text);
        assert_eq!(r.body["error"]["details"][0]["code"], "PLACEMENT_COLLISION");
        // A layer a live experiment uses cannot be deleted; a holdout naming a bad percent is refused.
        api.admin("PUT", &format!("/environments/{env}/layers/l1"), Some(json!({"salt": "l1"}))).ok(200);
        api.admin(
            "PATCH",
            &format!("/experiments/{other}"),
            Some(json!({"layer": {"key": "l1", "range": [0, 5000]}, "placements": ["home"]})),
        )
        .ok(200);
        api.status(&other, "RUNNING").ok(200);
        let r = api.admin("DELETE", &format!("/environments/{env}/layers/l1"), None);
        assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{}", r.text);
        let r = api.admin(
            "PUT",
            &format!("/environments/{env}/holdouts/h"),
            Some(json!({"salt": "h", "percent": 150, "experiments": "*"})),
        );
        assert_eq!(r.status, 422, "{}", r.text);
        // Nothing refused was stored.
        let listed = api.admin("GET", &format!("/experiments?environment_id={env}"), None).ok(200);
        assert!(listed.as_array().unwrap().iter().all(|e| e["key"] != "rx"));
        assert_eq!(api.admin("GET", &format!("/environments/{env}/holdouts"), None).ok(200), json!([]));
        server.shutdown();
    }
}

#[test]
fn audit_keeps_before_and_after_of_every_write() {
    for (label, url, _dir) in backends("audit") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("audit");
        let id = api.experiment(&env, "a", "pdp");
        api.admin("PATCH", &format!("/experiments/{id}"), Some(json!({"name": "renamed"}))).ok(200);
        api.status(&id, "RUNNING").ok(200);
        let entries = api.admin("GET", &format!("/audit?entity=experiment&entity_id={id}"), None).ok(200);
        let actions: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["status", "update", "create"], "[{label}] newest first");
        assert_eq!(entries[0]["before"]["status"], "DRAFT");
        assert_eq!(entries[0]["after"]["status"], "RUNNING");
        assert_eq!(entries[1]["before"]["name"], "a");
        assert_eq!(entries[1]["after"]["name"], "renamed");
        assert_eq!(entries[2]["before"], Value::Null);
        assert_eq!(entries[0]["actor"], "bootstrap");
        let items = api.admin("GET", &format!("/audit?entity=placement&entity_id={env}/pdp"), None).ok(200);
        assert_eq!(items[0]["action"], "create");
        assert_eq!(items[0]["after"]["default_params"]["algo"], "baseline");
        let p = api.publish(&env);
        let pubs = api.admin("GET", &format!("/audit?entity=environment&entity_id={env}"), None).ok(200);
        assert_eq!(pubs[0]["action"], "publish");
        assert_eq!(pubs[0]["after"]["version"], p["version"]);
        assert_eq!(api.admin("GET", "/audit?colour=red", None).status, 400);
        server.shutdown();
    }
}

#[test]
fn publish_serves_what_the_engine_decides_with_etags_and_versions() {
    for (label, url, _dir) in backends("publish") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, sdk) = api.environment("publish");
        let r = api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[]);
        assert_eq!((r.status, r.code()), (404, "NOT_PUBLISHED"), "[{label}]");
        let id = api.experiment(&env, "pdp_algo", "pdp");
        api.status(&id, "RUNNING").ok(200);
        let p1 = api.publish(&env);
        assert_eq!((p1["version"].as_i64(), p1["changed"].as_bool()), (Some(1), Some(true)));
        let r = api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[]);
        assert_eq!(r.status, 200);
        let etag = r.header("etag").unwrap();
        assert_eq!(etag, format!("\"{}\"", p1["digest"].as_str().unwrap()));
        assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"));
        // The digest is the SHA-256 of the bytes served; the versions route has the same bytes.
        assert_eq!(sha256_hex(r.text.as_bytes()), p1["digest"].as_str().unwrap());
        let stored = api.admin("GET", &format!("/environments/{env}/versions/1"), None);
        assert_eq!(stored.text, r.text);
        // The engine on those bytes: the experiment is live and splits about 80/20.
        let snap = Snapshot::from_json(&r.text).unwrap();
        assert!(snap.lints().is_empty(), "{:?}", snap.lints());
        let treated = (0..5000)
            .filter(|i| {
                let user = format!("u{i}");
                snap.decide(&Request::new("pdp").user(&user), 0).variant() == Some("treatment")
            })
            .count();
        assert!((800..1200).contains(&treated), "[{label}] {treated} of 5000 treated");
        // 304 on a matching If-None-Match (also in a list, weak, or *).
        for inm in [etag.clone(), format!("\"x\", {etag}"), format!("W/{etag}"), "*".into()] {
            let r = api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[("if-none-match", &inm)]);
            assert_eq!(r.status, 304, "{inm}");
            assert_eq!(r.header("etag").as_ref(), Some(&etag));
        }
        assert_eq!(api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[("if-none-match", "\"old\"")]).status, 200);
        // Nothing changed: no new version, same digest.
        let again = api.publish(&env);
        assert_eq!((again["version"].as_i64(), again["changed"].as_bool()), (Some(1), Some(false)));
        assert_eq!(again["digest"], p1["digest"]);
        // Any change: a new version and a new digest.
        api.status(&id, "PAUSED").ok(200);
        let p2 = api.publish(&env);
        assert_eq!(p2["version"], 2);
        assert_ne!(p2["digest"], p1["digest"]);
        let r = api.call("GET", "/sdk/v1/snapshot", Some(&sdk), None, &[("if-none-match", &etag)]);
        assert_eq!(r.status, 200, "the old ETag no longer matches");
        let v2 = Snapshot::from_json(&r.text).unwrap();
        assert_eq!(v2.decide(&Request::new("pdp").user("u1"), 0).reason(), vario_core::Reason::NotRunning);
        // Rollback: version 1's content again, as version 3.
        let rb = api.admin("POST", &format!("/environments/{env}/rollback"), Some(json!({"version": 1}))).ok(200);
        assert_eq!(rb["version"], 3);
        let v3 = snapshot(&api, &sdk);
        let v1: Value = serde_json::from_str(&stored.text).unwrap();
        assert_eq!(v3["experiments"], v1["experiments"]);
        assert_eq!(v3["version"], 3);
        let versions = api.admin("GET", &format!("/environments/{env}/versions"), None).ok(200);
        let nums: Vec<i64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
        assert_eq!(nums, [3, 2, 1]);
        assert_eq!(versions[0]["published_by"], "bootstrap");
        assert_eq!(
            api.admin("POST", &format!("/environments/{env}/rollback"), Some(json!({"version": 9}))).status,
            404
        );
        // DRAFT and ARCHIVED experiments are not published.
        api.experiment(&env, "draft_only", "home");
        api.status(&id, "ARCHIVED").ok(200);
        api.publish(&env);
        assert_eq!(snapshot(&api, &sdk)["experiments"], json!([]));
        server.shutdown();
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn eight_racing_writers_lose_nothing_and_versions_strictly_increase() {
    for (label, url, _dir) in backends("race") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, _) = api.environment("race");
        let id = api.experiment(&env, "shared", "pdp");
        let writes_per_thread = 10;
        let published: Vec<Vec<i64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let (api, env, id) = (&api, &env, &id);
                    s.spawn(move || {
                        let mut versions = Vec::new();
                        for i in 0..writes_per_thread {
                            // A read-modify-write under If-Match: retried on conflict, never lost.
                            loop {
                                let cur = api.admin("GET", &format!("/experiments/{id}"), None);
                                let rev = cur.header("etag").unwrap();
                                let desc = format!("{} t{t}i{i}", cur.body["description"].as_str().unwrap_or(""));
                                let r = api.call("PATCH", &format!("/experiments/{id}"), Some(ADMIN),
                                    Some(&json!({"description": desc})), &[("if-match", &rev)]);
                                if r.status == 200 {
                                    break;
                                }
                                assert_eq!(r.status, 412, "{}", r.text);
                            }
                            // Each thread's own flag, then a publish.
                            let flag = json!({"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "off"});
                            api.admin("PUT", &format!("/environments/{env}/flags/f{t}-{i}"), Some(flag)).ok(200);
                            versions.push(api.publish(env)["version"].as_i64().unwrap());
                        }
                        versions
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let e = api.admin("GET", &format!("/experiments/{id}"), None).ok(200);
        assert_eq!(e["revision"], 1 + 8 * writes_per_thread, "[{label}] an update was lost");
        let desc = e["description"].as_str().unwrap();
        for t in 0..8 {
            for i in 0..writes_per_thread {
                assert!(desc.contains(&format!("t{t}i{i}")), "[{label}] t{t}i{i} lost");
            }
        }
        for v in &published {
            assert!(v.windows(2).all(|w| w[0] < w[1]), "[{label}] a thread saw versions go back: {v:?}");
        }
        let versions = api.admin("GET", &format!("/environments/{env}/versions"), None).ok(200);
        let nums: Vec<i64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
        let n = nums.len() as i64;
        assert_eq!(nums, (1..=n).rev().collect::<Vec<_>>(), "[{label}] versions are 1..N without gaps");
        let last = api.publish(&env);
        assert_eq!(last["changed"], false);
        let flags = api.admin("GET", &format!("/environments/{env}/flags"), None).ok(200);
        assert_eq!(flags.as_array().unwrap().len(), 8 * writes_per_thread as usize);
        server.shutdown();
    }
}

#[test]
fn the_openapi_document_lists_every_route() {
    let doc = serde_json::to_value(vario_control::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/environments", &["get", "post"][..]),
        ("/environments/{id}", &["get"]),
        ("/environments/{id}/sdk_keys", &["post"]),
        ("/environments/{id}/{kind}", &["get"]),
        ("/environments/{id}/{kind}/{key}", &["put", "delete"]),
        ("/experiments", &["get", "post"]),
        ("/experiments/{id}", &["get", "patch"]),
        ("/experiments/{id}/status", &["patch"]),
        ("/experiments/{id}/variants", &["post"]),
        ("/experiments/{id}/allocations", &["put"]),
        ("/experiments/{id}/publish", &["post"]),
        ("/environments/{id}/publish", &["post"]),
        ("/environments/{id}/versions", &["get"]),
        ("/environments/{id}/versions/{version}", &["get"]),
        ("/environments/{id}/rollback", &["post"]),
        ("/audit", &["get"]),
        ("/health", &["get"]),
        ("/tokens", &["get", "post"]),
        ("/tokens/{id}", &["delete"]),
        ("/sdk/v1/snapshot", &["get"]),
        ("/sdk/v1/stream", &["get"]),
    ] {
        for m in methods {
            assert!(paths.get(path).and_then(|p| p.get(*m)).is_some(), "{m} {path} missing from /openapi.json");
        }
    }
}

#[test]
fn an_interleaving_declaration_is_checked_stored_and_published() {
    for (label, url, _dir) in backends("interleave") {
        let server = start(&url, None);
        let api = Api::new(&server);
        let (env, sdk) = api.environment("interleave");
        let body = |key: &str, rankers: Value| {
            json!({"environment_id": env, "key": key, "name": "n", "placements": ["pdp"],
                "variants": [{"key": "bm25"}, {"key": "ltr", "params": {"ranker": "ltr"}}],
                "allocation": {"weights": {"bm25": 50, "ltr": 50}},
                "interleaving": {"method": "team_draft", "rankers": rankers}})
        };
        let r = api.admin("POST", "/experiments", Some(body("same", json!({"a": "ltr", "b": "ltr"}))));
        assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "[{label}] {}", r.text);
        assert_eq!(r.body["error"]["details"][0]["code"], "BAD_INTERLEAVING", "{}", r.text);
        let r = api.admin("POST", "/experiments", Some(body("il", json!({"a": "ltr", "b": "bm25"}))));
        assert_eq!(r.status, 201, "[{label}] {}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["interleaving"]["rankers"]["a"], "ltr");
        api.status(&id, "RUNNING").ok(200);
        api.publish(&env);
        let snap = Snapshot::from_json(&snapshot(&api, &sdk).to_string()).unwrap();
        let d = snap.decide(&Request::new("pdp").user("u-1"), 0);
        let plan = d.interleaving().expect("the published experiment interleaves");
        assert_eq!((plan.a.variant, plan.b.variant), ("ltr", "bm25"), "[{label}]");
        server.shutdown();
    }
}
