//! Interleaving of two rankings (SPEC §10): `team_draft` and `balanced`, with hash-seeded coins so
//! the same inputs merge the same way on every surface, the click credit of each method and the
//! per-impression winner.
//!
//! Generic over the item type (`&str` for most surfaces; Node passes integer ids it interned on
//! the JavaScript side, so no string crosses the boundary).
//!
//! Pure and allocation-light: items are borrowed, each distinct item gets a small integer id once
//! per call (one hash-map pass over both lists), placement is a bit per id, and a coin hashes its
//! input from a stack buffer ([`crate::hash`]). The output is a list of [`Pick`]s (which ranking,
//! which position in it), from which the merged item list is read without copying.
//!
//! Choices the SPEC leaves open (also in `contract/interleaving.md`):
//! - An empty `unit_id` is refused (`INVALID_REQUEST`): an absent unit has no coin.
//! - [`credit`] takes the teams, not the merged items: the item at each position is the
//!   highest-ranked not-yet-placed item of that position's team, in both methods, so the teams
//!   alone (what an exposure logs) rebuild the list. Teams that cannot have come from the two
//!   rankings are refused.
//! - A click position is 0-based; out of range is refused; a position clicked twice counts once.

use crate::codes::{Coded, ErrorCode, InterleaveMethod, Team, Winner};
use crate::hash::BUCKETS;
use serde::{Deserialize, Serialize};
use std::hash::Hash;

/// The default `length` cap: `min(|a| + |b|, DEFAULT_MAX_LENGTH)`.
pub const DEFAULT_MAX_LENGTH: usize = 100;

/// Why an interleaving call was refused. Every variant is `INVALID_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterleaveError {
    /// The unit id is empty.
    #[error("interleave needs a non-empty unit_id")]
    EmptyUnit,
    /// A method name that is not `team_draft` or `balanced`.
    #[error("unknown interleaving method {0:?} (team_draft or balanced)")]
    UnknownMethod(String),
    /// A team name that is not `a` or `b`.
    #[error("unknown team {0:?} (a or b)")]
    UnknownTeam(String),
    /// A click position outside the merged list.
    #[error("click position {position} is outside the merged list of {len} items")]
    ClickOutOfRange {
        /// The position given.
        position: usize,
        /// The merged list's length.
        len: usize,
    },
    /// Position `position` names a team with no unplaced item left: the teams did not come from
    /// these two rankings.
    #[error("team {team} has no item left for position {position}: the teams do not match the rankings")]
    TeamsMismatch {
        /// The position.
        position: usize,
        /// Its team.
        team: Team,
    },
    /// A logged impression that is not self-consistent (see [`Impression::validate`]).
    #[error("bad interleaving record: {0}")]
    BadImpression(&'static str),
}

impl Coded for InterleaveError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// One position of a merged list: the ranking it came from and its index in that ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// The ranking that contributed this position.
    pub team: Team,
    /// The item's index in that ranking (its first occurrence).
    pub index: u32,
}

/// The coin inputs of one interleaving: `c(i) = bucket(unit_id, key, salt ":" query ":" i) < 5000`.
#[derive(Debug, Clone, Copy)]
pub struct Coin<'a> {
    /// The unit (non-empty).
    pub unit_id: &'a str,
    /// The experiment (or any) key.
    pub key: &'a str,
    /// The salt.
    pub salt: &'a str,
    /// The query (`""` when none).
    pub query: &'a str,
    /// The snapshot's `hashing.seed` through a snapshot, 0 otherwise.
    pub seed: u32,
}

/// The coins of one interleaving. Every coin hashes `prefix i`, with the prefix
/// `unit_id ":" key ":" salt ":" query ":"` shared by all, and team draft tosses one at every tie,
/// a few dozen per list; so the prefix is hashed once (its whole stripes and tail words) and each
/// coin only finishes the hash with its digits.
///
/// Finishing is done here, on that state's numbers, when the digits do not complete a 16-byte
/// stripe (every coin of a short list, for most prefix lengths): it is xxh32's own tail and
/// avalanche (the XXH32 specification, "step 5" and "step 6"), with the prefix's whole 4-byte
/// words of the tail folded in ahead for each digit count. Resuming the library's state instead
/// (clone, buffered update, digest) cost about 15 ns a coin, most of team draft's time. The test
/// below holds both paths equal to the library's one-shot `xxh32` for prefixes of 5 to 87 bytes
/// and coin numbers to 2,000 and beyond; other cases take the library's path.
struct Coins<'c> {
    coin: Coin<'c>,
    /// The library's streaming state after the prefix, built on the first coin that needs it.
    prefix: std::cell::OnceCell<xxhash_rust::xxh32::Xxh32>,
    fast: Option<FastTail>,
}

