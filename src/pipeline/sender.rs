//! Stage 3, the sender (`vario-sender` thread): turns the processor's batches into request bodies
//! (JSON framing, gzip above [`DeliveryOptions::gzip_threshold`](crate::options::DeliveryOptions))
//! for the poster, or writes them to the local sink (a JSONL file or a callback).
//!
//! With an ingestion URL, posting happens on other threads (the [posters](super::poster)), so
//! compressing the next batch overlaps with the wait for earlier batches' answers instead of
//! alternating with it. The batch channel from the processor is small: a slow sink back-pressures the processor,
//! which lets the queue fill, so memory stays bounded and every loss is counted where it happens.

use super::poster::{Encoded, Poster, Posters};
use super::spool::{Appended, SharedSpool, lock};
use crate::clock::now_ms;
use crate::options::{EventCallback, LocalSink, Options};
use crate::stats::{Shared, add, inc};
use crossbeam_channel::{Receiver, Sender};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::thread::JoinHandle;
use std::time::Instant;
use vario_core::{Sdk, format_rfc3339_millis};

/// What the processor hands the sender.
pub(crate) enum Batch {
    /// Events to deliver, in order.
    Events(EventBuf),
    /// A flush marker: answered once everything before it was delivered.
    Marker(Sender<()>),
    /// Close: deliver what is left (the deadline bounds retries), answer, stop.
    Stop(Instant, Sender<()>),
}

/// Events of one batch, comma-separated JSON objects in one buffer, with each event's end offset
/// (the local sinks write them one per line).
#[derive(Default)]
pub(crate) struct EventBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl EventBuf {
    /// An empty batch with room for `events` events in `bytes` bytes.
    pub(crate) fn with_capacity(bytes: usize, events: usize) -> Self {
        EventBuf { bytes: Vec::with_capacity(bytes), ends: Vec::with_capacity(events) }
    }
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
    pub(crate) fn byte_capacity(&self) -> usize {
        self.bytes.capacity()
    }
    fn events(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let e = &self.bytes[start..end];
            start = end + 1;
            e
        })
    }
    /// Appends one event written by `write`; a writer that returns false leaves no trace.
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        let mark = self.bytes.len();
        if !self.ends.is_empty() {
            self.bytes.push(b',');
        }
        let start = self.bytes.len();
        if write(&mut self.bytes) && self.bytes.len() > start {
            self.ends.push(self.bytes.len());
            true
        } else {
            self.bytes.truncate(mark);
            false
        }
    }
}

enum SinkImpl {
    /// Bodies go to the `vario-poster-<i>` threads (see [`Posters`]), `max_in_flight` at once.
    Http(Posters),
    /// With a spool: bodies go to the one `vario-poster` thread running the spool's replay loop
    /// (see [`super::replay`]); a body that thread has no room for is written to the spool instead
    /// of waiting (see [`SenderLoop::hand_over`]).
    Spooled(Sender<Encoded>, SharedSpool),
    File(Option<std::io::BufWriter<std::fs::File>>, std::path::PathBuf),
    Callback(EventCallback),
}

struct SenderLoop {
    opts: Arc<Options>,
    sdk: Sdk,
    shared: Arc<Shared>,
    sink: SinkImpl,
}

