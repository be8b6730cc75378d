//! Placement decisions (SPEC §5): request + snapshot + `now` → [`Decision`].
//!
//! The decision borrows from the snapshot and the request, so the hot path copies no strings and
//! builds no maps: params were merged at compile time, keys are `&str` into the snapshot, and the
//! trace vector is only allocated when a trace was asked for. Bulk decisions ([`BatchDecider`])
//! run the same precedence code with the batch's id-free targeting answered once.

use crate::codes::{InterleaveMethod, Reason, Status, UnitType};
use crate::events::{ExposureFields, ExposureKey, RawExposure};
use crate::interleave::{Coin, InterleaveError, Pick};
use crate::model::{Experiment, Snapshot};
use crate::request::Request;
use crate::targeting::{Attributes, context_get};
use crate::time::{Millis, format_rfc3339_millis};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// Why one candidate experiment did or did not enroll (present only when a trace was asked for).
#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry<'a> {
    /// The candidate's key.
    pub experiment_key: &'a str,
    /// Its own outcome.
    pub reason: Reason,
    /// The experiment bucket, when computed.
    pub bucket: Option<u32>,
    /// The layer bucket, when computed.
    pub layer_bucket: Option<u32>,
}

/// What decided a request (see `Snapshot::choose`), before it is dressed as a [`Decision`].
#[derive(Clone, Copy)]
enum Choice<'a> {
    /// The placement is not in the snapshot.
    UnknownPlacement,
    /// The placement's defaults (index) for this reason: opted out, or no candidate decided.
    Defaults(usize, Reason),
    /// A per-request forced variant: placement, experiment, placement slot, variant.
    Forced(usize, &'a Experiment, usize, usize),
    /// The deciding candidate's outcome.
    Candidate(usize, Outcome<'a>),
}

/// One unit's bulk decision: what `decide_many` stores per row. Equal to the fields of the
/// [`Decision`] that [`Snapshot::decide`] makes for the same unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchRow {
    /// [`Decision::reason`].
    pub reason: Reason,
    /// [`Decision::experiment_index`].
    pub experiment_index: Option<usize>,
    /// [`Decision::variant_index`].
    pub variant_index: Option<usize>,
    /// [`Decision::bucket`].
    pub bucket: Option<u32>,
    /// [`Decision::unit_type`].
    pub unit_type: Option<UnitType>,
    /// [`Decision::allocation_share`].
    pub allocation_share: Option<f64>,
}

/// The served variant's propensity: its share of the experiment's enrolled buckets when the unit
/// was randomised into it, 1 when it was served for any other reason (forced, shipped, ...).
/// One rule for full decisions and bulk rows.
#[inline(always)]
fn share_of(o: &Outcome<'_>, vi: usize) -> f64 {
    if o.reason == Reason::Assigned { o.exp.shares[vi] } else { 1.0 }
}

/// The outcome of one candidate.
#[derive(Clone, Copy)]
struct Outcome<'a> {
    exp: &'a Experiment,
    slot: usize,
    reason: Reason,
    variant: Option<usize>,
    unit: Option<(UnitType, &'a str)>,
    bucket: Option<u32>,
    layer_bucket: Option<u32>,
}

const NO_PARAMS_ID: u32 = u32::MAX;

