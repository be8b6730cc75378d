//! Compilation of snapshot JSON (SPEC §3) into the immutable, indexed [`Snapshot`] model.
//!
//! Compilation runs once per published config, so it does all the work a decision would otherwise
//! repeat: indexes by key, owned bucket ranges from weights × traffic, merged params per
//! (experiment, placement, variant), hash suffixes, compiled targeting, holdout lists per experiment.
//!
//! Failure is layered (SPEC §6): a document that is not a schema-1 snapshot is rejected whole
//! ([`SnapshotError`]); an invalid experiment, flag or holdout is disabled on its own and reported as
//! an error [`Lint`]; the rest still applies.
//!
//! | module | compiles |
//! |---|---|
//! | this one | the top level, segments, placements, layers, holdouts, params ids |
//! | [`experiments`] | experiments: variants, allocation, windows, overrides; placement and layer conflicts |
//! | [`flags`] | flags: variants, overrides, rules, schedules |

mod common;
mod experiments;
mod flags;

use crate::codes::{Coded, ErrorCode, LintCode, UnitKind};
use crate::events::ExposureDict;
use crate::hash::{Salted, percent_bp};
use crate::matcher::RegexBudget;
use crate::model::*;
use common::{Lints, raw_key};
use experiments::{attach_candidates, check_running_conflicts, compile_experiment};
use flags::compile_flag;
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

impl Coded for SnapshotError {
    /// `NOT_JSON`, `SCHEMA_VERSION` or `INVALID_SNAPSHOT`.
    fn code(&self) -> ErrorCode {
        match self {
            SnapshotError::NotJson(_) => ErrorCode::NotJson,
            SnapshotError::SchemaVersion(_) => ErrorCode::SchemaVersion,
            SnapshotError::Invalid(_) => ErrorCode::InvalidSnapshot,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawHoldout {
    pub(super) key: String,
    pub(super) salt: Option<String>,
    pub(super) percent: f64,
    #[serde(default)]
    pub(super) unit: UnitKind,
    pub(super) experiments: Value,
}

#[derive(Deserialize)]
pub(super) struct RawLayer {
    pub(super) key: String,
    pub(super) salt: Option<String>,
}

// ---- compilation --------------------------------------------------------------------------------

/// The most items one section of a snapshot may hold (experiments, flags, placements, layers,
/// holdouts, segments). A snapshot over it is refused whole (`INVALID_SNAPSHOT`) before any item
/// is compiled, so its cost stays bounded whatever the body cap lets through: 200,000 is twice the
/// largest layer the compile bench measures (100,000 experiments, 0.4 s).
pub const MAX_ITEMS: usize = 200_000;

fn check_count(name: &str, n: usize) -> Result<(), SnapshotError> {
    if n > MAX_ITEMS {
        return Err(SnapshotError::Invalid(format!(
            "`{name}` holds {n} items, more than the {MAX_ITEMS} a snapshot may hold"
        )));
    }
    Ok(())
}

pub(super) fn section<'a>(top: &'a Map<String, Value>, name: &str) -> Result<Option<&'a Value>, SnapshotError> {
    Ok(top.get(name).filter(|v| !v.is_null()))
}

pub(super) fn as_list<'a>(top: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], SnapshotError> {
    match section(top, name)? {
        None => Ok(&[]),
        Some(Value::Array(a)) => check_count(name, a.len()).map(|()| a.as_slice()),
        Some(_) => Err(SnapshotError::Invalid(format!("`{name}` must be an array"))),
    }
}

pub(super) fn as_object<'a>(
    top: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, SnapshotError> {
    match section(top, name)? {
        None => Ok(None),
        Some(Value::Object(o)) => check_count(name, o.len()).map(|()| Some(o)),
        Some(_) => Err(SnapshotError::Invalid(format!("`{name}` must be an object"))),
    }
}

/// `key` of a raw item, if it has a string one (for naming the item in lints).
/// Top-level fields other than `experiments` and `flags`, parsed into a small map; the two
/// large lists stay as borrowed raw JSON so each item is deserialised once, straight into its typed
/// form (no intermediate `Value` tree to build and drop: about a quarter of compile time).
pub(super) struct TopLevel<'a> {
    pub(super) small: Map<String, Value>,
    pub(super) experiments: Vec<&'a RawValue>,
    pub(super) flags: Vec<&'a RawValue>,
}

pub(super) fn item_list<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Vec<&'a RawValue>, SnapshotError> {
    match raw {
        None => Ok(Vec::new()),
        Some(r) if r.get() == "null" => Ok(Vec::new()),
        Some(r) => {
            let items: Vec<&'a RawValue> = serde_json::from_str(r.get())
                .map_err(|_| SnapshotError::Invalid(format!("`{name}` must be an array")))?;
            check_count(name, items.len())?;
            Ok(items)
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
pub(super) struct RawTop<'a>(Vec<(String, &'a RawValue)>);

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

/// The highest `version` a snapshot may carry: the largest integer every surface (JavaScript
/// included) holds exactly. A higher one would also poison the client, which refuses every later,
/// lower version as a regression.
pub(crate) const MAX_VERSION: u64 = (1 << 53) - 1;

/// Parses and compiles snapshot JSON text.
pub(crate) fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
    compile(&TopLevel::parse(text)?)
}

fn compile(parts: &TopLevel<'_>) -> Result<Snapshot, SnapshotError> {
    let top = &parts.small;
    match top.get("schema_version") {
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => return Err(SnapshotError::SchemaVersion(v.to_string())),
        None => return Err(SnapshotError::SchemaVersion("(missing)".into())),
    }
    let version = match top.get("version") {
        Some(v) => v
            .as_u64()
            .filter(|v| *v <= MAX_VERSION)
            .ok_or_else(|| SnapshotError::Invalid("`version` must be an integer in [0, 2^53 - 1]".into()))?,
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
    // Every `matches` pattern of the snapshot is charged here (see `crate::matcher`).
    let regexes = RegexBudget::default();
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
        exposure_dict: std::sync::Arc::default(),
    };

    for raw in &parts.experiments {
        let mut exp = compile_experiment(raw, &snap, &layer_index, &regexes, &mut lints);
        let idx = snap.experiments.len();
        exp.index = idx;
        if snap.experiment_index.contains_key(&exp.key) {
            lints.push(LintCode::DuplicateKey, format!("experiment:{}", exp.key), "an earlier experiment has this key");
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
        let flag = compile_flag(raw, &snap.segments, &regexes, &mut lints);
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
    snap.exposure_dict = std::sync::Arc::new(exposure_dict(&snap));
    Ok(snap)
}

/// Numbers every params map densely so a decision can name its map with a `u32`.
pub(super) fn assign_params_ids(snap: &mut Snapshot) {
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

pub(super) fn compile_segments(raw: Option<&Map<String, Value>>, lints: &mut Lints) -> SegmentTable {
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

pub(super) fn compile_placements(
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

pub(super) fn compile_layers(raw: &[Value], lints: &mut Lints) -> (Vec<Layer>, FxHashMap<Box<str>, usize>) {
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

pub(super) fn compile_holdouts(raw: &[Value], snap: &mut Snapshot, lints: &mut Lints) {
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

/// The exposure dictionary of a compiled snapshot: names only, so the runtime can keep many.
fn exposure_dict(snap: &Snapshot) -> ExposureDict {
    ExposureDict::new(
        snap.placements.iter().map(|p| &*p.name),
        snap.experiments
            .iter()
            .map(|e| (&e.id, &*e.key, e.iteration, e.variants.iter().map(|v| v.key.clone()).collect())),
    )
}
