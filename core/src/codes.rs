//! The code table: every enumerated value and error code that any surface shows.
//!
//! Each table is one Rust enum with its stable SPEC name ([`as_str`](Reason::as_str), the
//! SCREAMING_SNAKE or snake_case string every surface shows), its number ([`code`](Reason::code),
//! the value of the matching C enum) and the list of every member in declared order (`ALL`). The
//! C header, the Python stubs and the TypeScript unions are checked against these tables by the
//! surfaces' code tests (`ffi/tests/codes.rs` for the C header and enums, the Python and Node suites for the `.pyi` and TypeScript unions), and the bindings build their name tables
//! from `ALL`, so a new member added here fails that test until every surface shows it.
//!
//! Serde reads and writes the same names as `as_str`, so JSON can never disagree with a binding.
//!
//! This module sits at the bottom of the crate's import graph: it imports nothing from the crate.

use serde::de::{Deserialize, Deserializer, Error as _};
use serde::ser::{Serialize, Serializer};
use std::fmt;

/// Defines a code table: an enum, its names, its numbers, `ALL`, `Display`, `FromStr` and serde.
macro_rules! code_table {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        // No `repr`: the compiler keeps the smallest layout (one byte), which decisions and bulk
        // rows carry by value; `code()` casts the explicit discriminant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $num, )+
        }

        impl $name {
            /// Every member, in declared (and numeric) order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name every surface shows.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The stable number (the value of the matching C enum).
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// The member with this stable name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The member with this stable number.
            pub fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($num => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                $name::from_name(s).ok_or(UnknownName { table: stringify!($name) })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::from_name(&s).ok_or_else(|| {
                    D::Error::custom(format_args!("unknown {} `{}`", stringify!($name), s))
                })
            }
        }
    };
}

/// A name that is not in a code table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {table} name")]
pub struct UnknownName {
    /// The table that was asked.
    pub table: &'static str,
}

code_table! {
    /// Why a decision came out the way it did (SPEC §5). Serialised by its SCREAMING_SNAKE name.
    pub enum Reason {
        /// No snapshot has been loaded yet: caller-supplied defaults (runtime only).
        NoConfig = 0 => "NO_CONFIG",
        /// The placement is not in the snapshot: empty params.
        UnknownPlacement = 1 => "UNKNOWN_PLACEMENT",
        /// The request opted out of tracking: placement defaults, no events.
        OptedOut = 2 => "OPTED_OUT",
        /// A per-request QA override chose the variant. Not exposed.
        Forced = 3 => "FORCED",
        /// The experiment is COMPLETED and serves its shipped variant to everyone. Not exposed.
        Shipped = 4 => "SHIPPED",
        /// An experiment override for this user or session chose the variant. Not exposed.
        Override = 5 => "OVERRIDE",
        /// The unit was bucketed into a variant. Exposed.
        Assigned = 6 => "ASSIGNED",
        /// The placement has no candidate experiment.
        NoExperiment = 7 => "NO_EXPERIMENT",
        /// The deciding experiment is not RUNNING.
        NotRunning = 8 => "NOT_RUNNING",
        /// `now` is before the experiment's `start_time`.
        NotStarted = 9 => "NOT_STARTED",
        /// `now` is at or after the experiment's `end_time`.
        Ended = 10 => "ENDED",
        /// The request has no id for the experiment's unit.
        MissingUnit = 11 => "MISSING_UNIT",
        /// A holdout keeps this unit out of the experiment.
        Holdout = 12 => "HOLDOUT",
        /// The targeting rule did not match.
        TargetingMiss = 13 => "TARGETING_MISS",
        /// The layer bucket is outside the experiment's layer range.
        LayerMiss = 14 => "LAYER_MISS",
        /// The experiment bucket is in no variant's owned range (traffic ramp or range gap).
        TrafficMiss = 15 => "TRAFFIC_MISS",
        /// The experiment is invalid and disabled (see the snapshot's lints).
        ConfigError = 16 => "CONFIG_ERROR",
    }
}

impl Reason {
    /// True when the unit received a variant of the experiment.
    pub fn has_variant(self) -> bool {
        matches!(self, Reason::Forced | Reason::Shipped | Reason::Override | Reason::Assigned)
    }
}

