//! Memory and decision cost of `matches` targeting (issue 14's regex budget).
//!
//! Builds a snapshot of N experiments, each on its own placement and each targeted by one small
//! Unicode regex on `user_id` (variants of `^user-[0-9a-z]{4,8}$`), and a control snapshot of the
//! same shape whose rules are `starts_with` (no regex). For each it prints the resident memory
//! (`/proc/self/status` VmRSS) before the compile, after it, and after one decision per placement
//! (a regex's lazy-DFA cache fills on first use), plus the peak (VmHWM). The regex cost is the
//! difference between the two snapshots. Then it times `decide` on one regex-targeted placement.
//!
//! Run: `cargo run -p vario-core --example regex_memory -- [N] [control]` (debug profile: vario-core
//! and its dependencies build at opt-level 2 in this workspace). With `control` only the
//! `starts_with` snapshot is built, with `matches` only the regex one (in a fresh process, so no
//! memory freed by the control is reused). Under callgrind, `VARIO_DECIDES=100000` sets the
//! decision loop; `VARIO_SHAPE=0|1|2` picks the pattern shape it decides on (default 0).
//! `VARIO_JSON_OUT=FILE` also writes the last snapshot's figures there (`scripts/bench-all.sh` runs
//! `control` and `matches` in two processes and `benches/report.py` takes the difference).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a probe: a failed unwrap is a failed run

use serde_json::json;
use std::time::Instant;
use vario_core::{Reason, Request, Snapshot};

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One pattern per experiment: three shapes (ASCII class, `\w` Unicode class, case-insensitive
/// with a non-ASCII letter), each made distinct by the experiment number.
fn pattern(i: usize) -> String {
    match i % 3 {
        0 => format!("^user{i}-[0-9a-z]{{4,8}}$"),
        1 => format!("^user{i}-\\w{{4,8}}$"),
        _ => format!("(?i)^user{i}-[0-9a-zé]{{4,8}}$"),
    }
}

fn snapshot(n: usize, regex: bool) -> String {
    let placements: serde_json::Map<String, serde_json::Value> =
        (0..n).map(|i| (format!("p{i}"), json!({"default_params": {"algo": "baseline"}}))).collect();
    let experiments: Vec<_> = (0..n)
        .map(|i| {
            let targeting = if regex {
                json!({"attr": "user_id", "op": "matches", "value": pattern(i)})
            } else {
                json!({"attr": "user_id", "op": "starts_with", "value": format!("user{i}-")})
            };
            json!({
                "id": i + 1, "key": format!("e{i}"), "status": "RUNNING", "placements": [format!("p{i}")],
                "targeting": targeting,
                "variants": [{"key": "control"}, {"key": "treatment", "params": {"algo": "new"}}],
                "allocation": {"weights": {"control": 50, "treatment": 50}}
            })
        })
        .collect();
    json!({"schema_version": 1, "version": 1, "placements": placements, "experiments": experiments}).to_string()
}

fn measure(label: &str, n: usize, regex: bool) -> (Snapshot, serde_json::Value) {
    let text = snapshot(n, regex);
    let before = status_kib("VmRSS:");
    let snap = Snapshot::from_json(&text).expect("valid snapshot");
    let compiled = status_kib("VmRSS:");
    let mut targeted = 0usize;
    for i in 0..n {
        let user = format!("user{i}-ab12");
        let p = format!("p{i}");
        let d = snap.decide(&Request::new(&p).user(&user), 0);
        targeted += usize::from(d.reason() == Reason::Assigned);
    }
    let decided = status_kib("VmRSS:");
    let figures = json!({
        "mode": if regex { "matches" } else { "control" },
        "n": n,
        "after_compile_mib": mib(compiled.saturating_sub(before)),
        "after_decide_mib": mib(decided.saturating_sub(before)),
        "vmhwm_mib": mib(status_kib("VmHWM:")),
        "refused": snap.lints().len(),
    });
    let lints: Vec<_> = snap.lints().iter().map(|l| l.code.as_str()).collect();
    println!(
        "{label:>12} n={n:>6}: +{:>8.1} MiB after compile, +{:>8.1} MiB after one decide per placement \
         (VmHWM {:.1} MiB), {targeted} of {n} assigned, {} lints {:?}",
        mib(compiled.saturating_sub(before)),
        mib(decided.saturating_sub(before)),
        mib(status_kib("VmHWM:")),
        lints.len(),
        lints.iter().take(3).collect::<Vec<_>>(),
    );
    if let Ok(path) = std::env::var("VARIO_JSON_OUT") {
        std::fs::write(path, figures.to_string()).expect("VARIO_JSON_OUT is writable");
    }
    (snap, figures)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mode = args.next().unwrap_or_default();
    let _control = (mode != "matches").then(|| measure("starts_with", n, false));
    if mode == "control" {
        return;
    }
    let (snap, _) = measure("matches", n, true);
    // Decision time on one regex-targeted placement (user ids that match and that do not).
    let decides: usize = std::env::var("VARIO_DECIDES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    let shape: usize = std::env::var("VARIO_SHAPE").ok().and_then(|v| v.parse().ok()).unwrap_or(0).min(2);
    let placement = format!("p{shape}");
    let users: Vec<String> =
        (0..1000).map(|k| if k % 2 == 0 { format!("user{shape}-{k:04x}") } else { format!("user-{k}") }).collect();
    if decides == 0 {
        return;
    }
    let t = Instant::now();
    let mut hits = 0usize;
    for k in 0..decides {
        let d = snap.decide(&Request::new(&placement).user(&users[k % users.len()]), 0);
        hits += usize::from(d.reason() == Reason::Assigned);
    }
    let per = t.elapsed().as_nanos() as f64 / decides.max(1) as f64;
    println!("decide on {placement} (`{}`): {per:.1} ns/call over {decides} calls ({hits} assigned)", pattern(shape));
}
