//! Feature flags (SPEC §3 `flags[]`): kill switch, enabled, overrides, ordered rules
//! (target / gradual / canary / shadow) with scheduled ramps evaluated at the caller's `now`.

use crate::codes::{FlagReason, UnitType};
use crate::model::{Flag, Rollout, RuleKind, Snapshot};
use crate::request::Request;
use crate::targeting::Attributes;
use crate::time::Millis;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::Value;

/// A flag evaluation. Borrows the snapshot and the request.
#[derive(Debug, Clone)]
pub struct FlagDecision<'a> {
    flag: &'a str,
    variant: Option<&'a str>,
    value: Option<&'a Value>,
    reason: FlagReason,
    rule_index: Option<usize>,
    unit_type: Option<UnitType>,
    bucket: Option<u32>,
    shadow_variant: Option<&'a str>,
    config_version: u64,
}

impl<'a> FlagDecision<'a> {
    /// The flag key asked about.
    pub fn flag(&self) -> &'a str {
        self.flag
    }
    /// The variant served (`None` for `FLAG_NOT_FOUND` and `CONFIG_ERROR`).
    pub fn variant(&self) -> Option<&'a str> {
        self.variant
    }
    /// The served variant's JSON value.
    pub fn value(&self) -> Option<&'a Value> {
        self.value
    }
    /// Why.
    pub fn reason(&self) -> FlagReason {
        self.reason
    }
    /// The 0-based index of the serving rule.
    pub fn rule_index(&self) -> Option<usize> {
        self.rule_index
    }
    /// The unit the flag resolved.
    pub fn unit_type(&self) -> Option<UnitType> {
        self.unit_type
    }
    /// The flag bucket, when evaluation reached the rules with a unit.
    pub fn bucket(&self) -> Option<u32> {
        self.bucket
    }
    /// What a matching shadow rule (before the serving rule) would have served.
    pub fn shadow_variant(&self) -> Option<&'a str> {
        self.shadow_variant
    }
    /// The snapshot version that decided.
    pub fn config_version(&self) -> u64 {
        self.config_version
    }
    /// Canonical JSON (field order of the vectors README).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for FlagDecision<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("FlagDecision", 9)?;
        st.serialize_field("flag", self.flag)?;
        st.serialize_field("variant", &self.variant)?;
        st.serialize_field("value", &self.value)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("rule_index", &self.rule_index)?;
        st.serialize_field("unit_type", &self.unit_type)?;
        st.serialize_field("bucket", &self.bucket)?;
        st.serialize_field("shadow_variant", &self.shadow_variant)?;
        st.serialize_field("config_version", &self.config_version)?;
        st.end()
    }
}

/// Whether a unit with `bucket` (if any) falls in `bp` basis points.
fn within(bp: u32, bucket: Option<u32>) -> bool {
    match bp {
        0 => false,
        bp if bp >= crate::hash::BUCKETS => true,
        bp => bucket.is_some_and(|b| b < bp),
    }
}

/// Evaluates flag `key` for `req` at `now`. The request's placement is ignored.
pub(crate) fn evaluate<'a>(snap: &'a Snapshot, key: &'a str, req: &Request<'a>, now: Millis) -> FlagDecision<'a> {
    let mut d = FlagDecision {
        flag: key,
        variant: None,
        value: None,
        reason: FlagReason::FlagNotFound,
        rule_index: None,
        unit_type: None,
        bucket: None,
        shadow_variant: None,
        config_version: snap.version,
    };
    let Some(&fi) = snap.flag_index.get(key) else {
        return d;
    };
    let f = &snap.flags[fi];
    // An invalid flag is disabled, except that its kill switch still applies (compile keeps it only
    // when it names a readable default variant).
    if f.error.is_some() && !f.kill_switch {
        d.reason = FlagReason::ConfigError;
        return d;
    }
    let (user, session) = (req.norm_user(), req.norm_session());
    let unit = f.unit.resolve(user, session);
    d.unit_type = unit.map(|u| u.0);
    let serve = |d: &mut FlagDecision<'a>, f: &'a Flag, vi: usize, reason| {
        d.variant = Some(&*f.variants[vi].0);
        d.value = Some(&f.variants[vi].1);
        d.reason = reason;
    };
    if f.kill_switch {
        serve(&mut d, f, f.default, FlagReason::KillSwitch);
        return d;
    }
    if !f.enabled {
        serve(&mut d, f, f.default, FlagReason::Disabled);
        return d;
    }
    if let Some(&vi) = user.and_then(|u| f.overrides_user.get(u)) {
        d.unit_type = Some(UnitType::User);
        serve(&mut d, f, vi, FlagReason::Override);
        return d;
    }
    if let Some(&vi) = session.and_then(|s| f.overrides_session.get(s)) {
        d.unit_type = Some(UnitType::Session);
        serve(&mut d, f, vi, FlagReason::Override);
        return d;
    }
    let bucket = unit.map(|(_, id)| f.salted.bucket(id, snap.seed));
    d.bucket = bucket;
    let attrs = Attributes {
        user_id: user,
        session_id: session,
        context: req.context,
        placement: Some(req.placement).filter(|p| !p.is_empty()),
    };
    for (i, rule) in f.rules.iter().enumerate() {
        if rule.targeting.as_ref().is_some_and(|t| !t.eval(&attrs, &snap.segments)) {
            continue;
        }
        let chosen = match &rule.rollout {
            Rollout::Percent { variant, bp } => {
                let bp = rule.schedule.iter().rev().find(|(at, _)| *at <= now).map_or(*bp, |&(_, p)| p);
                if !within(bp, bucket) {
                    continue;
                }
                *variant
            }
            Rollout::Weights(ends) => {
                // A split that gives everything to one variant needs no bucket.
                let whole = ends
                    .iter()
                    .zip(std::iter::once(0).chain(ends.iter().map(|e| e.1)))
                    .find(|((_, end), start)| end - start == crate::hash::BUCKETS);
                match (whole, bucket) {
                    (Some(((vi, _), _)), _) => Some(*vi),
                    (None, Some(b)) => ends.iter().find(|(_, end)| b < *end).map(|(vi, _)| *vi),
                    (None, None) => continue,
                }
            }
        };
        if rule.kind == RuleKind::Shadow {
            if d.shadow_variant.is_none() {
                d.shadow_variant = rule.shadow.map(|s| &*f.variants[s].0);
            }
            continue;
        }
        let Some(vi) = chosen else { continue };
        let reason = match rule.kind {
            RuleKind::Target => FlagReason::TargetMatch,
            RuleKind::Gradual => FlagReason::Gradual,
            RuleKind::Canary | RuleKind::Shadow => FlagReason::Canary,
        };
        serve(&mut d, f, vi, reason);
        d.rule_index = Some(i);
        return d;
    }
    serve(&mut d, f, f.default, FlagReason::Default);
    d
}