/// The prefix's part of a coin's hash, for the digits to finish (see [`Coins`]).
struct FastTail {
    /// Per digit count `d` (1..=4), the hash after the stripes, the length and the prefix's whole
    /// tail words: it depends on `d` only through the total length added before those words.
    after_words: [u32; 4],
    /// The prefix's tail bytes after its whole words (0..=3 of them).
    rest: [u8; 3],
    rest_len: usize,
    /// The prefix's tail length (bytes after its whole stripes, 0..=15).
    tail_len: usize,
}

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;

fn word_round(h: u32, w: u32) -> u32 {
    h.wrapping_add(w.wrapping_mul(P3)).rotate_left(17).wrapping_mul(P4)
}

fn byte_round(h: u32, b: u8) -> u32 {
    h.wrapping_add(u32::from(b).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1)
}

fn avalanche(mut h: u32) -> u32 {
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

impl<'c> Coins<'c> {
    fn new(coin: &Coin<'c>) -> Coins<'c> {
        Coins { coin: *coin, prefix: std::cell::OnceCell::new(), fast: FastTail::new(&coin.parts(), coin.seed) }
    }

    /// Coin number `i` (SPEC §10): the prefix, then `i` in decimal.
    fn a_first(&self, i: u32) -> bool {
        let mut num = [0u8; 10];
        let digits = decimal(i, &mut num);
        let digest = match &self.fast {
            Some(f) if f.tail_len + digits.len() < 16 && digits.len() <= 4 => f.finish(digits),
            _ => {
                let mut h = self
                    .prefix
                    .get_or_init(|| {
                        let mut h = xxhash_rust::xxh32::Xxh32::new(self.coin.seed);
                        for part in self.coin.parts() {
                            h.update(part.as_bytes());
                        }
                        h
                    })
                    .clone();
                h.update(digits);
                h.digest()
            }
        };
        digest % BUCKETS < BUCKETS / 2
    }
}

impl FastTail {
    fn new(parts: &[&str], seed: u32) -> Option<FastTail> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len32 = u32::try_from(len).ok()?;
        let mut bytes = parts.iter().flat_map(|p| p.bytes());
        // The stripes' lanes (the XXH32 specification's step 1 and 2).
        let stripes = len / 16;
        let mut v = [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        for _ in 0..stripes {
            for lane in &mut v {
                let w = u32::from_le_bytes([bytes.next()?, bytes.next()?, bytes.next()?, bytes.next()?]);
                *lane = lane.wrapping_add(w.wrapping_mul(P2)).rotate_left(13).wrapping_mul(P1);
            }
        }
        // With the digits the input is at least 16 bytes exactly when the prefix is (the fast path
        // never lets the digits complete a stripe).
        let base = if stripes > 0 {
            v[0].rotate_left(1)
                .wrapping_add(v[1].rotate_left(7))
                .wrapping_add(v[2].rotate_left(12))
                .wrapping_add(v[3].rotate_left(18))
        } else {
            seed.wrapping_add(P5)
        };
        let mut tail = [0u8; 16];
        let mut tail_len = 0;
        for b in bytes {
            // Fewer than 16 bytes remain after the whole stripes.
            *tail.get_mut(tail_len)? = b;
            tail_len += 1;
        }
        let whole = tail_len / 4;
        let mut after_words = [0u32; 4];
        for (d, slot) in after_words.iter_mut().enumerate() {
            let mut h = base.wrapping_add(len32.wrapping_add(d as u32 + 1));
            for w in tail[..whole * 4].chunks_exact(4) {
                h = word_round(h, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            }
            *slot = h;
        }
        let rest_len = tail_len % 4;
        let mut rest = [0u8; 3];
        for (r, b) in rest.iter_mut().zip(&tail[whole * 4..tail_len]) {
            *r = *b;
        }
        Some(FastTail { after_words, rest, rest_len, tail_len })
    }

    /// The hash of the prefix then `digits` (1..=4 of them, not completing a stripe).
    fn finish(&self, digits: &[u8]) -> u32 {
        let mut h = self.after_words[digits.len() - 1];
        // Byte loops, not `copy_from_slice`: a library copy call per coin costs more than these.
        let mut buf = [0u8; 8];
        buf[..3].copy_from_slice(&self.rest);
        for (o, d) in buf[self.rest_len..].iter_mut().zip(digits) {
            *o = *d;
        }
        let n = self.rest_len + digits.len();
        let mut at = 0;
        while n - at >= 4 {
            h = word_round(h, u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]));
            at += 4;
        }
        for &b in &buf[at..n] {
            h = byte_round(h, b);
        }
        avalanche(h)
    }
}

impl<'a> Coin<'a> {
    /// The coin input's prefix, in parts: `unit_id ":" key ":" salt ":" query ":"`.
    fn parts(&self) -> [&'a str; 8] {
        [self.unit_id, ":", self.key, ":", self.salt, ":", self.query, ":"]
    }

    /// Coin number `i`: true when ranking `a` picks first.
    pub fn a_first(&self, i: u32) -> bool {
        Coins::new(self).a_first(i)
    }
}

/// `i` in decimal ASCII, written at the end of `buf`.
fn decimal(mut i: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (i % 10) as u8;
        i /= 10;
        if i == 0 {
            return &buf[at..];
        }
    }
}

