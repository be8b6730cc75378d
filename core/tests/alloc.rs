//! `decide` allocates nothing beyond the returned decision (which itself borrows, so: nothing).
//!
//! A counting global allocator that counts only on the thread under test: the test harness's own
//! threads (output capture, reporting) may allocate at any time and must not be blamed on decide.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use vario_core::{Reason, Request, Snapshot};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the test's thread only. Const-initialised without a destructor, so reading it from
    /// inside the allocator cannot allocate or recurse.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(std::cell::Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decide_and_flag_do_not_allocate() {
    COUNTING.with(|c| c.set(true));
    let doc = json!({
        "schema_version": 1, "version": 9,
        "placements": {"pdp_ymal": {"default_params": {"algo": "baseline", "limit": 12}}},
        "layers": [{"key": "recs"}],
        "holdouts": [{"key": "h", "percent": 2, "experiments": "*"}],
        "segments": {"staff": ["u1", "u7"]},
        "experiments": [{
            "id": 11, "key": "ymal_algo", "status": "RUNNING", "placements": ["pdp_ymal"],
            "layer": {"key": "recs", "range": [0, 10000]},
            "targeting": {"all": [
                {"attr": "locale", "op": "in", "values": ["en-GB", "de-DE"]},
                {"attr": "app_version", "op": "semver_gte", "value": "2.0.0"},
                {"attr": "page_type", "op": "matches", "value": "^pd[pq]$"},
                {"not": {"attr": "user_id", "op": "in_segment", "value": "staff"}}
            ]},
            "variants": [{"key": "control"}, {"key": "two_tower", "params": {"algo": "two_tower"}}, {"key": "graph", "params": {"algo": "graph"}}],
            "allocation": {"weights": {"control": 34, "two_tower": 33, "graph": 33}, "traffic": 90}
        }],
        "flags": [{"key": "fast_path", "variants": {"off": false, "on": true}, "default_variant": "off",
                   "rules": [{"kind": "gradual", "rollout": {"variant": "on", "percent": 50}}]}]
    });
    let snap = Snapshot::from_value(&doc).expect("valid");
    assert!(snap.lints().is_empty(), "{:?}", snap.lints());
    let ctx = json!({"placement": "pdp_ymal", "page_type": "pdp", "locale": "en-GB", "app_version": "2.4.1"});
    let ctx = ctx.as_object().expect("object");
    let ids: Vec<String> = (0..10_000).map(|i| format!("visitor-{i}")).collect();

    // Warm-up: the regex engine builds its per-thread cache on first use.
    for id in ids.iter().take(100) {
        let _ = snap.decide(&Request::new("pdp_ymal").user(id).context(ctx), 0);
    }

    let before = ALLOCS.load(Ordering::SeqCst);
    let mut assigned = 0;
    for id in &ids {
        let d = snap.decide(&Request::new("pdp_ymal").user(id).session("s").context(ctx), 0);
        if d.reason() == Reason::Assigned {
            assigned += 1;
        }
        let f = snap.flag("fast_path", &Request::new("").user(id), 0);
        std::hint::black_box((d.params(), f.value()));
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert!(assigned > 8_000, "most visitors are assigned ({assigned})");
    assert_eq!(after - before, 0, "decide/flag allocated {} times over {} calls", after - before, ids.len());

    // The counter works: a traced decision allocates its trace.
    let before = ALLOCS.load(Ordering::SeqCst);
    let d = snap.decide(&Request::new("pdp_ymal").user("x").context(ctx).with_trace(), 0);
    std::hint::black_box(&d);
    assert!(ALLOCS.load(Ordering::SeqCst) > before, "a trace allocates");
}
