//! The disk spool (opt-in with `spool_path`, only with an ingestion URL): batches the poster
//! cannot deliver now go to bounded, append-only segment files and are replayed, oldest first,
//! when the endpoint answers again: later in this process or in the next one.
//!
//! Layout of the spool directory:
//!
//! | file | what |
//! |---|---|
//! | `.lock` | held with [`File::try_lock`] while a client uses the directory: two processes never share a spool (the second one's build fails, `INVALID_OPTIONS`) |
//! | `<seq, 20 digits>.vspool` | a segment: records appended in order; a new one is started past [`segment_bytes`] |
//! | `cursor` | where replay stands: the oldest segment's sequence number and the offset of its first unacknowledged record (u64 LE each, then their CRC-32), rewritten after each acknowledgement |
//!
//! A record is `b"VSR1"`, the payload length (u32 LE), the CRC-32 of the payload (u32 LE), then the
//! payload: flags (u8, bit 0: gzip), the event count (u32 LE), the batch id's length (u8), the
//! batch id, and the request body exactly as it was (or would have been) posted, so a replay
//! re-sends the same `batch_id`, `sent_at` and `event_id`s and the endpoint can de-duplicate.
//!
//! Reading a segment stops at the first record that is truncated, has a bad magic or a CRC
//! mismatch: it and the rest of its segment are skipped and counted once in
//! `spool_corrupt_records`, never an error. A segment is deleted once every record in it was
//! acknowledged (2xx, or refused with a 4xx, which is counted as `dropped_rejected`). The cursor
//! lets the next process skip the acknowledged head of a half-replayed segment. Replay reads ahead:
//! at most `max_in_flight` records past the acknowledged head are read and out at once
//! ([`Spool::next_out`]), their answers come in any order, and records are acknowledged in
//! order, each once it and every record before it are done ([`Spool::done`]). A process killed
//! mid-replay therefore re-sends at most `max_in_flight` batches, each with its own `batch_id`
//! and `event_id`s for the endpoint to de-duplicate (a cursor that does not check
//! out is ignored: that segment is then replayed from its start, at least once).
//!
//! Bound: the segment files never exceed `spool_max_bytes` together; a batch that does not fit is
//! not written (the poster counts it in `dropped_spool_full`).
//!
//! Durability: each record is written with one `write` call before it counts as spooled, so it
//! survives the process dying (`kill -9`, OOM) the moment that call returns. `fsync`
//! (`sync_data`) runs when a flush or close reaches the poster, when a segment is closed, and at
//! most once a second otherwise: a machine crash can lose up to the last second of records (their
//! segment's tail is then skipped and counted on the next start), without paying a disk flush per
//! batch while the endpoint is down.
//!
//! The [`Spool`] is shared (behind a mutex) by the sender, which spills a batch here when the
//! poster is busy, and the poster thread's [replay loop](super::replay), which spools what it
//! cannot deliver and replays. Neither is the caller's thread: nothing is written to disk there.
//!
//! Files and format only; imports only [`crate::stats`].

use crate::stats::{Shared, add, inc};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The first four bytes of every record.
pub(crate) const MAGIC: &[u8; 4] = b"VSR1";
/// Magic, payload length, CRC-32.
pub(crate) const HEADER: usize = 12;
/// Flags, event count, batch id length.
const PAYLOAD_HEAD: usize = 6;
/// Segment files end in this.
const SEGMENT_EXT: &str = "vspool";
/// Longest gap between `fsync`s while records are being written.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Size at which a new segment is started: an eighth of the bound, between 64 KiB and 4 MiB, so
/// the acknowledged head of the oldest segment (freed only when the whole segment is) is a
/// small part of the bound. A record larger than this gets a segment of its own.
pub(crate) fn segment_bytes(max_bytes: u64) -> u64 {
    (max_bytes / 8).clamp(64 << 10, 4 << 20)
}

/// One spooled batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub batch_id: String,
    pub body: bytes::Bytes,
    pub gzip: bool,
    pub events: u64,
}