/// A placement decision. Borrows the snapshot and the request.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    placement: &'a str,
    placement_index: Option<usize>,
    reason: Reason,
    experiment: Option<&'a Experiment>,
    variant: Option<usize>,
    params: &'a Map<String, Value>,
    /// Dense id of `params` in the snapshot; `NO_PARAMS_ID` for caller defaults (`NO_CONFIG`).
    params_id: u32,
    unit: Option<(UnitType, &'a str)>,
    bucket: Option<u32>,
    allocation_share: Option<f64>,
    config_version: u64,
    context: Option<&'a Map<String, Value>>,
    other_id: Option<(UnitType, &'a str)>,
    trace: Option<Vec<TraceEntry<'a>>>,
}

impl<'a> Decision<'a> {
    /// The placement asked about.
    pub fn placement(&self) -> &'a str {
        self.placement
    }
    /// Why this decision.
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// The deciding experiment's `id` as in the snapshot (`null` when none).
    pub fn experiment_id(&self) -> Option<&'a Value> {
        self.experiment.map(|e| &e.id)
    }
    /// The deciding experiment's key.
    pub fn experiment_key(&self) -> Option<&'a str> {
        self.experiment.map(|e| &*e.key)
    }
    /// The variant served, if any.
    pub fn variant(&self) -> Option<&'a str> {
        Some(&*self.experiment?.variants.get(self.variant?)?.key)
    }
    /// Params to serve: placement defaults with the variant's params laid over them.
    pub fn params(&self) -> &'a Map<String, Value> {
        self.params
    }
    /// The dense id of [`Decision::params`] in the deciding snapshot
    /// ([`Snapshot::params_by_id`]); `None` for `NO_CONFIG` (caller defaults).
    pub fn params_id(&self) -> Option<u32> {
        (self.params_id != NO_PARAMS_ID).then_some(self.params_id)
    }
    /// Index of the deciding experiment in the snapshot ([`Snapshot::experiment_at`]).
    pub fn experiment_index(&self) -> Option<usize> {
        self.experiment.map(|e| e.index)
    }
    /// Index of the served variant within its experiment.
    pub fn variant_index(&self) -> Option<usize> {
        self.variant
    }
    /// The unit type used (`user` or `session`).
    pub fn unit_type(&self) -> Option<UnitType> {
        self.unit.map(|u| u.0)
    }
    /// The raw unit id used (never leaves the process: events carry pseudonyms).
    pub fn unit_id(&self) -> Option<&'a str> {
        self.unit.map(|u| u.1)
    }
    /// The experiment bucket, when it was computed.
    pub fn bucket(&self) -> Option<u32> {
        self.bucket
    }
    /// `"{experiment_key}:{unit_id}"`, formatted lazily.
    pub fn hash_key(&self) -> Option<HashKey<'a>> {
        Some(HashKey(self.experiment_key()?, self.unit_id()?))
    }
    /// The served variant's share of the experiment's enrolled buckets (propensity).
    pub fn allocation_share(&self) -> Option<f64> {
        self.allocation_share
    }
    /// The deciding experiment's iteration.
    pub fn iteration(&self) -> Option<u64> {
        self.experiment.map(|e| e.iteration)
    }
    /// The snapshot version that decided.
    pub fn config_version(&self) -> u64 {
        self.config_version
    }
    /// `context.page_type`, when it is a string.
    pub fn page_type(&self) -> Option<&'a str> {
        self.context.and_then(|c| context_get(c, "page_type")).and_then(Value::as_str)
    }
    /// The two rankers to interleave, when the deciding experiment declares `interleaving` on this
    /// placement and the unit is in it (`ASSIGNED`, `FORCED` or `OVERRIDE`): rank with both
    /// rankers' params, then merge with [`InterleavePlan::interleave`]. The decision's own
    /// variant and params stay those of its bucket, so a caller that ignores interleaving still
    /// serves a valid experience (an A/B split of the same experiment).
    pub fn interleaving(&self) -> Option<InterleavePlan<'a>> {
        if !matches!(self.reason, Reason::Assigned | Reason::Forced | Reason::Override) {
            return None;
        }
        let e = self.experiment?;
        let il = e.interleaving.as_deref()?;
        let slot = e.placement_names.iter().position(|p| **p == *self.placement)?;
        if !*il.slots.get(slot)? {
            return None;
        }
        let merged = e.merged.get(slot)?;
        let ranker = |v: usize| Some(Ranker { variant: &e.variants.get(v)?.key, params: merged.get(v)? });
        Some(InterleavePlan {
            method: il.method,
            a: ranker(il.a)?,
            b: ranker(il.b)?,
            unit_id: self.unit_id()?,
            key: &e.key,
            salt: &il.salt,
            seed: il.seed,
        })
    }
    /// Every candidate's outcome, when a trace was asked for.
    pub fn trace(&self) -> Option<&[TraceEntry<'a>]> {
        self.trace.as_deref()
    }
    /// A decision made without any snapshot (`NO_CONFIG`): the caller's defaults for the placement.
    /// Used by the runtime before the first snapshot arrives (the service-down fallback).
    pub fn no_config(placement: &'a str, defaults: &'a Map<String, Value>) -> Self {
        Decision {
            placement,
            placement_index: None,
            reason: Reason::NoConfig,
            experiment: None,
            variant: None,
            params: defaults,
            params_id: NO_PARAMS_ID,
            unit: None,
            bucket: None,
            allocation_share: None,
            config_version: 0,
            context: None,
            other_id: None,
            trace: None,
        }
    }

    /// A compact, copyable reference to this decision's exposure (`None` unless `ASSIGNED`),
    /// resolved later against the snapshot of the same `config_version` with
    /// [`Snapshot::exposure_fields`]. Lets a caller enqueue an exposure without copying strings.
    pub fn exposure_key(&self) -> Option<ExposureKey> {
        if !self.should_expose() {
            return None;
        }
        let e = self.experiment?;
        Some(ExposureKey {
            config_version: self.config_version,
            placement: self.placement_index?,
            experiment: e.index,
            variant: self.variant?,
            unit_type: self.unit_type()?,
            allocation_share: self.allocation_share?,
        })
    }

    /// A 64-bit fingerprint of this decision's exposure identity (unit type and id, experiment
    /// key, variant, iteration: the de-dup key of SPEC §5), `None` unless it logs an exposure.
    /// Stable across snapshot versions; lets the runtime skip repeats before they are queued.
    pub fn exposure_fingerprint(&self) -> Option<u64> {
        if !self.should_expose() {
            return None;
        }
        let e = self.experiment?;
        let (ut, id) = self.unit?;
        let v = self.variant? as u64;
        let seed = e.key_hash
            ^ e.iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (v << 40)
            ^ (matches!(ut, UnitType::Session) as u64) << 63;
        Some(xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed))
    }

    /// True when this decision should log an exposure (only `ASSIGNED`, see the vectors README).
    pub fn should_expose(&self) -> bool {
        self.reason == Reason::Assigned
    }
    /// Both request ids, as (user, session), for the exposure.
    pub(crate) fn ids(&self) -> (Option<&'a str>, Option<&'a str>) {
        let mut user = None;
        let mut session = None;
        for (t, id) in [self.unit, self.other_id].into_iter().flatten() {
            match t {
                UnitType::User => user = Some(id),
                UnitType::Session => session = Some(id),
            }
        }
        (user, session)
    }

    /// Canonical JSON (field order of the vectors README).
    pub fn to_json(&self) -> String {
        // Serialising borrowed strings and numbers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Decision<'_> {
    /// The exposure this decision logs, or `None` when it logs none (only `ASSIGNED` does).
    /// `context_keys` selects which context attributes travel with the event.
    pub fn exposure(
        &self,
        now: Millis,
        context_keys: &[&str],
        context: Option<&Map<String, Value>>,
    ) -> Option<RawExposure> {
        if !self.should_expose() {
            return None;
        }
        let (user, session) = self.ids();
        let mut ctx = Map::new();
        if let Some(c) = context {
            for k in context_keys {
                if let Some(v) = c.get(*k) {
                    ctx.insert((*k).to_owned(), v.clone());
                }
            }
        }
        Some(RawExposure {
            user_id: user.map(str::to_owned),
            session_id: session.map(str::to_owned),
            data: ExposureFields {
                experiment_id: self.experiment_id()?.clone(),
                experiment_key: self.experiment_key()?.to_owned(),
                variant: self.variant()?.to_owned(),
                iteration: self.iteration()?,
                unit_type: self.unit_type()?,
                placement: self.placement().to_owned(),
                page_type: self.page_type().map(str::to_owned),
                reason: self.reason(),
                allocation_share: self.allocation_share()?,
                config_version: self.config_version(),
                decided_at: format_rfc3339_millis(now),
                context: ctx,
                interleaving: None,
            },
        })
    }
}

