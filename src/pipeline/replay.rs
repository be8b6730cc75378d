//! The poster thread's loop with a spool (`spool_path`): instead of the workers' in-memory
//! retries ([`Posters`](super::poster::Posters)), what fails is written to the
//! [spool](super::spool) and replayed from there, oldest first. [`run`] is started by the sender
//! on one `vario-poster` thread in place of the workers when a spool is open; it uses the poster's
//! single attempt ([`Poster::attempt`]) and counters, so HTTP handling stays in one place.
//!
//! Live bodies go to `max_in_flight` attempt workers at once, so a slow endpoint does not cap
//! delivery at one batch per round trip. A body is live while the endpoint answers: the spool is
//! empty, or the last attempt succeeded (an outage's backlog is then replayed beside the live
//! traffic instead of absorbing it). A body whose attempt fails is written down, and until an
//! attempt succeeds again everything new is too. Replay uses the same workers: up to
//! `max_in_flight` records, oldest first, are attempted at once; the spool acknowledges them in
//! order ([`Spool::done`](super::spool::Spool::done)), and a failed one is handed out again
//! first once the backoff allows.

use super::poster::{Attempt, Encoded, Poster};
use super::spool::{Appended, SharedSpool, lock};
use crate::clock::now_ms;
use crate::retry::{RETRY_AFTER_CAP, backoff};
use crate::stats::{add, inc};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Time kept back from the close deadline for the last `fsync` and the answer to `close`.
const CLOSE_MARGIN: Duration = Duration::from_millis(200);

/// The poster's loop with a spool: deliver live while the endpoint answers; spool a batch whose
/// attempt fails (or that arrives while the endpoint is failing); replay, oldest first and up to
/// `max_in_flight` at once, whenever the backoff allows; answer flush markers once everything
/// before them is delivered or durable; at close, wait for the attempts in flight, replay until
/// the deadline (less [`CLOSE_MARGIN`]) or the first failed attempt, and leave the rest on disk.
///
/// Retries are the replay: with a spool, `max_attempts` does not apply (a batch stays until it is
/// delivered, refused with a 4xx, or the spool is full when it needs to be written).
pub(crate) fn run(poster: &mut Poster, spool: &SharedSpool, rx: Receiver<Encoded>) {
    let live = match Live::spawn(poster) {
        Ok(l) => l,
        Err(e) => {
            log::error!("vario: cannot start the delivery workers: {e}; one batch at a time");
            Live::none()
        }
    };
    let mut r = Replay { fails: 0, next_try: Instant::now(), stop: None, gave_up: false, live };
    loop {
        // Everything waiting, without blocking: bodies are written down before any replay, so the
        // sender never waits behind a retry.
        r.settle(poster, spool, false);
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
            // The attempts in flight end within their request timeout (capped by the close
            // deadline for those started while closing); what fails among them is written down
            // before the last `fsync`.
            r.settle(poster, spool, true);
            let replayable =
                !r.gave_up && !lock(spool).is_empty() && r.next_try.saturating_duration_since(Instant::now()) < left;
            if !replayable {
                lock(spool).sync();
                r.answer_markers(spool);
                if let Some(ack) = r.stop.take() {
                    let _ = ack.send(());
                }
                return;
            }
        }
        let now = Instant::now();
        if !r.gave_up && now >= r.next_try && !lock(spool).is_empty() && r.fill(poster, spool, left) {
            continue;
        }
        // Given up (closing; the stop is on its way) or nothing on disk: wait for the next body
        // or the next live attempt's answer.
        let wait = if r.gave_up || lock(spool).is_empty() {
            Duration::from_secs(3600)
        } else if now < r.next_try {
            r.next_try.saturating_duration_since(now)
        } else if r.live.busy() > 0 {
            // Every worker busy, or every record on disk out: an answer wakes the loop.
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(10)
        };
        if r.stop.is_some() {
            // Closing: nothing more will arrive; wait for the next replay (or an answer).
            match r.live.done_rx.as_ref().filter(|_| r.live.busy() > 0) {
                Some(done) => {
                    if let Ok(d) = done.recv_timeout(wait) {
                        r.finish(poster, spool, d);
                    }
                }
                None => std::thread::sleep(wait),
            }
            continue;
        }
        // A handle of its own (a cheap clone), so the selection borrows nothing of `r`.
        let done = r.live.done_rx.clone();
        let got = {
            let mut sel = crossbeam_channel::Select::new();
            let body_ix = sel.recv(&rx);
            let done_ix = done.as_ref().map(|d| sel.recv(d));
            match sel.select_timeout(wait) {
                Err(_) => Woke::Timeout,
                Ok(op) if Some(op.index()) == done_ix => match done.as_ref().map(|d| op.recv(d)) {
                    Some(Ok(d)) => Woke::Answer(d),
                    _ => Woke::Timeout,
                },
                Ok(op) => {
                    debug_assert_eq!(op.index(), body_ix);
                    match op.recv(&rx) {
                        Ok(e) => Woke::Body(e),
                        Err(_) => Woke::Closed,
                    }
                }
            }
        };
        match got {
            Woke::Timeout => {}
            Woke::Answer(d) => r.finish(poster, spool, d),
            Woke::Body(e) => r.take(poster, spool, e),
            Woke::Closed => r.stop = Some(crossbeam_channel::bounded(1).0),
        }
    }
}

