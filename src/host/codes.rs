//! Numeric code tables for bulk and scalar-only paths (`decide_many`, the Node output buffer, C
//! enums): each value a small integer, each table's names in code order, all derived from the
//! core's code tables ([`Reason::ALL`], [`Reason::code`], [`Reason::as_str`]), never copied.
//!
//! ```
//! use vario::core::Reason;
//! use vario::host::{REASON_NAMES, reason_index, reason_at};
//! let i = reason_index(Reason::Assigned);
//! assert_eq!(REASON_NAMES[usize::from(i)], "ASSIGNED");
//! assert_eq!(reason_at(i), Some(Reason::Assigned));
//! ```

use vario_core::{BatchRow, Reason, Snapshot, UnitType};

/// How many reasons there are.
pub const REASON_COUNT: usize = Reason::ALL.len();

/// The SPEC name of each reason, indexed by [`reason_index`] (= [`Reason::code`], the C enum's
/// value): what `decide_many` returns as `reason_names` beside its `reason_codes`.
pub const REASON_NAMES: [&str; REASON_COUNT] = {
    let mut names = [""; REASON_COUNT];
    let mut i = 0;
    while i < REASON_COUNT {
        // The index is the code: checked here, at compile time.
        assert!(Reason::ALL[i].code() as usize == i, "Reason codes must be 0..n in declared order");
        names[i] = Reason::ALL[i].as_str();
        i += 1;
    }
    names
};

/// The small-integer code of a reason: its index in [`REASON_NAMES`] and [`Reason::ALL`].
pub const fn reason_index(r: Reason) -> u8 {
    r.code() as u8
}

/// The reason with this [`reason_index`].
pub fn reason_at(index: u8) -> Option<Reason> {
    Reason::ALL.get(usize::from(index)).copied()
}

/// The unit type as the scalar surfaces encode it: 0 for none, else [`UnitType::code`] (1 user,
/// 2 session), the values of C's `vario_unit_type`.
pub const fn unit_type_code(u: Option<UnitType>) -> u8 {
    match u {
        None => 0,
        Some(u) => u.code() as u8,
    }
}

/// The per-snapshot tables of bulk decisions: experiment keys by index, and one flat list of
/// every variant of every experiment (experiment by experiment) so a row's (experiment, variant)
/// is one integer. Build it once per snapshot (cache it in a
/// [`SnapshotCache`](super::SnapshotCache)); codes are stable for a snapshot, so batches decided
/// on it can be concatenated.
///
/// ```
/// use vario::core::{Request, Snapshot};
/// use vario::host::{BulkCodes, REASON_NAMES};
/// let snap = Snapshot::from_json(r#"{"schema_version": 1, "version": 1,
///     "placements": {"home": {}},
///     "experiments": [{"id": 1, "key": "algo", "status": "RUNNING", "placements": ["home"],
///         "variants": [{"key": "a"}, {"key": "b"}], "allocation": {"weights": {"a": 50, "b": 50}}}]}"#)?;
/// let codes = BulkCodes::new(&snap);
/// let batch = snap.batch(&Request::new("home"), 0);
/// let row = codes.row(&batch.row(Some("u-1"), None));
/// assert_eq!(codes.experiment_keys[row.experiment as usize], "algo");
/// assert!(["a", "b"].contains(&codes.variant_keys[row.variant as usize].as_str()));
/// assert_eq!(REASON_NAMES[usize::from(row.reason)], "ASSIGNED");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkCodes {
    /// Experiment keys by experiment index ([`BulkRow::experiment`]).
    pub experiment_keys: Vec<String>,
    /// Every variant key, by variant code ([`BulkRow::variant`]).
    pub variant_keys: Vec<String>,
    /// The experiment key of each variant code.
    pub variant_experiments: Vec<String>,
    /// The first variant code of each experiment.
    variant_base: Vec<u32>,
}

/// One row of a bulk decision as integers; -1 where there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkRow {
    /// Index into [`BulkCodes::variant_keys`], or -1 when no variant was served.
    pub variant: i32,
    /// Index into [`BulkCodes::experiment_keys`], or -1 when no experiment decided.
    pub experiment: i32,
    /// The experiment bucket, or -1 when not computed.
    pub bucket: i32,
    /// [`reason_index`] of the reason.
    pub reason: u8,
    /// True for `ASSIGNED` (the unit was randomised into a variant).
    pub enrolled: bool,
}

