//! The SRM monitor: a sample-ratio-mismatch guardrail inside the SDK.
//!
//! Owned by the processor thread (`vario-events`), which sees every exposure it logs, so the
//! counting takes no lock and costs the caller nothing. Per experiment and its latest iteration it
//! counts the **distinct** units exposed to each variant since the client started (a unit counts
//! once, in the variant it was first logged with, however often the de-dup window lets it be
//! logged again). The processor publishes a summary into [`Shared`](crate::stats::Shared) when its
//! gauges are published: the expected shares from the snapshot in use (each variant's share of
//! the experiment's compiled buckets), the chi-square test of `vario-stats`, and `srm_mismatch`
//! once at least [`MIN_UNITS`] units were seen and `p < ALPHA`. A log warning is written once when
//! an experiment turns mismatched.
//!
//! Memory is bounded: at most [`MAX_UNITS`] distinct units are remembered over all experiments
//! (about 16 bytes each); beyond it no new unit is counted and `units_capped` says so, so the
//! counts stay a fair sample of the units first seen.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use vario_core::Snapshot;

/// Units seen (over all variants) before a mismatch can be flagged.
pub const MIN_UNITS: u64 = 1_000;
/// The p-value below which the split is flagged.
pub const ALPHA: f64 = 0.001;
/// Distinct units remembered over all experiments.
pub const MAX_UNITS: usize = 1_000_000;

/// One experiment's split as the SDK saw it (an entry of `stats().srm`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmStatus {
    /// The experiment.
    pub experiment_key: String,
    /// Its iteration: counting restarts when a later one is exposed.
    pub iteration: u64,
    /// Distinct units exposed per variant since the client started (or the iteration began).
    pub units: BTreeMap<String, u64>,
    /// Each variant's expected share, from the snapshot in use (empty when it no longer holds the
    /// experiment, or gives it no bucket).
    pub expected: BTreeMap<String, f64>,
    /// The chi-square statistic, when it could be computed.
    pub chi2: Option<f64>,
    /// Its p-value.
    pub p_value: Option<f64>,
    /// `p_value < 0.001` with at least 1,000 units seen.
    pub srm_mismatch: bool,
    /// The monitor's memory bound was reached: units first seen after it are not counted.
    pub units_capped: bool,
}

struct Counts {
    iteration: u64,
    /// Variant keys in first-seen order, and their distinct units.
    variants: Vec<(String, u64)>,
    capped: bool,
    flagged: bool,
}

/// The processor's counting state (see the module docs).
#[derive(Default)]
pub(crate) struct SrmMonitor {
    /// Unit (hash of the pseudonymised id with the experiment and iteration) → seen.
    seen: HashSet<u64>,
    experiments: HashMap<String, Counts>,
    dirty: bool,
}

fn unit_hash(unit: &str, experiment: &str, iteration: u64) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    unit.hash(&mut h);
    experiment.hash(&mut h);
    iteration.hash(&mut h);
    h.finish()
}

impl SrmMonitor {
    /// Counts one logged exposure (`unit` pseudonymised; `""` when the unit had no id).
    pub(crate) fn record(&mut self, unit: &str, experiment: &str, variant: &str, iteration: u64) {
        if unit.is_empty() {
            return;
        }
        let counts = match self.experiments.get_mut(experiment) {
            Some(c) if c.iteration > iteration => return, // a late exposure of an earlier iteration
            Some(c) if c.iteration == iteration => c,
            _ => {
                // A new experiment, or a later iteration: its count starts over. The old
                // iteration's units stay in `seen` until the map is full; they only cost memory.
                self.experiments.insert(
                    experiment.to_owned(),
                    Counts { iteration, variants: Vec::new(), capped: false, flagged: false },
                );
                self.dirty = true;
                match self.experiments.get_mut(experiment) {
                    Some(c) => c,
                    None => return,
                }
            }
        };
        let key = unit_hash(unit, experiment, iteration);
        if self.seen.contains(&key) {
            return;
        }
        if self.seen.len() >= MAX_UNITS {
            counts.capped = true;
            return;
        }
        self.seen.insert(key);
        match counts.variants.iter_mut().find(|(v, _)| v == variant) {
            Some((_, n)) => *n += 1,
            None => counts.variants.push((variant.to_owned(), 1)),
        }
        self.dirty = true;
    }

    /// Whether anything changed since the last [`summarize`](Self::summarize).
    pub(crate) fn dirty(&self) -> bool {
        self.dirty
    }

