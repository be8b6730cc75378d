//! The benches that are plain programs rather than criterion statistics, in one binary (one
//! thin-LTO link instead of three, which `make bench` pays on a fresh clone):
//! - `latency`: per-call p50 / p90 / p99 of bare decide and client decide + enqueue;
//! - `scaling`: decisions on 1 and 2 threads;
//! - `memory`: resident memory over 10 M distinct users;
//! - `push`: publish → 50 client processes deciding on the new version (stream, Redis, polling),
//!   and decide latency while notifications arrive.
//!
//! Run: `cargo bench --bench probes [latency|scaling|memory|push ...]` (all four without a name).
//! Each writes its result file into `target/bench/` for `benches/report.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

#[path = "../../tests/common/admin.rs"]
mod admin;
#[path = "../common/mod.rs"]
mod common;
mod latency;
mod memory;
mod push;
mod scaling;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--push-child") {
        push::child(&args[1..]);
        return;
    }
    // cargo passes `--bench` (and `make bench` passes criterion's options): only names select.
    let wanted: Vec<String> =
        args.into_iter().filter(|a| ["latency", "scaling", "memory", "push"].contains(&a.as_str())).collect();
    let all = wanted.is_empty();
    for (name, run) in
        [("latency", latency::run as fn()), ("scaling", scaling::run), ("memory", memory::run), ("push", push::run)]
    {
        if all || wanted.iter().any(|w| w == name) {
            println!("--- {name}");
            run();
        }
    }
}
