//! Snapshot JSON (SPEC §3) → an immutable, indexed, validated [`Snapshot`].
//!
//! Compilation runs once per published config, so it does all the work a decision would otherwise
//! repeat: indexes by key, owned bucket ranges from weights × traffic, merged params per
//! (experiment, placement, variant), hash suffixes, compiled targeting, holdout lists per experiment.
//!
//! Failure is layered (SPEC §6): a document that is not a schema-1 snapshot is rejected whole
//! ([`SnapshotError`]); an invalid experiment, flag or holdout is disabled on its own and reported as
//! an error [`Lint`]; the rest still applies.

use crate::hash::Salted;
use crate::lint::{Lint, LintCode};
use crate::model::{Status, UnitKind, percent_bp};
use crate::targeting::{Rule, RuleError, Segments};
use crate::time::{Millis, parse_rfc3339};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why a whole snapshot was rejected. The previous good snapshot (if any) stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The text is not JSON (or not a JSON object).
    #[error("snapshot is not a JSON object: {0}")]
    NotJson(String),
    /// `schema_version` is missing or not 1.
    #[error("unsupported snapshot schema_version {0} (this SDK reads 1)")]
    SchemaVersion(String),
    /// A top-level field has the wrong type or value.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
}

impl SnapshotError {
    /// The stable code: `NOT_JSON`, `SCHEMA_VERSION` or `INVALID_SNAPSHOT`.
    pub fn code(&self) -> &'static str {
        match self {
            SnapshotError::NotJson(_) => "NOT_JSON",
            SnapshotError::SchemaVersion(_) => "SCHEMA_VERSION",
            SnapshotError::Invalid(_) => "INVALID_SNAPSHOT",
        }
    }
}

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
    placement_names: Vec<Box<str>>,
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
    index: FxHashMap<Box<str>, usize>,
    sets: Vec<FxHashSet<Box<str>>>,
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

#[derive(Deserialize)]
struct RawExperiment {
    #[serde(default)]
    id: Value,
    key: String,
    status: Status,
    #[serde(default)]
    placements: Vec<String>,
    #[serde(default)]
    unit: UnitKind,
    salt: Option<String>,
    iteration: Option<u64>,
    start_time: Option<String>,
    end_time: Option<String>,
    layer: Option<RawLayerRef>,
    targeting: Option<Value>,
    variants: Vec<RawVariant>,
    allocation: RawAllocation,
    #[serde(default)]
    overrides: Vec<RawOverride>,
    shipped_variant: Option<String>,
}

#[derive(Deserialize)]
struct RawLayerRef {
    key: String,
    range: [u32; 2],
}

#[derive(Deserialize)]
struct RawVariant {
    key: String,
    #[serde(default)]
    params: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawAllocation {
    weights: Option<Map<String, Value>>,
    traffic: Option<f64>,
    ranges: Option<Vec<RawRange>>,
}

#[derive(Deserialize)]
struct RawRange {
    variant: String,
    start: u32,
    end: u32,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum OverrideUnit {
    User,
    Session,
}

#[derive(Deserialize)]
struct RawOverride {
    unit: OverrideUnit,
    id: String,
    variant: String,
}

#[derive(Deserialize)]
struct RawFlag {
    key: String,
    salt: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    kill_switch: bool,
    variants: Map<String, Value>,
    default_variant: String,
    #[serde(default)]
    unit: UnitKind,
    #[serde(default)]
    overrides: Vec<RawOverride>,
    #[serde(default)]
    rules: Vec<RawFlagRule>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawFlagRule {
    kind: RuleKind,
    targeting: Option<Value>,
    rollout: Option<Map<String, Value>>,
    schedule: Option<Vec<RawStep>>,
    shadow_variant: Option<String>,
}

#[derive(Deserialize)]
struct RawStep {
    at: String,
    percent: f64,
}

#[derive(Deserialize)]
struct RawHoldout {
    key: String,
    salt: Option<String>,
    percent: f64,
    #[serde(default)]
    unit: UnitKind,
    experiments: Value,
}

#[derive(Deserialize)]
struct RawLayer {
    key: String,
    salt: Option<String>,
}

// ---- compilation --------------------------------------------------------------------------------

/// An item-level failure: the first problem found disables the item.
struct Problem(LintCode, String);

impl From<RuleError> for Problem {
    fn from(e: RuleError) -> Self {
        Problem(e.code, e.message)
    }
}

fn problem<T>(code: LintCode, msg: impl Into<String>) -> Result<T, Problem> {
    Err(Problem(code, msg.into()))
}

struct Lints(Vec<Lint>);

impl Lints {
    fn push(&mut self, code: LintCode, item: impl Into<String>, message: impl Into<String>) {
        self.0.push(Lint { code, severity: code.severity(), item: item.into(), message: message.into() });
    }
}

fn section<'a>(top: &'a Map<String, Value>, name: &str) -> Result<Option<&'a Value>, SnapshotError> {
    Ok(top.get(name).filter(|v| !v.is_null()))
}

fn as_list<'a>(top: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], SnapshotError> {
    match section(top, name)? {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(SnapshotError::Invalid(format!("`{name}` must be an array"))),
    }
}

