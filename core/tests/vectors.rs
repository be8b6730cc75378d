//! Runs the shared vector suite (`contract/vectors/*.json`) against the core.
//!
//! The expected values come from `contract/vectors/gen.py`, an independent Python implementation of
//! the contract; this runner only reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use vario_core::{Coded, OwnedRequest, Pseudonymizer, Snapshot, digest, parse_rfc3339};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contract/vectors")
}

/// JSON equality where numbers compare by value (`1` == `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn compare(id: &str, what: &str, expect: &Map<String, Value>, got: &Value, skip: &[&str], errors: &mut Vec<String>) {
    for (k, want) in expect {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let have = got.get(k).unwrap_or(&Value::Null);
        if !json_eq(want, have) {
            errors.push(format!("{id}: {what}.{k}: expected {want}, got {have}"));
        }
    }
}

fn now_of(case: &Value) -> i64 {
    case.get("now").and_then(Value::as_str).and_then(parse_rfc3339).unwrap_or(0)
}

/// Key and salt of an experiment in raw snapshot JSON (salt defaults to the key).
fn key_salt(snap: &Value, key: &str) -> Option<(String, String)> {
    let e = snap.get("experiments")?.as_array()?.iter().find(|e| e.get("key").and_then(Value::as_str) == Some(key))?;
    let salt = e.get("salt").and_then(Value::as_str).unwrap_or(key);
    Some((key.to_owned(), salt.to_owned()))
}