/// The method named `name` (`team_draft` or `balanced`); the surfaces parse through this.
pub fn parse_method(name: &str) -> Result<InterleaveMethod, InterleaveError> {
    InterleaveMethod::from_name(name).ok_or_else(|| InterleaveError::UnknownMethod(name.chars().take(64).collect()))
}

/// The team named `name` (`a` or `b`).
pub fn parse_team(name: &str) -> Result<Team, InterleaveError> {
    Team::from_name(name).ok_or_else(|| InterleaveError::UnknownTeam(name.chars().take(64).collect()))
}

/// Both rankings with one id per distinct item: ids of `a`'s items are their first index in `a`,
/// ids of items only in `b` follow. `a_id[i]` / `b_id[j]` give the id of each position.
struct Ids {
    a_id: Vec<u32>,
    b_id: Vec<u32>,
    distinct: usize,
}

impl Ids {
    /// One open-addressing pass over both lists. A general hash map costs about twice as much
    /// here (an entry API, control bytes, a table above the allocator's small-size cache); this
    /// table holds one `u32` per slot at most half full, and each distinct item's hash tag and
    /// position, so a probe compares items only when their tags match.
    fn new<T: Hash + Eq>(a: &[T], b: &[T]) -> Ids {
        let slots_len = (2 * (a.len() + b.len())).max(16).next_power_of_two();
        if slots_len <= MAX_KEPT_SLOTS {
            // A table kept per thread: at these sizes the allocator's slow path for a fresh one
            // cost as much as filling it. Reentry (an item's `Hash` or `Eq` interleaving again)
            // or a thread being torn down gets a fresh table.
            let kept = SLOTS.try_with(|cell| {
                let mut slots = cell.try_borrow_mut().ok()?;
                slots.clear();
                slots.resize(slots_len, 0);
                Some(Self::fill(a, b, &mut slots))
            });
            if let Ok(Some(ids)) = kept {
                return ids;
            }
        }
        Self::fill(a, b, &mut vec![0; slots_len])
    }

