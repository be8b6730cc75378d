//! The C ABI's JSON-free decide beside the engine's own decide, in one criterion run on the same
//! fixture (1 experiment, 1 targeting rule, 3 variants, 100 k distinct users cycled). The C entry
//! point is called through its `extern "C"` symbol exactly as a C caller would (C strings in, a
//! `vario_decision` out), so the difference is the cost of the boundary: argument checks, UTF-8
//! validation, panic guard, and filling the struct.
//!
//! Run: `cargo bench -p vario-ffi --bench ffi`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::ffi::CString;
use std::ptr;
use vario_core::{Request, Snapshot};
use vario_ffi::*;

const SNAPSHOT: &str = r#"{"schema_version": 1, "version": 1,
  "placements": {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}}},
  "experiments": [{"id": 1, "key": "ymal_algo", "status": "RUNNING", "placements": ["pdp_ymal"],
    "targeting": {"attr": "locale", "op": "eq", "value": "en-GB"},
    "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}},
                 {"key": "graph", "params": {"algo": "graph"}}],
    "allocation": {"weights": {"control": 34, "two_tower": 33, "graph": 33}}}]}"#;

fn benches(c: &mut Criterion) {
    let ids: Vec<String> = (0..100_000).map(|i| format!("user-{i:07}")).collect();
    let c_ids: Vec<CString> = ids.iter().map(|s| CString::new(s.as_str()).expect("no NUL")).collect();
    let now = 1_790_000_000_000i64;

    let snap = Snapshot::from_json(SNAPSHOT).expect("valid");
    let ctx: Map<String, Value> =
        json!({"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB"}).as_object().cloned().expect("object");

    let mut g = c.benchmark_group("decide_1_experiment");
    let mut i = 0;
    g.bench_function("rust_core", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            let d = snap.decide(&Request::new("pdp_ymal").user(&ids[i]).context(&ctx), now);
            black_box((d.reason(), d.variant(), d.params().len()));
        })
    });

    let text = CString::new(SNAPSHOT).expect("no NUL");
    let mut handle: *mut vario_snapshot = ptr::null_mut();
    // SAFETY: valid C strings and out-pointers; the handle is freed below.
    unsafe {
        assert_eq!(vario_snapshot_from_json(text.as_ptr(), &mut handle), vario_status::VARIO_OK);
    }
    let cctx = vario_context_new();
    let placement = CString::new("pdp_ymal").expect("no NUL");
    for (k, v) in [("placement", "pdp_ymal"), ("page_type", "pdp"), ("locale", "en-GB")] {
        let (k, v) = (CString::new(k).expect("k"), CString::new(v).expect("v"));
        // SAFETY: live context, C strings.
        unsafe { vario_context_set_str(cctx, k.as_ptr(), v.as_ptr()) };
    }
    let mut j = 0;
    g.bench_function("c_abi_json_free", |b| {
        let mut out = std::mem::MaybeUninit::<vario_decision>::uninit();
        b.iter(|| {
            j = (j + 1) % c_ids.len();
            let req = vario_request {
                placement: placement.as_ptr(),
                user_id: c_ids[j].as_ptr(),
                session_id: ptr::null(),
                context: cctx,
                opted_out: false,
            };
            // SAFETY: live snapshot handle, a valid request, a writable out struct.
            let st = unsafe { vario_snapshot_decide(handle, &req, now, out.as_mut_ptr()) };
            // SAFETY: filled by the call above.
            let d = unsafe { out.assume_init_ref() };
            black_box((st, d.reason, d.variant, d.params_json));
        })
    });
    g.finish();
    // SAFETY: handles from this function, freed once.
    unsafe {
        vario_context_free(cctx);
        vario_snapshot_free(handle);
    }
}

criterion_group!(ffi, benches);
criterion_main!(ffi);
