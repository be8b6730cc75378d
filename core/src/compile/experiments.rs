//! Experiments: variants, allocation, windows, overrides, and the conflicts between them.

use super::common::{Lints, Loose, OverrideUnit, Problem, RawOverride, problem};
use crate::codes::{LintCode, Status, UnitKind};
use crate::hash::{Salted, percent_bp};
use crate::matcher::RegexBudget;
use crate::model::*;
use crate::targeting::Rule;
use crate::time::{Millis, parse_rfc3339};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub(super) struct RawExperiment {
    #[serde(default)]
    pub(super) id: Value,
    pub(super) key: String,
    pub(super) status: Status,
    #[serde(default)]
    pub(super) placements: Vec<String>,
    #[serde(default)]
    pub(super) unit: UnitKind,
    pub(super) salt: Option<String>,
    pub(super) iteration: Option<u64>,
    pub(super) start_time: Option<String>,
    pub(super) end_time: Option<String>,
    pub(super) layer: Option<RawLayerRef>,
    pub(super) targeting: Option<Value>,
    pub(super) variants: Vec<RawVariant>,
    pub(super) allocation: RawAllocation,
    #[serde(default)]
    pub(super) overrides: Vec<RawOverride>,
    pub(super) shipped_variant: Option<String>,
    pub(super) interleaving: Option<RawInterleaving>,
}

/// `interleaving: {method, rankers: {a, b}, placements?}` on an experiment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInterleaving {
    pub(super) method: String,
    pub(super) rankers: RawRankers,
    pub(super) placements: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRankers {
    pub(super) a: String,
    pub(super) b: String,
}

#[derive(Deserialize)]
pub(super) struct RawLayerRef {
    pub(super) key: String,
    pub(super) range: [u32; 2],
}

#[derive(Deserialize)]
pub(super) struct RawVariant {
    pub(super) key: String,
    #[serde(default)]
    pub(super) params: Map<String, Value>,
}

#[derive(Deserialize)]
pub(super) struct RawAllocation {
    pub(super) weights: Option<Map<String, Value>>,
    pub(super) traffic: Option<f64>,
    pub(super) ranges: Option<Vec<RawRange>>,
}

#[derive(Deserialize)]
pub(super) struct RawRange {
    pub(super) variant: String,
    pub(super) start: u32,
    pub(super) end: u32,
}

pub(super) fn variant_index(variants: &[Variant], name: &str) -> Result<usize, Problem> {
    variants
        .iter()
        .position(|v| &*v.key == name)
        .ok_or_else(|| Problem(LintCode::UnknownVariant, format!("variant `{name}` is not defined")))
}

pub(super) fn window(start: Option<&str>, end: Option<&str>) -> Result<(Option<Millis>, Option<Millis>), Problem> {
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

pub(super) fn compile_experiment(
    raw: &RawValue,
    snap: &Snapshot,
    layer_index: &FxHashMap<Box<str>, usize>,
    regexes: &RegexBudget,
    lints: &mut Lints,
) -> Experiment {
    let (code, msg) = match serde_json::from_str::<RawExperiment>(raw.get()) {
        Ok(parsed) => match build_experiment(parsed, snap, layer_index, regexes) {
            Ok(e) => return e,
            Err(Problem(code, msg)) => (code, msg),
        },
        Err(e) => (LintCode::Malformed, e.to_string()),
    };
    // Failure path only: read the item's identity field by field (see `Loose`), so it answers
    // CONFIG_ERROR under its own key on the placements it names.
    let loose = Loose::read(raw);
    let key = loose.key();
    lints.push(code, format!("experiment:{key}"), msg);
    Experiment {
        index: 0,
        id: loose.id(),
        key: key.as_str().into(),
        status: Status::Draft,
        unit: loose.unit(),
        salted: Salted::new(&key, &key),
        iteration: loose.iteration(),
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
        placement_names: loose.placements(),
        interleaving: None,
    }
}

pub(super) fn build_experiment(
    r: RawExperiment,
    snap: &Snapshot,
    layer_index: &FxHashMap<Box<str>, usize>,
    regexes: &RegexBudget,
) -> Result<Experiment, Problem> {
    if r.iteration == Some(0) {
        return problem(LintCode::Malformed, "`iteration` starts at 1");
    }
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
        r.targeting.as_ref().filter(|t| !t.is_null()).map(|t| Rule::compile(t, &snap.segments, regexes)).transpose()?;
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
    let interleaving = r
        .interleaving
        .as_ref()
        .map(|il| interleaving(il, &variants, &placement_names, salt, snap.seed))
        .transpose()?
        .map(Box::new);
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
        interleaving,
    })
}

