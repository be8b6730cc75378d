//! Every error the runtime returns, each with its stable code ([`Coded`]).
//!
//! | error | returned by | code |
//! |---|---|---|
//! | [`BuildError`] | [`ClientBuilder::build`](crate::ClientBuilder::build), [`Options::from_json`](crate::Options::from_json), [`Client::after_fork`](crate::Client::after_fork) | `INVALID_OPTIONS`; `INTERNAL` when a thread did not start |
//! | [`InitError`] | [`Client::wait_for_init`](crate::Client::wait_for_init) | `TIMEOUT` |
//! | [`TimeoutError`] | [`Client::flush`](crate::Client::flush), [`Client::close`](crate::Client::close) | `TIMEOUT` |
//! | [`UpdateError`] | [`Client::update_snapshot`](crate::Client::update_snapshot) | `VERSION_REGRESSION`, `SNAPSHOT_SIGNATURE`, or the [`SnapshotError`]'s `NOT_JSON` / `SCHEMA_VERSION` / `INVALID_SNAPSHOT` |
//!
//! The host layer adds the two a binding needs on top: [`ClosedError`](crate::host::ClosedError)
//! (`CLOSED`) and [`QueueFullError`](crate::host::QueueFullError) (`QUEUE_FULL`).
//!
//! Pure data; sits near the bottom of the import graph (only [`crate::stats`] below it).

use crate::stats::ConfigErrorKind;
use std::time::Duration;
use vario_core::signing::SignatureError;
use vario_core::{Coded, ErrorCode, SnapshotError};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No `config_url`, `config_path`, bootstrap or `redis_url` was given.
    #[error("no config source: set config_url, config_path, bootstrap or redis_url")]
    NoConfigSource,
    /// An option is out of range, unknown, or of the wrong type.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The operating system's random source failed (the per-process token key).
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A background thread could not be started.
    #[error("could not start a background thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The `spool_path` directory cannot be used: another client holds its lock, or it cannot be
    /// created or listed. Code `INVALID_OPTIONS`: the option names a directory this client
    /// cannot own.
    #[error("cannot use the spool: {0}")]
    Spool(String),
}

impl Coded for BuildError {
    /// `INVALID_OPTIONS`, except `INTERNAL` for a thread that did not start.
    fn code(&self) -> ErrorCode {
        match self {
            BuildError::NoConfigSource | BuildError::InvalidOption(_) | BuildError::Spool(_) => {
                ErrorCode::InvalidOptions
            }
            BuildError::Thread(_) | BuildError::Random(_) => ErrorCode::Internal,
        }
    }
}

/// Why `wait_for_init` returned without a snapshot.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no snapshot after {waited:?}: {}", last_error.as_ref().map_or("no attempt finished yet".to_owned(), |e| format!("{:?}: {}", e.0, e.1)))]
pub struct InitError {
    /// How long it waited.
    pub waited: Duration,
    /// The last config error, the likely cause.
    pub last_error: Option<(ConfigErrorKind, String)>,
}

impl Coded for InitError {
    /// `TIMEOUT`.
    fn code(&self) -> ErrorCode {
        ErrorCode::Timeout
    }
}

/// `flush` or `close` did not finish in time; what was not delivered stays queued (flush) or is
/// counted as dropped (close).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events not delivered within {0:?}")]
pub struct TimeoutError(pub Duration);

impl Coded for TimeoutError {
    /// `TIMEOUT`.
    fn code(&self) -> ErrorCode {
        ErrorCode::Timeout
    }
}

/// Why a snapshot offered to the client (by [`Client::update_snapshot`](crate::Client::update_snapshot),
/// or by config sync, where it becomes the `last_error` of [`Stats`](crate::Stats)) was not swapped
/// in. The snapshot in use stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The document was rejected whole; the [`SnapshotError`] says why (and carries the code).
    #[error("snapshot rejected ({code}): {0}", code = .0.code())]
    Rejected(SnapshotError),
    /// `snapshot_public_key` is set and the document is not a signed envelope whose signature
    /// verifies (code `SNAPSHOT_SIGNATURE`).
    #[error("snapshot refused ({code}): {0}", code = .0.code())]
    Signature(SignatureError),
    /// The document is a valid snapshot, but its version is lower than the one in use.
    #[error("snapshot version {offered} is lower than the version in use, {current}")]
    VersionRegression {
        /// The version offered.
        offered: u64,
        /// The version in use.
        current: u64,
    },
    /// The document is a valid snapshot, but its version is further ahead of the one in use than
    /// `max_version_jump` allows (code `INVALID_SNAPSHOT`): a suspicious publish that would
    /// make every later one look like a regression.
    #[error(
        "snapshot version {offered} is more than max_version_jump ({max}) ahead of the version in use, {current}; refused as suspicious"
    )]
    VersionJump {
        /// The version offered.
        offered: u64,
        /// The version in use.
        current: u64,
        /// The bound.
        max: u64,
    },
}