    /// Numbers the items of `a` then `b` with the probe table `slots` (zeroed, a power of two
    /// at least twice the items).
    fn fill<T: Hash + Eq>(a: &[T], b: &[T], slots: &mut [u32]) -> Ids {
        let n = a.len() + b.len();
        let slots_len = slots.len();
        let shift = 64 - slots_len.trailing_zeros();
        // Slot values: 0 empty, else id + 1.
        // Per id: the position (in `a` then `b`) of its first item, and its hash tag.
        let mut firsts: Vec<(u32, u32)> = Vec::with_capacity(n);
        let item = |pos: u32| -> &T {
            let pos = pos as usize;
            if pos < a.len() { &a[pos] } else { &b[pos - a.len()] }
        };
        let mut id_of = |pos: usize, it: &T| -> u32 {
            let mut h = rustc_hash::FxHasher::default();
            it.hash(&mut h);
            // Fibonacci hashing: the multiply spreads any input's entropy into the top bits.
            let h = std::hash::Hasher::finish(&h).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let tag = h as u32;
            let mut at = (h >> shift) as usize;
            loop {
                match slots[at] {
                    0 => {
                        firsts.push((pos as u32, tag));
                        slots[at] = firsts.len() as u32;
                        return firsts.len() as u32 - 1;
                    }
                    s => {
                        let (first, t) = firsts[s as usize - 1];
                        if t == tag && item(first) == it {
                            return s - 1;
                        }
                    }
                }
                at = (at + 1) & (slots_len - 1);
            }
        };
        let a_id: Vec<u32> = a.iter().enumerate().map(|(i, x)| id_of(i, x)).collect();
        let b_id: Vec<u32> = b.iter().enumerate().map(|(j, x)| id_of(a.len() + j, x)).collect();
        let distinct = firsts.len();
        Ids { a_id, b_id, distinct }
    }

    fn distinct(&self) -> usize {
        self.distinct
    }

    /// The 1-based first rank of each id in `a` and in `b` (`u32::MAX`: absent); only credit
    /// needs them, so interleaving does not build them.
    fn ranks(&self) -> (Vec<u32>, Vec<u32>) {
        let mut rank_a = vec![u32::MAX; self.distinct];
        let mut rank_b = vec![u32::MAX; self.distinct];
        for (i, &id) in self.a_id.iter().enumerate().rev() {
            rank_a[id as usize] = i as u32 + 1;
        }
        for (j, &id) in self.b_id.iter().enumerate().rev() {
            rank_b[id as usize] = j as u32 + 1;
        }
        (rank_a, rank_b)
    }
}

/// The largest probe table [`Ids::new`] keeps per thread between calls (16 KiB: two rankings of
/// up to 1,024 items each); larger calls allocate their own.
const MAX_KEPT_SLOTS: usize = 4096;

