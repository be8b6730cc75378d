//! A compiled snapshot seen from the facade: the context attributes its decisions read (in the
//! order the facade passes their values) and the strings and params it fetches once per snapshot.
//! Which attributes those are is the host layer's rule ([`vario::host::snapshot_attributes`] for
//! a bare snapshot, [`vario::host::HostClient::context_attributes`] for a client); a client keeps
//! its views in a [`vario::host::SnapshotCache`].

use serde_json::Value;
use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use vario_core::Snapshot;

/// A snapshot with the attribute names its decisions read.
pub(crate) struct View {
    pub(crate) snap: Arc<Snapshot>,
    pub(crate) attrs: Vec<(CString, String)>,
    /// Unique per view: the facade passes attribute values in the order of the view it last
    /// saw, and the id says whether that order still holds.
    pub(crate) id: u32,
}

static VIEW_IDS: AtomicU32 = AtomicU32::new(1);

impl View {
    /// The view of `snap` reading `attrs` (in this order). A name with a NUL byte cannot be a
    /// property name Node-API reads by C string, so it is left out (no context carries it).
    pub(crate) fn new(snap: Arc<Snapshot>, attrs: Vec<String>) -> View {
        let attrs = attrs.into_iter().filter_map(|n| CString::new(n.clone()).ok().map(|c| (c, n))).collect();
        View { snap, attrs, id: VIEW_IDS.fetch_add(1, Ordering::Relaxed) }
    }

    /// `[{key, id, variants}]` of every experiment, by index.
    pub(crate) fn experiments_json(&self) -> String {
        let list: Vec<Value> = (0..self.snap.experiment_count())
            .filter_map(|i| Some((i, self.snap.experiment_at(i)?)))
            .map(|(i, (key, id, vs))| {
                let mut e = serde_json::json!({"key": key, "id": id, "variants": vs.collect::<Vec<_>>()});
                // Interleaved experiments only: what `build` needs to name both rankers without
                // a call back into the addon (see `lib/request.ts`).
                if let Some(il) = self.snap.interleaving_at(i) {
                    let placements: serde_json::Map<String, Value> = il
                        .placements
                        .iter()
                        .map(|(p, pa, pb)| ((*p).to_owned(), serde_json::json!([pa, pb])))
                        .collect();
                    e["interleaving"] = serde_json::json!({
                        "method": il.method, "a": il.a, "b": il.b, "salt": il.salt, "seed": il.seed,
                        "placements": placements,
                    });
                }
                e
            })
            .collect();
        Value::Array(list).to_string()
    }

    /// The attribute names, in the order the facade passes their values.
    pub(crate) fn attr_names(&self) -> Vec<String> {
        self.attrs.iter().map(|(_, n)| n.clone()).collect()
    }

    /// The params map with this dense id, as JSON (`{}` for an unknown id).
    pub(crate) fn params_json(&self, id: u32) -> String {
        self.snap.params_by_id(id).map_or_else(|| "{}".into(), |m| Value::Object(m.clone()).to_string())
    }
}