code_table! {
    /// Why a flag evaluated to its variant.
    pub enum FlagReason {
        /// No flag with that key in the snapshot.
        FlagNotFound = 0 => "FLAG_NOT_FOUND",
        /// The flag is invalid and disabled (see the snapshot's lints).
        ConfigError = 1 => "CONFIG_ERROR",
        /// The kill switch is on: the default variant for everyone.
        KillSwitch = 2 => "KILL_SWITCH",
        /// `enabled: false`: the default variant.
        Disabled = 3 => "DISABLED",
        /// A user or session override.
        Override = 4 => "OVERRIDE",
        /// A `target` rule served.
        TargetMatch = 5 => "TARGET_MATCH",
        /// A `gradual` rule served.
        Gradual = 6 => "GRADUAL",
        /// A `canary` rule served.
        Canary = 7 => "CANARY",
        /// No rule served: the default variant.
        Default = 8 => "DEFAULT",
    }
}

code_table! {
    /// An experiment's lifecycle state (SPEC §3).
    pub enum Status {
        /// Being designed; never serves.
        Draft = 0 => "DRAFT",
        /// Serving.
        Running = 1 => "RUNNING",
        /// Stopped for now; never serves.
        Paused = 2 => "PAUSED",
        /// Finished; serves `shipped_variant` to everyone when one is set.
        Completed = 3 => "COMPLETED",
        /// Retired; never serves.
        Archived = 4 => "ARCHIVED",
    }
}

code_table! {
    /// The unit type actually used for a decision. `0` is kept for "no unit" in C.
    pub enum UnitType {
        /// The request's `user_id`.
        User = 1 => "user",
        /// The request's `session_id`.
        Session = 2 => "session",
    }
}

code_table! {
    /// Which id an experiment, holdout or flag hashes (SPEC §2).
    pub enum UnitKind {
        /// `user_id` only.
        User = 0 => "user",
        /// `session_id` only.
        Session = 1 => "session",
        /// `user_id` when present, else `session_id`.
        UserOrSession = 2 => "user_or_session",
    }
}

