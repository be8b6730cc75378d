//! # vario: the Vario runtime
//!
//! In-process experiment decisions for a service that calls Vario on every request. This crate
//! wraps the pure engine ([`vario_core`], re-exported as [`core`]) with the parts that touch the
//! outside world:
//!
//! | module | owns | threads |
//! |---|---|---|
//! | `client` | [`Client`]: lock-free decisions on the current snapshot, non-blocking enqueue | caller's |
//! | `config` | config sync: poll with ETag, validate, swap, persist the last good snapshot | `vario-config` |
//! | `pipeline` | de-dup, attribution, pseudonymisation, batching, delivery with retries | `vario-events`, `vario-sender` |
//! | `stats` | counters and config status ([`Stats`]) | any |
//!
//! The dev server (a local config endpoint and ingestion sink) and the `vario` command line live in
//! the dev-only crate `vario-tools` (`tools/`), which nothing that ships links.
//!
//! The request path is: request → `ArcSwap` load of the snapshot (no lock) → pure decision → a
//! `try_send` of a compact exposure record on a bounded channel. Nothing on it waits for the
//! network or another thread; a full queue drops the event and counts it.
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

#![deny(missing_docs)]

mod client;
mod config;
mod options;
mod pipeline;
mod stats;

pub use client::{Client, Expose, InitError, TimeoutError, fork_generation, now_ms};
pub use options::{BuildError, ClientBuilder, ConfigSpec, EventCallback, LocalSink, Options};
pub use pipeline::Outcome;
pub use stats::{ConfigErrorKind, ConfigSource, Stats};
pub use vario_core as core;