/// The request context cut down to the attributes the snapshot's targeting reads.
fn reduce_context(snap: &Snapshot, ctx: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut m = Map::new();
    for k in snap.context_attributes() {
        if let Some(v) = ctx.and_then(|c| c.get(&**k)) {
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

fn run_case(case: &Value, file_snap: Option<&(Value, Snapshot)>, errors: &mut Vec<String>) {
    let id = case["id"].as_str().unwrap_or("?").to_owned();
    let op = case["op"].as_str().unwrap_or("?");
    let empty = Map::new();
    let expect = case.get("expect").and_then(Value::as_object).unwrap_or(&empty);
    let own_snap;
    let snap = match case.get("snapshot") {
        Some(raw) if !raw.is_null() => match Snapshot::from_value(raw) {
            Ok(s) => {
                own_snap = (raw.clone(), s);
                Some(&own_snap)
            }
            Err(e) => {
                errors.push(format!("{id}: case snapshot rejected: {e}"));
                return;
            }
        },
        _ => file_snap,
    };
    match op {
        "bucket" => {
            let s = |k: &str| case[k].as_str().unwrap_or_default();
            let seed = case["seed"].as_u64().unwrap_or(0) as u32;
            let d = digest(s("unit_id"), s("key"), s("salt"), seed);
            let input = format!("{}:{}:{}", s("unit_id"), s("key"), s("salt"));
            let got = json!({"hash_input_hex": hex(input.as_bytes()), "digest": d, "bucket": vario_core::bucket(s("unit_id"), s("key"), s("salt"), seed)});
            compare(&id, "bucket", expect, &got, &[], errors);
        }
        "decide" => {
            let Some((raw, snap)) = snap else {
                errors.push(format!("{id}: no snapshot"));
                return;
            };
            let req = match OwnedRequest::from_value(&case["request"], true) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("{id}: request refused: {e}"));
                    return;
                }
            };
            let now = now_of(case);
            let r = req.as_request();
            let d = snap.decide(&r, now);
            let got: Value = serde_json::from_str(&d.to_json()).unwrap_or(Value::Null);
            compare(&id, "decision", expect, &got, &["exposure", "trace_reasons", "hash"], errors);
            // Bindings may convert only the attributes targeting reads: the decision must not change.
            let reduced = reduce_context(snap, r.context);
            let mut r2 = r;
            r2.context = Some(&reduced);
            if snap.decide(&r2, now).to_json() != d.to_json() {
                errors.push(format!(
                    "{id}: the decision changed when the context held only {:?}",
                    snap.context_attributes()
                ));
            }
            // Bulk decisions (decide_many) memoise id-free targeting per batch: same decision.
            let batch = snap.batch(&r, now);
            let batched = batch.decide(r.user_id, r.session_id);
            if batched.to_json() != d.to_json() {
                errors.push(format!("{id}: the batch path decided {}", batched.to_json()));
            }
            let row = batch.row(r.user_id, r.session_id);
            let want = vario_core::BatchRow {
                reason: d.reason(),
                experiment_index: d.experiment_index(),
                variant_index: d.variant_index(),
                bucket: d.bucket(),
                unit_type: d.unit_type(),
                allocation_share: d.allocation_share(),
            };
            if row != want {
                errors.push(format!("{id}: the bulk row is {row:?}, the decision says {want:?}"));
            }
            if batch.row_at(r.user_id, r.session_id, now) != want {
                errors.push(format!("{id}: row_at(now) differs from row"));
            }
            // Bindings resolve params, experiment and variant by index: the indices must name
            // exactly what the decision borrowed.
            match d.params_id().and_then(|i| snap.params_by_id(i)) {
                Some(m) if std::ptr::eq(m, d.params()) => {}
                other => errors.push(format!("{id}: params_id {:?} resolves to {other:?}", d.params_id())),
            }
            let by_index = d
                .experiment_index()
                .and_then(|i| snap.experiment_at(i))
                .map(|(k, _, mut vs)| (k, d.variant_index().and_then(|v| vs.nth(v))));
            if by_index != d.experiment_key().map(|k| (k, d.variant())) {
                errors.push(format!("{id}: experiment/variant index resolves to {by_index:?}"));
            }
            if let Some(want) = expect.get("exposure") {
                let exp = d.exposure(now, &[], r.context).map(|x| serde_json::to_value(&x.data).unwrap_or(Value::Null));
                match (want, exp) {
                    (Value::Null, None) => {}
                    (Value::Null, Some(e)) => errors.push(format!("{id}: expected no exposure, got {e}")),
                    (Value::Object(w), Some(e)) => compare(&id, "exposure", w, &e, &[], errors),
                    (w, None) => errors.push(format!("{id}: expected exposure {w}, got none")),
                    (w, Some(_)) => errors.push(format!("{id}: bad exposure expectation {w}")),
                }
            }
            if let Some(want) = expect.get("trace_reasons") {
                let got: Vec<Value> =
                    d.trace().unwrap_or_default().iter().map(|t| json!([t.experiment_key, t.reason])).collect();
                if !json_eq(want, &Value::Array(got.clone())) {
                    errors.push(format!("{id}: trace_reasons: expected {want}, got {}", Value::Array(got)));
                }
            }
            if let Some(want) = expect.get("hash").and_then(Value::as_object) {
                match (d.experiment_key().and_then(|k| key_salt(raw, k)), d.unit_id()) {
                    (Some((k, s)), Some(u)) => {
                        let input = format!("{u}:{k}:{s}");
                        let got = json!({"input_hex": hex(input.as_bytes()), "digest": digest(u, &k, &s, snap.seed()), "bucket": d.bucket()});
                        compare(&id, "hash", want, &got, &[], errors);
                    }
                    _ => errors.push(format!("{id}: expected a hash, but the decision has no experiment/unit")),
                }
            }
        }
        "flag" => {
            let Some((_, snap)) = snap else {
                errors.push(format!("{id}: no snapshot"));
                return;
            };
            let req = match OwnedRequest::from_value(&case["request"], false) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("{id}: request refused: {e}"));
                    return;
                }
            };
            let key = case["flag"].as_str().unwrap_or_default();
            let f = snap.flag(key, &req.as_request(), now_of(case));
            let got: Value = serde_json::from_str(&f.to_json()).unwrap_or(Value::Null);
            let r = req.as_request();
            let reduced = reduce_context(snap, r.context);
            let mut r2 = r;
            r2.context = Some(&reduced);
            if snap.flag(key, &r2, now_of(case)).to_json() != f.to_json() {
                errors
                    .push(format!("{id}: the flag changed when the context held only {:?}", snap.context_attributes()));
            }
            compare(&id, "flag", expect, &got, &[], errors);
        }
        "load" => {
            let text = case["snapshot_text"].as_str().unwrap_or_default();
            match (Snapshot::from_json(text), expect.get("error"), expect.get("lints")) {
                (Err(e), Some(want), _) => {
                    if want.as_str() != Some(e.code().as_str()) {
                        errors.push(format!("{id}: expected error {want}, got {} ({e})", e.code()));
                    }
                }
                (Err(e), None, _) => errors.push(format!("{id}: unexpected rejection {} ({e})", e.code())),
                (Ok(_), Some(want), _) => errors.push(format!("{id}: expected rejection {want}, snapshot loaded")),
                (Ok(s), None, Some(want)) => {
                    let want: BTreeSet<(String, String)> = want
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| {
                            (l["code"].as_str().unwrap_or("").to_owned(), l["item"].as_str().unwrap_or("").to_owned())
                        })
                        .collect();
                    let got: BTreeSet<(String, String)> = s
                        .lints()
                        .iter()
                        .map(|l| {
                            (
                                serde_json::to_value(l.code)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                                l.item.clone(),
                            )
                        })
                        .collect();
                    if want != got {
                        errors.push(format!("{id}: lints: expected {want:?}, got {got:?}"));
                    }
                }
                (Ok(_), None, None) => {}
            }
        }
        "request_error" => match OwnedRequest::from_value(&case["request"], true) {
            Ok(_) => errors.push(format!("{id}: request accepted, expected an error")),
            Err(_) => {
                if expect.get("error").and_then(Value::as_str) != Some(vario_core::ErrorCode::InvalidRequest.as_str()) {
                    errors.push(format!("{id}: unexpected error expectation {:?}", expect.get("error")));
                }
            }
        },
        "pseudonymize" => {
            let p = Pseudonymizer::new(case["key"].as_str());
            let got = json!({"value": p.apply(case["unit_id"].as_str().unwrap_or_default())});
            compare(&id, "pseudonymize", expect, &got, &[], errors);
        }
        "error" => {
            let want = expect.get("code").and_then(Value::as_str).unwrap_or("?");
            let got = match case["call"].as_str() {
                Some("snapshot") => {
                    Snapshot::from_json(case["snapshot_text"].as_str().unwrap_or_default()).err().map(|e| e.code())
                }
                Some("request") => OwnedRequest::from_value(&case["request"], true).err().map(|e| e.code()),
                // Client calls (tokens, updates, closed clients, options) are the runtime's: its
                // tests/error_vectors.rs runs every case of this op.
                _ => return,
            };
            match got {
                Some(code) if code.as_str() == want => {}
                Some(code) => errors.push(format!("{id}: expected {want}, got {code}")),
                None => errors.push(format!("{id}: expected {want}, the input was accepted")),
            }
        }
        "interleave" | "credit" => {
            let got = interleave_case(op, case).unwrap_or_else(|e| json!({"code": e.code().as_str()}));
            compare(&id, op, expect, &got, &[], errors);
            if expect.contains_key("code") != got.get("code").is_some() {
                errors.push(format!("{id}: {op}: expected {expect:?}, got {got}"));
            }
        }
        other => errors.push(format!("{id}: unknown op {other}")),
    }
}