/// `"{experiment_key}:{unit_id}"`, displayed without an intermediate allocation.
#[derive(Debug, Clone, Copy)]
pub struct HashKey<'a>(&'a str, &'a str);

impl fmt::Display for HashKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl Serialize for Decision<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let interleaving = self.interleaving();
        let n = 12 + usize::from(self.trace.is_some()) + usize::from(interleaving.is_some());
        let mut st = s.serialize_struct("Decision", n)?;
        st.serialize_field("placement", self.placement)?;
        st.serialize_field("experiment_id", &self.experiment_id())?;
        st.serialize_field("experiment_key", &self.experiment_key())?;
        st.serialize_field("variant", &self.variant())?;
        st.serialize_field("params", self.params)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("unit_type", &self.unit_type())?;
        st.serialize_field("bucket", &self.bucket)?;
        st.serialize_field("hash_key", &self.hash_key().map(|h| h.to_string()))?;
        st.serialize_field("allocation_share", &self.allocation_share)?;
        st.serialize_field("iteration", &self.iteration())?;
        st.serialize_field("config_version", &self.config_version)?;
        if let Some(il) = &interleaving {
            st.serialize_field("interleaving", il)?;
        }
        if let Some(t) = &self.trace {
            st.serialize_field("trace", t)?;
        }
        st.end()
    }
}

