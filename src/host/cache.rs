//! [`SnapshotCache`]: host objects derived from a snapshot, built once per snapshot.

use crate::client::Client;
use arc_swap::ArcSwap;
use std::sync::Arc;
use vario_core::Snapshot;

struct Entry<T> {
    snap: Arc<Snapshot>,
    value: Arc<T>,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry { snap: self.snap.clone(), value: self.value.clone() }
    }
}

/// Per-snapshot derived objects (a binding's name tables, interned strings, C strings of params)
/// keyed by the snapshot's identity (`Arc::ptr_eq`, not its version: a re-published version is a
/// new snapshot), built once per snapshot and shared by every thread.
///
/// The hit path is lock-free: one `ArcSwap` load, a pointer comparison per kept entry, and an
/// `Arc` clone. On a miss the builder runs *outside* any lock (it may take the GIL or call into
/// the host), so two threads that miss on the same new snapshot at the same moment may both
/// build; one result is kept and returned to both (the other is dropped). The cache keeps the
/// `capacity` most recently built entries (default 1: the current snapshot), so a binding can still
/// resolve decisions made just before a swap ([`SnapshotCache::by_version`]).
///
/// ```
/// use std::sync::Arc;
/// use vario::host::SnapshotCache;
/// /// What a binding derives per snapshot, e.g. its experiment keys as host strings.
/// struct View { experiment_keys: Vec<String> }
///
/// let client = vario::ClientBuilder::new()
///     .bootstrap(r#"{"schema_version": 1, "version": 3}"#)
///     .sink_callback(|_| {})
///     .build()?;
/// let views: SnapshotCache<View> = SnapshotCache::new();
/// let build = |s: &Arc<vario::core::Snapshot>| View {
///     experiment_keys: (0..s.experiment_count()).filter_map(|i| Some(s.experiment_at(i)?.0.to_owned())).collect(),
/// };
/// let (snap, view) = views.for_client(&client, build).expect("bootstrapped");
/// let again = views.get_or_build(&snap, |_| unreachable!("built once per snapshot"));
/// assert!(Arc::ptr_eq(&view, &again));
/// assert!(view.experiment_keys.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SnapshotCache<T> {
    /// Newest first; never longer than `capacity`.
    entries: ArcSwap<Vec<Entry<T>>>,
    capacity: usize,
}

impl<T> Default for SnapshotCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for SnapshotCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<u64> = self.entries.load().iter().map(|e| e.snap.version()).collect();
        f.debug_struct("SnapshotCache").field("versions", &versions).field("capacity", &self.capacity).finish()
    }
}

impl<T> SnapshotCache<T> {
    /// A cache of one entry: the object of the snapshot last asked for.
    pub fn new() -> Self {
        Self::with_capacity(1)
    }

    /// A cache that keeps the objects of the `capacity` (at least 1) snapshots most recently built.
    pub fn with_capacity(capacity: usize) -> Self {
        SnapshotCache { entries: ArcSwap::from_pointee(Vec::new()), capacity: capacity.max(1) }
    }

    /// The object of `snap`, if it is cached.
    pub fn get(&self, snap: &Arc<Snapshot>) -> Option<Arc<T>> {
        self.entries.load().iter().find(|e| Arc::ptr_eq(&e.snap, snap)).map(|e| e.value.clone())
    }

    /// The object of `snap`, built with `build` if it is not cached yet.
    pub fn get_or_build(&self, snap: &Arc<Snapshot>, build: impl FnOnce(&Arc<Snapshot>) -> T) -> Arc<T> {
        if let Some(v) = self.get(snap) {
            return v;
        }
        let built = Arc::new(build(snap));
        let mut kept = built.clone();
        self.entries.rcu(|cur| {
            if let Some(e) = cur.iter().find(|e| Arc::ptr_eq(&e.snap, snap)) {
                // Another thread built it meanwhile: keep one object per snapshot.
                kept = e.value.clone();
                return cur.clone();
            }
            kept = built.clone();
            let mut next = Vec::with_capacity(self.capacity);
            next.push(Entry { snap: snap.clone(), value: built.clone() });
            next.extend(cur.iter().take(self.capacity - 1).cloned());
            Arc::new(next)
        });
        kept
    }

    /// The client's current snapshot and its object (built if needed); `None` before the first
    /// snapshot.
    pub fn for_client(
        &self,
        client: &Client,
        build: impl FnOnce(&Arc<Snapshot>) -> T,
    ) -> Option<(Arc<Snapshot>, Arc<T>)> {
        let snap = client.snapshot()?;
        let value = self.get_or_build(&snap, build);
        Some((snap, value))
    }

    /// The newest cached snapshot with this version, and its object.
    pub fn by_version(&self, version: u64) -> Option<(Arc<Snapshot>, Arc<T>)> {
        self.entries.load().iter().find(|e| e.snap.version() == version).map(|e| (e.snap.clone(), e.value.clone()))
    }

    /// Drops every entry (e.g. after a forked child replaced its client).
    pub fn clear(&self) {
        self.entries.store(Arc::new(Vec::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn snap(version: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot::from_json(&format!(r#"{{"schema_version":1,"version":{version}}}"#)).expect("snapshot"))
    }

    #[test]
    fn builds_once_per_snapshot_and_keeps_the_newest() {
        let cache: SnapshotCache<u64> = SnapshotCache::with_capacity(2);
        let builds = AtomicUsize::new(0);
        let build = |s: &Arc<Snapshot>| {
            builds.fetch_add(1, Ordering::Relaxed);
            s.version() * 10
        };
        let (a, b, c) = (snap(1), snap(2), snap(3));
        assert_eq!(*cache.get_or_build(&a, build), 10);
        assert_eq!(*cache.get_or_build(&a, build), 10);
        assert_eq!(builds.load(Ordering::Relaxed), 1);
        // Identity, not version: another snapshot with version 1 is another entry.
        let a2 = snap(1);
        assert!(cache.get(&a2).is_none());
        cache.get_or_build(&b, build);
        cache.get_or_build(&c, build);
        assert_eq!(builds.load(Ordering::Relaxed), 3);
        assert!(cache.get(&a).is_none(), "capacity 2: the oldest went");
        assert_eq!(cache.by_version(2).map(|(_, v)| *v), Some(20));
        assert_eq!(format!("{cache:?}"), "SnapshotCache { versions: [3, 2], capacity: 2 }");
        cache.clear();
        assert!(cache.get(&c).is_none());
    }

    #[test]
    fn racing_threads_share_one_object() {
        let cache: Arc<SnapshotCache<Vec<u8>>> = Arc::new(SnapshotCache::new());
        let s = snap(7);
        let got: Vec<Arc<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| cache.get_or_build(&s, |_| vec![1, 2, 3]))).collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let kept = cache.get(&s).expect("cached");
        // Whoever built too, every caller got the one object kept.
        assert!(got.iter().all(|g| Arc::ptr_eq(g, &kept)));
    }
}