/// What woke the loop's wait.
enum Woke {
    Timeout,
    Answer((u64, Attempt)),
    Body(Encoded),
    Closed,
}

/// One live attempt for a worker: the job's number, the body, whether it is gzipped, the
/// timeout cap.
struct Job {
    id: u64,
    body: bytes::Bytes,
    gzip: bool,
    cap: Option<Duration>,
}

/// A batch being attempted: live (written down if it fails) or replayed (its spool ticket).
enum Flying {
    Live { batch_id: String, body: bytes::Bytes, gzip: bool, events: u64 },
    Replay { ticket: u64, batch_id: String, events: u64 },
}

/// The live attempt workers (`max_in_flight` threads, each with a poster sharing the replay
/// poster's HTTP client) and what they hold.
struct Live {
    jobs: Option<Sender<Job>>,
    done_rx: Option<Receiver<(u64, Attempt)>>,
    workers: usize,
    next_id: u64,
    flying: BTreeMap<u64, Flying>,
    /// Flush markers with the last job started before them: answered once no job up to it is
    /// in flight (and the spool is synced).
    markers: VecDeque<(u64, Sender<()>)>,
}

impl Live {
    fn none() -> Live {
        Live { jobs: None, done_rx: None, workers: 0, next_id: 0, flying: BTreeMap::new(), markers: VecDeque::new() }
    }

    fn spawn(poster: &Poster) -> std::io::Result<Live> {
        let workers = poster.opts.delivery.max_in_flight.max(1);
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(workers);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<(u64, Attempt)>(workers);
        for i in 0..workers {
            let mut worker = poster.worker();
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            std::thread::Builder::new().name(format!("vario-poster-live-{i}")).spawn(move || {
                while let Ok(j) = job_rx.recv() {
                    let a = worker.attempt(j.body, j.gzip, j.cap);
                    if done_tx.send((j.id, a)).is_err() {
                        return;
                    }
                }
            })?;
        }
        Ok(Live {
            jobs: Some(jobs),
            done_rx: Some(done_rx),
            workers,
            next_id: 0,
            flying: BTreeMap::new(),
            markers: VecDeque::new(),
        })
    }