fn as_object<'a>(top: &'a Map<String, Value>, name: &str) -> Result<Option<&'a Map<String, Value>>, SnapshotError> {
    match section(top, name)? {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(SnapshotError::Invalid(format!("`{name}` must be an object"))),
    }
}

/// `key` of a raw item, if it has a string one (for naming the item in lints).
fn raw_key(v: &Value) -> String {
    v.get("key").and_then(Value::as_str).unwrap_or("?").to_owned()
}

/// Top-level fields other than `experiments` and `flags`, parsed into a small map; the two
/// large lists stay as borrowed raw JSON so each item is deserialised once, straight into its typed
/// form (no intermediate `Value` tree to build and drop: about a quarter of compile time).
struct TopLevel<'a> {
    small: Map<String, Value>,
    experiments: Vec<&'a RawValue>,
    flags: Vec<&'a RawValue>,
}

fn item_list<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Vec<&'a RawValue>, SnapshotError> {
    match raw {
        None => Ok(Vec::new()),
        Some(r) if r.get() == "null" => Ok(Vec::new()),
        Some(r) => {
            serde_json::from_str(r.get()).map_err(|_| SnapshotError::Invalid(format!("`{name}` must be an array")))
        }
    }
}

impl<'a> TopLevel<'a> {
    fn parse(text: &'a str) -> Result<Self, SnapshotError> {
        let fields: Vec<(String, &'a RawValue)> =
            serde_json::from_str::<RawTop<'a>>(text).map_err(|e| SnapshotError::NotJson(e.to_string()))?.0;
        let mut small = Map::new();
        let (mut experiments, mut flags) = (None, None);
        for (k, v) in fields {
            match k.as_str() {
                "experiments" => experiments = Some(v),
                "flags" => flags = Some(v),
                _ => {
                    let v: Value = serde_json::from_str(v.get()).map_err(|e| SnapshotError::NotJson(e.to_string()))?;
                    small.insert(k, v);
                }
            }
        }
        Ok(TopLevel { small, experiments: item_list(experiments, "experiments")?, flags: item_list(flags, "flags")? })
    }
}

/// A JSON object as an ordered list of (key, raw value); a later duplicate key wins, as in a map.
struct RawTop<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawTop<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = RawTop<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut out: Vec<(String, &'a RawValue)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, &'de RawValue>()? {
                    out.retain(|(x, _)| *x != k);
                    out.push((k, v));
                }
                Ok(RawTop(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Snapshot {
    /// Parses and compiles snapshot JSON text.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let top = TopLevel::parse(text)?;
        Snapshot::compile(&top)
    }

    /// Compiles an already parsed snapshot document (re-serialised once: the compiler reads text).
    pub fn from_value(doc: &Value) -> Result<Snapshot, SnapshotError> {
        if !doc.is_object() {
            return Err(SnapshotError::NotJson("top level is not an object".into()));
        }
        Snapshot::from_json(&doc.to_string())
    }

    fn compile(parts: &TopLevel<'_>) -> Result<Snapshot, SnapshotError> {
        let top = &parts.small;
        match top.get("schema_version") {
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => return Err(SnapshotError::SchemaVersion(v.to_string())),
            None => return Err(SnapshotError::SchemaVersion("(missing)".into())),
        }
        let version = match top.get("version") {
            Some(v) => {
                v.as_u64().ok_or_else(|| SnapshotError::Invalid("`version` must be a non-negative integer".into()))?
            }
            None => return Err(SnapshotError::Invalid("`version` is required".into())),
        };
        let environment = match section(top, "environment")? {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(SnapshotError::Invalid("`environment` must be a string".into()));
            }
        };
        let published_at = match section(top, "published_at")? {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(SnapshotError::Invalid("`published_at` must be a string".into()));
            }
        };
        let mut seed = 0u32;
        if let Some(h) = as_object(top, "hashing")? {
            match h.get("algorithm") {
                None | Some(Value::Null) => {}
                Some(Value::String(a)) if a == "xxh32" => {}
                Some(a) => {
                    return Err(SnapshotError::Invalid(format!("hashing.algorithm {a} is not supported (xxh32)")));
                }
            }
            if let Some(s) = h.get("seed").filter(|s| !s.is_null()) {
                seed = s
                    .as_u64()
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or_else(|| SnapshotError::Invalid(format!("hashing.seed {s} is not a u32")))?;
            }
        }
        let id_hash_key = match as_object(top, "privacy")?.and_then(|p| p.get("id_hash_key")) {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => {
                return Err(SnapshotError::Invalid("privacy.id_hash_key must be a string".into()));
            }
        };

        let mut lints = Lints(Vec::new());
        let segments = compile_segments(as_object(top, "segments")?, &mut lints);
        let (placements, placement_index) = compile_placements(as_object(top, "placements")?, &mut lints);
        let (layers, layer_index) = compile_layers(as_list(top, "layers")?, &mut lints);

        let mut snap = Snapshot {
            environment,
            version,
            published_at,
            seed,
            id_hash_key,
            placements,
            placement_index,
            experiments: Vec::new(),
            experiment_index: FxHashMap::default(),
            flags: Vec::new(),
            flag_index: FxHashMap::default(),
            layers,
            holdouts: Vec::new(),
            segments,
            lints: Vec::new(),
            empty_params: Map::new(),
            params_locs: Vec::new(),
            context_attributes: Vec::new(),
            exposure_dict: std::sync::Arc::new(crate::events::ExposureDict {
                placements: Vec::new(),
                placements_json: Vec::new(),
                experiments: Vec::new(),
            }),
        };

        for raw in &parts.experiments {
            let mut exp = compile_experiment(raw, &snap, &layer_index, &mut lints);
            let idx = snap.experiments.len();
            exp.index = idx;
            if snap.experiment_index.contains_key(&exp.key) {
                lints.push(
                    LintCode::DuplicateKey,
                    format!("experiment:{}", exp.key),
                    "an earlier experiment has this key",
                );
                exp.error = Some(LintCode::DuplicateKey);
                snap.experiments.push(exp);
            } else {
                snap.experiment_index.insert(exp.key.clone(), idx);
                snap.experiments.push(exp);
            }
        }
        check_running_conflicts(&mut snap, &mut lints);
        attach_candidates(&mut snap, &mut lints);
        compile_holdouts(as_list(top, "holdouts")?, &mut snap, &mut lints);

        for raw in &parts.flags {
            let flag = compile_flag(raw, &snap.segments, &mut lints);
            let idx = snap.flags.len();
            if snap.flag_index.contains_key(&flag.key) {
                lints.push(LintCode::DuplicateKey, format!("flag:{}", flag.key), "an earlier flag has this key");
                let mut flag = flag;
                flag.error = Some(LintCode::DuplicateKey);
                snap.flags.push(flag);
            } else {
                snap.flag_index.insert(flag.key.clone(), idx);
                snap.flags.push(flag);
            }
        }
        snap.lints = lints.0;
        assign_params_ids(&mut snap);
        let mut attrs = Vec::new();
        for rule in snap.experiments.iter().filter_map(|e| e.targeting.as_ref()) {
            rule.context_attributes(&mut attrs);
        }
        for rule in snap.flags.iter().flat_map(|f| &f.rules).filter_map(|r| r.targeting.as_ref()) {
            rule.context_attributes(&mut attrs);
        }
        snap.context_attributes = attrs;
        snap.exposure_dict = std::sync::Arc::new(crate::events::ExposureDict::of(&snap));
        Ok(snap)
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
}

/// Numbers every params map densely so a decision can name its map with a `u32`.
fn assign_params_ids(snap: &mut Snapshot) {
    let mut locs = vec![ParamsLoc::Empty];
    locs.extend((0..snap.placements.len()).map(|p| ParamsLoc::Placement(p as u32)));
    for (ei, e) in snap.experiments.iter_mut().enumerate() {
        e.params_base = locs.len() as u32;
        for (slot, row) in e.merged.iter().enumerate() {
            for variant in 0..row.len() {
                locs.push(ParamsLoc::Merged { experiment: ei as u32, slot: slot as u32, variant: variant as u32 });
            }
        }
    }
    snap.params_locs = locs;
}

fn compile_segments(raw: Option<&Map<String, Value>>, lints: &mut Lints) -> SegmentTable {
    let mut t = SegmentTable::default();
    for (name, ids) in raw.into_iter().flatten() {
        let Some(list) = ids.as_array() else {
            lints.push(LintCode::Malformed, format!("segment:{name}"), "a segment must be an array of string ids");
            continue;
        };
        let mut set = FxHashSet::default();
        let mut ok = true;
        for id in list {
            match id.as_str() {
                Some(s) => {
                    set.insert(Box::<str>::from(s));
                }
                None => ok = false,
            }
        }
        if !ok {
            lints.push(LintCode::Malformed, format!("segment:{name}"), "a segment must be an array of string ids");
            continue;
        }
        t.index.insert(name.as_str().into(), t.sets.len());
        t.sets.push(set);
    }
    t
}

fn compile_placements(
    raw: Option<&Map<String, Value>>,
    lints: &mut Lints,
) -> (Vec<Placement>, FxHashMap<Box<str>, usize>) {
    let mut out = Vec::new();
    let mut index = FxHashMap::default();
    for (name, p) in raw.into_iter().flatten() {
        let defaults = match p.get("default_params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                lints.push(LintCode::Malformed, format!("placement:{name}"), "`default_params` must be an object");
                continue;
            }
        };
        index.insert(Box::<str>::from(name.as_str()), out.len());
        out.push(Placement { name: name.as_str().into(), defaults, candidates: Vec::new() });
    }
    (out, index)
}

fn compile_layers(raw: &[Value], lints: &mut Lints) -> (Vec<Layer>, FxHashMap<Box<str>, usize>) {
    let mut out = Vec::new();
    let mut index = FxHashMap::default();
    for v in raw {
        match RawLayer::deserialize(v) {
            Ok(l) => {
                if index.contains_key(l.key.as_str()) {
                    lints.push(LintCode::DuplicateKey, format!("layer:{}", l.key), "an earlier layer has this key");
                    continue;
                }
                let salt = l.salt.as_deref().unwrap_or(&l.key);
                index.insert(Box::<str>::from(l.key.as_str()), out.len());
                out.push(Layer { salted: Salted::new(&l.key, salt) });
            }
            Err(e) => lints.push(LintCode::Malformed, format!("layer:{}", raw_key(v)), e.to_string()),
        }
    }
    (out, index)
}

fn variant_index(variants: &[Variant], name: &str) -> Result<usize, Problem> {
    variants
        .iter()
        .position(|v| &*v.key == name)
        .ok_or_else(|| Problem(LintCode::UnknownVariant, format!("variant `{name}` is not defined")))
}

fn window(start: Option<&str>, end: Option<&str>) -> Result<(Option<Millis>, Option<Millis>), Problem> {
    let parse = |s: &str| {
        parse_rfc3339(s).ok_or_else(|| Problem(LintCode::BadWindow, format!("`{s}` is not an RFC 3339 date-time")))
    };
    let start = start.map(parse).transpose()?;
    let end = end.map(parse).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            return problem(LintCode::BadWindow, "end_time is not after start_time");
        }
    }
    Ok((start, end))
}

