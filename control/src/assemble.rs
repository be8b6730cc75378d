//! Authoring state → snapshot JSON (SPEC §3), and the engine's verdict on it. Pure: no I/O, no
//! clock (callers pass `version` and `published_at`).
//!
//! The control plane never validates on its own: it builds the snapshot a publish would serve and
//! compiles it with `vario-core`, the engine every SDK runs, then reads the engine's lints. What
//! the engine would disable is refused before it is stored.

use serde_json::{Map, Value, json};
use vario_core::{Lint, Severity, Snapshot};

use crate::model::{Status, StoredBody};

/// Kinds of environment items, with their URL segment and audit entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `placements`: map name → `{default_params}`.
    Placement,
    /// `layers`: `[{key, salt}]`.
    Layer,
    /// `holdouts`: `[{key, salt, percent, unit, experiments}]`.
    Holdout,
    /// `segments`: map name → ids.
    Segment,
    /// `flags`: `[{key, ...}]`.
    Flag,
}

impl ItemKind {
    /// From the URL segment (`placements`, ...).
    pub fn from_segment(s: &str) -> Option<ItemKind> {
        Some(match s {
            "placements" => ItemKind::Placement,
            "layers" => ItemKind::Layer,
            "holdouts" => ItemKind::Holdout,
            "segments" => ItemKind::Segment,
            "flags" => ItemKind::Flag,
            _ => return None,
        })
    }

    /// As stored, and the audit `entity`.
    pub fn entity(self) -> &'static str {
        match self {
            ItemKind::Placement => "placement",
            ItemKind::Layer => "layer",
            ItemKind::Holdout => "holdout",
            ItemKind::Segment => "segment",
            ItemKind::Flag => "flag",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<ItemKind> {
        Some(match s {
            "placement" => ItemKind::Placement,
            "layer" => ItemKind::Layer,
            "holdout" => ItemKind::Holdout,
            "segment" => ItemKind::Segment,
            "flag" => ItemKind::Flag,
            _ => return None,
        })
    }
}

/// One stored item.
#[derive(Debug, Clone)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its key.
    pub key: String,
    /// Its snapshot shape (without the key for keyed lists).
    pub body: Value,
}

/// One stored experiment, as the assembler needs it.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    /// Opaque id.
    pub id: String,
    /// Lifecycle state.
    pub status: Status,
    /// Iteration (salt suffix when above 1).
    pub iteration: i64,
    /// The authored fields.
    pub body: StoredBody,
}

/// Everything a publish is made of.
#[derive(Debug, Clone)]
pub struct EnvState {
    /// The environment's name.
    pub name: String,
    /// `hashing.seed`.
    pub seed: i64,
    /// Placements, layers, holdouts, segments, flags (in key order).
    pub items: Vec<Item>,
    /// Every experiment, whatever its status (in creation order).
    pub experiments: Vec<ExperimentRow>,
}

/// The salt a snapshot carries: `{salt}:{iteration}` after a new iteration.
pub fn effective_salt(body: &StoredBody, iteration: i64) -> String {
    let base = body.spec.salt.clone().unwrap_or_else(|| body.spec.key.clone());
    if iteration > 1 { format!("{base}:{iteration}") } else { base }
}

/// An experiment in its snapshot shape, as `status`.
pub fn experiment_json(e: &ExperimentRow, status: Status) -> Value {
    let s = &e.body.spec;
    let mut o = Map::new();
    o.insert("id".into(), json!(e.id));
    o.insert("key".into(), json!(s.key));
    o.insert("name".into(), json!(s.name));
    if let Some(h) = &s.hypothesis {
        o.insert("hypothesis".into(), json!(h));
    }
    o.insert("status".into(), json!(status.as_str()));
    o.insert("placements".into(), json!(s.placements));
    if let Some(u) = &s.unit {
        o.insert("unit".into(), json!(u));
    }
    o.insert("salt".into(), json!(effective_salt(&e.body, e.iteration)));
    o.insert("iteration".into(), json!(e.iteration));
    for (k, v) in [("start_time", &s.start_time), ("end_time", &s.end_time)] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    for (k, v) in [
        ("layer", &s.layer),
        ("targeting", &s.targeting),
        ("allocation", &s.allocation),
        ("overrides", &s.overrides),
        ("interleaving", &s.interleaving),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), v.clone());
        }
    }
    let variants: Vec<Value> = s.variants.iter().map(|v| json!({"key": v.key, "params": v.params})).collect();
    o.insert("variants".into(), Value::Array(variants));
    if let Some(sv) = &e.body.shipped_variant {
        o.insert("shipped_variant".into(), json!(sv));
    }
    Value::Object(o)
}

