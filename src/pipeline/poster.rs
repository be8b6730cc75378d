//! Stage 4, the poster (`vario-poster` thread, only with an ingestion URL): POSTs the sender's
//! bodies in order, retrying 408 / 429 / 5xx and network errors with backoff (SPEC §7).
//!
//! A retried batch re-sends the very bytes of its first attempt (same `batch_id` and `sent_at`),
//! so the endpoint can de-duplicate. `Retry-After` is honoured up to 10 minutes. Redirects are not
//! followed: a 301/302 would turn the POST into a body-less GET whose 2xx would count the batch
//! as delivered. Once `close` sets its deadline, a retry that would cross it gives up and counts
//! the batch as `dropped_at_close`.
//!
//! With a spool (`spool_path`), the thread runs [`replay::run`](super::replay::run) instead of
//! [`Poster::run`]: it spools what fails instead of retrying in memory, and replays it, using
//! [`Poster::attempt`] for each request.

use crate::clock::now_ms;
use crate::options::Options;
use crate::retry::{RETRY_AFTER_CAP, backoff, redact, retry_after};
use crate::stats::{Shared, add, inc};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// What the sender hands the poster: a batch body built and compressed once, or a flush / close
/// marker that the poster answers once everything before it was delivered.
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

pub(crate) struct Poster {
    pub(super) opts: Arc<Options>,
    pub(super) shared: Arc<Shared>,
    client: Option<reqwest::blocking::Client>,
    url: String,
    /// Set by `close`: the epoch-ms deadline after which retries give up (0: not closing).
    pub(super) close_deadline_ms: Arc<AtomicI64>,
}

impl Poster {
    pub(crate) fn new(opts: Arc<Options>, shared: Arc<Shared>, url: String, close_deadline_ms: Arc<AtomicI64>) -> Self {
        Poster { opts, shared, client: None, url, close_deadline_ms }
    }

    pub(crate) fn run(&mut self, rx: Receiver<Encoded>) {
        while let Ok(e) = rx.recv() {
            match e {
                Encoded::Body { batch_id, body, gzip, events } => self.post(&batch_id, &body, gzip, events),
                Encoded::Marker(ack) => {
                    let _ = ack.send(());
                }
                Encoded::Stop(ack) => {
                    let _ = ack.send(());
                    return;
                }
            }
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

    /// One POST; `cap` shortens this request's timeout (close's deadline, with a spool).
    pub(super) fn attempt(&mut self, body: bytes::Bytes, gzip: bool, cap: Option<Duration>) -> Attempt {
        if self.client.is_none() {
            // No redirects (see the module doc).
            match reqwest::blocking::Client::builder()
                .timeout(self.opts.http.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
            {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    log::error!("vario: cannot build the HTTP client: {e}");
                    return Attempt::Retry(None);
                }
            }
        }
        let Some(c) = self.client.as_ref() else { return Attempt::Retry(None) };
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