impl BulkCodes {
    /// The tables of `snap`.
    pub fn new(snap: &Snapshot) -> BulkCodes {
        let n = snap.experiment_count();
        let mut t = BulkCodes {
            experiment_keys: Vec::with_capacity(n),
            variant_base: Vec::with_capacity(n),
            ..BulkCodes::default()
        };
        for i in 0..n {
            t.variant_base.push(t.variant_keys.len() as u32);
            let Some((key, _, variants)) = snap.experiment_at(i) else {
                t.experiment_keys.push(String::new());
                continue;
            };
            t.experiment_keys.push(key.to_owned());
            for v in variants {
                t.variant_keys.push(v.to_owned());
                t.variant_experiments.push(key.to_owned());
            }
        }
        t
    }

    /// The variant code of (experiment index, variant index), or -1.
    pub fn variant_code(&self, experiment: Option<usize>, variant: Option<usize>) -> i32 {
        match (experiment, variant) {
            (Some(e), Some(v)) => self.variant_base.get(e).map_or(-1, |b| (*b as usize + v) as i32),
            _ => -1,
        }
    }

    /// A bulk row (or a decision's fields) as integers.
    pub fn row(&self, r: &BatchRow) -> BulkRow {
        BulkRow {
            variant: self.variant_code(r.experiment_index, r.variant_index),
            experiment: r.experiment_index.map_or(-1, |e| e as i32),
            bucket: r.bucket.map_or(-1, |b| b as i32),
            reason: reason_index(r.reason),
            enrolled: r.reason == Reason::Assigned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_tables_follow_the_core() {
        assert_eq!(REASON_NAMES.len(), Reason::ALL.len());
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(usize::from(reason_index(*r)), i);
            assert_eq!(REASON_NAMES[i], r.as_str());
            assert_eq!(reason_at(i as u8), Some(*r));
        }
        assert_eq!(reason_at(REASON_COUNT as u8), None);
        assert_eq!(
            [unit_type_code(None), unit_type_code(Some(UnitType::User)), unit_type_code(Some(UnitType::Session))],
            [0, 1, 2]
        );
    }

    #[test]
    fn variant_codes_are_flat_over_experiments() {
        let snap = Snapshot::from_json(
            r#"{"schema_version": 1, "version": 1, "placements": {"p": {}, "q": {}},
                "experiments": [
                  {"id": 1, "key": "e1", "status": "RUNNING", "placements": ["p"],
                   "variants": [{"key": "a"}, {"key": "b"}], "allocation": {"weights": {"a": 50, "b": 50}}},
                  {"id": 2, "key": "e2", "status": "RUNNING", "placements": ["q"],
                   "variants": [{"key": "x"}, {"key": "y"}, {"key": "z"}],
                   "allocation": {"weights": {"x": 34, "y": 33, "z": 33}}}]}"#,
        )
        .expect("snapshot");
        let t = BulkCodes::new(&snap);
        assert_eq!(t.experiment_keys, ["e1", "e2"]);
        assert_eq!(t.variant_keys, ["a", "b", "x", "y", "z"]);
        assert_eq!(t.variant_experiments, ["e1", "e1", "e2", "e2", "e2"]);
        assert_eq!(t.variant_code(Some(1), Some(2)), 4);
        assert_eq!(t.variant_code(Some(1), None), -1);
        assert_eq!(t.variant_code(Some(9), Some(0)), -1);
        let batch = snap.batch(&vario_core::Request::new("q"), 0);
        for u in ["u1", "u2", "u3"] {
            let r = batch.row(Some(u), None);
            let row = t.row(&r);
            assert!(row.enrolled && row.experiment == 1 && (2..5).contains(&row.variant), "{row:?}");
        }
        let none = t.row(&batch.row(None, None));
        assert_eq!((none.variant, none.experiment, none.enrolled), (-1, 1, false));
        assert_eq!(REASON_NAMES[usize::from(none.reason)], "MISSING_UNIT");
    }
}