/// The snapshot of `env` with `experiments` (already in their snapshot shape).
pub fn snapshot_json(env: &EnvState, experiments: Vec<Value>, version: i64, published_at: &str) -> Value {
    let mut placements = Map::new();
    let mut segments = Map::new();
    let (mut layers, mut holdouts, mut flags) = (Vec::new(), Vec::new(), Vec::new());
    for it in &env.items {
        match it.kind {
            ItemKind::Placement => {
                placements.insert(it.key.clone(), it.body.clone());
            }
            ItemKind::Segment => {
                let ids = it.body.get("ids").cloned().unwrap_or(Value::Array(Vec::new()));
                segments.insert(it.key.clone(), ids);
            }
            ItemKind::Layer | ItemKind::Holdout | ItemKind::Flag => {
                let mut o = match &it.body {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                o.insert("key".into(), json!(it.key));
                match it.kind {
                    ItemKind::Layer => layers.push(Value::Object(o)),
                    ItemKind::Holdout => holdouts.push(Value::Object(o)),
                    _ => flags.push(Value::Object(o)),
                }
            }
        }
    }
    json!({
        "schema_version": 1,
        "environment": env.name,
        "version": version,
        "published_at": published_at,
        "hashing": {"algorithm": "xxh32", "seed": env.seed},
        "placements": placements,
        "layers": layers,
        "holdouts": holdouts,
        "segments": segments,
        "experiments": experiments,
        "flags": flags,
    })
}

/// The experiments a publish carries: RUNNING, PAUSED and COMPLETED.
pub fn published_experiments(env: &EnvState) -> Vec<Value> {
    env.experiments.iter().filter(|e| e.status.is_published()).map(|e| experiment_json(e, e.status)).collect()
}

/// The engine's error lints on `doc` (a document the engine refuses whole is one `snapshot` lint).
pub fn error_lints(doc: &Value) -> Vec<Lint> {
    match Snapshot::from_value(doc) {
        Ok(s) => s.lints().iter().filter(|l| l.severity == Severity::Error).cloned().collect(),
        Err(e) => vec![Lint {
            code: vario_core::LintCode::Malformed,
            severity: Severity::Error,
            item: "snapshot".into(),
            message: e.to_string(),
        }],
    }
}

/// The lints in `after` that are not in `before` (same code and item).
pub fn new_lints(before: &[Lint], after: Vec<Lint>) -> Vec<Lint> {
    after.into_iter().filter(|a| !before.iter().any(|b| b.code == a.code && b.item == a.item)).collect()
}

/// Lints as the `details` of a `422 VALIDATION_FAILED`.
pub fn lint_details(lints: &[Lint]) -> Value {
    Value::Array(lints.iter().map(|l| json!({"code": l.code.as_str(), "item": l.item, "message": l.message})).collect())
}

/// The experiment alone in a snapshot of its environment's shared items, as RUNNING (so the
/// engine checks it as it would live). An incomplete draft gets a probe variant and allocation, so
/// its targeting, window and layer are still checked when written; completeness is checked when it
/// goes RUNNING.
pub fn alone(env: &EnvState, e: &ExperimentRow) -> Value {
    let mut e = e.clone();
    if e.status == Status::Draft {
        if e.body.spec.variants.is_empty() {
            e.body.spec.variants.push(crate::model::Variant {
                key: "__vario_probe".into(),
                name: None,
                params: Map::new(),
                is_control: false,
            });
        }
        if e.body.spec.allocation.is_none() {
            let first = e.body.spec.variants[0].key.clone();
            e.body.spec.allocation = Some(json!({"weights": {first: 100}}));
        }
    }
    let only_shared = EnvState { experiments: Vec::new(), ..env.clone() };
    snapshot_json(&only_shared, vec![experiment_json(&e, Status::Running)], 1, "1970-01-01T00:00:00Z")
}

/// The lints of `alone(env, e)` that name this experiment.
pub fn experiment_lints(env: &EnvState, e: &ExperimentRow) -> Vec<Lint> {
    let item = format!("experiment:{}", e.body.spec.key);
    error_lints(&alone(env, e)).into_iter().filter(|l| l.item == item || l.item == "snapshot").collect()
}

/// The buckets each variant of `e` owns, as the engine compiles its allocation alone.
pub fn ranges_of(env: &EnvState, e: &ExperimentRow) -> Vec<(u32, u32, String)> {
    let Ok(snap) = Snapshot::from_value(&alone(env, e)) else { return Vec::new() };
    snap.bucket_ranges(&e.body.spec.key)
        .unwrap_or_default()
        .into_iter()
        .map(|(a, b, v)| (a, b, v.to_string()))
        .collect()
}

fn to_map(ranges: &[(u32, u32, String)]) -> Vec<Option<&str>> {
    let mut m = vec![None; vario_core::BUCKETS as usize];
    for (start, end, v) in ranges {
        for slot in m.iter_mut().take(*end as usize).skip(*start as usize) {
            *slot = Some(v.as_str());
        }
    }
    m
}

fn from_map(m: &[Option<&str>]) -> Vec<(u32, u32, String)> {
    let mut out: Vec<(u32, u32, String)> = Vec::new();
    for (b, v) in m.iter().enumerate() {
        let Some(v) = v else { continue };
        let b = b as u32;
        match out.last_mut() {
            Some(last) if last.1 == b && last.2 == *v => last.1 = b + 1,
            _ => out.push((b, b + 1, v.to_string())),
        }
    }
    out
}

/// How many buckets `next` would give a variant other than the one `history` gave them (the
/// `409 RESHUFFLE` count). Buckets that join from unenrolled, or leave, do not count: that is
/// ramping.
pub fn buckets_moved(history: &[(u32, u32, String)], next: &[(u32, u32, String)]) -> u32 {
    let (h, n) = (to_map(history), to_map(next));
    h.iter().zip(&n).filter(|(x, y)| matches!((x, y), (Some(x), Some(y)) if x != y)).count() as u32
}

/// `history` with the buckets `next` enrols for the first time added (a bucket keeps the variant
/// it had first).
pub fn merge_history(history: &[(u32, u32, String)], next: &[(u32, u32, String)]) -> Vec<(u32, u32, String)> {
    let mut h = to_map(history);
    for (slot, v) in h.iter_mut().zip(to_map(next)) {
        if slot.is_none() {
            *slot = v;
        }
    }
    from_map(&h)
}