/// An `interleave` or `credit` case through the core API, as the JSON the vectors expect.
fn interleave_case(op: &str, case: &Value) -> Result<Value, vario_core::InterleaveError> {
    use vario_core::interleave;
    let list = |k: &str| -> Vec<&str> { case[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect() };
    let (a, b) = (list("a"), list("b"));
    let method = interleave::parse_method(case["method"].as_str().unwrap())?;
    let clicks: Option<Vec<usize>> =
        case.get("clicks").map(|c| c.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect());
    let teams = if op == "interleave" {
        let s = |k: &str| case[k].as_str().unwrap();
        let coin = vario_core::Coin {
            unit_id: s("unit_id"),
            key: s("key"),
            salt: s("salt"),
            query: s("query"),
            seed: case["seed"].as_u64().unwrap() as u32,
        };
        let length = case.get("length").map(|l| l.as_u64().unwrap() as usize);
        let picks = interleave::interleave(method, &a, &b, &coin, length)?;
        let teams: Vec<_> = picks.iter().map(|p| p.team).collect();
        let mut out = json!({"items": interleave::items(&a, &b, &picks), "teams": teams});
        let Some(clicks) = clicks else { return Ok(out) };
        let c = interleave::credit(method, &a, &b, &teams, &clicks)?;
        out["credit"] = json!({"a": c.a, "b": c.b});
        out["winner"] = json!(c.winner());
        return Ok(out);
    } else {
        list("teams").into_iter().map(interleave::parse_team).collect::<Result<Vec<_>, _>>()?
    };
    let c = interleave::credit(method, &a, &b, &teams, &clicks.unwrap_or_default())?;
    Ok(json!({"credit": {"a": c.a, "b": c.b}, "winner": c.winner()}))
}

#[test]
fn shared_vectors() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("contract/vectors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut errors = Vec::new();
    let mut total = 0;
    let mut ids: HashMap<String, String> = HashMap::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable vector file");
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc["format"], "vario-vectors/1", "{}", path.display());
        assert_eq!(doc["algorithm"], "xxh32-colon-mod10000", "{}", path.display());
        let file_snap = match doc.get("snapshot") {
            Some(raw) if !raw.is_null() => match Snapshot::from_value(raw) {
                Ok(s) => Some((raw.clone(), s)),
                Err(e) => panic!("{}: file snapshot rejected: {e}", path.display()),
            },
            _ => None,
        };
        for case in doc["cases"].as_array().expect("cases") {
            let id = case["id"].as_str().expect("case id").to_owned();
            if let Some(prev) = ids.insert(id.clone(), path.display().to_string()) {
                errors.push(format!("{id}: duplicate id (also in {prev})"));
            }
            total += 1;
            run_case(case, file_snap.as_ref(), &mut errors);
        }
    }
    eprintln!("{total} vector cases in {} files", files.len());
    assert!(total >= 300, "only {total} vector cases");
    assert!(errors.is_empty(), "{} of {total} cases failed:\n{}", errors.len(), errors.join("\n"));
}