thread_local! {
    static SLOTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The first position from `*at` on in `list` whose item is not placed yet, leaving `*at` on it.
fn next_unplaced(list: &[u32], at: &mut usize, placed: &[bool]) -> Option<usize> {
    while let Some(&id) = list.get(*at) {
        if !placed[id as usize] {
            return Some(*at);
        }
        *at += 1;
    }
    None
}

/// Merges rankings `a` and `b` by `method` (SPEC §10). `length`: `None` is
/// `min(|a| + |b|, 100)`; an explicit value is used as given (the list still ends when both
/// rankings run out).
pub fn interleave<T: Hash + Eq>(
    method: InterleaveMethod,
    a: &[T],
    b: &[T],
    coin: &Coin<'_>,
    length: Option<usize>,
) -> Result<Vec<Pick>, InterleaveError> {
    merge(method, a, b, coin, length).map(|(picks, _)| picks)
}

/// [`interleave`] and the record its exposure logs ([`Impression::new`]), sharing one pass of
/// item ids: what the surfaces call, so logging costs no second hash of the lists.
pub fn interleave_recorded<T: Hash + Eq>(
    method: InterleaveMethod,
    a: &[T],
    b: &[T],
    coin: &Coin<'_>,
    length: Option<usize>,
) -> Result<(Vec<Pick>, Impression), InterleaveError> {
    let (picks, ids) = merge(method, a, b, coin, length)?;
    let record = Impression::from_ids(method, &ids, &picks);
    Ok((picks, record))
}

fn merge<T: Hash + Eq>(
    method: InterleaveMethod,
    a: &[T],
    b: &[T],
    coin: &Coin<'_>,
    length: Option<usize>,
) -> Result<(Vec<Pick>, Ids), InterleaveError> {
    if coin.unit_id.is_empty() {
        return Err(InterleaveError::EmptyUnit);
    }
    let ids = Ids::new(a, b);
    let length = length.unwrap_or((a.len() + b.len()).min(DEFAULT_MAX_LENGTH)).min(ids.distinct());
    let mut placed = vec![false; ids.distinct()];
    let mut out = Vec::with_capacity(length);
    let take = |team: Team, at: usize, placed: &mut [bool], out: &mut Vec<Pick>| {
        let id = if team == Team::A { ids.a_id[at] } else { ids.b_id[at] };
        placed[id as usize] = true;
        out.push(Pick { team, index: at as u32 });
    };
    match method {
        InterleaveMethod::TeamDraft => {
            let coins = Coins::new(coin);
            // Indexed by team (0: `a`, 1: `b`) rather than branched on: which team picks is a
            // coin toss at every tie, a branch the CPU mispredicts half the time.
            let lists = [&ids.a_id[..], &ids.b_id[..]];
            let mut at = [0usize; 2];
            let mut picks = [0usize; 2];
            let mut tie = 0u32;
            while out.len() < length {
                let turn = if picks[0] == picks[1] {
                    tie += 1;
                    usize::from(!coins.a_first(tie - 1))
                } else {
                    usize::from(picks[1] < picks[0])
                };
                // The team whose turn it is picks; a ranking that ran out leaves the pick to the other.
                let Some((t, i)) = next_unplaced(lists[turn], &mut at[turn], &placed)
                    .map(|i| (turn, i))
                    .or_else(|| next_unplaced(lists[1 - turn], &mut at[1 - turn], &placed).map(|i| (1 - turn, i)))
                else {
                    break;
                };
                placed[lists[t][i] as usize] = true;
                out.push(Pick { team: if t == 0 { Team::A } else { Team::B }, index: i as u32 });
                picks[t] += 1;
            }
        }
        InterleaveMethod::Balanced => {
            let a_priority = coin.a_first(0);
            // `ka`/`kb` count positions consumed from each ranking, placed or skipped.
            let (mut ka, mut kb) = (0usize, 0usize);
            while out.len() < length && (ka < a.len() || kb < b.len()) {
                let from_a = kb >= b.len() || (ka < a.len() && (ka < kb || (ka == kb && a_priority)));
                if from_a {
                    if !placed[ids.a_id[ka] as usize] {
                        take(Team::A, ka, &mut placed, &mut out);
                    }
                    ka += 1;
                } else {
                    if !placed[ids.b_id[kb] as usize] {
                        take(Team::B, kb, &mut placed, &mut out);
                    }
                    kb += 1;
                }
            }
        }
    }
    Ok((out, ids))
}

/// Clicks credited to each ranking for one impression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credit {
    /// Credited to ranking `a`.
    pub a: u32,
    /// Credited to ranking `b`.
    pub b: u32,
}

impl Credit {
    /// The impression's winner: more credited clicks; `tie` when equal, `none` without clicks.
    pub fn winner(&self) -> Winner {
        match self.a.cmp(&self.b) {
            std::cmp::Ordering::Greater => Winner::A,
            std::cmp::Ordering::Less => Winner::B,
            std::cmp::Ordering::Equal if self.a == 0 => Winner::None,
            std::cmp::Ordering::Equal => Winner::Tie,
        }
    }
}

/// Rebuilds the merged list's picks from its teams: each position takes the highest-ranked
/// unplaced item of its team (true of both methods).
pub fn picks_from_teams<T: Hash + Eq>(a: &[T], b: &[T], teams: &[Team]) -> Result<Vec<Pick>, InterleaveError> {
    let ids = Ids::new(a, b);
    picks_with(&ids, teams)
}

fn picks_with(ids: &Ids, teams: &[Team]) -> Result<Vec<Pick>, InterleaveError> {
    let mut placed = vec![false; ids.distinct()];
    let (mut at_a, mut at_b) = (0usize, 0usize);
    let mut out = Vec::with_capacity(teams.len());
    for (position, &team) in teams.iter().enumerate() {
        let (at, list) = if team == Team::A { (&mut at_a, &ids.a_id) } else { (&mut at_b, &ids.b_id) };
        let at = next_unplaced(list, at, &placed).ok_or(InterleaveError::TeamsMismatch { position, team })?;
        placed[list[at] as usize] = true;
        out.push(Pick { team, index: at as u32 });
    }
    Ok(out)
}

