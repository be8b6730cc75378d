//! Stage 4, the posters (`vario-poster-<i>` threads, only with an ingestion URL): POST the
//! sender's bodies, retrying 408 / 429 / 5xx and network errors with backoff (SPEC §7).
//!
//! [`DeliveryOptions::max_in_flight`](crate::DeliveryOptions) workers share one body channel, so
//! that many batches are in flight at once: with one, delivery is capped at batch size ÷ round
//! trip, and a batch in a retry would hold up every batch behind it. Batches therefore reach the
//! endpoint in no set order (SPEC §7 asks only that a retry keeps its `batch_id`). Flush and close
//! markers stay ordered: the [`Tracker`] numbers every body and answers a marker only once every
//! body numbered before it is finished (delivered, or dropped and counted).
//!
//! A retried batch re-sends the very bytes of its first attempt (same `batch_id` and `sent_at`),
//! so the endpoint can de-duplicate. `Retry-After` is honoured up to 10 minutes. Redirects are not
//! followed: a 301/302 would turn the POST into a body-less GET whose 2xx would count the batch
//! as delivered. Once `close` sets its deadline, a retry that would cross it gives up and counts
//! the batch as `dropped_at_close`.
//!
//! With a spool (`spool_path`), one `vario-poster` thread runs
//! [`replay::run`](super::replay::run) instead of the workers: it spools what fails instead of
//! retrying in memory, and replays it, using [`Poster::attempt`] for each request.

use crate::clock::now_ms;
use crate::options::Options;
use crate::retry::{RETRY_AFTER_CAP, backoff, redact, retry_after};
use crate::stats::{Shared, add, inc};
use crossbeam_channel::Sender;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One batch body, built and compressed once by the sender.
struct Body {
    /// Its number in the [`Tracker`].
    seq: u64,
    /// For logs.
    batch_id: String,
    body: bytes::Bytes,
    gzip: bool,
    events: u64,
}

/// Which bodies are not finished yet, and the markers waiting for them.
#[derive(Default)]
struct Tracker(Mutex<TrackState>);

#[derive(Default)]
struct TrackState {
    /// The number the next body gets.
    next: u64,
    /// Bodies handed to the workers and not finished (queued or in flight).
    pending: BTreeSet<u64>,
    /// Markers in the order they came, each with the number of the first body after it.
    markers: VecDeque<(u64, Sender<()>)>,
}

impl Tracker {
    fn state(&self) -> std::sync::MutexGuard<'_, TrackState> {
        // Only counters and acks behind it: a panic elsewhere cannot leave them inconsistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(&self) -> u64 {
        let mut s = self.state();
        let seq = s.next;
        s.next += 1;
        s.pending.insert(seq);
        seq
    }

    fn finish(&self, seq: u64) {
        let mut s = self.state();
        s.pending.remove(&seq);
        s.answer();
    }

    fn marker(&self, ack: Sender<()>) {
        let mut s = self.state();
        let at = s.next;
        s.markers.push_back((at, ack));
        s.answer();
    }
}

impl TrackState {
    /// Answers every marker whose earlier bodies are all finished.
    fn answer(&mut self) {
        let oldest = self.pending.first().copied().unwrap_or(u64::MAX);
        while self.markers.front().is_some_and(|(at, _)| *at <= oldest) {
            if let Some((_, ack)) = self.markers.pop_front() {
                let _ = ack.send(());
            }
        }
    }
}

/// The sender's handle on the poster workers. Dropping it closes the body channel: each worker
/// finishes what is queued and ends.
pub(crate) struct Posters {
    tx: Sender<Body>,
    tracker: Arc<Tracker>,
}

impl Posters {
    /// Starts `max_in_flight` workers; their handles go to `threads`.
    pub(crate) fn spawn(
        opts: &Arc<Options>,
        shared: &Arc<Shared>,
        url: &str,
        close_deadline_ms: &Arc<AtomicI64>,
        threads: &mut Vec<JoinHandle<()>>,
    ) -> std::io::Result<Posters> {
        // One body waiting beside those in flight: compressing the next batch overlaps with the
        // requests, and at most `max_in_flight + 1` bodies are held.
        let (tx, rx) = crossbeam_channel::bounded::<Body>(1);
        let tracker = Arc::new(Tracker::default());
        let client = Arc::new(Mutex::new(None));
        for i in 0..opts.delivery.max_in_flight.max(1) {
            let mut worker = Poster {
                opts: opts.clone(),
                shared: shared.clone(),
                client: client.clone(),
                url: url.to_owned(),
                close_deadline_ms: close_deadline_ms.clone(),
            };
            let (rx, tracker) = (rx.clone(), tracker.clone());
            threads.push(std::thread::Builder::new().name(format!("vario-poster-{i}")).spawn(move || {
                while let Ok(b) = rx.recv() {
                    worker.post(&b.batch_id, &b.body, b.gzip, b.events);
                    tracker.finish(b.seq);
                }
            })?);
        }
        Ok(Posters { tx, tracker })
    }

    /// Hands one body to the workers (blocks while all are busy and one body waits: the
    /// back-pressure); false when no worker is left.
    pub(crate) fn post(&self, batch_id: String, body: bytes::Bytes, gzip: bool, events: u64) -> bool {
        let seq = self.tracker.begin();
        if self.tx.send(Body { seq, batch_id, body, gzip, events }).is_err() {
            self.tracker.finish(seq);
            return false;
        }
        true
    }

    /// Answers `ack` once every body posted before this call is finished.
    pub(crate) fn marker(&self, ack: Sender<()>) {
        self.tracker.marker(ack);
    }
}