/// Why bytes are not a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Corrupt {
    /// Fewer bytes than the header or the payload length says.
    Truncated,
    /// Not `VSR1`.
    Magic,
    /// The CRC-32 does not match.
    Checksum,
    /// The CRC matches but the payload's own fields do not add up.
    Payload,
}

/// The bytes of one record (header and payload).
pub(crate) fn encode_record(batch_id: &str, body: &[u8], gzip: bool, events: u64) -> Vec<u8> {
    // A batch id is a UUID (36 bytes); anything longer is cut rather than refused.
    let id = &batch_id.as_bytes()[..batch_id.len().min(255)];
    let mut payload = Vec::with_capacity(PAYLOAD_HEAD + id.len() + body.len());
    payload.push(u8::from(gzip));
    payload.extend_from_slice(&u32::try_from(events).unwrap_or(u32::MAX).to_le_bytes());
    payload.push(id.len() as u8);
    payload.extend_from_slice(id);
    payload.extend_from_slice(body);
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The payload length a header announces, after checking the magic.
pub(crate) fn header_len(header: &[u8]) -> Result<usize, Corrupt> {
    if header.len() < HEADER {
        return Err(Corrupt::Truncated);
    }
    if &header[..4] != MAGIC {
        return Err(Corrupt::Magic);
    }
    Ok(u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize)
}

/// Decodes one record from `header` (12 bytes) and its `payload`.
pub(crate) fn decode_record(header: &[u8], payload: &[u8]) -> Result<Record, Corrupt> {
    let len = header_len(header)?;
    if payload.len() < len {
        return Err(Corrupt::Truncated);
    }
    let payload = &payload[..len];
    let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if crc32fast::hash(payload) != crc {
        return Err(Corrupt::Checksum);
    }
    if payload.len() < PAYLOAD_HEAD {
        return Err(Corrupt::Payload);
    }
    let events = u64::from(u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]));
    let id_len = payload[5] as usize;
    let Some(id) = payload.get(PAYLOAD_HEAD..PAYLOAD_HEAD + id_len) else { return Err(Corrupt::Payload) };
    let batch_id = std::str::from_utf8(id).map_err(|_| Corrupt::Payload)?.to_owned();
    Ok(Record {
        batch_id,
        body: bytes::Bytes::copy_from_slice(&payload[PAYLOAD_HEAD + id_len..]),
        gzip: payload[0] & 1 == 1,
        events,
    })
}

/// Every record of a segment's bytes, and the corruption that ended reading early, if any (the
/// whole-file form of what [`Spool::peek`] reads record by record).
#[cfg(test)]
pub(crate) fn decode_segment(bytes: &[u8]) -> (Vec<Record>, Option<Corrupt>) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let r = header_len(rest).and_then(|len| {
            let payload = rest.get(HEADER..HEADER + len).ok_or(Corrupt::Truncated)?;
            decode_record(rest, payload).map(|r| (r, HEADER + len))
        });
        match r {
            Ok((r, n)) => {
                out.push(r);
                at += n;
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// Why a spool directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// Another client (in this or another process) holds the directory's lock.
    #[error("spool_path {0} is in use by another client (its .lock is held)")]
    Locked(PathBuf),
    /// Creating, locking or listing the directory failed.
    #[error("spool_path {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// How an append ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Written (durable against process death).
    Yes,
    /// Would exceed `spool_max_bytes`: not written.
    Full,
    /// The write failed (logged): not written.
    Failed,
}

struct Segment {
    seq: u64,
    path: PathBuf,
    /// Bytes in the file (for the one being written: bytes of whole records written).
    len: u64,
    /// Offset of the oldest record not yet acknowledged.
    read_at: u64,
    /// Offset of the next record to read ahead (`read_at <= scan_at`).
    scan_at: u64,
    /// Where an unreadable record starts: the segment's records end there.
    corrupt_at: Option<u64>,
    reader: Option<File>,
}

impl Segment {
    fn new(seq: u64, path: PathBuf, len: u64, read_at: u64) -> Segment {
        Segment { seq, path, len, read_at, scan_at: read_at, corrupt_at: None, reader: None }
    }

    /// The end of its readable records.
    fn end(&self) -> u64 {
        self.corrupt_at.unwrap_or(self.len)
    }
}

/// A record read ahead of the acknowledged head, and where its replay stands.
struct Ahead {
    ticket: u64,
    rec: Record,
    /// Its size on disk.
    n: u64,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Read, not handed out (or handed back after a failed attempt).
    Waiting,
    /// Being attempted.
    Out,
    /// Delivered or refused; acknowledged once every record before it is too.
    Done,
}

/// A spool directory, locked for this client. See the module doc.
pub(crate) struct Spool {
    dir: PathBuf,
    /// Holds the directory's lock until dropped.
    _lock: File,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is being written when `writer` is set.
    segments: VecDeque<Segment>,
    writer: Option<File>,
    next_seq: u64,
    /// Bytes of every segment file.
    disk_bytes: u64,
    /// Bytes of records not yet acknowledged.
    pending_bytes: u64,
    /// Records read ahead of the acknowledged head, oldest first (at most those out at once and
    /// the ones handed back).
    ahead: VecDeque<Ahead>,
    next_ticket: u64,
    unsynced: bool,
    last_sync: Instant,
    /// The `cursor` file (None when it cannot be opened: replay is then at least once per segment).
    cursor: Option<File>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).field("pending_bytes", &self.pending_bytes).finish()
    }
}

