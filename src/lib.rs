//! # vario: the Vario runtime
//!
//! In-process experiment decisions for a service that calls Vario on every request. This crate
//! wraps the pure engine ([`vario_core`], re-exported as [`core`]) with the parts that touch the
//! outside world: config sync, the event pipeline, the client's lifecycle, and the support layer
//! the language bindings share ([`host`]).
//!
//! ```no_run
//! use vario::{ClientBuilder, Expose, core::Request};
//! let client = ClientBuilder::new()
//!     .config_url("http://127.0.0.1:8088/config")
//!     .ingest_url("http://127.0.0.1:8088/ingest")
//!     .build()?;
//! client.wait_for_init(std::time::Duration::from_secs(3)).ok(); // defaults until then
//! let algo = client.decide_with(&Request::new("pdp_you_may_also_like").user("u-42"), Expose::Now, |d, _| {
//!     d.params().get("algo").and_then(|v| v.as_str()).unwrap_or("co_purchase").to_owned()
//! });
//! # let _ = algo;
//! client.close(std::time::Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Architecture
//!
//! The request path is: request → `ArcSwap` load of the snapshot (no lock) → pure decision → a
//! `try_send` of a compact exposure record on a bounded channel. Nothing on it waits for the
//! network or another thread; a full queue drops the event and counts it.
//!
//! Modules, bottom-up: each imports only modules above it in this table (checked by
//! `scripts/check-imports.py src`: no import cycle).
//!
//! | module | owns | pure? | runs on |
//! |---|---|---|---|
//! | `clock` | [`now_ms`] (coarse wall clock), [`fork_generation`] (a `fork()` counter) | reads the clock | any thread |
//! | `retry` | backoff with jitter, `Retry-After`, redaction of URLs from HTTP errors | yes (but random jitter) | any thread |
//! | `outcome` | [`Outcome`] and its JSON parser | yes | the caller's |
//! | `stats` | counters and config status ([`Stats`], [`ConfigSource`], [`ConfigErrorKind`]) | relaxed atomics | any thread |
//! | `error` | every runtime error ([`BuildError`], [`InitError`], [`TimeoutError`], [`UpdateError`]) with its code ([`core::Coded`]) | yes | - |
//! | `options` | [`Options`] grouped by reader ([`SyncOptions`], [`HttpOptions`], [`DeliveryOptions`], [`ProcessingOptions`]), validation | yes | the caller's |
//! | `store` | the current snapshot (`ArcSwap`), the swap lock, the exposure-dictionary history, the pseudonymiser, the wait-for-init signal; every swap's checks | shared state, no I/O | whichever thread offers a snapshot |
//! | `pipeline::queue` | what the caller queues (compact exposures, tokens, outcomes) and the flush / close controls | yes | the caller's |
//! | `pipeline::spool` | with `spool_path`: the disk spool's segment files, record format (length, CRC-32, the body as posted), bound, directory lock, corrupt-tail skipping | no (files) | `vario-sender`, `vario-poster` |
//! | `pipeline::poster` | HTTP delivery of batch bodies in order, retries with backoff | no (HTTP) | `vario-poster` |
//! | `pipeline::replay` | with a spool, the poster thread's loop: spool what fails, replay oldest first, flush = delivered or durable, close = drain to the spool | no (HTTP, files) | `vario-poster` |
//! | `pipeline::sender` | batch bodies (JSON framing, gzip) or the local sink (file, callback); spills to the spool when the poster is busy | no (I/O) | `vario-sender` |
//! | `pipeline::processor` | de-dup, attribution, pseudonymisation, event writing, batch cutting | owns its state, no I/O | `vario-events` |
//! | `srm` | the SRM monitor: distinct units per experiment, iteration and variant, the chi-square against the snapshot's split ([`SrmStatus`], in [`Stats::srm`]) | yes (memory bounded) | `vario-events` |
//! | `pipeline` | starting the three pipeline stages | - | the caller's (at build) |
//! | `config` | config sync: local sources at start, then polling with ETag / file re-reads, persisting; a wake from the push thread polls at once | no (HTTP, files) | the caller's (at build), then `vario-config` |
//! | `push` | the push channel (SPEC §9): the SSE stream (wakes the config thread to fetch) or Redis (reads the hash, offers it), dead-channel detection, reconnects with backoff; the SSE reader and the notice rule are pure | no (HTTP, Redis) | `vario-push` |
//! | [`history`] | loading a backtest's [`core::History`] from a folder of snapshot files or the control plane's versions API | no (files, HTTP) | the caller's |
//! | `client` | [`Client`]: decisions, enqueue, flush, close, fork | lock-free reads | the caller's |
//! | `builder` | [`ClientBuilder`] | - | the caller's |
//! | [`host`] | what the bindings share: [`host::HostClient`] (closed state), [`host::SnapshotCache`], attribute lists, [`host::Surface`], code tables, the one JSON options definition | - | the caller's |
//!
//! A client runs up to **five background threads**: `vario-config` (only with a `config_url` or
//! `config_path`; a bootstrap is never refreshed), `vario-push` (only with `stream_url` or
//! `redis_url`), `vario-events` (the processor), `vario-sender`, and `vario-poster` (only with an
//! `ingest_url`; without one the sender writes the local sink itself). `close` stops them all
//! (the config and push threads are detached if they sit in a request or a read).
//!
//! With `spool_path`, events the pipeline cannot deliver go to a disk spool and survive the
//! process (`kill -9` after a `flush`, SIGTERM handled by the host calling `close`, a normal exit)
//! to be replayed by the next client on the directory: see "Spool" in `contract/events.md`. The
//! library never installs a signal handler.
//!
//! The dev server (a local config endpoint and ingestion sink) and the `vario` command line live in
//! the dev-only crate `vario-tools` (`tools/`), which nothing that ships links.