/// Credits `clicks` (0-based positions in the merged list given by `teams`) to the rankings by
/// `method`'s rule (SPEC §10): team draft credits the team that placed the item; balanced takes
/// the deepest click `l`, `k = min(rank_a(l), rank_b(l))`, and credits each ranking with the
/// clicked items in its own top `k`.
pub fn credit<T: Hash + Eq>(
    method: InterleaveMethod,
    a: &[T],
    b: &[T],
    teams: &[Team],
    clicks: &[usize],
) -> Result<Credit, InterleaveError> {
    let ids = Ids::new(a, b);
    let picks = picks_with(&ids, teams)?;
    let mut clicked = vec![false; picks.len()];
    for &position in clicks {
        *clicked.get_mut(position).ok_or(InterleaveError::ClickOutOfRange { position, len: picks.len() })? = true;
    }
    let id_of = |p: &Pick| if p.team == Team::A { ids.a_id[p.index as usize] } else { ids.b_id[p.index as usize] };
    let mut c = Credit::default();
    match method {
        InterleaveMethod::TeamDraft => {
            for (p, _) in picks.iter().zip(&clicked).filter(|(_, c)| **c) {
                if p.team == Team::A {
                    c.a += 1;
                } else {
                    c.b += 1;
                }
            }
        }
        InterleaveMethod::Balanced => {
            let Some(deepest) = clicked.iter().rposition(|c| *c) else { return Ok(c) };
            let (rank_a, rank_b) = ids.ranks();
            let l = id_of(&picks[deepest]) as usize;
            let k = rank_a[l].min(rank_b[l]);
            for (p, _) in picks.iter().zip(&clicked).filter(|(_, c)| **c) {
                let id = id_of(p) as usize;
                c.a += u32::from(rank_a[id] <= k);
                c.b += u32::from(rank_b[id] <= k);
            }
        }
    }
    Ok(c)
}

/// The most positions one logged impression may have (the default `length` caps at 100; a caller
/// asking for more than this is refused when it logs, so a hostile list cannot bloat an event).
pub const MAX_IMPRESSION_POSITIONS: usize = 1000;

/// What the exposure of an interleaved impression logs (`interleaving` in contract/events.md):
/// the method and each position's team, and for `balanced` each position's 1-based rank in `a`
/// and in `b` (`null`: that ranking lacks the item). Team draft credits a click from the teams
/// alone; balanced credit needs the two ranks of the clicked items, which the teams do not give,
/// so they travel with the event and a click can be credited from logs without the rankings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impression {
    /// The method that merged the list.
    pub method: InterleaveMethod,
    /// The team of each position.
    pub teams: Vec<Team>,
    /// `balanced` only: each position's rank in each ranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<Ranks>,
}

/// Per position of a merged list: its item's 1-based rank in ranking `a` and in ranking `b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranks {
    /// Ranks in `a` (`None`: absent from `a`).
    pub a: Vec<Option<u32>>,
    /// Ranks in `b`.
    pub b: Vec<Option<u32>>,
}

impl Impression {
    /// The record of the merged list `picks` of `a` and `b` by `method`.
    pub fn new<T: Hash + Eq>(method: InterleaveMethod, a: &[T], b: &[T], picks: &[Pick]) -> Impression {
        if method == InterleaveMethod::TeamDraft {
            return Impression { method, teams: picks.iter().map(|p| p.team).collect(), ranks: None };
        }
        Impression::from_ids(method, &Ids::new(a, b), picks)
    }

    fn from_ids(method: InterleaveMethod, ids: &Ids, picks: &[Pick]) -> Impression {
        let teams = picks.iter().map(|p| p.team).collect();
        let ranks = (method == InterleaveMethod::Balanced).then(|| {
            let (rank_a, rank_b) = ids.ranks();
            let known = |r: u32| (r != u32::MAX).then_some(r);
            let (mut ra, mut rb) = (Vec::with_capacity(picks.len()), Vec::with_capacity(picks.len()));
            for p in picks {
                let id =
                    if p.team == Team::A { ids.a_id[p.index as usize] } else { ids.b_id[p.index as usize] } as usize;
                ra.push(known(rank_a[id]));
                rb.push(known(rank_b[id]));
            }
            Ranks { a: ra, b: rb }
        });
        Impression { method, teams, ranks }
    }