fn compile_experiment(
    raw: &RawValue,
    snap: &Snapshot,
    layer_index: &FxHashMap<Box<str>, usize>,
    lints: &mut Lints,
) -> Experiment {
    let (code, msg) = match serde_json::from_str::<RawExperiment>(raw.get()) {
        Ok(parsed) => match build_experiment(parsed, snap, layer_index) {
            Ok(e) => return e,
            Err(Problem(code, msg)) => (code, msg),
        },
        Err(e) => (LintCode::Malformed, e.to_string()),
    };
    // Failure path only: read the item loosely to keep enough identity (key, id, placements, unit)
    // to answer CONFIG_ERROR on the placements it names.
    let raw: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let key = raw_key(&raw);
    lints.push(code, format!("experiment:{key}"), msg);
    Experiment {
        index: 0,
        id: raw.get("id").cloned().unwrap_or(Value::Null),
        key: key.as_str().into(),
        status: Status::Draft,
        unit: raw.get("unit").and_then(|u| UnitKind::deserialize(u).ok()).unwrap_or_default(),
        salted: Salted::new(&key, &key),
        iteration: raw.get("iteration").and_then(Value::as_u64).unwrap_or(1),
        start: None,
        end: None,
        layer: None,
        targeting: None,
        variants: Vec::new(),
        owned: Vec::new(),
        shares: Vec::new(),
        overrides_user: FxHashMap::default(),
        overrides_session: FxHashMap::default(),
        shipped: None,
        holdouts: Vec::new(),
        merged: Vec::new(),
        key_hash: xxhash_rust::xxh3::xxh3_64(key.as_bytes()),
        params_base: 0,
        error: Some(code),
        placement_names: raw
            .get("placements")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(Box::<str>::from).collect())
            .unwrap_or_default(),
    }
}