/// One ranker of an interleaved decision: its variant and the params to rank with (placement
/// defaults with that variant's params laid over them).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ranker<'a> {
    /// The variant whose params give this ranking.
    pub variant: &'a str,
    /// Its merged params.
    pub params: &'a Map<String, Value>,
}

/// What an interleaved decision asks of its caller ([`Decision::interleaving`]): two rankings,
/// one per ranker, merged by `method` with this unit's coin (SPEC §10: key and salt of the
/// experiment, the snapshot's seed).
#[derive(Debug, Clone, Copy)]
pub struct InterleavePlan<'a> {
    /// How to merge.
    pub method: InterleaveMethod,
    /// Ranking `a`'s ranker.
    pub a: Ranker<'a>,
    /// Ranking `b`'s ranker.
    pub b: Ranker<'a>,
    unit_id: &'a str,
    key: &'a str,
    salt: &'a str,
    seed: u32,
}

impl<'a> InterleavePlan<'a> {
    /// The coin of this unit's interleavings for `query` (`""` when none).
    pub fn coin<'q>(&self, query: &'q str) -> Coin<'q>
    where
        'a: 'q,
    {
        Coin { unit_id: self.unit_id, key: self.key, salt: self.salt, query, seed: self.seed }
    }

    /// Merges the two rankings (ranked with [`InterleavePlan::a`]'s and [`InterleavePlan::b`]'s
    /// params) as [`crate::interleave::interleave`] does with this plan's method and coin.
    pub fn interleave<T: std::hash::Hash + Eq>(
        &self,
        a: &[T],
        b: &[T],
        query: &str,
        length: Option<usize>,
    ) -> Result<Vec<Pick>, InterleaveError> {
        crate::interleave::interleave(self.method, a, b, &self.coin(query), length)
    }

    /// The coin's salt (the experiment's salt).
    pub fn salt(&self) -> &'a str {
        self.salt
    }
    /// The coin's key (the experiment's key).
    pub fn key(&self) -> &'a str {
        self.key
    }
    /// The coin's seed (the snapshot's `hashing.seed`).
    pub fn seed(&self) -> u32 {
        self.seed
    }
}

impl Serialize for InterleavePlan<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Interleaving", 6)?;
        st.serialize_field("method", &self.method)?;
        st.serialize_field("a", &self.a)?;
        st.serialize_field("b", &self.b)?;
        st.serialize_field("key", self.key)?;
        st.serialize_field("salt", self.salt)?;
        st.serialize_field("seed", &self.seed)?;
        st.end()
    }
}

/// Decisions for many units that share one request template (placement, context, consent,
/// forced variants) and one `now`, as in backtests and bulk `decide_many`.
///
/// Targeting rules that read no unit id give the same answer for every unit of the batch, so they
/// are evaluated once when the batch is made; per unit only ids, overrides, holdouts and hashes
/// remain. Every decision equals [`Snapshot::decide`] on the template with that unit's ids (pinned
/// by the shared vectors and a property test).
#[derive(Debug, Clone)]
pub struct BatchDecider<'a> {
    snap: &'a Snapshot,
    template: Request<'a>,
    now: Millis,
    /// Per candidate of the template's placement: the targeting result when the rule reads no id.
    targeting: Vec<Option<bool>>,
    /// The template's placement index (`None`: not in the snapshot).
    placement: Option<usize>,
}