    /// Checks a record that came from outside (a host language, a log): at most
    /// [`MAX_IMPRESSION_POSITIONS`] positions; ranks present exactly for `balanced`, one per
    /// position, each position ranked (≥ 1) by its own team.
    pub fn validate(&self) -> Result<(), InterleaveError> {
        if self.teams.len() > MAX_IMPRESSION_POSITIONS {
            return Err(InterleaveError::BadImpression("more than 1000 positions"));
        }
        match (&self.ranks, self.method) {
            (None, InterleaveMethod::TeamDraft) => Ok(()),
            (Some(_), InterleaveMethod::TeamDraft) => Err(InterleaveError::BadImpression("team_draft logs no ranks")),
            (None, InterleaveMethod::Balanced) => Err(InterleaveError::BadImpression("balanced needs ranks")),
            (Some(r), InterleaveMethod::Balanced) => {
                if r.a.len() != self.teams.len() || r.b.len() != self.teams.len() {
                    return Err(InterleaveError::BadImpression("ranks need one entry per position"));
                }
                let ok = self.teams.iter().zip(r.a.iter().zip(&r.b)).all(|(t, (ra, rb))| {
                    let own = if *t == Team::A { ra } else { rb };
                    own.is_some() && ra.is_none_or(|x| x >= 1) && rb.is_none_or(|x| x >= 1)
                });
                if ok {
                    Ok(())
                } else {
                    Err(InterleaveError::BadImpression("a position is not ranked by its own team"))
                }
            }
        }
    }

    /// Credits `clicks` (0-based positions) by the method's rule, from the record alone; equal to
    /// [`credit`] over the rankings the record came from.
    pub fn credit(&self, clicks: &[usize]) -> Result<Credit, InterleaveError> {
        self.validate()?;
        let len = self.teams.len();
        let mut clicked = vec![false; len];
        for &position in clicks {
            *clicked.get_mut(position).ok_or(InterleaveError::ClickOutOfRange { position, len })? = true;
        }
        let mut c = Credit::default();
        let positions = || clicked.iter().enumerate().filter(|(_, c)| **c).map(|(p, _)| p);
        match &self.ranks {
            None => {
                for p in positions() {
                    if self.teams[p] == Team::A {
                        c.a += 1;
                    } else {
                        c.b += 1;
                    }
                }
            }
            Some(r) => {
                let Some(deepest) = clicked.iter().rposition(|c| *c) else { return Ok(c) };
                let rank = |v: &[Option<u32>], p: usize| v[p].unwrap_or(u32::MAX);
                let k = rank(&r.a, deepest).min(rank(&r.b, deepest));
                for p in positions() {
                    c.a += u32::from(rank(&r.a, p) <= k);
                    c.b += u32::from(rank(&r.b, p) <= k);
                }
            }
        }
        Ok(c)
    }
}