/// Compiles an `interleaving` declaration. Refusals make the whole experiment `CONFIG_ERROR`
/// (lint `BAD_INTERLEAVING`, or `UNKNOWN_VARIANT` for a ranker the experiment lacks): serving one
/// ranking alone where two were declared would quietly turn the comparison into something else.
fn interleaving(
    il: &RawInterleaving,
    variants: &[Variant],
    placements: &[Box<str>],
    salt: &str,
    seed: u32,
) -> Result<Interleaving, Problem> {
    let method =
        crate::interleave::parse_method(&il.method).map_err(|e| Problem(LintCode::BadInterleaving, e.to_string()))?;
    let (a, b) = (variant_index(variants, &il.rankers.a)?, variant_index(variants, &il.rankers.b)?);
    if a == b {
        return problem(LintCode::BadInterleaving, format!("rankers a and b are both `{}`", il.rankers.a));
    }
    let slots = match &il.placements {
        None => vec![true; placements.len()],
        Some(list) => {
            if list.is_empty() {
                return problem(
                    LintCode::BadInterleaving,
                    "interleaving.placements is empty (omit it for all placements)",
                );
            }
            if let Some(p) = list.iter().find(|p| !placements.iter().any(|q| **q == ***p)) {
                return problem(
                    LintCode::BadInterleaving,
                    format!("interleaving placement `{p}` is not one of the experiment's placements"),
                );
            }
            placements.iter().map(|q| list.iter().any(|p| **q == **p)).collect()
        }
    };
    Ok(Interleaving { method, a, b, slots, salt: salt.into(), seed })
}