    /// The statuses against `snapshot`'s allocations, sorted by experiment key; logs a warning for
    /// each experiment that turned mismatched since the last call.
    pub(crate) fn summarize(&mut self, snapshot: Option<&Snapshot>) -> Vec<SrmStatus> {
        self.dirty = false;
        let mut out: Vec<SrmStatus> = self
            .experiments
            .iter_mut()
            .map(|(key, c)| {
                let status = status(key, c, snapshot);
                if status.srm_mismatch && !c.flagged {
                    log::warn!(
                        "sample ratio mismatch in experiment {key} (iteration {}): units {:?} against expected shares {:?}, p = {:.2e}",
                        c.iteration,
                        status.units,
                        status.expected,
                        status.p_value.unwrap_or(0.0)
                    );
                }
                c.flagged = status.srm_mismatch;
                status
            })
            .collect();
        out.sort_by(|a, b| a.experiment_key.cmp(&b.experiment_key));
        out
    }
}

fn status(key: &str, c: &Counts, snapshot: Option<&Snapshot>) -> SrmStatus {
    let mut units: BTreeMap<String, u64> = c.variants.iter().map(|(v, n)| (v.clone(), *n)).collect();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    if let Some(ranges) = snapshot.and_then(|s| s.bucket_ranges(key)) {
        let total: u64 = ranges.iter().map(|(a, b, _)| u64::from(b.saturating_sub(*a))).sum();
        if total > 0 {
            for (a, b, v) in &ranges {
                *expected.entry((*v).to_owned()).or_default() += f64::from(b.saturating_sub(*a)) / total as f64;
            }
        }
    }
    // Variants the snapshot expects but no unit saw count as zeros; variants seen but no longer
    // in the allocation have a zero weight (any unit there is a mismatch).
    for v in expected.keys() {
        units.entry(v.clone()).or_insert(0);
    }
    let seen: u64 = units.values().sum();
    let (chi2, p_value) = if expected.is_empty() {
        (None, None)
    } else {
        let obs: Vec<u64> = units.values().copied().collect();
        let w: Vec<f64> = units.keys().map(|v| expected.get(v).copied().unwrap_or(0.0)).collect();
        match vario_stats::srm(&obs, &w, ALPHA) {
            Ok(r) => (Some(r.chi2), Some(r.p_value)),
            Err(_) => (None, None),
        }
    };
    SrmStatus {
        experiment_key: key.to_owned(),
        iteration: c.iteration,
        srm_mismatch: seen >= MIN_UNITS && p_value.is_some_and(|p| p < ALPHA),
        units,
        expected,
        chi2,
        p_value,
        units_capped: c.capped,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run
    use super::*;

    fn feed(m: &mut SrmMonitor, control: u64, treatment: u64) {
        for i in 0..control {
            m.record(&format!("c{i}"), "e", "control", 1);
            m.record(&format!("c{i}"), "e", "control", 1); // a repeat counts once
        }
        for i in 0..treatment {
            m.record(&format!("t{i}"), "e", "treatment", 1);
        }
    }

    fn counts(m: &SrmMonitor) -> &Counts {
        m.experiments.get("e").unwrap()
    }

    #[test]
    fn distinct_units_per_variant_and_restart_on_a_new_iteration() {
        let mut m = SrmMonitor::default();
        feed(&mut m, 30, 20);
        m.record("c0", "e", "treatment", 1); // a unit seen in another variant stays where it was
        assert_eq!(counts(&m).variants, vec![("control".to_owned(), 30), ("treatment".to_owned(), 20)]);
        m.record("x", "e", "control", 2);
        assert_eq!((counts(&m).iteration, counts(&m).variants.clone()), (2, vec![("control".to_owned(), 1)]));
        m.record("y", "e", "control", 1); // late, from iteration 1: ignored
        assert_eq!(counts(&m).variants, vec![("control".to_owned(), 1)]);
        m.record("", "e", "control", 2); // no id: not a unit
        assert_eq!(counts(&m).variants, vec![("control".to_owned(), 1)]);
    }

    #[test]
    fn without_a_snapshot_nothing_is_flagged() {
        let mut m = SrmMonitor::default();
        feed(&mut m, 5200, 4800);
        let s = m.summarize(None);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].units["control"], 5200);
        assert!(s[0].p_value.is_none() && !s[0].srm_mismatch);
    }
}
