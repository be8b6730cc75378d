//! The event pipeline: caller → [queue] → [processor] → [sender] → [poster] → ingestion endpoint
//! (or the local sink).
//!
//! | stage | thread | owns |
//! |---|---|---|
//! | [`queue`] | the caller's | the bounded channel's items ([`queue::Item`]) and the flush / close controls; `try_send` only |
//! | [`processor`] | `vario-events` | de-dup LRU, recent assignments, pseudonymisation, event writing, batch cutting |
//! | [`sender`] | `vario-sender` | request bodies (JSON framing, gzip) or the local sink (file, callback) |
//! | [`poster`] | `vario-poster-<i>`, `max_in_flight` of them (only with an ingestion URL) | HTTP delivery, several batches at once; retries with backoff, `Retry-After` |
//!
//! Each stage gets the client's [`Options`] whole (an `Arc`) and reads its own groups of it. The
//! channels between stages are bounded (queue: `queue_capacity`; batches: 4; bodies: 1 waiting beside
//! `max_in_flight` in flight), so a slow
//! or failing endpoint back-pressures the stages before it until the queue fills: memory stays
//! bounded and every loss is counted where it happens.

pub(crate) mod poster;
pub(crate) mod processor;
pub(crate) mod queue;
pub(crate) mod sender;

use crate::options::Options;
use crate::stats::Shared;
use crate::store::Store;
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::thread::JoinHandle;

/// Starts the processor, sender and (with an ingestion URL) poster threads. `close_deadline_ms`
/// is set by `close` (epoch ms; 0 while open) and bounds the poster's retries.
pub(crate) fn spawn(
    opts: Arc<Options>,
    shared: Arc<Shared>,
    store: Arc<Store>,
    rx: Receiver<queue::Item>,
    ctl: Receiver<queue::Control>,
    close_deadline_ms: Arc<AtomicI64>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    // A handful of batches in flight: enough to keep the sender busy, small enough to bound memory.
    let (btx, brx) = crossbeam_channel::bounded::<sender::Batch>(4);
    let mut p = processor::Processor::new(opts.clone(), shared.clone(), store, btx);
    let mut threads = vec![std::thread::Builder::new().name("vario-events".into()).spawn(move || p.run(rx, ctl))?];
    sender::spawn(opts, shared, brx, close_deadline_ms, &mut threads)?;
    Ok(threads)
}