/// The spool as the sender and the poster share it.
pub(crate) type SharedSpool = Arc<Mutex<Spool>>;

/// Locks `spool` (a panic while it was held leaves it usable: every method keeps it consistent
/// between calls).
pub(crate) fn lock(spool: &SharedSpool) -> std::sync::MutexGuard<'_, Spool> {
    spool.lock().unwrap_or_else(|p| p.into_inner())
}

fn segment_seq(path: &Path) -> Option<u64> {
    if path.extension()? != SEGMENT_EXT {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

impl Spool {
    /// Creates `dir` if needed, takes its lock and lists the segments an earlier client left.
    pub(crate) fn open(dir: &Path, max_bytes: u64, shared: Arc<Shared>) -> Result<Spool, OpenError> {
        let io = |e| OpenError::Io(dir.to_owned(), e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock")).map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(dir.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if let Some(seq) = segment_seq(&path) {
                let len = std::fs::metadata(&path).map_err(io)?.len();
                if len == 0 {
                    let _ = std::fs::remove_file(&path);
                } else {
                    found.push(Segment::new(seq, path, len, 0));
                }
            }
        }
        found.sort_by_key(|s| s.seq);
        let cursor_path = dir.join("cursor");
        let mut skipped = 0;
        let saved = std::fs::read(&cursor_path).ok().and_then(|b| decode_cursor(&b));
        if let Some((seq, at)) = saved
            && let Some(seg) = found.first_mut().filter(|s| s.seq == seq && at <= s.len)
        {
            seg.read_at = at;
            seg.scan_at = at;
            skipped = at;
        }
        let mut cursor =
            std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&cursor_path).ok();
        if skipped == 0
            && let Some(f) = cursor.as_mut()
        {
            // A cursor for a segment that is gone must never apply to a later one.
            let _ = f.set_len(0);
        }
        let disk_bytes = found.iter().map(|s| s.len).sum();
        // Never reuse a sequence number, not even the cursor's.
        let next_seq = found.last().map(|s| s.seq).max(saved.map(|c| c.0)).map_or(1, |s| s + 1);
        if !found.is_empty() {
            log::info!("vario: spool {} holds {} segments ({disk_bytes} bytes) to replay", dir.display(), found.len());
        }
        let s = Spool {
            dir: dir.to_owned(),
            _lock: lock,
            max_bytes,
            segment_bytes: segment_bytes(max_bytes),
            segments: found.into(),
            writer: None,
            next_seq,
            disk_bytes,
            pending_bytes: disk_bytes - skipped,
            ahead: VecDeque::new(),
            next_ticket: 0,
            unsynced: false,
            last_sync: Instant::now(),
            cursor,
            shared,
        };
        let mut s = s;
        // A segment the cursor says is fully acknowledged goes now.
        s.drop_finished();
        s.publish();
        Ok(s)
    }

    /// True when no record waits for delivery.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending_bytes == 0
    }

    fn publish(&self) {
        self.shared.c.spool_bytes.store(self.disk_bytes, Ordering::Relaxed);
    }

    /// Writes one batch (counted in `events_spooled` when written). Does not count a drop: the
    /// caller decides what `Full` means (the poster drops, the sender waits for the poster).
    pub(crate) fn append(&mut self, batch_id: &str, body: &[u8], gzip: bool, events: u64) -> Appended {
        let rec = encode_record(batch_id, body, gzip, events);
        let n = rec.len() as u64;
        if self.disk_bytes + n > self.max_bytes {
            return Appended::Full;
        }
        match self.write(&rec) {
            Ok(()) => {
                self.disk_bytes += n;
                self.pending_bytes += n;
                add(&self.shared.c.events_spooled, events);
                if self.last_sync.elapsed() >= SYNC_EVERY {
                    self.sync();
                }
                self.publish();
                Appended::Yes
            }
            Err(e) => {
                log::error!("vario: cannot write to the spool {}: {e}", self.dir.display());
                Appended::Failed
            }
        }
    }

    fn write(&mut self, rec: &[u8]) -> std::io::Result<()> {
        let n = rec.len() as u64;
        let rotate = match (&self.writer, self.segments.back()) {
            (Some(_), Some(seg)) => seg.len > 0 && seg.len + n > self.segment_bytes,
            _ => true,
        };
        if rotate {
            self.sync();
            self.writer = None;
            let seq = self.next_seq;
            let path = self.dir.join(format!("{seq:020}.{SEGMENT_EXT}"));
            let f = std::fs::OpenOptions::new().create_new(true).append(true).open(&path)?;
            self.next_seq += 1;
            self.segments.push_back(Segment::new(seq, path, 0, 0));
            self.writer = Some(f);
        }
        let (Some(w), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(std::io::Error::other("no segment to write"));
        };
        if let Err(e) = w.write_all(rec) {
            // A partial record (disk full) is cut off again, so the segment stays readable.
            let _ = w.set_len(seg.len);
            return Err(e);
        }
        seg.len += n;
        self.unsynced = true;
        Ok(())
    }

    /// `fsync`s the segment being written (and, after a new segment was created, the directory).
    pub(crate) fn sync(&mut self) {
        if self.unsynced {
            if let Some(w) = &self.writer
                && let Err(e) = w.sync_data()
            {
                log::warn!("vario: fsync of the spool failed: {e}");
            }
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
    }

    /// The oldest record not yet acknowledged (whatever its replay state); a truncated or corrupt
    /// one ends its segment (counted in `spool_corrupt_records`), and reading goes on with the
    /// next segment. With [`Spool::ack`]: one record at a time.
    pub(crate) fn peek(&mut self) -> Option<Record> {
        if self.ahead.is_empty() {
            self.read_next()?;
        }
        self.ahead.front().map(|a| a.rec.clone())
    }

    /// The record [`Spool::peek`] returned is done with (delivered or refused).
    pub(crate) fn ack(&mut self) {
        if let Some(a) = self.ahead.front_mut() {
            a.state = State::Done;
        }
        self.ack_done();
    }

    /// The oldest record not handed out yet, and its ticket for [`Spool::done`] or
    /// [`Spool::retry`]; `None` when every record on disk is out or done, or when `window`
    /// records past the acknowledged head are read already. The window bounds what a crash
    /// re-sends: records answered while an older one is still out are acknowledged only with it.
    pub(crate) fn next_out(&mut self, window: usize) -> Option<(u64, Record)> {
        if !self.ahead.iter().any(|a| a.state == State::Waiting) {
            if self.ahead.len() >= window.max(1) {
                return None;
            }
            self.read_next()?;
        }
        let a = self.ahead.iter_mut().find(|a| a.state == State::Waiting)?;
        a.state = State::Out;
        Some((a.ticket, a.rec.clone()))
    }

    /// The record of `ticket` is delivered or refused: it is acknowledged as soon as every record
    /// before it is too.
    pub(crate) fn done(&mut self, ticket: u64) {
        if let Some(a) = self.ahead.iter_mut().find(|a| a.ticket == ticket) {
            a.state = State::Done;
        }
        self.ack_done();
    }

    /// The attempt of `ticket` failed: it is the next to hand out again (with any older one).
    pub(crate) fn retry(&mut self, ticket: u64) {
        if let Some(a) = self.ahead.iter_mut().find(|a| a.ticket == ticket && a.state == State::Out) {
            a.state = State::Waiting;
        }
    }

    /// Reads the next record after those read ahead; `None` when there is none yet.
    fn read_next(&mut self) -> Option<()> {
        loop {
            let writing = self.writer.is_some();
            let last = self.segments.len().checked_sub(1)?;
            let i = self.segments.iter().position(|s| s.scan_at < s.end())?;
            let seg = &mut self.segments[i];
            match read_at(seg, seg.scan_at) {
                Ok((rec, n)) => {
                    seg.scan_at += n;
                    let ticket = self.next_ticket;
                    self.next_ticket += 1;
                    self.ahead.push_back(Ahead { ticket, rec, n, state: State::Waiting });
                    return Some(());
                }
                Err(e) => {
                    let skipped = seg.len - seg.scan_at;
                    log::warn!(
                        "vario: spool segment {} is corrupt at byte {} ({e:?}); {skipped} bytes skipped",
                        seg.path.display(),
                        seg.scan_at
                    );
                    inc(&self.shared.c.spool_corrupt_records);
                    self.pending_bytes = self.pending_bytes.saturating_sub(skipped);
                    seg.corrupt_at = Some(seg.scan_at);
                    if writing && i == last {
                        // Never append after a tail that cannot be read.
                        self.writer = None;
                    }
                    self.drop_finished();
                }
            }
        }
    }

    /// Acknowledges the done records at the head, in order, and deletes segments whose records
    /// are all acknowledged.
    fn ack_done(&mut self) {
        let mut acked = false;
        while self.ahead.front().is_some_and(|a| a.state == State::Done) {
            let Some(a) = self.ahead.pop_front() else { break };
            self.pending_bytes = self.pending_bytes.saturating_sub(a.n);
            // The head record lives in the first segment that still has unacknowledged bytes.
            if let Some(seg) = self.segments.iter_mut().find(|s| s.read_at < s.end()) {
                seg.read_at += a.n;
            }
            acked = true;
        }
        if acked {
            self.drop_finished();
            self.save_cursor();
            self.publish();
        }
    }

    /// Deletes the segments at the front whose records are all acknowledged. The segment being
    /// written goes too once fully acknowledged: the next record starts a new one.
    fn drop_finished(&mut self) {
        while let Some(seg) = self.segments.front() {
            if seg.read_at < seg.end() {
                break;
            }
            if self.segments.len() == 1 && self.writer.is_some() {
                if seg.len == 0 {
                    break;
                }
                self.writer = None;
                self.unsynced = false;
            }
            self.remove_front();
        }
    }

    /// Points the cursor at the oldest segment's first unacknowledged record (empty: none).
    fn save_cursor(&mut self) {
        let at = self.segments.front().map(|s| (s.seq, s.read_at));
        if let Some(f) = self.cursor.as_mut() {
            // Not fsynced: losing it to a machine crash only means replaying that head again.
            let _ = match at {
                Some((seq, at)) => f.seek(SeekFrom::Start(0)).and_then(|_| f.write_all(&encode_cursor(seq, at))),
                None => f.set_len(0),
            };
        }
    }

    fn remove_front(&mut self) {
        if let Some(seg) = self.segments.pop_front() {
            drop(seg.reader);
            if let Err(e) = std::fs::remove_file(&seg.path) {
                log::warn!("vario: cannot delete the spool segment {}: {e}", seg.path.display());
            }
            self.disk_bytes = self.disk_bytes.saturating_sub(seg.len);
        }
        self.save_cursor();
        self.publish();
    }
}