#[allow(clippy::derivable_impls)] // the enum is made by `code_table!`, which derives no Default
impl Default for UnitKind {
    fn default() -> Self {
        UnitKind::UserOrSession
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

code_table! {
    /// Every error code a surface reports (a Python exception's `.code`, a Node error's `.code`,
    /// `vario_last_error_code()` in C). Each belongs to one [`ErrorClass`].
    pub enum ErrorCode {
        /// A required pointer argument was NULL (C).
        NullArgument = 0 => "NULL_ARGUMENT",
        /// A string argument was not valid UTF-8 (C), or a host string cannot be encoded as UTF-8.
        InvalidUtf8 = 1 => "INVALID_UTF8",
        /// A request, outcome, context or other argument was malformed.
        InvalidRequest = 2 => "INVALID_REQUEST",
        /// A snapshot was not a JSON object.
        NotJson = 3 => "NOT_JSON",
        /// A snapshot's `schema_version` is missing or not 1.
        SchemaVersion = 4 => "SCHEMA_VERSION",
        /// A snapshot's top-level field has the wrong type or value.
        InvalidSnapshot = 5 => "INVALID_SNAPSHOT",
        /// A snapshot's `version` is lower than the one in use.
        VersionRegression = 6 => "VERSION_REGRESSION",
        /// Client options were invalid (unknown key, wrong type, bad value).
        InvalidOptions = 7 => "INVALID_OPTIONS",
        /// The operation did not finish in time.
        Timeout = 8 => "TIMEOUT",
        /// The client was closed.
        Closed = 9 => "CLOSED",
        /// An exposure token is not of the form `v1.<payload>[.<signature>]`.
        TokenMalformed = 10 => "TOKEN_MALFORMED",
        /// An exposure token has a version this SDK does not read.
        TokenVersion = 11 => "TOKEN_VERSION",
        /// An exposure token's payload is not base64url or not an exposure.
        TokenPayload = 12 => "TOKEN_PAYLOAD",
        /// An exposure token is unsigned but a key is configured.
        TokenUnsigned = 13 => "TOKEN_UNSIGNED",
        /// An exposure token's signature does not match.
        TokenSignature = 14 => "TOKEN_SIGNATURE",
        /// An exposure token cannot be verified before the first snapshot provides the key.
        TokenKeyUnavailable = 15 => "TOKEN_KEY_UNAVAILABLE",
        /// The event queue was full: the event was dropped and counted.
        QueueFull = 16 => "QUEUE_FULL",
        /// Vario could not do what it needed (a thread did not start, output held a NUL).
        Internal = 17 => "INTERNAL",
        /// A panic inside Vario was caught at the boundary. A bug: please report the message.
        Panic = 18 => "PANIC",
        /// A snapshot was refused because `snapshot_public_key` is set and it is not signed, or its
        /// signature does not verify (contract/snapshot.md "Signed snapshots").
        SnapshotSignature = 19 => "SNAPSHOT_SIGNATURE",
    }
}

code_table! {
    /// The family of an [`ErrorCode`]: the C status (`vario_status`, with `VARIO_OK = 0`), the
    /// Python exception class, the Node error's `kind`.
    pub enum ErrorClass {
        /// A required pointer argument was NULL.
        NullArgument = 1 => "NULL_ARGUMENT",
        /// A string argument was not valid UTF-8.
        InvalidUtf8 = 2 => "INVALID_UTF8",
        /// A malformed request, outcome or other argument.
        InvalidRequest = 3 => "INVALID_REQUEST",
        /// A snapshot was rejected whole.
        InvalidSnapshot = 4 => "INVALID_SNAPSHOT",
        /// Invalid client options.
        InvalidOptions = 5 => "INVALID_OPTIONS",
        /// Did not finish in time.
        Timeout = 6 => "TIMEOUT",
        /// The client is closed.
        Closed = 7 => "CLOSED",
        /// An exposure token was refused.
        InvalidToken = 8 => "INVALID_TOKEN",
        /// The event queue was full.
        QueueFull = 9 => "QUEUE_FULL",
        /// Vario could not do what it needed.
        Internal = 10 => "INTERNAL",
        /// A caught panic.
        Panic = 11 => "PANIC",
    }
}

impl ErrorCode {
    /// The family this code belongs to.
    pub const fn class(self) -> ErrorClass {
        match self {
            ErrorCode::NullArgument => ErrorClass::NullArgument,
            ErrorCode::InvalidUtf8 => ErrorClass::InvalidUtf8,
            ErrorCode::InvalidRequest => ErrorClass::InvalidRequest,
            ErrorCode::NotJson
            | ErrorCode::SchemaVersion
            | ErrorCode::InvalidSnapshot
            | ErrorCode::VersionRegression
            | ErrorCode::SnapshotSignature => ErrorClass::InvalidSnapshot,
            ErrorCode::InvalidOptions => ErrorClass::InvalidOptions,
            ErrorCode::Timeout => ErrorClass::Timeout,
            ErrorCode::Closed => ErrorClass::Closed,
            ErrorCode::TokenMalformed
            | ErrorCode::TokenVersion
            | ErrorCode::TokenPayload
            | ErrorCode::TokenUnsigned
            | ErrorCode::TokenSignature
            | ErrorCode::TokenKeyUnavailable => ErrorClass::InvalidToken,
            ErrorCode::QueueFull => ErrorClass::QueueFull,
            ErrorCode::Internal => ErrorClass::Internal,
            ErrorCode::Panic => ErrorClass::Panic,
        }
    }
}

/// An error with a stable code. Every error type of the engine and the runtime implements it, so
/// a surface maps any of them to its own error with one function.
pub trait Coded: std::error::Error {
    /// The stable code.
    fn code(&self) -> ErrorCode;
}

code_table! {
    /// What a snapshot lint is about (SCREAMING_SNAKE in JSON; see `contract/vectors/README.md`).
    pub enum LintCode {
        /// Wrong field types or a missing required field.
        Malformed = 0 => "MALFORMED",
        /// A key used by an earlier item of the same kind.
        DuplicateKey = 1 => "DUPLICATE_KEY",
        /// Weights or traffic out of range, over two decimals, not summing to 100 %, or ambiguous.
        BadAllocation = 2 => "BAD_ALLOCATION",
        /// Explicit or layer ranges out of bounds or overlapping.
        BadRanges = 3 => "BAD_RANGES",
        /// A variant name that the item does not define.
        UnknownVariant = 4 => "UNKNOWN_VARIANT",
        /// A layer key not in `layers`.
        UnknownLayer = 5 => "UNKNOWN_LAYER",
        /// An unparsable start/end time, or an empty window.
        BadWindow = 6 => "BAD_WINDOW",
        /// Two RUNNING experiments on one placement, with overlapping windows, outside one layer.
        PlacementCollision = 7 => "PLACEMENT_COLLISION",
        /// Overlapping ranges of two RUNNING experiments in one layer.
        LayerOverlap = 8 => "LAYER_OVERLAP",
        /// Two RUNNING experiments of one layer with different unit types.
        LayerUnitMismatch = 9 => "LAYER_UNIT_MISMATCH",
        /// An operator outside SPEC §4.
        UnknownOperator = 10 => "UNKNOWN_OPERATOR",
        /// An operator's value of the wrong type.
        BadValue = 11 => "BAD_VALUE",
        /// A regex that does not compile (or is too large).
        BadRegex = 12 => "BAD_REGEX",
        /// A value of a `semver_*` operator that is not a version.
        BadSemver = 13 => "BAD_SEMVER",
        /// A value of `before`/`after` that is not RFC 3339.
        BadTimestamp = 14 => "BAD_TIMESTAMP",
        /// `in_segment` naming an undefined segment.
        UnknownSegment = 15 => "UNKNOWN_SEGMENT",
        /// A rule that is not `all`, `any`, `not` or a leaf.
        BadRule = 16 => "BAD_RULE",
        /// A flag schedule that is unsorted or unparsable.
        BadSchedule = 17 => "BAD_SCHEDULE",
        /// An invalid holdout; it holds nobody.
        BadHoldout = 18 => "BAD_HOLDOUT",
        /// An experiment names a placement not in `placements` (warning).
        UnknownPlacement = 19 => "UNKNOWN_PLACEMENT",
        /// A holdout lists an unknown experiment (warning).
        UnknownHoldoutExperiment = 20 => "UNKNOWN_HOLDOUT_EXPERIMENT",
        /// A RUNNING experiment that owns no bucket (warning).
        Unreachable = 21 => "UNREACHABLE",
        /// An `interleaving` declaration with an unknown method, equal rankers, or a placement
        /// the experiment does not list.
        BadInterleaving = 22 => "BAD_INTERLEAVING",
    }
}

code_table! {
    /// How bad a lint is.
    pub enum Severity {
        /// The item is disabled (decisions say `CONFIG_ERROR`).
        Error = 0 => "error",
        /// The item still applies.
        Warning = 1 => "warning",
    }
}

code_table! {
    /// An interleaving method (SPEC §10).
    pub enum InterleaveMethod {
        /// Team draft (Radlinski, Kurup, Joachims 2008).
        TeamDraft = 0 => "team_draft",
        /// Balanced (Joachims 2002).
        Balanced = 1 => "balanced",
    }
}

code_table! {
    /// The ranking that contributed a position of an interleaved list.
    pub enum Team {
        /// The first ranking.
        A = 0 => "a",
        /// The second ranking.
        B = 1 => "b",
    }
}

code_table! {
    /// The winner of one interleaved impression.
    pub enum Winner {
        /// Ranking `a` got more credited clicks.
        A = 0 => "a",
        /// Ranking `b` got more credited clicks.
        B = 1 => "b",
        /// Both got the same number of credited clicks (at least one).
        Tie = 2 => "tie",
        /// No clicks.
        None = 3 => "none",
    }
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

/// One table as plain data: its name and `(code, name)` for every member. Generators and
/// cross-surface checks walk [`TABLES`] instead of naming each enum.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The Rust enum's name (`Reason`, `ErrorCode`, …).
    pub name: &'static str,
    /// Every member's number and stable name, in order.
    pub members: fn() -> Vec<(u32, &'static str)>,
}

macro_rules! tables {
    ($($t:ident),+) => {
        /// Every code table of the contract.
        pub const TABLES: &[Table] = &[$(Table {
            name: stringify!($t),
            members: || $t::ALL.iter().map(|m| (m.code(), m.as_str())).collect(),
        }),+];
    };
}

tables!(
    Reason,
    FlagReason,
    Status,
    UnitType,
    UnitKind,
    ErrorCode,
    ErrorClass,
    LintCode,
    Severity,
    InterleaveMethod,
    Team,
    Winner
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip_and_are_unique() {
        for t in TABLES {
            let members = (t.members)();
            let mut names: Vec<_> = members.iter().map(|m| m.1).collect();
            let mut codes: Vec<_> = members.iter().map(|m| m.0).collect();
            assert!(codes.windows(2).all(|w| w[0] < w[1]), "{} numbers ascend", t.name);
            names.sort_unstable();
            names.dedup();
            codes.dedup();
            assert_eq!(names.len(), members.len(), "{} names unique", t.name);
            assert_eq!(codes.len(), members.len(), "{} numbers unique", t.name);
        }
        for r in Reason::ALL {
            assert_eq!(Reason::from_name(r.as_str()), Some(*r));
            assert_eq!(Reason::from_code(r.code()), Some(*r));
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&format!("\"{r}\"")).unwrap(), *r);
        }
        assert!(serde_json::from_str::<Status>("\"running\"").is_err());
        assert_eq!("TIMEOUT".parse::<ErrorCode>(), Ok(ErrorCode::Timeout));
        assert!("nope".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn every_code_has_a_class() {
        for c in ErrorCode::ALL {
            assert!(ErrorClass::ALL.contains(&c.class()));
        }
        for class in ErrorClass::ALL {
            assert!(ErrorCode::ALL.iter().any(|c| c.class() == *class), "{class} has a code");
        }
    }
}