fn build_experiment(
    r: RawExperiment,
    snap: &Snapshot,
    layer_index: &FxHashMap<Box<str>, usize>,
) -> Result<Experiment, Problem> {
    if r.key.is_empty() {
        return problem(LintCode::Malformed, "`key` must not be empty");
    }
    if r.variants.is_empty() {
        return problem(LintCode::Malformed, "`variants` must not be empty");
    }
    let mut variants: Vec<Variant> = Vec::with_capacity(r.variants.len());
    for v in r.variants {
        if variants.iter().any(|x| *x.key == *v.key) {
            return problem(LintCode::Malformed, format!("variant `{}` is defined twice", v.key));
        }
        variants.push(Variant { key: v.key.into(), params: v.params });
    }
    let (owned, total) = allocate(&r.allocation, &variants)?;
    let shares = (0..variants.len())
        .map(|i| {
            let w: u32 = owned.iter().filter(|o| o.variant == i).map(|o| o.end - o.start).sum();
            if total == 0 { 0.0 } else { f64::from(w) / f64::from(total) }
        })
        .collect();
    let (start, end) = window(r.start_time.as_deref(), r.end_time.as_deref())?;
    let layer = match r.layer {
        None => None,
        Some(l) => {
            let idx = *layer_index
                .get(l.key.as_str())
                .ok_or_else(|| Problem(LintCode::UnknownLayer, format!("layer `{}` is not defined", l.key)))?;
            let [s, e] = l.range;
            if s > e || e > crate::hash::BUCKETS {
                return problem(LintCode::BadRanges, format!("layer range [{s}, {e}) is not within [0, 10000]"));
            }
            Some((idx, s, e))
        }
    };
    let targeting =
        r.targeting.as_ref().filter(|t| !t.is_null()).map(|t| Rule::compile(t, &snap.segments)).transpose()?;
    let mut overrides_user = FxHashMap::default();
    let mut overrides_session = FxHashMap::default();
    for o in &r.overrides {
        let vi = variant_index(&variants, &o.variant)?;
        let map = if o.unit == OverrideUnit::User { &mut overrides_user } else { &mut overrides_session };
        map.entry(Box::<str>::from(o.id.as_str())).or_insert(vi);
    }
    let shipped = r.shipped_variant.as_deref().map(|s| variant_index(&variants, s)).transpose()?;
    let salt = r.salt.as_deref().unwrap_or(&r.key);
    let placement_names: Vec<Box<str>> = r.placements.iter().map(|p| Box::<str>::from(p.as_str())).collect();
    let merged = placement_names
        .iter()
        .map(|p| {
            let defaults = snap.placement_index.get(p).map(|&i| &snap.placements[i].defaults);
            variants
                .iter()
                .map(|v| {
                    let mut m = defaults.cloned().unwrap_or_default();
                    for (k, val) in &v.params {
                        m.insert(k.clone(), val.clone());
                    }
                    m
                })
                .collect()
        })
        .collect();
    let key_hash = xxhash_rust::xxh3::xxh3_64(r.key.as_bytes());
    Ok(Experiment {
        index: 0,
        id: r.id,
        salted: Salted::new(&r.key, salt),
        key: r.key.into(),
        status: r.status,
        unit: r.unit,
        iteration: r.iteration.unwrap_or(1),
        start,
        end,
        layer,
        targeting,
        variants,
        owned,
        shares,
        overrides_user,
        overrides_session,
        shipped,
        holdouts: Vec::new(),
        merged,
        key_hash,
        params_base: 0,
        error: None,
        placement_names,
    })
}