/// Starts the sender (and, with an ingestion URL, the poster) thread; their handles go to `threads`.
pub(crate) fn spawn(
    opts: Arc<Options>,
    shared: Arc<Shared>,
    rx: Receiver<Batch>,
    close_deadline_ms: Arc<AtomicI64>,
    spool: Option<SharedSpool>,
    threads: &mut Vec<JoinHandle<()>>,
) -> std::io::Result<()> {
    let sink = match (&opts.delivery.ingest_url, &opts.delivery.local_sink) {
        (Some(url), _) => match spool {
            None => SinkImpl::Http(Posters::spawn(&opts, &shared, url, &close_deadline_ms, threads)?),
            Some(sp) => {
                // As many bodies waiting as the loop has workers: a healthy burst queues here
                // instead of spilling to disk; past that the sender spills (see `hand_over`).
                let (tx, prx) = crossbeam_channel::bounded::<Encoded>(opts.delivery.max_in_flight.max(1));
                let mut poster = Poster::new(opts.clone(), shared.clone(), url.clone(), close_deadline_ms);
                let run_sp = sp.clone();
                let run = move || super::replay::run(&mut poster, &run_sp, prx);
                threads.push(std::thread::Builder::new().name("vario-poster".into()).spawn(run)?);
                SinkImpl::Spooled(tx, sp)
            }
        },
        (None, Some(LocalSink::File(p))) => SinkImpl::File(None, p.clone()),
        (None, Some(LocalSink::Callback(f))) => SinkImpl::Callback(f.clone()),
        (None, None) => SinkImpl::File(None, "vario-events.jsonl".into()),
    };
    let mut s = SenderLoop { sdk: opts.sdk(), opts, shared, sink };
    threads.push(std::thread::Builder::new().name("vario-sender".into()).spawn(move || s.run(rx))?);
    Ok(())
}

impl SenderLoop {
    fn run(&mut self, rx: Receiver<Batch>) {
        while let Ok(b) = rx.recv() {
            match b {
                Batch::Events(events) => self.deliver(events),
                Batch::Marker(ack) => match &self.sink {
                    SinkImpl::Http(posters) => posters.marker(ack),
                    SinkImpl::Spooled(poster, _) => {
                        let _ = poster.send(Encoded::Marker(ack));
                    }
                    _ => {
                        let _ = ack.send(());
                    }
                },
                Batch::Stop(_deadline, ack) => {
                    while let Ok(b) = rx.try_recv() {
                        if let Batch::Events(events) = b {
                            self.deliver(events);
                        }
                    }
                    match &self.sink {
                        // Answered once the workers finished every body; dropping `self` on
                        // return then ends them.
                        SinkImpl::Http(posters) => posters.marker(ack),
                        SinkImpl::Spooled(poster, _) => {
                            let _ = poster.send(Encoded::Stop(ack));
                        }
                        _ => {
                            let _ = ack.send(());
                        }
                    }
                    return;
                }
            }
        }
    }

    fn deliver(&mut self, events: EventBuf) {
        let n = events.len() as u64;
        match &mut self.sink {
            SinkImpl::File(w, path) => {
                if w.is_none() {
                    *w = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&*path)
                        .map(std::io::BufWriter::new)
                        .map_err(|e| log::error!("vario: cannot open event sink {}: {e}", path.display()))
                        .ok();
                }
                let ok = w.as_mut().is_some_and(|w| {
                    events.events().all(|e| w.write_all(e).and_then(|_| w.write_all(b"\n")).is_ok())
                        && w.flush().is_ok()
                });
                if ok {
                    add(&self.shared.c.events_sent, n);
                    inc(&self.shared.c.batches_sent);
                } else {
                    add(&self.shared.c.dropped_sink_error, n);
                }
            }
            SinkImpl::Callback(f) => {
                // A panicking callback must not kill the sender thread (every later batch would
                // vanish): the batch is counted as a sink error instead.
                let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    for e in events.events() {
                        f(std::str::from_utf8(e).unwrap_or_default());
                    }
                }));
                if delivered.is_ok() {
                    add(&self.shared.c.events_sent, n);
                    inc(&self.shared.c.batches_sent);
                } else {
                    log::error!("vario: the event callback panicked; {n} events counted as sink errors");
                    add(&self.shared.c.dropped_sink_error, n);
                }
            }
            SinkImpl::Http(_) | SinkImpl::Spooled(..) => {
                let batch_id = uuid::Uuid::new_v4().to_string();
                let gzip = events.bytes.len() > self.opts.delivery.gzip_threshold;
                match encode(&self.sdk, &batch_id, &events, gzip) {
                    Ok(body) => {
                        let handed = match &self.sink {
                            SinkImpl::Http(posters) => posters.post(batch_id, body.into(), gzip, n),
                            SinkImpl::Spooled(poster, spool) => Self::hand_over(
                                poster,
                                Some(spool),
                                Encoded::Body { batch_id, body: body.into(), gzip, events: n },
                            ),
                            _ => false,
                        };
                        if !handed {
                            add(&self.shared.c.dropped_sink_error, n);
                        }
                    }
                    Err(e) => {
                        log::error!("vario: cannot encode a batch of {n} events: {e}");
                        add(&self.shared.c.dropped_sink_error, n);
                    }
                }
            }
        }
    }
}

