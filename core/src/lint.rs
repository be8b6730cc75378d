//! Structured findings about a snapshot, returned with the compiled snapshot.

use serde::Serialize;

/// What a lint is about. Serialised in SCREAMING_SNAKE_CASE (see `contract/vectors/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum LintCode {
    /// Wrong field types or a missing required field.
    Malformed,
    /// A key used by an earlier item of the same kind.
    DuplicateKey,
    /// Weights or traffic out of range, over two decimals, not summing to 100 %, or ambiguous.
    BadAllocation,
    /// Explicit or layer ranges out of bounds or overlapping.
    BadRanges,
    /// A variant name that the item does not define.
    UnknownVariant,
    /// A layer key not in `layers`.
    UnknownLayer,
    /// An unparsable start/end time, or an empty window.
    BadWindow,
    /// Two RUNNING experiments on one placement, with overlapping windows, outside one layer.
    PlacementCollision,
    /// Overlapping ranges of two RUNNING experiments in one layer.
    LayerOverlap,
    /// Two RUNNING experiments of one layer with different unit types.
    LayerUnitMismatch,
    /// An operator outside SPEC §4.
    UnknownOperator,
    /// An operator's value of the wrong type.
    BadValue,
    /// A regex that does not compile (or is too large).
    BadRegex,
    /// A value of a `semver_*` operator that is not a version.
    BadSemver,
    /// A value of `before`/`after` that is not RFC 3339.
    BadTimestamp,
    /// `in_segment` naming an undefined segment.
    UnknownSegment,
    /// A rule that is not `all`, `any`, `not` or a leaf.
    BadRule,
    /// A flag schedule that is unsorted or unparsable.
    BadSchedule,
    /// An invalid holdout; it holds nobody.
    BadHoldout,
    /// An experiment names a placement not in `placements` (warning).
    UnknownPlacement,
    /// A holdout lists an unknown experiment (warning).
    UnknownHoldoutExperiment,
    /// A RUNNING experiment that owns no bucket (warning).
    Unreachable,
}

/// How bad a lint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The item is disabled (decisions say `CONFIG_ERROR`).
    Error,
    /// The item still applies.
    Warning,
}

/// One finding about one item of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    /// What is wrong.
    pub code: LintCode,
    /// Error or warning.
    pub severity: Severity,
    /// The item: `experiment:<key>`, `flag:<key>`, `holdout:<key>`, `layer:<key>` or `snapshot`.
    pub item: String,
    /// Detail for humans.
    pub message: String,
}

impl LintCode {
    /// The severity this code always has.
    pub fn severity(self) -> Severity {
        match self {
            LintCode::UnknownPlacement | LintCode::UnknownHoldoutExperiment | LintCode::Unreachable => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}