impl UpdateError {
    /// The kind recorded in the config status ([`Stats::last_config_error_kind`](crate::Stats)).
    pub fn kind(&self) -> ConfigErrorKind {
        match self {
            UpdateError::Rejected(_) => ConfigErrorKind::Invalid,
            UpdateError::Signature(_) => ConfigErrorKind::Signature,
            UpdateError::VersionRegression { .. } => ConfigErrorKind::VersionRegression,
            UpdateError::VersionJump { .. } => ConfigErrorKind::VersionJump,
        }
    }

    /// The compilation error, when the document was rejected whole.
    pub fn snapshot_error(&self) -> Option<&SnapshotError> {
        match self {
            UpdateError::Rejected(e) => Some(e),
            UpdateError::Signature(_) | UpdateError::VersionRegression { .. } | UpdateError::VersionJump { .. } => None,
        }
    }
}

impl Coded for UpdateError {
    /// `VERSION_REGRESSION`, `INVALID_SNAPSHOT` for a version jump, `SNAPSHOT_SIGNATURE`, or the snapshot error's `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`.
    fn code(&self) -> ErrorCode {
        match self {
            UpdateError::Rejected(e) => e.code(),
            UpdateError::Signature(e) => e.code(),
            UpdateError::VersionRegression { .. } => ErrorCode::VersionRegression,
            UpdateError::VersionJump { .. } => ErrorCode::InvalidSnapshot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vario_core::{ErrorClass, Snapshot};

    #[test]
    fn every_runtime_error_has_its_code() {
        assert_eq!(BuildError::NoConfigSource.code(), ErrorCode::InvalidOptions);
        assert_eq!(BuildError::InvalidOption("x".into()).code(), ErrorCode::InvalidOptions);
        assert_eq!(BuildError::Thread(std::io::Error::other("no threads")).code(), ErrorCode::Internal);
        let init = InitError { waited: Duration::from_millis(5), last_error: None };
        assert_eq!(init.code(), ErrorCode::Timeout);
        assert_eq!(TimeoutError(Duration::from_secs(1)).code(), ErrorCode::Timeout);

        let regression = UpdateError::VersionRegression { offered: 3, current: 4 };
        assert_eq!(
            (regression.code(), regression.kind()),
            (ErrorCode::VersionRegression, ConfigErrorKind::VersionRegression)
        );
        assert_eq!(regression.code().class(), ErrorClass::InvalidSnapshot);
        assert_eq!(regression.to_string(), "snapshot version 3 is lower than the version in use, 4");
        let sig = UpdateError::Signature(SignatureError::Unsigned);
        assert_eq!((sig.code(), sig.kind()), (ErrorCode::SnapshotSignature, ConfigErrorKind::Signature));
        assert_eq!(sig.code().class(), ErrorClass::InvalidSnapshot);
        assert!(sig.to_string().starts_with("snapshot refused (SNAPSHOT_SIGNATURE): "), "{sig}");
        for (text, code) in [
            ("not json", ErrorCode::NotJson),
            (r#"{"schema_version": 2, "version": 1}"#, ErrorCode::SchemaVersion),
            (r#"{"schema_version": 1, "version": -1}"#, ErrorCode::InvalidSnapshot),
        ] {
            let e = UpdateError::Rejected(Snapshot::from_json(text).expect_err("rejected"));
            assert_eq!((e.code(), e.kind()), (code, ConfigErrorKind::Invalid), "{text}");
            assert!(e.snapshot_error().is_some());
            assert!(e.to_string().starts_with(&format!("snapshot rejected ({code}): ")), "{e}");
        }
    }
}