/// The merged item list of `picks` over rankings `a` and `b`.
pub fn items<T: Copy>(a: &[T], b: &[T], picks: &[Pick]) -> Vec<T> {
    picks.iter().map(|p| if p.team == Team::A { a[p.index as usize] } else { b[p.index as usize] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coin(unit: &str) -> Coin<'_> {
        Coin { unit_id: unit, key: "exp", salt: "s", query: "", seed: 0 }
    }

    #[test]
    fn coins_finish_the_hash_as_the_library_does() {
        let long = "u".repeat(80);
        let mut fast_checked = 0usize;
        // Prefix lengths 5..=84 (empty key, salt and query) and 8..=87: every tail length, on
        // both sides of the 16-byte stripe, with and without whole stripes before it.
        for (key, salt, query) in [("", "", ""), ("k", "s", "q")] {
            for unit_len in 1..=80usize {
                let unit = &long[..unit_len];
                for seed in [0u32, 7, u32::MAX] {
                    let c = Coin { unit_id: unit, key, salt, query, seed };
                    let coins = Coins::new(&c);
                    for i in (0..2000).chain([9_999, 10_000, 123_456, u32::MAX]) {
                        let text = format!("{unit}:{key}:{salt}:{query}:{i}");
                        let want = xxhash_rust::xxh32::xxh32(text.as_bytes(), seed);
                        assert_eq!(coins.a_first(i), want % BUCKETS < BUCKETS / 2, "{text:?}, seed {seed}");
                        if let Some(f) = &coins.fast {
                            let mut num = [0u8; 10];
                            let d = decimal(i, &mut num);
                            if f.tail_len + d.len() < 16 && d.len() <= 4 {
                                assert_eq!(f.finish(d), want, "{text:?}, seed {seed}");
                                fast_checked += 1;
                            }
                        }
                    }
                }
            }
        }
        // Most coins take the fast path; the library's path answers the rest.
        assert!(fast_checked > 2 * 80 * 3 * 1000, "{fast_checked}");
    }

    #[test]
    fn decimal_writes_every_width() {
        let mut b = [0u8; 10];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(907, &mut b), b"907");
        assert_eq!(decimal(u32::MAX, &mut b), b"4294967295");
    }

    #[test]
    fn team_draft_rebuilds_from_its_teams_and_keeps_teams_balanced() {
        let a = ["x", "y", "z", "w"];
        let b = ["y", "q", "x", "r", "s"];
        for u in ["u1", "u2", "u3", "u4", "u5"] {
            for m in InterleaveMethod::ALL {
                let p = interleave(*m, &a, &b, &coin(u), None).unwrap();
                let teams: Vec<Team> = p.iter().map(|p| p.team).collect();
                assert_eq!(picks_from_teams(&a, &b, &teams).unwrap(), p);
                let mut seen = items(&a, &b, &p);
                assert_eq!(seen.len(), 7, "{m:?} {u}: every distinct item once");
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), 7);
            }
        }
    }

    #[test]
    fn a_logged_impression_credits_as_the_rankings_do() {
        let a = ["p", "q", "r", "s", "x", "q"];
        let b = ["q", "t", "p", "u", "y"];
        let clickss: [&[usize]; 6] = [&[], &[0], &[1, 3], &[2], &[0, 1, 2, 3, 4], &[4, 1]];
        for u in ["u1", "u2", "u3", "u4", "u5", "u6"] {
            for m in InterleaveMethod::ALL {
                let p = interleave(*m, &a, &b, &coin(u), None).unwrap();
                let teams: Vec<Team> = p.iter().map(|p| p.team).collect();
                let rec = Impression::new(*m, &a, &b, &p);
                assert_eq!(interleave_recorded(*m, &a, &b, &coin(u), None).unwrap(), (p.clone(), rec.clone()));
                rec.validate().unwrap();
                let back: Impression = serde_json::from_str(&serde_json::to_string(&rec).unwrap()).unwrap();
                assert_eq!(back, rec);
                for clicks in clickss {
                    assert_eq!(
                        rec.credit(clicks).unwrap(),
                        credit(*m, &a, &b, &teams, clicks).unwrap(),
                        "{m:?} {u} {clicks:?}"
                    );
                }
            }
        }
        let mut bad = Impression::new(
            InterleaveMethod::Balanced,
            &a,
            &b,
            &interleave(InterleaveMethod::Balanced, &a, &b, &coin("u"), None).unwrap(),
        );
        bad.ranks.as_mut().unwrap().a.pop();
        assert!(matches!(bad.validate(), Err(InterleaveError::BadImpression(_))));
        bad.ranks = None;
        assert!(bad.validate().is_err());
        let td = Impression { method: InterleaveMethod::TeamDraft, teams: vec![Team::A; 1001], ranks: None };
        assert!(td.validate().is_err());
    }

    #[test]
    fn refusals() {
        let e = interleave(InterleaveMethod::Balanced, &["a"], &["b"], &coin(""), None).unwrap_err();
        assert_eq!(e, InterleaveError::EmptyUnit);
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        let e = credit(InterleaveMethod::TeamDraft, &["a"], &["b"], &[Team::A, Team::A], &[]).unwrap_err();
        assert_eq!(e, InterleaveError::TeamsMismatch { position: 1, team: Team::A });
        let e = credit(InterleaveMethod::TeamDraft, &["a"], &["b"], &[Team::A], &[1]).unwrap_err();
        assert_eq!(e, InterleaveError::ClickOutOfRange { position: 1, len: 1 });
        assert_eq!(Credit { a: 0, b: 0 }.winner(), Winner::None);
        assert_eq!(Credit { a: 2, b: 2 }.winner(), Winner::Tie);
        assert_eq!(Credit { a: 0, b: 1 }.winner(), Winner::B);
    }
}
