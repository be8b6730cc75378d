//! The public face of a compiled snapshot: every method of [`Snapshot`] lives here, in one place.
//!
//! The data is in `model`; this module only delegates: compilation to `compile`,
//! placement decisions to [`crate::decide`], flags to [`crate::flags`], exposure dictionaries to
//! [`crate::events`]. Nothing imports this module back, so the crate's import graph has no cycle.

pub use crate::compile::SnapshotError;
pub use crate::model::Snapshot;

use crate::decide::{self, BatchDecider, Decision};
use crate::events::{ExposureDict, ExposureFields, ExposureKey};
use crate::flags::{self, FlagDecision};
use crate::lint::Lint;
use crate::model::ParamsLoc;
use crate::request::Request;
use crate::time::Millis;
use serde_json::{Map, Value};

impl Snapshot {
    /// Parses and compiles snapshot JSON text.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        crate::compile::from_json(text)
    }

    /// Compiles an already parsed snapshot document (re-serialised once: the compiler reads text).
    pub fn from_value(doc: &Value) -> Result<Snapshot, SnapshotError> {
        if !doc.is_object() {
            return Err(SnapshotError::NotJson("top level is not an object".into()));
        }
        Snapshot::from_json(&doc.to_string())
    }

    /// Decides `req` at `now` (milliseconds since the epoch). Pure: same inputs, same decision.
    #[inline]
    pub fn decide<'a>(&'a self, req: &Request<'a>, now: Millis) -> Decision<'a> {
        decide::decide_memo(self, req, now, &[])
    }

    /// Decides many units that share `template`'s placement, context, consent and forced
    /// variants at `now`; see [`BatchDecider`].
    pub fn batch<'a>(&'a self, template: &Request<'a>, now: Millis) -> BatchDecider<'a> {
        decide::batch(self, template, now)
    }

    /// Evaluates flag `key` for `req` at `now`. The request's placement is ignored.
    pub fn flag<'a>(&'a self, key: &'a str, req: &Request<'a>, now: Millis) -> FlagDecision<'a> {
        flags::evaluate(self, key, req, now)
    }

    /// This snapshot's exposure dictionary (built once at compile time).
    pub fn exposure_dict(&self) -> &std::sync::Arc<ExposureDict> {
        &self.exposure_dict
    }

    /// Resolves an [`ExposureKey`](ExposureKey) taken from a decision of this
    /// snapshot. `None` when the key belongs to another snapshot version.
    pub fn exposure_fields(
        &self,
        key: &ExposureKey,
        page_type: Option<String>,
        decided_at: Millis,
        context: Map<String, Value>,
    ) -> Option<ExposureFields> {
        if key.config_version != self.version {
            return None;
        }
        self.exposure_dict.exposure_fields(key, page_type, decided_at, context)
    }

    /// The snapshot's `version`.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The snapshot's `environment` (empty when absent).
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The snapshot's `published_at`, as written.
    pub fn published_at(&self) -> Option<&str> {
        self.published_at.as_deref()
    }

    /// The hashing seed.
    pub fn seed(&self) -> u32 {
        self.seed
    }

    /// `privacy.id_hash_key`, when the snapshot carries one.
    pub fn id_hash_key(&self) -> Option<&str> {
        self.id_hash_key.as_deref()
    }

    /// Every finding of compilation: errors (disabled items) and warnings.
    pub fn lints(&self) -> &[Lint] {
        &self.lints
    }

    /// How many params maps [`Snapshot::params_by_id`] knows; ids are `0..params_count()`.
    pub fn params_count(&self) -> usize {
        self.params_locs.len()
    }

    /// The params map with this dense id (see [`Decision::params_id`](crate::Decision::params_id)).
    /// Bindings use it to convert each distinct map to a host object once per snapshot instead of
    /// once per decision.
    pub fn params_by_id(&self, id: u32) -> Option<&Map<String, Value>> {
        match *self.params_locs.get(id as usize)? {
            ParamsLoc::Empty => Some(&self.empty_params),
            ParamsLoc::Placement(p) => Some(&self.placements.get(p as usize)?.defaults),
            ParamsLoc::Merged { experiment, slot, variant } => {
                self.experiments.get(experiment as usize)?.merged.get(slot as usize)?.get(variant as usize)
            }
        }
    }

    /// The context attributes any targeting rule of this snapshot reads, in first-use order.
    /// Decisions and flag results depend on the context only through these (exposures also copy
    /// `page_type` and the runtime's exposure context keys), so a binding may convert just these
    /// from a host object instead of the whole context.
    pub fn context_attributes(&self) -> &[Box<str>] {
        &self.context_attributes
    }

    /// How many experiments the snapshot holds (valid or not); indices are `0..experiment_count()`.
    pub fn experiment_count(&self) -> usize {
        self.experiments.len()
    }

    /// Key, id and variant keys of the experiment at `index` (see
    /// [`Decision::experiment_index`](crate::Decision::experiment_index)).
    pub fn experiment_at(&self, index: usize) -> Option<(&str, &Value, impl ExactSizeIterator<Item = &str>)> {
        let e = self.experiments.get(index)?;
        Some((&*e.key, &e.id, e.variants.iter().map(|v| &*v.key)))
    }

    /// The `interleaving` declaration of the experiment at `index`, for bindings that build
    /// [`crate::Decision::interleaving`] themselves from a decision's scalars: per declared
    /// placement, the dense params ids ([`Snapshot::params_by_id`]) of rankers `a` and `b`.
    pub fn interleaving_at(&self, index: usize) -> Option<InterleavingInfo<'_>> {
        let e = self.experiments.get(index)?;
        let il = e.interleaving.as_deref()?;
        let n = e.variants.len() as u32;
        let placements = e
            .placement_names
            .iter()
            .enumerate()
            .filter(|(slot, _)| il.slots.get(*slot).copied().unwrap_or(false))
            .map(|(slot, name)| {
                let base = e.params_base + slot as u32 * n;
                (&**name, base + il.a as u32, base + il.b as u32)
            })
            .collect();
        Some(InterleavingInfo {
            method: il.method,
            a: &e.variants.get(il.a)?.key,
            b: &e.variants.get(il.b)?.key,
            salt: &il.salt,
            seed: il.seed,
            placements,
        })
    }

    /// Placement names, in snapshot order.
    pub fn placement_names(&self) -> impl Iterator<Item = &str> {
        self.placements.iter().map(|p| &*p.name)
    }

    /// Experiment keys, in snapshot order.
    pub fn experiment_keys(&self) -> impl Iterator<Item = &str> {
        self.experiments.iter().map(|e| &*e.key)
    }

    /// Variant keys of an experiment, in declared order.
    pub fn variant_keys(&self, experiment: &str) -> Option<impl Iterator<Item = &str>> {
        let e = &self.experiments[*self.experiment_index.get(experiment)?];
        Some(e.variants.iter().map(|v| &*v.key))
    }

    /// The buckets an experiment's allocation gives each variant, as compiled: `(start, end,
    /// variant key)` half-open ranges in bucket order (`None` for an unknown key; empty when the
    /// experiment is disabled or owns no bucket). The control plane compares two of these to refuse
    /// a ramp that would move units between variants.
    pub fn bucket_ranges(&self, experiment: &str) -> Option<Vec<(u32, u32, &str)>> {
        let e = &self.experiments[*self.experiment_index.get(experiment)?];
        if e.error.is_some() {
            return Some(Vec::new());
        }
        let mut out: Vec<(u32, u32, &str)> =
            e.owned.iter().map(|o| (o.start, o.end, &*e.variants[o.variant].key)).collect();
        out.sort_by_key(|r| r.0);
        Some(out)
    }
}

/// An experiment's compiled `interleaving` declaration ([`Snapshot::interleaving_at`]).
#[derive(Debug, Clone)]
pub struct InterleavingInfo<'a> {
    /// How its lists merge.
    pub method: crate::codes::InterleaveMethod,
    /// Ranking `a`'s variant.
    pub a: &'a str,
    /// Ranking `b`'s variant.
    pub b: &'a str,
    /// The coin's salt (the experiment's).
    pub salt: &'a str,
    /// The coin's seed (the snapshot's `hashing.seed`).
    pub seed: u32,
    /// (placement, params id of `a`, params id of `b`) for each interleaved placement.
    pub placements: Vec<(&'a str, u32, u32)>,
}