/// The `cursor` file's bytes.
fn encode_cursor(seq: u64, at: u64) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    b[8..16].copy_from_slice(&at.to_le_bytes());
    let crc = crc32fast::hash(&b[..16]);
    b[16..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Segment and offset from a `cursor` file, if it checks out.
fn decode_cursor(b: &[u8]) -> Option<(u64, u64)> {
    let b: &[u8; 20] = b.get(..20)?.try_into().ok()?;
    let crc = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
    if crc32fast::hash(&b[..16]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(b[..8].try_into().ok()?);
    let at = u64::from_le_bytes(b[8..16].try_into().ok()?);
    Some((seq, at))
}

/// Reads the record at offset `at` of `seg`: it and its size on disk.
fn read_at(seg: &mut Segment, at: u64) -> Result<(Record, u64), Corrupt> {
    if seg.reader.is_none() {
        seg.reader = File::open(&seg.path).ok();
    }
    let Some(f) = seg.reader.as_mut() else { return Err(Corrupt::Truncated) };
    let left = seg.len - at;
    if left < HEADER as u64 {
        return Err(Corrupt::Truncated);
    }
    let mut header = [0u8; HEADER];
    f.seek(SeekFrom::Start(at)).and_then(|_| f.read_exact(&mut header)).map_err(|_| Corrupt::Truncated)?;
    let len = header_len(&header)?;
    if (HEADER + len) as u64 > left {
        return Err(Corrupt::Truncated);
    }
    let mut payload = vec![0u8; len];
    f.read_exact(&mut payload).map_err(|_| Corrupt::Truncated)?;
    decode_record(&header, &payload).map(|r| (r, (HEADER + len) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vario-spool-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let a = encode_record("b-1", b"{\"events\":[]}", false, 3);
        let b = encode_record("b-2", &[0x1f, 0x8b, 0, 1, 2], true, 500);
        let both = [a.clone(), b.clone()].concat();
        let (recs, err) = decode_segment(&both);
        assert_eq!(err, None);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            (recs[0].batch_id.as_str(), &recs[0].body[..], recs[0].gzip, recs[0].events),
            ("b-1", &b"{\"events\":[]}"[..], false, 3)
        );
        assert_eq!((recs[1].batch_id.as_str(), recs[1].gzip, recs[1].events), ("b-2", true, 500));
        // Cut anywhere inside the second record: the first survives, the tail is reported.
        for cut in a.len() + 1..both.len() {
            let (recs, err) = decode_segment(&both[..cut]);
            assert_eq!((recs.len(), err), (1, Some(Corrupt::Truncated)), "cut at {cut}");
        }
        let mut flipped = both.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode_segment(&flipped).1, Some(Corrupt::Checksum));
        let mut bad_magic = both;
        bad_magic[a.len()] = b'X';
        assert_eq!(decode_segment(&bad_magic).1, Some(Corrupt::Magic));
    }

    #[test]
    fn append_peek_ack_across_segments_and_reopen() {
        let d = dir("cycle");
        let shared = Arc::new(Shared::default());
        let body = vec![b'x'; 20_000];
        {
            let mut s = Spool::open(&d, 1 << 20, shared.clone()).expect("open");
            assert!(s.is_empty());
            for i in 0..10 {
                assert_eq!(s.append(&format!("b-{i}"), &body, false, 1), Appended::Yes);
            }
            // 10 x ~20 KB in 128 KiB segments: several files.
            assert!(s.segments.len() >= 2, "{} segments", s.segments.len());
            assert!(matches!(Spool::open(&d, 1 << 20, shared.clone()), Err(OpenError::Locked(_))));
            for i in 0..4 {
                assert_eq!(s.peek().expect("record").batch_id, format!("b-{i}"));
                assert_eq!(s.peek().expect("same record until acked").batch_id, format!("b-{i}"));
                s.ack();
            }
        }
        // The first four were acknowledged: the cursor lets a new client start at the fifth.
        let mut s = Spool::open(&d, 1 << 20, shared.clone()).expect("reopen after the lock was released");
        let mut seen = Vec::new();
        while let Some(r) = s.peek() {
            seen.push(r.batch_id);
            s.ack();
        }
        assert_eq!(seen, (4..10).map(|i| format!("b-{i}")).collect::<Vec<_>>());
        assert!(s.is_empty());
        assert_eq!(s.disk_bytes, 0);
        let mut left: Vec<String> = std::fs::read_dir(&d)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        left.sort();
        assert_eq!(left, [".lock", "cursor"], "no segment is left");
        assert_eq!(std::fs::metadata(d.join("cursor")).expect("cursor").len(), 0, "and the cursor points nowhere");
        assert_eq!(shared.c.spool_bytes.load(Ordering::Relaxed), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn records_out_at_once_are_acknowledged_in_order_and_a_failed_one_comes_back_first() {
        let d = dir("window");
        let shared = Arc::new(Shared::default());
        {
            let mut s = Spool::open(&d, 1 << 20, shared.clone()).expect("open");
            for i in 0..6 {
                assert_eq!(s.append(&format!("b-{i}"), b"{}", false, 1), Appended::Yes);
            }
            let out: Vec<(u64, String)> =
                (0..3).map(|_| s.next_out(8).map(|(t, r)| (t, r.batch_id)).expect("out")).collect();
            assert_eq!(out.iter().map(|o| o.1.as_str()).collect::<Vec<_>>(), ["b-0", "b-1", "b-2"]);
            let pending = s.pending_bytes;
            s.done(out[1].0);
            assert_eq!(s.pending_bytes, pending, "b-1 waits for b-0");
            s.done(out[0].0);
            assert!(s.pending_bytes < pending, "b-0 and b-1 acknowledged together");
            s.retry(out[2].0);
            let (t2, again) = s.next_out(8).expect("b-2 again");
            assert_eq!(again.batch_id, "b-2", "the failed record is handed out first");
            assert!(s.next_out(1).is_none(), "b-3 would be more than one past the head");
            let (_, next) = s.next_out(8).expect("b-3");
            assert_eq!(next.batch_id, "b-3");
            s.done(t2);
            // b-3 is out and never answered: the process dies here.
        }
        let mut s = Spool::open(&d, 1 << 20, shared).expect("reopen");
        let left: Vec<String> = std::iter::from_fn(|| {
            let r = s.peek()?;
            s.ack();
            Some(r.batch_id)
        })
        .collect();
        assert_eq!(left, ["b-3", "b-4", "b-5"], "acknowledged records are not sent again");
        assert!(s.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_damaged_cursor_is_ignored() {
        let b = encode_cursor(7, 1234);
        assert_eq!(decode_cursor(&b), Some((7, 1234)));
        let mut bad = b;
        bad[9] ^= 1;
        assert_eq!(decode_cursor(&bad), None);
        assert_eq!(decode_cursor(&b[..19]), None);
    }

    #[test]
    fn the_bound_refuses_and_a_truncated_tail_is_skipped_and_counted() {
        let d = dir("bound");
        let shared = Arc::new(Shared::default());
        let body = vec![b'y'; 1000];
        {
            let mut s = Spool::open(&d, 10_000, shared.clone()).expect("open");
            let mut written = 0;
            while s.append("b", &body, false, 2) == Appended::Yes {
                written += 1;
            }
            assert_eq!(written, 10_000 / encode_record("b", &body, false, 2).len());
            assert!(s.disk_bytes <= 10_000);
        }
        let seg = std::fs::read_dir(&d)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| segment_seq(p).is_some())
            .expect("a segment");
        let len = std::fs::metadata(&seg).expect("meta").len();
        let f = std::fs::OpenOptions::new().write(true).open(&seg).expect("open");
        f.set_len(len - 100).expect("cut the last record");
        let mut s = Spool::open(&d, 10_000, shared.clone()).expect("reopen");
        let mut n = 0;
        while s.peek().is_some() {
            s.ack();
            n += 1;
        }
        assert_eq!(n, 10_000 / encode_record("b", &body, false, 2).len() - 1);
        assert_eq!(shared.c.spool_corrupt_records.load(Ordering::Relaxed), 1);
        assert!(s.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