/// Owned ranges per SPEC §1 and their total width.
fn allocate(a: &RawAllocation, variants: &[Variant]) -> Result<(Vec<Owned>, u32), Problem> {
    match (&a.weights, &a.ranges) {
        (Some(weights), None) => {
            let mut bp = vec![0u32; variants.len()];
            for (name, w) in weights {
                let vi = variant_index(variants, name)?;
                let w = w.as_f64().and_then(percent_bp).ok_or_else(|| {
                    Problem(
                        LintCode::BadAllocation,
                        format!("weight of `{name}` must be a percentage in [0, 100] with at most two decimals"),
                    )
                })?;
                bp[vi] = w;
            }
            let sum: u32 = bp.iter().sum();
            if sum != crate::hash::BUCKETS {
                return problem(LintCode::BadAllocation, format!("weights add up to {sum} bp, not 10000"));
            }
            let t = match a.traffic {
                None => crate::hash::BUCKETS,
                Some(t) => percent_bp(t).ok_or_else(|| {
                    Problem(
                        LintCode::BadAllocation,
                        "traffic must be a percentage in [0, 100] with at most two decimals".into(),
                    )
                })?,
            };
            let mut owned = Vec::new();
            let mut cursor = 0u32;
            let mut total = 0u32;
            for (i, &b) in bp.iter().enumerate() {
                // b * t <= 10^8 fits u32, but stay in u64 to make the bound obvious.
                let width = (u64::from(b) * u64::from(t) / 10_000) as u32;
                if width > 0 {
                    owned.push(Owned { start: cursor, end: cursor + width, variant: i });
                }
                total += width;
                cursor += b;
            }
            Ok((owned, total))
        }
        (None, Some(ranges)) => {
            if a.traffic.is_some() {
                return problem(LintCode::BadAllocation, "traffic applies to weights only, not to explicit ranges");
            }
            let mut owned = Vec::new();
            for r in ranges {
                let vi = variant_index(variants, &r.variant)?;
                if r.start > r.end || r.end > crate::hash::BUCKETS {
                    return problem(
                        LintCode::BadRanges,
                        format!("range [{}, {}) is not within [0, 10000]", r.start, r.end),
                    );
                }
                if r.end > r.start {
                    owned.push(Owned { start: r.start, end: r.end, variant: vi });
                }
            }
            owned.sort_by_key(|o| o.start);
            if let Some(w) = owned.windows(2).find(|w| w[0].end > w[1].start) {
                return problem(
                    LintCode::BadRanges,
                    format!("ranges [{}, {}) and [{}, {}) overlap", w[0].start, w[0].end, w[1].start, w[1].end),
                );
            }
            let total = owned.iter().map(|o| o.end - o.start).sum();
            Ok((owned, total))
        }
        (Some(_), Some(_)) => problem(LintCode::BadAllocation, "give either weights or ranges, not both"),
        (None, None) => problem(LintCode::BadAllocation, "allocation needs weights or ranges"),
    }
}