impl<'a> BatchDecider<'a> {
    /// Decides one unit of the batch.
    pub fn decide(&self, user_id: Option<&'a str>, session_id: Option<&'a str>) -> Decision<'a> {
        let mut req = self.template;
        req.user_id = user_id;
        req.session_id = session_id;
        decide_memo(self.snap, &req, self.now, &self.targeting)
    }

    /// The compact row of one unit (no params, ids or trace): the bulk path, which skips building
    /// the full decision.
    pub fn row(&self, user_id: Option<&'a str>, session_id: Option<&'a str>) -> BatchRow {
        self.row_at(user_id, session_id, self.now)
    }

    /// [`BatchDecider::row`] at another `now` than the batch's: a replay decides each row at its
    /// own timestamp (schedules read `now`; the targeting the batch knows ahead does not).
    pub fn row_at(&self, user_id: Option<&'a str>, session_id: Option<&'a str>, now: Millis) -> BatchRow {
        let mut req = self.template;
        req.user_id = user_id;
        req.session_id = session_id;
        req.trace = false;
        let (user, session) = (req.norm_user(), req.norm_session());
        let none = |reason| BatchRow {
            reason,
            experiment_index: None,
            variant_index: None,
            bucket: None,
            unit_type: None,
            allocation_share: None,
        };
        let Some(pi) = self.placement else {
            return none(Reason::UnknownPlacement);
        };
        match choose(self.snap, pi, &req, user, session, now, &self.targeting, &mut None) {
            Choice::UnknownPlacement => none(Reason::UnknownPlacement),
            Choice::Defaults(_, reason) => none(reason),
            Choice::Forced(_, e, _, vi) => BatchRow {
                reason: Reason::Forced,
                experiment_index: Some(e.index),
                variant_index: Some(vi),
                bucket: None,
                unit_type: e.unit.resolve(user, session).map(|u| u.0),
                allocation_share: Some(1.0),
            },
            Choice::Candidate(_, o) => BatchRow {
                reason: o.reason,
                experiment_index: Some(o.exp.index),
                variant_index: o.variant,
                bucket: o.bucket,
                unit_type: o.unit.map(|u| u.0),
                allocation_share: o.variant.map(|vi| share_of(&o, vi)),
            },
        }
    }
}

/// The request id of the other unit type than `unit`'s, so exposures carry both ids (SPEC §2).
fn other_id<'a>(
    unit: Option<(UnitType, &'a str)>,
    user: Option<&'a str>,
    session: Option<&'a str>,
) -> Option<(UnitType, &'a str)> {
    match unit {
        Some((UnitType::User, _)) => session.map(|s| (UnitType::Session, s)),
        Some((UnitType::Session, _)) => user.map(|u| (UnitType::User, u)),
        None => None,
    }
}

/// Decides many units that share `template`'s placement, context, consent and forced
/// variants at `now`; see [`BatchDecider`].
pub(crate) fn batch<'a>(snap: &'a Snapshot, template: &Request<'a>, now: Millis) -> BatchDecider<'a> {
    let mut targeting = Vec::new();
    let pi = snap.placement_index.get(template.placement).copied();
    if let Some(placement) = pi.map(|pi| &snap.placements[pi]) {
        let attrs = Attributes {
            user_id: None,
            session_id: None,
            context: template.context,
            placement: Some(template.placement).filter(|p| !p.is_empty()),
        };
        targeting = placement
            .candidates
            .iter()
            .map(|&(ei, _)| match &snap.experiments[ei].targeting {
                Some(rule) if !rule.reads_unit_ids() => Some(rule.eval(&attrs, &snap.segments)),
                _ => None,
            })
            .collect();
    }
    let mut template = *template;
    template.user_id = None;
    template.session_id = None;
    BatchDecider { snap, template, now, targeting, placement: pi }
}

