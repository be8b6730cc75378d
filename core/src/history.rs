//! Which snapshot was live when: the lookup a backtest replays traffic through.
//!
//! A [`History`] holds compiled snapshots of one environment, ordered by version, each with the
//! instant it was published. [`History::index_at`] answers "which version decided a request made
//! at `t`" by binary search. Pure: the caller reads the files or the control plane's versions API
//! and hands over compiled snapshots.
//!
//! The rules, which `contract/history.md` states for every surface:
//! - a version is live from its `published_at` (inclusive) until the next one's;
//! - a time before the first `published_at` has no live version (the caller's defaults served);
//! - versions must be consecutive (the control plane publishes `last + 1`): a gap means a file or
//!   a page of the API is missing, and a replay through it would silently use the wrong version
//!   for the missing span, so it is refused;
//! - `published_at` must not go backwards as the version goes up (files from two environments, or
//!   a hand-edited one), also refused.

use crate::codes::{Coded, ErrorCode};
use crate::snapshot::Snapshot;
use crate::time::{Millis, parse_rfc3339};
use std::sync::Arc;

/// Why a set of snapshots is not a history. Every case carries the code `INVALID_SNAPSHOT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// No snapshot was given.
    #[error("a snapshot history needs at least one snapshot")]
    Empty,
    /// A snapshot has no `published_at` and none was given beside it.
    #[error("snapshot version {version} has no `published_at` (RFC 3339) and none was given")]
    NoPublishedAt {
        /// The snapshot's version.
        version: u64,
    },
    /// Two snapshots have the same version.
    #[error("snapshot version {version} appears twice")]
    Duplicate {
        /// The repeated version.
        version: u64,
    },
    /// A version between two given ones is missing.
    #[error("snapshot versions jump from {before} to {after}: versions {} to {} are missing", before + 1, after - 1)]
    Gap {
        /// The last version before the gap.
        before: u64,
        /// The first version after it.
        after: u64,
    },
    /// A higher version was published before a lower one.
    #[error(
        "snapshot version {version} was published at {published_at} ms, before version {previous} ({previous_at} ms)"
    )]
    Unordered {
        /// The later version.
        version: u64,
        /// Its publication instant, ms since the epoch.
        published_at: Millis,
        /// The version before it.
        previous: u64,
        /// That one's publication instant.
        previous_at: Millis,
    },
}

impl Coded for HistoryError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidSnapshot
    }
}

/// Compiled snapshots of one environment by version, each with its publication instant.
#[derive(Debug)]
pub struct History {
    /// Publication instants, ascending (non-decreasing), parallel to `snaps`.
    times: Vec<Millis>,
    snaps: Vec<Arc<Snapshot>>,
}