fn windows_overlap(a: &Experiment, b: &Experiment) -> bool {
    a.start.unwrap_or(Millis::MIN) < b.end.unwrap_or(Millis::MAX)
        && b.start.unwrap_or(Millis::MIN) < a.end.unwrap_or(Millis::MAX)
}

/// Disables later RUNNING experiments that conflict with earlier accepted ones (see the vectors
/// README). Indexed by placement and by layer so a 1,000-experiment snapshot compiles in linear-ish
/// time instead of comparing every pair.
fn check_running_conflicts(snap: &mut Snapshot, lints: &mut Lints) {
    let mut by_placement: FxHashMap<Box<str>, Vec<usize>> = FxHashMap::default();
    let mut by_layer: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
    for i in 0..snap.experiments.len() {
        let e = &snap.experiments[i];
        if e.error.is_some() || e.status != Status::Running {
            continue;
        }
        let mut found = None;
        'placements: for p in &e.placement_names {
            for &j in by_placement.get(p).into_iter().flatten() {
                let f = &snap.experiments[j];
                let same_layer = matches!((e.layer, f.layer), (Some(a), Some(b)) if a.0 == b.0);
                if !same_layer && windows_overlap(e, f) {
                    found = Some((
                        LintCode::PlacementCollision,
                        format!("shares placement `{p}` with RUNNING experiment `{}` outside one layer", f.key),
                    ));
                    break 'placements;
                }
            }
        }
        if let (None, Some((li, s1, e1))) = (&found, e.layer) {
            for &j in by_layer.get(&li).into_iter().flatten() {
                let f = &snap.experiments[j];
                let Some((_, s2, e2)) = f.layer else { continue };
                if !windows_overlap(e, f) {
                    continue;
                }
                if e.unit != f.unit {
                    found =
                        Some((LintCode::LayerUnitMismatch, format!("unit differs from `{}` in the same layer", f.key)));
                    break;
                }
                if s1 < e1 && s2 < e2 && s1 < e2 && s2 < e1 {
                    found = Some((
                        LintCode::LayerOverlap,
                        format!("layer range [{s1}, {e1}) overlaps `{}` [{s2}, {e2})", f.key),
                    ));
                    break;
                }
            }
        }
        match found {
            Some((code, msg)) => {
                lints.push(code, format!("experiment:{}", e.key), msg);
                snap.experiments[i].error = Some(code);
            }
            None => {
                if e.owned.is_empty() {
                    lints.push(
                        LintCode::Unreachable,
                        format!("experiment:{}", e.key),
                        "RUNNING but owns no bucket (traffic 0 or empty ranges)",
                    );
                }
                for p in &e.placement_names {
                    by_placement.entry(p.clone()).or_default().push(i);
                }
                if let Some((li, _, _)) = e.layer {
                    by_layer.entry(li).or_default().push(i);
                }
            }
        }
    }
}