/// `decide` with the targeting results of some candidates known ahead: `memo[i]` stands for
/// the rule of the placement's i-th candidate when it is `Some` (an empty memo knows none).
pub(crate) fn decide_memo<'a>(
    snap: &'a Snapshot,
    req: &Request<'a>,
    now: Millis,
    memo: &[Option<bool>],
) -> Decision<'a> {
    let user = req.norm_user();
    let session = req.norm_session();
    let mut trace = None;
    let choice = match snap.placement_index.get(req.placement) {
        Some(&pi) => choose(snap, pi, req, user, session, now, memo, &mut trace),
        None => Choice::UnknownPlacement,
    };
    let mut d = Decision {
        placement: req.placement,
        reason: Reason::NoExperiment,
        experiment: None,
        variant: None,
        placement_index: None,
        params: &snap.empty_params,
        params_id: 0,
        unit: None,
        bucket: None,
        allocation_share: None,
        config_version: snap.version,
        context: req.context,
        other_id: None,
        trace,
    };
    let pi = match choice {
        Choice::UnknownPlacement => {
            d.reason = Reason::UnknownPlacement;
            return d;
        }
        Choice::Defaults(pi, _) | Choice::Forced(pi, ..) | Choice::Candidate(pi, _) => pi,
    };
    d.placement_index = Some(pi);
    d.params = &snap.placements[pi].defaults;
    d.params_id = 1 + pi as u32;
    match choice {
        Choice::UnknownPlacement => {}
        Choice::Defaults(_, reason) => d.reason = reason,
        Choice::Forced(_, e, slot, vi) => {
            let unit = e.unit.resolve(user, session);
            d.reason = Reason::Forced;
            d.experiment = Some(e);
            d.variant = Some(vi);
            d.params = &e.merged[slot][vi];
            d.params_id = e.params_base + (slot * e.variants.len() + vi) as u32;
            d.unit = unit;
            d.other_id = other_id(unit, user, session);
            d.allocation_share = Some(1.0);
        }
        Choice::Candidate(_, o) => {
            d.reason = o.reason;
            d.experiment = Some(o.exp);
            d.unit = o.unit;
            d.other_id = other_id(o.unit, user, session);
            d.bucket = o.bucket;
            if let Some(vi) = o.variant {
                d.variant = Some(vi);
                d.params = &o.exp.merged[o.slot][vi];
                d.params_id = o.exp.params_base + (o.slot * o.exp.variants.len() + vi) as u32;
                d.allocation_share = Some(share_of(&o, vi));
            }
        }
    }
    d
}

/// The precedence of SPEC §5 (steps 2 to 5) on placement `pi`: which rule decides `req`.
/// Shared by full decisions and the compact rows of bulk decisions (which look the placement
/// up once per batch), so the two cannot disagree. Fills `trace` when the request asks for one.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the one internal step both decision forms share
fn choose<'a>(
    snap: &'a Snapshot,
    pi: usize,
    req: &Request<'a>,
    user: Option<&'a str>,
    session: Option<&'a str>,
    now: Millis,
    memo: &[Option<bool>],
    trace: &mut Option<Vec<TraceEntry<'a>>>,
) -> Choice<'a> {
    let placement = &snap.placements[pi];
    if !req.consent {
        return Choice::Defaults(pi, Reason::OptedOut);
    }
    if let Some(forced) = req.forced {
        for &(ei, slot) in &placement.candidates {
            let e = &snap.experiments[ei];
            if e.error.is_some() {
                continue;
            }
            let Some(vi) =
                forced.get(&*e.key).and_then(Value::as_str).and_then(|v| e.variants.iter().position(|x| &*x.key == v))
            else {
                continue;
            };
            return Choice::Forced(pi, e, slot, vi);
        }
    }
    let attrs = Attributes {
        user_id: user,
        session_id: session,
        context: req.context,
        placement: Some(req.placement).filter(|p| !p.is_empty()),
    };
    if req.trace {
        *trace = Some(Vec::with_capacity(placement.candidates.len()));
    }
    let mut winner: Option<Outcome<'a>> = None;
    let mut deciding: Option<Outcome<'a>> = None;
    for (ci, &(ei, slot)) in placement.candidates.iter().enumerate() {
        let known = memo.get(ci).copied().flatten();
        let o = candidate(snap, &snap.experiments[ei], slot, &attrs, known, now);
        if let Some(t) = trace.as_mut() {
            t.push(TraceEntry {
                experiment_key: &o.exp.key,
                reason: o.reason,
                bucket: o.bucket,
                layer_bucket: o.layer_bucket,
            });
        }
        if winner.is_some() {
            continue;
        }
        if o.variant.is_some() {
            winner = Some(o);
            if trace.is_none() {
                break;
            }
        } else if deciding.is_none_or(|dc| dc.reason == Reason::NotRunning && o.reason != Reason::NotRunning) {
            deciding = Some(o);
        }
    }
    match winner.or(deciding) {
        Some(o) => Choice::Candidate(pi, o),
        None => Choice::Defaults(pi, Reason::NoExperiment),
    }
}

