//! The event pipeline: caller → [queue] → [processor] → [sender] → [poster] → ingestion endpoint
//! (or the local sink).
//!
//! | stage | thread | owns |
//! |---|---|---|
//! | [`queue`] | the caller's | the bounded channel's items ([`queue::Item`]) and the flush / close controls; `try_send` only |
//! | [`processor`] | `vario-events` | de-dup LRU, recent assignments, pseudonymisation, event writing, batch cutting |
//! | [`sender`] | `vario-sender` | request bodies (JSON framing, gzip) or the local sink (file, callback) |
//! | [`poster`] | `vario-poster-<i>`, `max_in_flight` of them (only with an ingestion URL, without a spool) | HTTP delivery, several batches at once; retries with backoff, `Retry-After` |
//! | [`spool`] | `vario-sender` (spills) and `vario-poster` (spools, replays) | with `spool_path`: the on-disk segments of undelivered batches, their record format, the directory lock |
//! | [`replay`] | `vario-poster` (one thread in place of the workers, with a spool) | spooling what fails, replay oldest first, flush = delivered or durable, close = drain to the spool |
//!
//! Each stage gets the client's [`Options`] whole (an `Arc`) and reads its own groups of it. The
//! channels between stages are bounded (queue: `queue_capacity`; batches: 4; bodies: 1 waiting beside
//! `max_in_flight` in flight), so a slow
//! or failing endpoint back-pressures the stages before it until the queue fills: memory stays
//! bounded and every loss is counted where it happens.
//!
//! With a spool (`spool_path` and an ingestion URL), a batch the poster cannot deliver now (its
//! first attempt failed, older batches are waiting on disk, or the poster is busy when the sender
//! has the next one) goes to the spool instead of waiting in memory, so an outage fills the disk
//! (up to `spool_max_bytes`) instead of the caller's queue, and `kill -9` loses only what had not
//! reached the poster or the spool yet.

pub(crate) mod poster;
pub(crate) mod processor;
pub(crate) mod queue;
pub(crate) mod replay;
pub(crate) mod sender;
pub(crate) mod spool;

use crate::error::BuildError;
use crate::options::Options;
use crate::stats::Shared;
use crate::store::Store;
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::thread::JoinHandle;

/// Starts the processor, sender and (with an ingestion URL) poster threads. `close_deadline_ms`
/// is set by `close` (epoch ms; 0 while open) and bounds the poster's retries. The spool (with
/// `spool_path` and an ingestion URL) is opened and locked here, on the caller's thread at build:
/// a spool in use by another client fails the build.
pub(crate) fn spawn(
    opts: Arc<Options>,
    shared: Arc<Shared>,
    store: Arc<Store>,
    rx: Receiver<queue::Item>,
    ctl: Receiver<queue::Control>,
    close_deadline_ms: Arc<AtomicI64>,
) -> Result<Vec<JoinHandle<()>>, BuildError> {
    let d = &opts.delivery;
    let spool = match (&d.spool_path, &d.ingest_url) {
        (Some(dir), Some(_)) => Some(Arc::new(std::sync::Mutex::new(
            spool::Spool::open(dir, d.spool_max_bytes, shared.clone()).map_err(|e| BuildError::Spool(e.to_string()))?,
        ))),
        _ => None,
    };
    // A handful of batches in flight: enough to keep the sender busy, small enough to bound memory.
    let (btx, brx) = crossbeam_channel::bounded::<sender::Batch>(4);
    let mut p = processor::Processor::new(opts.clone(), shared.clone(), store, btx);
    let mut threads = vec![std::thread::Builder::new().name("vario-events".into()).spawn(move || p.run(rx, ctl))?];
    sender::spawn(opts, shared, brx, close_deadline_ms, spool, &mut threads)?;
    Ok(threads)
}