impl SenderLoop {
    /// Gives a body to the poster. With a spool and a busy poster (in a request or a retry wait),
    /// the body is written to the spool instead, so the pipeline keeps moving and the caller's
    /// queue does not fill while the spool has room; a full spool means waiting for the poster
    /// (the back-pressure of the spool-less pipeline). False when the poster is gone.
    fn hand_over(poster: &Sender<Encoded>, spool: Option<&SharedSpool>, body: Encoded) -> bool {
        let Some(spool) = spool else { return poster.send(body).is_ok() };
        match poster.try_send(body) {
            Ok(()) => true,
            Err(crossbeam_channel::TrySendError::Full(body)) => {
                if let Encoded::Body { batch_id, body: bytes, gzip, events } = &body
                    && lock(spool).append(batch_id, bytes, *gzip, *events) == Appended::Yes
                {
                    return true;
                }
                poster.send(body).is_ok()
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => false,
        }
    }
}

/// `{batch_id, sent_at, sdk, events: [...]}`, gzipped when `gzip`; a large batch is compressed
/// straight from the event buffer, without first being copied into one body.
fn encode(sdk: &Sdk, batch_id: &str, events: &EventBuf, gzip: bool) -> std::io::Result<Vec<u8>> {
    fn write_body(w: &mut impl Write, sdk: &Sdk, batch_id: &str, events: &EventBuf) -> std::io::Result<()> {
        let head = json!({"batch_id": batch_id, "sent_at": format_rfc3339_millis(now_ms()), "sdk": sdk}).to_string();
        w.write_all(&head.as_bytes()[..head.len() - 1])?;
        w.write_all(b",\"events\":[")?;
        w.write_all(&events.bytes)?;
        w.write_all(b"]}")
    }
    if gzip {
        let mut gz =
            flate2::write::GzEncoder::new(Vec::with_capacity(events.bytes.len() / 4), flate2::Compression::fast());
        write_body(&mut gz, sdk, batch_id, events)?;
        gz.finish()
    } else {
        let mut v = Vec::with_capacity(events.bytes.len() + 160);
        write_body(&mut v, sdk, batch_id, events)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bodies_frame_the_events_and_gzip_round_trips() {
        let mut events = EventBuf::default();
        assert!(events.push_with(|out| serde_json::to_writer(out, &json!({"n": 1})).is_ok()));
        assert!(!events.push_with(|_| false), "a failed writer leaves no trace");
        assert!(events.push_with(|out| serde_json::to_writer(out, &json!({"n": 2})).is_ok()));
        assert_eq!(events.events().collect::<Vec<_>>(), [&br#"{"n":1}"#[..], br#"{"n":2}"#]);
        let sdk = Sdk { name: "vario-test".into(), version: "0".into() };
        let plain = encode(&sdk, "b-1", &events, false).expect("plain");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&encode(&sdk, "b-1", &events, true).expect("gzip")[..])
            .read_to_end(&mut unzipped)
            .expect("valid gzip");
        for body in [plain, unzipped] {
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
            assert_eq!((v["batch_id"].as_str(), v["sdk"]["name"].as_str()), (Some("b-1"), Some("vario-test")));
            assert_eq!(v["events"], json!([{"n": 1}, {"n": 2}]));
        }
    }
}