#![deny(missing_docs)]

mod builder;
mod client;
mod clock;
mod config;
mod error;
pub mod history;
pub mod host;
mod options;
mod outcome;
mod pipeline;
mod push;
mod retry;
mod srm;
mod stats;
mod store;

pub use builder::ClientBuilder;
pub use client::{Client, Expose};
pub use clock::{fork_generation, now_ms};
pub use error::{BuildError, InitError, TimeoutError, UpdateError};
pub use options::{
    ConfigSpec, DeliveryOptions, EventCallback, HttpOptions, LocalSink, MAX_IN_FLIGHT, Options, ProcessingOptions,
    PushSpec, SyncOptions,
};
pub use outcome::Outcome;
pub use srm::SrmStatus;
pub use stats::{ConfigErrorKind, ConfigSource, PushState, Stats};
pub use vario_core as core;

/// The pure input handling of the runtime that has no other public door, for the fuzz targets in
/// `fuzz/` (which build against this crate as a dependency). Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::config::{BodyRefusal, config_body};
    pub use crate::push::{Notice, SseEvent, SseReader};

    /// Replays `segment` as a spool segment an earlier process left in `dir` (which must not
    /// exist yet or be empty), exactly as a client does at start: open the spool, then read and
    /// acknowledge records until none is left. Returns the records read and the corrupt records
    /// counted. A second segment written by this process's own append is read back too, so the
    /// writer and the reader are checked against each other.
    pub fn spool_replay(dir: &std::path::Path, segment: &[u8]) -> std::io::Result<(u64, u64)> {
        use crate::pipeline::spool::{Appended, Spool};
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("00000000000000000001.vspool"), segment)?;
        let shared = std::sync::Arc::new(crate::stats::Shared::default());
        let mut spool = Spool::open(dir, 1 << 20, shared.clone()).map_err(|e| std::io::Error::other(e.to_string()))?;
        let appended = spool.append("fuzz-batch", segment, false, 3) == Appended::Yes;
        let mut read = 0u64;
        let mut last = None;
        while let Some(r) = spool.peek() {
            read += 1;
            last = Some(r);
            spool.ack();
        }
        if appended {
            // Our own record is the last one read, intact.
            let r = last.ok_or_else(|| std::io::Error::other("the appended record was not read back"))?;
            if r.batch_id != "fuzz-batch" || r.body.as_ref() != segment || r.events != 3 {
                return Err(std::io::Error::other("the appended record came back changed"));
            }
        }
        let corrupt = shared.c.spool_corrupt_records.load(std::sync::atomic::Ordering::Relaxed);
        Ok((read, corrupt))
    }
}