    fn busy(&self) -> usize {
        self.flying.len()
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
    live: Live,
}

impl Replay {
    fn take(&mut self, poster: &mut Poster, spool: &SharedSpool, e: Encoded) {
        match e {
            Encoded::Body { batch_id, body, gzip, events } => {
                // All workers busy: wait for one answer first (the back-pressure), which may also
                // say the endpoint is failing (then this body goes to the spool).
                while self.live.jobs.is_some() && self.live.busy() >= self.live.workers {
                    self.settle_one(poster, spool);
                }
                let closing = self.stop.is_some() || poster.close_deadline_ms.load(Ordering::Relaxed) != 0;
                let cap = closing.then(|| close_time_left(poster));
                // Live while the endpoint answers: with the spool empty, or with a backlog left
                // by an outage that has ended (the last attempt succeeded). Feeding the backlog
                // instead would cap delivery at the replay's one batch per round trip until it
                // drained, and under steady traffic it never would.
                let healthy = self.fails == 0 || lock(spool).is_empty();
                let live = !self.gave_up && healthy && Instant::now() >= self.next_try && cap != Some(Duration::ZERO);
                if live {
                    if let Some(jobs) = &self.live.jobs {
                        let id = self.live.next_id;
                        self.live.next_id += 1;
                        if jobs.send(Job { id, body: body.clone(), gzip, cap }).is_ok() {
                            self.live.flying.insert(id, Flying::Live { batch_id, body, gzip, events });
                            return;
                        }
                    }
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
                let last = self.live.next_id;
                self.live.markers.push_back((last, ack));
                self.answer_markers(spool);
            }
            Encoded::Stop(ack) => self.stop = Some(ack),
        }
    }

    /// Handles every live answer already in (all of them, waiting, with `wait`).
    fn settle(&mut self, poster: &mut Poster, spool: &SharedSpool, wait: bool) {
        while self.live.busy() > 0 {
            let Some(done) = &self.live.done_rx else { return };
            let d = if wait {
                match done.recv() {
                    Ok(d) => d,
                    Err(_) => return self.lose_flying(poster, spool),
                }
            } else {
                match done.try_recv() {
                    Ok(d) => d,
                    Err(crossbeam_channel::TryRecvError::Empty) => return,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return self.lose_flying(poster, spool),
                }
            };
            self.finish(poster, spool, d);
        }
    }

    /// Waits for one live answer.
    fn settle_one(&mut self, poster: &mut Poster, spool: &SharedSpool) {
        let Some(done) = &self.live.done_rx else { return };
        match done.recv() {
            Ok(d) => self.finish(poster, spool, d),
            Err(_) => self.lose_flying(poster, spool),
        }
    }

    /// The workers are gone (they never end while the loop runs; only a panic would do this):
    /// what they held is written down, and delivery goes on one batch at a time.
    fn lose_flying(&mut self, poster: &mut Poster, spool: &SharedSpool) {
        for (_, f) in std::mem::take(&mut self.live.flying) {
            match f {
                Flying::Live { batch_id, body, gzip, events } => {
                    spool_or_drop(poster, spool, &batch_id, &body, gzip, events)
                }
                Flying::Replay { ticket, .. } => lock(spool).retry(ticket),
            }
        }
        self.live.jobs = None;
        self.live.done_rx = None;
        self.answer_markers(spool);
    }

    /// One live answer: counted, or, failed, written down (and the loop backs off).
    fn finish(&mut self, poster: &mut Poster, spool: &SharedSpool, (id, a): (u64, Attempt)) {
        let Some(f) = self.live.flying.remove(&id) else { return };
        match (f, a) {
            (Flying::Live { events, .. }, Attempt::Done) => {
                self.fails = 0;
                poster.delivered(events);
            }
            (Flying::Live { batch_id, events, .. }, Attempt::Reject(status)) => {
                poster.rejected(&batch_id, events, status)
            }
            (Flying::Live { batch_id, body, gzip, events }, Attempt::Retry(after)) => {
                self.failed(poster, after);
                spool_or_drop(poster, spool, &batch_id, &body, gzip, events);
            }
            (Flying::Replay { ticket, events, .. }, Attempt::Done) => {
                self.fails = 0;
                lock(spool).done(ticket);
                add(&poster.shared.c.events_replayed, events);
                poster.delivered(events);
            }
            (Flying::Replay { ticket, batch_id, events }, Attempt::Reject(status)) => {
                lock(spool).done(ticket);
                poster.rejected(&batch_id, events, status);
            }
            (Flying::Replay { ticket, .. }, Attempt::Retry(after)) => {
                self.failed(poster, after);
                lock(spool).retry(ticket);
            }
        }
        self.answer_markers(spool);
    }

    /// Answers the markers whose earlier bodies are all delivered or durable (replayed records
    /// are durable already: only live ones count).
    fn answer_markers(&mut self, spool: &SharedSpool) {
        let oldest_flying = self.live.flying.iter().find(|(_, f)| matches!(f, Flying::Live { .. })).map(|(id, _)| *id);
        let mut synced = false;
        while let Some((last, _)) = self.live.markers.front() {
            if oldest_flying.is_some_and(|o| o < *last) {
                break;
            }
            if !synced {
                lock(spool).sync();
                synced = true;
            }
            if let Some((_, ack)) = self.live.markers.pop_front() {
                let _ = ack.send(());
            }
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

    /// Hands spooled records, oldest first, to the free workers; true when it handed out any.
    /// Without workers (they could not be started), replays the oldest record here.
    fn fill(&mut self, poster: &mut Poster, spool: &SharedSpool, cap: Option<Duration>) -> bool {
        let Some(jobs) = self.live.jobs.clone() else {
            self.replay_here(poster, spool, cap);
            return true;
        };
        let mut any = false;
        while self.live.busy() < self.live.workers {
            let Some((ticket, rec)) = lock(spool).next_out(self.live.workers) else { break };
            let id = self.live.next_id;
            self.live.next_id += 1;
            if jobs.send(Job { id, body: rec.body.clone(), gzip: rec.gzip, cap }).is_err() {
                lock(spool).retry(ticket);
                break;
            }
            self.live.flying.insert(id, Flying::Replay { ticket, batch_id: rec.batch_id, events: rec.events });
            any = true;
        }
        any
    }

    fn replay_here(&mut self, poster: &mut Poster, spool: &SharedSpool, cap: Option<Duration>) {
        // The lock is not held during the request: the sender may spill meanwhile.
        let Some((ticket, rec)) = lock(spool).next_out(1) else { return };
        match poster.attempt(rec.body.clone(), rec.gzip, cap) {
            Attempt::Done => {
                self.fails = 0;
                lock(spool).done(ticket);
                add(&poster.shared.c.events_replayed, rec.events);
                poster.delivered(rec.events);
            }
            Attempt::Reject(status) => {
                lock(spool).done(ticket);
                poster.rejected(&rec.batch_id, rec.events, status);
            }
            Attempt::Retry(after) => {
                self.failed(poster, after);
                lock(spool).retry(ticket);
            }
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
