//! Small enums shared by snapshots, decisions and events.

use serde::{Deserialize, Serialize};

/// An experiment's lifecycle state (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Being designed; never serves.
    Draft,
    /// Serving.
    Running,
    /// Stopped for now; never serves.
    Paused,
    /// Finished; serves `shipped_variant` to everyone when one is set.
    Completed,
    /// Retired; never serves.
    Archived,
}

/// Which id an experiment, holdout or flag hashes (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// `user_id` only.
    User,
    /// `session_id` only.
    Session,
    /// `user_id` when present, else `session_id`.
    #[default]
    UserOrSession,
}

/// The unit type actually used for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitType {
    /// The request's `user_id`.
    User,
    /// The request's `session_id`.
    Session,
}

impl UnitType {
    /// The SPEC name: `user` or `session`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitType::User => "user",
            UnitType::Session => "session",
        }
    }
}

impl UnitKind {
    /// Picks the id this kind hashes from the (normalised) request ids.
    pub fn resolve<'a>(self, user_id: Option<&'a str>, session_id: Option<&'a str>) -> Option<(UnitType, &'a str)> {
        match self {
            UnitKind::User => user_id.map(|u| (UnitType::User, u)),
            UnitKind::Session => session_id.map(|s| (UnitType::Session, s)),
            UnitKind::UserOrSession => {
                user_id.map(|u| (UnitType::User, u)).or_else(|| session_id.map(|s| (UnitType::Session, s)))
            }
        }
    }
}

/// Converts a percentage with at most two decimals into basis points (`round(p * 100)`).
///
/// `None` when `p` is outside `[0, 100]`, not finite, or has more than two decimals.
pub(crate) fn percent_bp(p: f64) -> Option<u32> {
    if !p.is_finite() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let x = p * 100.0;
    let r = x.round();
    if (x - r).abs() > 1e-6 {
        return None;
    }
    // r is within [0, 10000] here, so the cast is exact.
    Some(r as u32)
}