/// What the sender hands the spool's replay loop: a batch body built and compressed once, or a
/// flush / close marker answered once everything before it was delivered or spooled.
pub(crate) enum Encoded {
    /// One batch: its id (for logs), its body, whether the body is gzipped, how many events.
    Body { batch_id: String, body: bytes::Bytes, gzip: bool, events: u64 },
    /// Answered in order.
    Marker(Sender<()>),
    /// Answered, then the thread ends.
    Stop(Sender<()>),
}

/// How one delivery attempt ended.
pub(super) enum Attempt {
    Done,
    Retry(Option<Duration>),
    Reject(u16),
}

/// One poster: delivers one body at a time, retries included (a worker of [`Posters`], or the
/// one poster of the spool's replay loop).
pub(crate) struct Poster {
    pub(super) opts: Arc<Options>,
    pub(super) shared: Arc<Shared>,
    /// Built on first use and shared by the workers: one connection pool (and one reqwest I/O
    /// thread) for all of them.
    client: Arc<Mutex<Option<reqwest::blocking::Client>>>,
    url: String,
    /// Set by `close`: the epoch-ms deadline after which retries give up (0: not closing).
    pub(super) close_deadline_ms: Arc<AtomicI64>,
}

impl Poster {
    /// The single poster of the spool's replay loop (with its own HTTP client).
    pub(crate) fn new(opts: Arc<Options>, shared: Arc<Shared>, url: String, close_deadline_ms: Arc<AtomicI64>) -> Self {
        Poster { opts, shared, client: Arc::new(Mutex::new(None)), url, close_deadline_ms }
    }

    /// Another poster on this one's HTTP client (one connection pool): a live attempt worker of
    /// the replay loop.
    pub(super) fn worker(&self) -> Poster {
        Poster {
            opts: self.opts.clone(),
            shared: self.shared.clone(),
            client: self.client.clone(),
            url: self.url.clone(),
            close_deadline_ms: self.close_deadline_ms.clone(),
        }
    }

    fn post(&mut self, batch_id: &str, body: &bytes::Bytes, gzip: bool, n: u64) {
        let opts = self.opts.clone();
        let d = &opts.delivery;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(body.clone(), gzip, None) {
                Attempt::Done => return self.delivered(n),
                Attempt::Reject(status) => return self.rejected(batch_id, n, status),
                Attempt::Retry(after) => {
                    if attempt >= d.max_attempts {
                        log::warn!(
                            "vario: batch {batch_id} ({n} events) undeliverable after {attempt} attempts; dropped"
                        );
                        add(&self.shared.c.dropped_retries_exhausted, n);
                        return;
                    }
                    inc(&self.shared.c.batch_retries);
                    let backoff = backoff(d.retry_base, attempt - 1, self.opts.http.max_backoff);
                    // The server's Retry-After wins over our own (shorter) backoff; only an absurd
                    // value is cut, so a misconfigured endpoint cannot park the pipeline for hours.
                    let wait = after.map_or(backoff, |a| a.max(backoff).min(RETRY_AFTER_CAP));
                    if !self.sleep_unless_closing(wait) {
                        add(&self.shared.c.dropped_at_close, n);
                        return;
                    }
                }
            }
        }
    }

    /// Counts a delivered batch of `n` events.
    pub(super) fn delivered(&self, n: u64) {
        add(&self.shared.c.events_sent, n);
        inc(&self.shared.c.batches_sent);
    }

    /// Counts (and logs) a batch the endpoint refused.
    pub(super) fn rejected(&self, batch_id: &str, n: u64, status: u16) {
        log::warn!("vario: ingestion refused batch {batch_id} ({n} events) with HTTP {status}; dropped");
        add(&self.shared.c.dropped_rejected, n);
    }

    /// Sleeps `wait` in short slices; false (without sleeping it out) when `close` set a deadline
    /// that the wait would cross.
    fn sleep_unless_closing(&self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        loop {
            let deadline = self.close_deadline_ms.load(Ordering::Relaxed);
            let wait_ms = i64::try_from(end.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(i64::MAX);
            if deadline != 0 && now_ms().saturating_add(wait_ms) > deadline {
                return false;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// The shared client (a cheap handle), built by the first worker that needs it.
    fn client(&self) -> Option<reqwest::blocking::Client> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            // No redirects (see the module doc).
            match reqwest::blocking::Client::builder()
                .timeout(self.opts.http.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
            {
                Ok(c) => *slot = Some(c),
                Err(e) => log::error!("vario: cannot build the HTTP client: {e}"),
            }
        }
        slot.clone()
    }

    /// One POST; `cap` shortens this request's timeout (close's deadline, with a spool).
    pub(super) fn attempt(&mut self, body: bytes::Bytes, gzip: bool, cap: Option<Duration>) -> Attempt {
        let Some(c) = self.client() else { return Attempt::Retry(None) };
        let mut req = c.post(self.url.as_str()).header("content-type", "application/json");
        if let Some(k) = &self.opts.http.sdk_key {
            req = req.bearer_auth(k);
        }
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        if let Some(cap) = cap {
            req = req.timeout(cap.min(self.opts.http.request_timeout));
        }
        match req.body(body).send() {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match status {
                    200..=299 => Attempt::Done,
                    408 | 429 | 500..=599 => Attempt::Retry(
                        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after),
                    ),
                    _ => Attempt::Reject(status),
                }
            }
            Err(e) => {
                log::debug!("vario: ingestion request failed: {}", redact(&e));
                Attempt::Retry(None)
            }
        }
    }
}
