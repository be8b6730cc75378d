//! Flags: variants, overrides, ordered rules and schedules.

use super::common::{Lints, Loose, OverrideUnit, Problem, RawOverride, problem};
use crate::codes::{LintCode, UnitKind};
use crate::hash::{Salted, percent_bp};
use crate::matcher::RegexBudget;
use crate::model::*;
use crate::targeting::Rule;
use crate::time::parse_rfc3339;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

#[derive(Deserialize)]
pub(super) struct RawFlag {
    pub(super) key: String,
    pub(super) salt: Option<String>,
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) kill_switch: bool,
    pub(super) variants: Map<String, Value>,
    pub(super) default_variant: String,
    #[serde(default)]
    pub(super) unit: UnitKind,
    #[serde(default)]
    pub(super) overrides: Vec<RawOverride>,
    #[serde(default)]
    pub(super) rules: Vec<RawFlagRule>,
}

pub(super) fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub(super) struct RawFlagRule {
    pub(super) kind: RuleKind,
    pub(super) targeting: Option<Value>,
    pub(super) rollout: Option<Map<String, Value>>,
    pub(super) schedule: Option<Vec<RawStep>>,
    pub(super) shadow_variant: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawStep {
    pub(super) at: String,
    pub(super) percent: f64,
}

pub(super) fn compile_flag(raw: &RawValue, segs: &SegmentTable, regexes: &RegexBudget, lints: &mut Lints) -> Flag {
    let (code, msg) = match serde_json::from_str::<RawFlag>(raw.get()) {
        Ok(parsed) => match build_flag(parsed, segs, regexes) {
            Ok(f) => return f,
            Err(Problem(code, msg)) => (code, msg),
        },
        Err(e) => (LintCode::Malformed, e.to_string()),
    };
    // Failure path only: the flag keeps its key, and a kill switch that names its default variant
    // still serves it (a kill switch always gets through; see `Loose`).
    let loose = Loose::read(raw);
    let key = loose.key();
    lints.push(code, format!("flag:{key}"), msg);
    let kill = loose.kill_switch_default();
    Flag {
        key: key.as_str().into(),
        salted: Salted::new(&key, &key),
        enabled: false,
        kill_switch: kill.is_some(),
        variants: kill.map(|(name, value)| (Box::from(name), value)).into_iter().collect(),
        default: 0,
        unit: loose.unit(),
        overrides_user: FxHashMap::default(),
        overrides_session: FxHashMap::default(),
        rules: Vec::new(),
        error: Some(code),
    }
}

pub(super) fn build_flag(r: RawFlag, segs: &SegmentTable, regexes: &RegexBudget) -> Result<Flag, Problem> {
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
        let targeting =
            raw.targeting.as_ref().filter(|t| !t.is_null()).map(|t| Rule::compile(t, segs, regexes)).transpose()?;
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