fn attach_candidates(snap: &mut Snapshot, lints: &mut Lints) {
    for (ei, e) in snap.experiments.iter().enumerate() {
        for (slot, p) in e.placement_names.iter().enumerate() {
            match snap.placement_index.get(p) {
                Some(&pi) => snap.placements[pi].candidates.push((ei, slot)),
                None => lints.push(
                    LintCode::UnknownPlacement,
                    format!("experiment:{}", e.key),
                    format!("placement `{p}` is not defined"),
                ),
            }
        }
    }
}

fn compile_holdouts(raw: &[Value], snap: &mut Snapshot, lints: &mut Lints) {
    for v in raw {
        let key = raw_key(v);
        let item = format!("holdout:{key}");
        let parsed = match RawHoldout::deserialize(v) {
            Ok(h) => h,
            Err(e) => {
                lints.push(LintCode::BadHoldout, item, e.to_string());
                continue;
            }
        };
        let bp = percent_bp(parsed.percent);
        let idx = snap.holdouts.len();
        snap.holdouts.push(Holdout {
            salted: Salted::new(&parsed.key, parsed.salt.as_deref().unwrap_or(&parsed.key)),
            bp: bp.unwrap_or(0),
            unit: parsed.unit,
            valid: bp.is_some(),
        });
        if bp.is_none() {
            lints.push(LintCode::BadHoldout, item, "percent must be in [0, 100] with at most two decimals");
            continue;
        }
        match &parsed.experiments {
            Value::String(s) if s == "*" => {
                for e in &mut snap.experiments {
                    e.holdouts.push(idx);
                }
            }
            Value::Array(keys) => {
                for k in keys {
                    match k.as_str().and_then(|k| snap.experiment_index.get(k)) {
                        Some(&ei) => snap.experiments[ei].holdouts.push(idx),
                        None => lints.push(
                            LintCode::UnknownHoldoutExperiment,
                            item.clone(),
                            format!("experiment {k} is not defined"),
                        ),
                    }
                }
            }
            _ => {
                snap.holdouts[idx].valid = false;
                lints.push(LintCode::BadHoldout, item, "`experiments` must be a list of keys or \"*\"");
            }
        }
    }
}

fn compile_flag(raw: &RawValue, segs: &SegmentTable, lints: &mut Lints) -> Flag {
    let (code, msg) = match serde_json::from_str::<RawFlag>(raw.get()) {
        Ok(parsed) => match build_flag(parsed, segs) {
            Ok(f) => return f,
            Err(Problem(code, msg)) => (code, msg),
        },
        Err(e) => (LintCode::Malformed, e.to_string()),
    };
    let raw: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let key = raw_key(&raw);
    lints.push(code, format!("flag:{key}"), msg);
    Flag {
        key: key.as_str().into(),
        salted: Salted::new(&key, &key),
        enabled: false,
        kill_switch: false,
        variants: Vec::new(),
        default: 0,
        unit: UnitKind::default(),
        overrides_user: FxHashMap::default(),
        overrides_session: FxHashMap::default(),
        rules: Vec::new(),
        error: Some(code),
    }
}