impl History {
    /// A history of `items`: each snapshot with its publication instant, or `None` to take the
    /// snapshot's own `published_at`. The order of `items` does not matter.
    pub fn new(items: Vec<(Option<Millis>, Snapshot)>) -> Result<History, HistoryError> {
        if items.is_empty() {
            return Err(HistoryError::Empty);
        }
        let mut items = items
            .into_iter()
            .map(|(t, s)| match t.or_else(|| s.published_at().and_then(parse_rfc3339)) {
                Some(t) => Ok((t, s)),
                None => Err(HistoryError::NoPublishedAt { version: s.version() }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|(_, s)| s.version());
        for w in items.windows(2) {
            let ((ta, a), (tb, b)) = (&w[0], &w[1]);
            let (va, vb) = (a.version(), b.version());
            if va == vb {
                return Err(HistoryError::Duplicate { version: va });
            }
            if vb != va + 1 {
                return Err(HistoryError::Gap { before: va, after: vb });
            }
            if tb < ta {
                return Err(HistoryError::Unordered { version: vb, published_at: *tb, previous: va, previous_at: *ta });
            }
        }
        let (times, snaps) = items.into_iter().map(|(t, s)| (t, Arc::new(s))).unzip();
        Ok(History { times, snaps })
    }

    /// The number of versions.
    pub fn len(&self) -> usize {
        self.snaps.len()
    }

    /// Never true: a history holds at least one snapshot.
    pub fn is_empty(&self) -> bool {
        self.snaps.is_empty()
    }

    /// The snapshots, oldest version first (shared, so a binding can hand one out).
    pub fn snapshots(&self) -> &[Arc<Snapshot>] {
        &self.snaps
    }

    /// The publication instants, parallel to [`History::snapshots`].
    pub fn published_at(&self) -> &[Millis] {
        &self.times
    }

    /// The index (into [`History::snapshots`]) of the version live at `t`: the last one published
    /// at or before `t`; `None` before the first.
    pub fn index_at(&self, t: Millis) -> Option<usize> {
        self.times.partition_point(|&p| p <= t).checked_sub(1)
    }

    /// The snapshot live at `t`.
    pub fn at(&self, t: Millis) -> Option<&Arc<Snapshot>> {
        self.index_at(t).map(|i| &self.snaps[i])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
    use super::*;

    fn snap(version: u64, published_at: Option<&str>) -> Snapshot {
        let at = published_at.map(|p| format!(r#","published_at":"{p}""#)).unwrap_or_default();
        Snapshot::from_json(&format!(
            r#"{{"schema_version":1,"version":{version}{at},"hashing":{{"algorithm":"xxh32","seed":0}},"placements":{{}},"experiments":[]}}"#
        ))
        .expect("valid snapshot")
    }

    #[test]
    fn boundaries_pick_the_version_published_at_or_before() {
        let h = History::new(vec![
            (None, snap(3, Some("2026-01-03T00:00:00Z"))),
            (None, snap(1, Some("2026-01-01T00:00:00Z"))),
            (Some(parse_rfc3339("2026-01-02T00:00:00Z").unwrap()), snap(2, None)),
        ])
        .unwrap();
        let t = |s| parse_rfc3339(s).unwrap();
        let v = |at| h.at(at).map(|s| s.version());
        assert_eq!(v(t("2025-12-31T23:59:59.999Z")), None);
        assert_eq!(v(t("2026-01-01T00:00:00Z")), Some(1));
        assert_eq!(v(t("2026-01-01T23:59:59.999Z")), Some(1));
        assert_eq!(v(t("2026-01-02T00:00:00Z")), Some(2));
        assert_eq!(v(t("2026-01-03T00:00:00.001Z")), Some(3));
        assert_eq!(v(i64::MAX), Some(3));
    }

    #[test]
    fn gaps_duplicates_disorder_and_missing_times_are_refused() {
        let a = "2026-01-01T00:00:00Z";
        let b = "2026-01-02T00:00:00Z";
        assert_eq!(History::new(vec![]).unwrap_err(), HistoryError::Empty);
        let e = History::new(vec![(None, snap(1, Some(a))), (None, snap(3, Some(b)))]).unwrap_err();
        assert_eq!(e, HistoryError::Gap { before: 1, after: 3 });
        assert_eq!(e.to_string(), "snapshot versions jump from 1 to 3: versions 2 to 2 are missing");
        let e = History::new(vec![(None, snap(2, Some(a))), (None, snap(2, Some(b)))]).unwrap_err();
        assert_eq!(e, HistoryError::Duplicate { version: 2 });
        let e = History::new(vec![(None, snap(1, Some(b))), (None, snap(2, Some(a)))]).unwrap_err();
        assert!(matches!(e, HistoryError::Unordered { version: 2, previous: 1, .. }), "{e:?}");
        let e = History::new(vec![(None, snap(1, Some(a))), (None, snap(2, None))]).unwrap_err();
        assert_eq!(e, HistoryError::NoPublishedAt { version: 2 });
        assert_eq!(e.code(), ErrorCode::InvalidSnapshot);
    }
}