/// Owned ranges per SPEC §1 and their total width.
pub(super) fn allocate(a: &RawAllocation, variants: &[Variant]) -> Result<(Vec<Owned>, u32), Problem> {
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

pub(super) fn windows_overlap(a: &Experiment, b: &Experiment) -> bool {
    a.start.unwrap_or(Millis::MIN) < b.end.unwrap_or(Millis::MAX)
        && b.start.unwrap_or(Millis::MIN) < a.end.unwrap_or(Millis::MAX)
}

/// Accepted RUNNING experiments of one group (a placement's experiments of one layer, or of no
/// layer; or a layer's experiments), indexed so a check costs about `log n` in the common case.
///
/// Experiments without a time window overlap every other one in time, so what matters about them
/// is kept in indexes: the earliest accepted one, the earliest per unit kind, and their layer
/// ranges (pairwise disjoint, since each was accepted against the ones before it) by start.
/// Windowed experiments are few; they are scanned.
#[derive(Default)]
struct Group {
    first_unbounded: Option<usize>,
    first_by_unit: [Option<usize>; 3],
    /// Layer range start → (end, experiment) of unbounded members with a non-empty range.
    ranges: BTreeMap<u32, (u32, usize)>,
    windowed: Vec<usize>,
}

fn unit_slot(u: UnitKind) -> usize {
    match u {
        UnitKind::User => 0,
        UnitKind::Session => 1,
        UnitKind::UserOrSession => 2,
    }
}

fn unbounded(e: &Experiment) -> bool {
    e.start.is_none() && e.end.is_none()
}

impl Group {
    fn add(&mut self, i: usize, e: &Experiment) {
        if unbounded(e) {
            self.first_unbounded.get_or_insert(i);
            self.first_by_unit[unit_slot(e.unit)].get_or_insert(i);
            if let Some((_, s, end)) = e.layer.filter(|l| l.1 < l.2) {
                self.ranges.insert(s, (end, i));
            }
        } else {
            self.windowed.push(i);
        }
    }

    /// The earliest member whose window overlaps `e`'s.
    fn first_in_time(&self, exps: &[Experiment], e: &Experiment) -> Option<usize> {
        let w = self.windowed.iter().copied().find(|&j| windows_overlap(e, &exps[j]));
        min_opt(self.first_unbounded, w)
    }

    /// The earliest member that overlaps `e` in time and differs from it in unit (`true`) or
    /// overlaps its layer range (`false`).
    fn first_layer_conflict(&self, exps: &[Experiment], e: &Experiment) -> Option<(usize, bool)> {
        let (s1, e1) = e.layer.map_or((0, 0), |l| (l.1, l.2));
        let overlaps = |f: &Experiment| f.layer.is_some_and(|(_, s2, e2)| s1 < e1 && s2 < e2 && s1 < e2 && s2 < e1);
        let mut best: Option<(usize, bool)> = None;
        let mut offer = |j: usize, unit: bool| {
            if best.is_none_or(|(b, bu)| j < b || (j == b && unit && !bu)) {
                best = Some((j, unit));
            }
        };
        let me = unit_slot(e.unit);
        for (slot, first) in self.first_by_unit.iter().enumerate() {
            if let Some(j) = first.filter(|_| slot != me) {
                offer(j, true);
            }
        }
        if s1 < e1 {
            // Disjoint ranges: those overlapping [s1, e1) start before e1 and end after s1; at
            // most one of them starts at or before s1.
            let before = self.ranges.range(..=s1).next_back();
            for (_, &(end, j)) in before.into_iter().chain(self.ranges.range(s1.saturating_add(1)..e1)) {
                if end > s1 {
                    offer(j, false);
                }
            }
        }
        for &j in &self.windowed {
            let f = &exps[j];
            if !windows_overlap(e, f) {
                continue;
            }
            if e.unit != f.unit {
                offer(j, true);
            } else if overlaps(f) {
                offer(j, false);
            }
        }
        best
    }
}

fn min_opt(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Disables later RUNNING experiments that conflict with earlier accepted ones (see the vectors
/// README): each is checked against the earliest accepted experiment it conflicts with. Indexed by
/// placement, layer and window (see [`Group`]), so 100,000 experiments in one layer compile in
/// about `n log n` instead of comparing every pair.
pub(super) fn check_running_conflicts(snap: &mut Snapshot, lints: &mut Lints) {
    // Per placement: the accepted experiments of each layer (`None`: of no layer).
    let mut by_placement: FxHashMap<Box<str>, Vec<(Option<usize>, Group)>> = FxHashMap::default();
    let mut by_layer: FxHashMap<usize, Group> = FxHashMap::default();
    for i in 0..snap.experiments.len() {
        let exps = &snap.experiments;
        let e = &exps[i];
        if e.error.is_some() || e.status != Status::Running {
            continue;
        }
        let my_layer = e.layer.map(|l| l.0);
        let mut found = None;
        for p in &e.placement_names {
            let groups = by_placement.get(p).map(Vec::as_slice).unwrap_or_default();
            let first = groups
                .iter()
                .filter(|(layer, _)| layer.is_none() || *layer != my_layer)
                .filter_map(|(_, g)| g.first_in_time(exps, e))
                .min();
            if let Some(j) = first {
                found = Some((
                    LintCode::PlacementCollision,
                    format!("shares placement `{p}` with RUNNING experiment `{}` outside one layer", exps[j].key),
                ));
                break;
            }
        }
        if let (None, Some((li, s1, e1))) = (&found, e.layer) {
            if let Some((j, unit)) = by_layer.get(&li).and_then(|g| g.first_layer_conflict(exps, e)) {
                let f = &exps[j];
                found = Some(if unit {
                    (LintCode::LayerUnitMismatch, format!("unit differs from `{}` in the same layer", f.key))
                } else {
                    let (s2, e2) = f.layer.map_or((0, 0), |l| (l.1, l.2));
                    (LintCode::LayerOverlap, format!("layer range [{s1}, {e1}) overlaps `{}` [{s2}, {e2})", f.key))
                });
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
                    let groups = by_placement.entry(p.clone()).or_default();
                    match groups.iter_mut().find(|(layer, _)| *layer == my_layer) {
                        Some((_, g)) => g.add(i, e),
                        None => {
                            let mut g = Group::default();
                            g.add(i, e);
                            groups.push((my_layer, g));
                        }
                    }
                }
                if let Some(li) = my_layer {
                    by_layer.entry(li).or_default().add(i, e);
                }
            }
        }
    }
}

pub(super) fn attach_candidates(snap: &mut Snapshot, lints: &mut Lints) {
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