fn candidate<'a>(
    snap: &'a Snapshot,
    e: &'a Experiment,
    slot: usize,
    attrs: &Attributes<'a>,
    targeting_known: Option<bool>,
    now: Millis,
) -> Outcome<'a> {
    let (user, session) = (attrs.user_id, attrs.session_id);
    let unit = e.unit.resolve(user, session);
    let mut o =
        Outcome { exp: e, slot, reason: Reason::ConfigError, variant: None, unit, bucket: None, layer_bucket: None };
    if e.error.is_some() {
        return o;
    }
    match (e.status, e.shipped) {
        (Status::Completed, Some(v)) => {
            o.reason = Reason::Shipped;
            o.variant = Some(v);
            return o;
        }
        (Status::Running, _) => {}
        _ => {
            o.reason = Reason::NotRunning;
            return o;
        }
    }
    if e.start.is_some_and(|s| now < s) {
        o.reason = Reason::NotStarted;
        return o;
    }
    if e.end.is_some_and(|end| now >= end) {
        o.reason = Reason::Ended;
        return o;
    }
    let Some((_, id)) = unit else {
        o.reason = Reason::MissingUnit;
        return o;
    };
    // Most experiments have no overrides: skip hashing the id for an empty map.
    if let Some(v) =
        user.filter(|_| !e.overrides_user.is_empty()).and_then(|u| e.overrides_user.get(u).map(|&v| (v, u)))
    {
        o.reason = Reason::Override;
        o.variant = Some(v.0);
        o.unit = Some((UnitType::User, v.1));
        return o;
    }
    if let Some(v) =
        session.filter(|_| !e.overrides_session.is_empty()).and_then(|s| e.overrides_session.get(s).map(|&v| (v, s)))
    {
        o.reason = Reason::Override;
        o.variant = Some(v.0);
        o.unit = Some((UnitType::Session, v.1));
        return o;
    }
    for &hi in &e.holdouts {
        let h = &snap.holdouts[hi];
        if h.valid && h.unit.resolve(user, session).is_some_and(|(_, hid)| h.salted.bucket(hid, snap.seed) < h.bp) {
            o.reason = Reason::Holdout;
            return o;
        }
    }
    if let Some(rule) = &e.targeting {
        if !targeting_known.unwrap_or_else(|| rule.eval(attrs, &snap.segments)) {
            o.reason = Reason::TargetingMiss;
            return o;
        }
    }
    if let Some((li, start, end)) = e.layer {
        let lb = snap.layers[li].salted.bucket(id, snap.seed);
        o.layer_bucket = Some(lb);
        if !(start..end).contains(&lb) {
            o.reason = Reason::LayerMiss;
            return o;
        }
    }
    let b = e.salted.bucket(id, snap.seed);
    o.bucket = Some(b);
    match e.owned.iter().find(|r| r.start <= b && b < r.end) {
        Some(r) => {
            o.reason = Reason::Assigned;
            o.variant = Some(r.variant);
        }
        None => o.reason = Reason::TrafficMiss,
    }
    o
}

#[cfg(test)]
mod tests {
    use crate::{Reason, Request, Snapshot};
    use serde_json::{Map, Value, json};

    /// A rule on `placement` reads the request's placement when the context does not carry it, so
    /// the builder form and the JSON form of one request decide alike.
    #[test]
    fn placement_attribute_without_context() {
        let snap = Snapshot::from_json(
            &json!({"schema_version": 1, "version": 1, "placements": {"home": {}, "cart": {}},
              "experiments": [{"id": 1, "key": "e", "status": "RUNNING", "placements": ["home", "cart"],
                "variants": [{"key": "a"}], "allocation": {"weights": {"a": 100}},
                "targeting": {"attr": "placement", "op": "eq", "value": "home"}}]})
            .to_string(),
        )
        .expect("valid snapshot");
        assert_eq!(snap.decide(&Request::new("home").user("u"), 0).reason(), Reason::Assigned);
        assert_eq!(snap.decide(&Request::new("cart").user("u"), 0).reason(), Reason::TargetingMiss);
        let mut ctx = Map::new();
        ctx.insert("placement".into(), Value::from("home"));
        assert_eq!(snap.decide(&Request::new("home").user("u").context(&ctx), 0).reason(), Reason::Assigned);
    }
}
