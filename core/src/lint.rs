//! Structured findings about a snapshot, returned with the compiled snapshot.

use crate::codes::{LintCode, Severity};
use serde::Serialize;

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
