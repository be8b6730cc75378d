//! The poster thread's loop with a spool (`spool_path`): instead of the workers' in-memory
//! retries ([`Posters`](super::poster::Posters)), what fails is written to the
//! [spool](super::spool) and replayed from there, oldest first. [`run`] is started by the sender
//! on one `vario-poster` thread in place of the workers when a spool is open; it uses the poster's
//! single attempt ([`Poster::attempt`]) and counters, so HTTP handling stays in one place. One
//! thread means one batch in flight with a spool (`max_in_flight` applies without one).

use super::poster::{Attempt, Encoded, Poster};
use super::spool::{Appended, SharedSpool, lock};
use crate::clock::now_ms;
use crate::retry::{RETRY_AFTER_CAP, backoff};
use crate::stats::{add, inc};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Time kept back from the close deadline for the last `fsync` and the answer to `close`.
const CLOSE_MARGIN: Duration = Duration::from_millis(200);

/// The poster's loop with a spool: deliver live while the spool is empty; spool a batch whose
/// first attempt fails (or that arrives while older ones wait on disk); replay the oldest record
/// whenever the backoff allows; answer flush markers once everything before them is delivered or
/// durable; at close, replay until the deadline (less [`CLOSE_MARGIN`]) or the first failed
/// attempt, and leave the rest on disk.
///
/// Retries are the replay: with a spool, `max_attempts` does not apply (a batch stays until it is
/// delivered, refused with a 4xx, or the spool is full when it needs to be written).
pub(crate) fn run(poster: &mut Poster, spool: &SharedSpool, rx: Receiver<Encoded>) {
    let mut r = Replay { fails: 0, next_try: Instant::now(), stop: None, gave_up: false };
    loop {
        // Everything waiting, without blocking: bodies are written down before any replay, so the
        // sender never waits behind a retry.
        while r.stop.is_none() {
            match rx.try_recv() {
                Ok(e) => r.take(poster, spool, e),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    r.stop = Some(crossbeam_channel::bounded(1).0);
                }
            }
        }
        let left = r.stop.as_ref().map(|_| close_time_left(poster));
        if let Some(left) = left {
            let replayable =
                !r.gave_up && !lock(spool).is_empty() && r.next_try.saturating_duration_since(Instant::now()) < left;
            if !replayable {
                lock(spool).sync();
                if let Some(ack) = r.stop.take() {
                    let _ = ack.send(());
                }
                return;
            }
        }
        let now = Instant::now();
        if !r.gave_up && now >= r.next_try && !lock(spool).is_empty() {
            r.replay_one(poster, spool, left);
            continue;
        }
        // Given up (closing; the stop is on its way) or nothing on disk: wait for the next body.
        let wait = if r.gave_up || lock(spool).is_empty() {
            Duration::from_secs(3600)
        } else {
            r.next_try.saturating_duration_since(now)
        };
        if r.stop.is_some() {
            // Closing: nothing more will arrive; wait for the next replay.
            std::thread::sleep(wait);
            continue;
        }
        match rx.recv_timeout(wait) {
            Ok(e) => r.take(poster, spool, e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => r.stop = Some(crossbeam_channel::bounded(1).0),
        }
    }
}

/// Time left before close's deadline, less [`CLOSE_MARGIN`] (zero without a deadline: an
/// orphaned pipeline only writes down what it holds).
fn close_time_left(poster: &Poster) -> Duration {
    let deadline = poster.close_deadline_ms.load(Ordering::Relaxed);
    if deadline == 0 {
        return Duration::ZERO;
    }
    let ms = u64::try_from(deadline.saturating_sub(now_ms())).unwrap_or(0);
    Duration::from_millis(ms).saturating_sub(CLOSE_MARGIN)
}

struct Replay {
    /// Failed attempts in a row (live or replayed).
    fails: u32,
    /// No attempt before this.
    next_try: Instant,
    /// Close's answer, once the stop arrived.
    stop: Option<Sender<()>>,
    /// An attempt failed while closing: the endpoint is down or refusing, and what is left is
    /// durable on disk. Retrying until the deadline would only hold up the host's shutdown (and
    /// leave no time for the last `fsync` on a slow machine), so close stops replaying.
    gave_up: bool,
}

impl Replay {
    fn take(&mut self, poster: &mut Poster, spool: &SharedSpool, e: Encoded) {
        match e {
            Encoded::Body { batch_id, body, gzip, events } => {
                let closing = self.stop.is_some() || poster.close_deadline_ms.load(Ordering::Relaxed) != 0;
                let cap = closing.then(|| close_time_left(poster));
                let live = !self.gave_up
                    && lock(spool).is_empty()
                    && Instant::now() >= self.next_try
                    && cap != Some(Duration::ZERO);
                if live {
                    match poster.attempt(body.clone(), gzip, cap) {
                        Attempt::Done => {
                            self.fails = 0;
                            poster.delivered(events);
                            return;
                        }
                        Attempt::Reject(status) => return poster.rejected(&batch_id, events, status),
                        Attempt::Retry(after) => self.failed(poster, after),
                    }
                }
                spool_or_drop(poster, spool, &batch_id, &body, gzip, events);
            }
            Encoded::Marker(ack) => {
                lock(spool).sync();
                let _ = ack.send(());
            }
            Encoded::Stop(ack) => self.stop = Some(ack),
        }
    }

    fn failed(&mut self, poster: &Poster, after: Option<Duration>) {
        self.fails = self.fails.saturating_add(1);
        self.gave_up |= self.stop.is_some() || poster.close_deadline_ms.load(Ordering::Relaxed) != 0;
        inc(&poster.shared.c.batch_retries);
        let o = &poster.opts;
        let b = backoff(o.delivery.retry_base, self.fails - 1, o.http.max_backoff);
        self.next_try = Instant::now() + after.map_or(b, |a| a.max(b).min(RETRY_AFTER_CAP));
    }

    fn replay_one(&mut self, poster: &mut Poster, spool: &SharedSpool, cap: Option<Duration>) {
        // The lock is not held during the request: the sender may spill meanwhile.
        let Some(rec) = lock(spool).peek() else { return };
        match poster.attempt(rec.body.clone(), rec.gzip, cap) {
            Attempt::Done => {
                self.fails = 0;
                lock(spool).ack();
                add(&poster.shared.c.events_replayed, rec.events);
                poster.delivered(rec.events);
            }
            Attempt::Reject(status) => {
                lock(spool).ack();
                poster.rejected(&rec.batch_id, rec.events, status);
            }
            Attempt::Retry(after) => self.failed(poster, after),
        }
    }
}

/// Writes a batch down; counted in `dropped_spool_full` (or `dropped_sink_error` when the write
/// failed) when it cannot be.
fn spool_or_drop(poster: &Poster, spool: &SharedSpool, batch_id: &str, body: &[u8], gzip: bool, n: u64) {
    match lock(spool).append(batch_id, body, gzip, n) {
        Appended::Yes => {}
        Appended::Full => {
            log::warn!("vario: the spool is full; batch {batch_id} ({n} events) dropped");
            add(&poster.shared.c.dropped_spool_full, n);
        }
        Appended::Failed => add(&poster.shared.c.dropped_sink_error, n),
    }
}
