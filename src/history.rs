//! Loading a [`History`] (which snapshot was live when) for a backtest: from a folder of
//! versioned snapshot files, or from the control plane's versions API (SPEC §8). The lookup
//! itself is pure and lives in [`vario_core::history`]; this module only reads files and HTTP.

use crate::config::read_capped;
use std::path::Path;
use std::time::Duration;
use vario_core::codes::{Coded, ErrorCode};
use vario_core::{History, HistoryError, Millis, Snapshot, SnapshotError, parse_rfc3339};

/// The largest snapshot a loader reads (the client's `max_config_bytes` default).
const MAX_SNAPSHOT_BYTES: usize = 32 << 20;
/// The largest versions list read from the control plane.
const MAX_LIST_BYTES: usize = 16 << 20;

/// Why a history could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HistoryLoadError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A snapshot was rejected whole.
    #[error("{what}: {source}")]
    Snapshot {
        /// The file or URL.
        what: String,
        /// Why.
        source: SnapshotError,
    },
    /// The snapshots do not form a history (gap, duplicate, disorder, no time).
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The control plane could not be read or answered with something else than expected.
    #[error("{url}: {message}")]
    Http {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl Coded for HistoryLoadError {
    fn code(&self) -> ErrorCode {
        match self {
            // A folder that cannot be read holds no snapshot: the code `Snapshot.from_file` uses.
            HistoryLoadError::Io { .. } => ErrorCode::NotJson,
            HistoryLoadError::Snapshot { source, .. } => source.code(),
            HistoryLoadError::History(e) => e.code(),
            HistoryLoadError::Http { .. } => ErrorCode::Internal,
        }
    }
}

/// Every `*.json` file of `dir` (not recursive), each taken at its own `published_at`. The file
/// names do not matter; the versions inside them do.
pub fn load_folder(dir: &Path) -> Result<History, HistoryLoadError> {
    let io = |path: &Path, source| HistoryLoadError::Io { path: path.display().to_string(), source };
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.extension().is_none_or(|x| x != "json") || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let snap = Snapshot::from_json(&text)
            .map_err(|source| HistoryLoadError::Snapshot { what: path.display().to_string(), source })?;
        items.push((None, snap));
    }
    Ok(History::new(items)?)
}

/// Compiles `texts`, each with its publication instant or `None` for the snapshot's own.
pub fn from_texts(texts: &[(Option<Millis>, &str)]) -> Result<History, HistoryLoadError> {
    let items = texts
        .iter()
        .enumerate()
        .map(|(i, (t, text))| {
            Snapshot::from_json(text)
                .map(|s| (*t, s))
                .map_err(|source| HistoryLoadError::Snapshot { what: format!("snapshot {i}"), source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(History::new(items)?)
}

/// Every version of environment `environment_id` from the control plane at `base_url` (an admin
/// token with the `viewer` role or higher): `GET /environments/:id/versions`, then each version's
/// snapshot. The list's `published_at` is the instant each version went live.
pub fn fetch_control_plane(base_url: &str, environment_id: &str, token: &str) -> Result<History, HistoryLoadError> {
    let base = base_url.trim_end_matches('/');
    let http = |url: &str, message: String| HistoryLoadError::Http { url: url.to_owned(), message };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| http(base, e.to_string()))?;
    let get = |url: &str, cap: usize| -> Result<Vec<u8>, HistoryLoadError> {
        let resp = client.get(url).bearer_auth(token).send().map_err(|e| http(url, e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(http(url, format!("HTTP {}", resp.status())));
        }
        read_capped(resp, cap).map_err(|e| http(url, e.unwrap_or_else(|| format!("the body is over {cap} bytes"))))
    };
    let list_url = format!("{base}/environments/{environment_id}/versions");
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&get(&list_url, MAX_LIST_BYTES)?).map_err(|e| http(&list_url, e.to_string()))?;
    let mut items = Vec::with_capacity(list.len());
    for v in &list {
        let (Some(version), Some(at)) =
            (v.get("version").and_then(|x| x.as_u64()), v.get("published_at").and_then(|x| x.as_str()))
        else {
            return Err(http(&list_url, format!("an entry without `version` and `published_at`: {v}")));
        };
        let at = parse_rfc3339(at).ok_or_else(|| http(&list_url, format!("`published_at` {at:?} is not RFC 3339")))?;
        let url = format!("{list_url}/{version}");
        let body = get(&url, MAX_SNAPSHOT_BYTES)?;
        let text = String::from_utf8(body).map_err(|e| http(&url, e.to_string()))?;
        let snap =
            Snapshot::from_json(&text).map_err(|source| HistoryLoadError::Snapshot { what: url.clone(), source })?;
        items.push((Some(at), snap));
    }
    Ok(History::new(items)?)
}