fn build_flag(r: RawFlag, segs: &SegmentTable) -> Result<Flag, Problem> {
    if r.key.is_empty() {
        return problem(LintCode::Malformed, "`key` must not be empty");
    }
    let variants: Vec<(Box<str>, Value)> = r.variants.into_iter().map(|(k, v)| (k.into_boxed_str(), v)).collect();
    let find = |name: &str| {
        variants
            .iter()
            .position(|(k, _)| &**k == name)
            .ok_or_else(|| Problem(LintCode::UnknownVariant, format!("variant `{name}` is not defined")))
    };
    let default = find(&r.default_variant)?;
    let mut overrides_user = FxHashMap::default();
    let mut overrides_session = FxHashMap::default();
    for o in &r.overrides {
        let vi = find(&o.variant)?;
        let map = if o.unit == OverrideUnit::User { &mut overrides_user } else { &mut overrides_session };
        map.entry(Box::<str>::from(o.id.as_str())).or_insert(vi);
    }
    let mut rules = Vec::with_capacity(r.rules.len());
    for raw in r.rules {
        let targeting = raw.targeting.as_ref().filter(|t| !t.is_null()).map(|t| Rule::compile(t, segs)).transpose()?;
        let shadow = match (raw.kind, raw.shadow_variant.as_deref()) {
            (RuleKind::Shadow, Some(s)) => Some(find(s)?),
            (RuleKind::Shadow, None) => {
                return problem(LintCode::Malformed, "a shadow rule needs `shadow_variant`");
            }
            (_, _) => None,
        };
        let rollout = match (&raw.rollout, raw.kind) {
            (None, RuleKind::Shadow) => Rollout::Percent { variant: None, bp: crate::hash::BUCKETS },
            (None, _) => {
                return problem(LintCode::BadAllocation, "a serving rule needs a `rollout`");
            }
            (Some(m), kind) => match m.get("variant") {
                Some(Value::String(v)) => {
                    let variant = if kind == RuleKind::Shadow { None } else { Some(find(v)?) };
                    let bp = match m.get("percent") {
                        None => {
                            if raw.schedule.is_some() {
                                0
                            } else {
                                crate::hash::BUCKETS
                            }
                        }
                        Some(p) => p.as_f64().and_then(percent_bp).ok_or_else(|| {
                            Problem(
                                LintCode::BadAllocation,
                                "rollout percent must be in [0, 100] with at most two decimals".into(),
                            )
                        })?,
                    };
                    Rollout::Percent { variant, bp }
                }
                _ if kind == RuleKind::Shadow => {
                    let bp = match m.get("percent") {
                        None => crate::hash::BUCKETS,
                        Some(p) => p.as_f64().and_then(percent_bp).ok_or_else(|| {
                            Problem(
                                LintCode::BadAllocation,
                                "rollout percent must be in [0, 100] with at most two decimals".into(),
                            )
                        })?,
                    };
                    Rollout::Percent { variant: None, bp }
                }
                _ => {
                    let mut ends = Vec::with_capacity(m.len());
                    let mut cursor = 0u32;
                    for (name, w) in m {
                        let vi = find(name)?;
                        let w = w.as_f64().and_then(percent_bp).ok_or_else(|| {
                            Problem(
                                LintCode::BadAllocation,
                                format!(
                                    "weight of `{name}` must be a percentage in [0, 100] with at most two decimals"
                                ),
                            )
                        })?;
                        cursor += w;
                        ends.push((vi, cursor));
                    }
                    if cursor != crate::hash::BUCKETS {
                        return problem(
                            LintCode::BadAllocation,
                            format!("rollout weights add up to {cursor} bp, not 10000"),
                        );
                    }
                    Rollout::Weights(ends)
                }
            },
        };
        let mut schedule = Vec::new();
        if let Some(steps) = &raw.schedule {
            if !matches!(rollout, Rollout::Percent { .. }) {
                return problem(LintCode::BadSchedule, "a schedule needs a `{variant, percent}` rollout");
            }
            for s in steps {
                let at = parse_rfc3339(&s.at).ok_or_else(|| {
                    Problem(LintCode::BadSchedule, format!("`{}` is not an RFC 3339 date-time", s.at))
                })?;
                let bp = percent_bp(s.percent).ok_or_else(|| {
                    Problem(
                        LintCode::BadSchedule,
                        "schedule percent must be in [0, 100] with at most two decimals".into(),
                    )
                })?;
                if schedule.last().is_some_and(|&(prev, _)| prev > at) {
                    return problem(LintCode::BadSchedule, "schedule steps must be in ascending `at` order");
                }
                schedule.push((at, bp));
            }
        }
        rules.push(FlagRule { kind: raw.kind, targeting, rollout, schedule, shadow });
    }
    let salt = r.salt.as_deref().unwrap_or(&r.key);
    Ok(Flag {
        salted: Salted::new(&r.key, salt),
        key: r.key.into(),
        enabled: r.enabled,
        kill_switch: r.kill_switch,
        variants,
        default,
        unit: r.unit,
        overrides_user,
        overrides_session,
        rules,
        error: None,
    })
}
