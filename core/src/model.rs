//! The compiled snapshot: the data compilation produces and decisions, flags and exposures read.
//!
//! Plain data with crate-visible fields and no behaviour of its own: [`crate::compile`] builds it,
//! [`crate::decide`] and [`crate::flags`] read it, and the public methods live in one place,
//! [`crate::snapshot`].

use crate::codes::{InterleaveMethod, LintCode, Status, UnitKind};
use crate::hash::Salted;
use crate::lint::Lint;
use crate::targeting::{Rule, Segments};
use crate::time::Millis;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A compiled snapshot. Immutable and `Send + Sync`: share it behind an `Arc` and decide from any
/// number of threads.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) environment: String,
    pub(crate) version: u64,
    pub(crate) published_at: Option<String>,
    pub(crate) seed: u32,
    pub(crate) id_hash_key: Option<String>,
    pub(crate) placements: Vec<Placement>,
    pub(crate) placement_index: FxHashMap<Box<str>, usize>,
    pub(crate) experiments: Vec<Experiment>,
    pub(crate) experiment_index: FxHashMap<Box<str>, usize>,
    pub(crate) flags: Vec<Flag>,
    pub(crate) flag_index: FxHashMap<Box<str>, usize>,
    pub(crate) layers: Vec<Layer>,
    pub(crate) holdouts: Vec<Holdout>,
    pub(crate) segments: SegmentTable,
    pub(crate) lints: Vec<Lint>,
    /// Params of an `UNKNOWN_PLACEMENT` decision, kept here so decisions can borrow it.
    pub(crate) empty_params: Map<String, Value>,
    pub(crate) exposure_dict: std::sync::Arc<crate::events::ExposureDict>,
    /// Where each dense params id points (see [`Snapshot::params_by_id`]).
    pub(crate) params_locs: Vec<ParamsLoc>,
    /// Every context attribute a targeting rule reads (see [`Snapshot::context_attributes`]).
    pub(crate) context_attributes: Vec<Box<str>>,
}

/// The location of one params map, by dense id: 0 is the empty map, then each placement's
/// defaults, then every experiment's merged maps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ParamsLoc {
    Empty,
    Placement(u32),
    Merged { experiment: u32, slot: u32, variant: u32 },
}

#[derive(Debug)]
pub(crate) struct Placement {
    pub(crate) name: Box<str>,
    pub(crate) defaults: Map<String, Value>,
    /// Experiments listing this placement, in snapshot order: (experiment index, slot in that
    /// experiment's `merged` table).
    pub(crate) candidates: Vec<(usize, usize)>,
}

#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) salted: Salted,
}

#[derive(Debug)]
pub(crate) struct Holdout {
    pub(crate) salted: Salted,
    pub(crate) bp: u32,
    pub(crate) unit: UnitKind,
    /// Disabled holdouts hold nobody.
    pub(crate) valid: bool,
}

#[derive(Debug)]
pub(crate) struct Variant {
    pub(crate) key: Box<str>,
    pub(crate) params: Map<String, Value>,
}

/// An owned bucket range `[start, end)` of one variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owned {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) variant: usize,
}

#[derive(Debug)]
pub(crate) struct Experiment {
    /// Position in `Snapshot::experiments`.
    pub(crate) index: usize,
    pub(crate) id: Value,
    pub(crate) key: Box<str>,
    pub(crate) status: Status,
    pub(crate) unit: UnitKind,
    pub(crate) salted: Salted,
    pub(crate) iteration: u64,
    pub(crate) start: Option<Millis>,
    pub(crate) end: Option<Millis>,
    /// (layer index, range start, range end).
    pub(crate) layer: Option<(usize, u32, u32)>,
    pub(crate) targeting: Option<Rule>,
    pub(crate) variants: Vec<Variant>,
    pub(crate) owned: Vec<Owned>,
    /// Per variant: owned buckets / all owned buckets.
    pub(crate) shares: Vec<f64>,
    pub(crate) overrides_user: FxHashMap<Box<str>, usize>,
    pub(crate) overrides_session: FxHashMap<Box<str>, usize>,
    pub(crate) shipped: Option<usize>,
    pub(crate) holdouts: Vec<usize>,
    /// `merged[slot][variant]`: placement defaults overlaid with the variant's params.
    pub(crate) merged: Vec<Vec<Map<String, Value>>>,
    /// xxh3 of the key: seeds exposure fingerprints (see `Decision::exposure_fingerprint`).
    pub(crate) key_hash: u64,
    /// Dense params id of `merged[0][0]`; `merged[slot][variant]` is `base + slot * variants + variant`.
    pub(crate) params_base: u32,
    /// Set when the experiment is disabled (decisions say `CONFIG_ERROR`).
    pub(crate) error: Option<LintCode>,
    pub(crate) placement_names: Vec<Box<str>>,
    /// Set when the experiment compares two rankers by interleaving on some of its placements.
    pub(crate) interleaving: Option<Box<Interleaving>>,
}

/// An experiment's `interleaving` declaration, compiled (contract/interleaving.md "Declaring an
/// interleaved experiment"): which two variants' params give rankings `a` and `b`, and the coin
/// inputs every interleaving of this experiment shares.
#[derive(Debug)]
pub(crate) struct Interleaving {
    pub(crate) method: InterleaveMethod,
    /// Variant indices of rankings `a` and `b` (distinct).
    pub(crate) a: usize,
    pub(crate) b: usize,
    /// Per placement slot of the experiment: interleaved there.
    pub(crate) slots: Vec<bool>,
    /// The experiment's salt (the coin's `salt`).
    pub(crate) salt: Box<str>,
    /// The snapshot's `hashing.seed`.
    pub(crate) seed: u32,
}

#[derive(Debug)]
pub(crate) enum Rollout {
    /// `{variant, percent}`: the variant (absent on shadow rules) for `bucket < bp`.
    Percent { variant: Option<usize>, bp: u32 },
    /// `{variant: pct, …}`: consecutive ranges, (variant, end) in declared order.
    Weights(Vec<(usize, u32)>),
}

/// The kind of a flag rule; it also names the reason of the result it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuleKind {
    Target,
    Gradual,
    Canary,
    Shadow,
}

#[derive(Debug)]
pub(crate) struct FlagRule {
    pub(crate) kind: RuleKind,
    pub(crate) targeting: Option<Rule>,
    pub(crate) rollout: Rollout,
    /// (at, bp) steps, ascending.
    pub(crate) schedule: Vec<(Millis, u32)>,
    pub(crate) shadow: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Flag {
    pub(crate) key: Box<str>,
    pub(crate) salted: Salted,
    pub(crate) enabled: bool,
    pub(crate) kill_switch: bool,
    pub(crate) variants: Vec<(Box<str>, Value)>,
    pub(crate) default: usize,
    pub(crate) unit: UnitKind,
    pub(crate) overrides_user: FxHashMap<Box<str>, usize>,
    pub(crate) overrides_session: FxHashMap<Box<str>, usize>,
    pub(crate) rules: Vec<FlagRule>,
    pub(crate) error: Option<LintCode>,
}

#[derive(Debug, Default)]
pub(crate) struct SegmentTable {
    pub(crate) index: FxHashMap<Box<str>, usize>,
    pub(crate) sets: Vec<FxHashSet<Box<str>>>,
}

impl Segments for SegmentTable {
    fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    fn contains(&self, idx: usize, id: &str) -> bool {
        self.sets.get(idx).is_some_and(|s| s.contains(id))
    }
}

// ---- raw (serde) shapes -------------------------------------------------------------------------
