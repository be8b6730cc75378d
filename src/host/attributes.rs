//! Which context attributes a binding must read from a host request object.
//!
//! A decision depends on the context only through the attributes the snapshot's targeting reads
//! ([`Snapshot::context_attributes`]); a client's exposure also copies its
//! [`exposure_context_keys`](crate::Options::exposure_context_keys) and `page_type`. So a binding
//! converts just these from a host dict / object instead of the whole context.
//!
//! `placement` is never listed: every surface passes it as the request's
//! [`placement`](vario_core::Request::placement), which targeting falls back to when the context
//! does not carry it.

use vario_core::Snapshot;

/// The context attribute every exposure copies besides the exposure context keys.
pub const PAGE_TYPE: &str = "page_type";

const PLACEMENT: &str = "placement";

fn push_unique(out: &mut Vec<String>, name: &str) {
    if name != PLACEMENT && !out.iter().any(|n| n == name) {
        out.push(name.to_owned());
    }
}

/// What a decision on `snap` reads (no exposure logged: a bare snapshot's decisions), in
/// first-use order, without duplicates.
///
/// ```
/// let snap = vario::core::Snapshot::from_json(r#"{"schema_version": 1, "version": 1,
///     "placements": {"home": {}},
///     "experiments": [{"id": 1, "key": "e", "status": "RUNNING", "placements": ["home"],
///         "targeting": {"attr": "country", "op": "eq", "value": "GB"},
///         "variants": [{"key": "a"}], "allocation": {"weights": {"a": 100}}}]}"#)?;
/// assert_eq!(vario::host::snapshot_attributes(&snap), ["country"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn snapshot_attributes(snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::with_capacity(snap.context_attributes().len());
    for name in snap.context_attributes() {
        push_unique(&mut out, name);
    }
    out
}

/// What a client's decision on `snap` reads (`None`: before the first snapshot): the snapshot's
/// attributes, then the client's `exposure_context_keys`, then `page_type`, without duplicates.
/// [`HostClient::context_attributes`](super::HostClient::context_attributes) passes the client's
/// own keys.
///
/// ```
/// let keys = vec!["locale".to_owned(), "page_type".to_owned()];
/// assert_eq!(vario::host::client_attributes(None, &keys), ["locale", "page_type"]);
/// ```
pub fn client_attributes(snap: Option<&Snapshot>, exposure_context_keys: &[String]) -> Vec<String> {
    let mut out = snap.map(snapshot_attributes).unwrap_or_default();
    for name in exposure_context_keys {
        push_unique(&mut out, name);
    }
    push_unique(&mut out, PAGE_TYPE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_targeted_then_exposed_deduplicated() {
        let snap = Snapshot::from_json(
            r#"{"schema_version": 1, "version": 1, "placements": {"home": {}},
                "experiments": [{"id": 1, "key": "e", "status": "RUNNING", "placements": ["home"],
                  "targeting": {"all": [{"attr": "locale", "op": "eq", "value": "en-GB"},
                                         {"attr": "placement", "op": "eq", "value": "home"},
                                         {"attr": "app_version", "op": "semver_gte", "value": "1.2.0"}]},
                  "variants": [{"key": "a"}], "allocation": {"weights": {"a": 100}}}]}"#,
        )
        .expect("snapshot");
        assert_eq!(snapshot_attributes(&snap), ["locale", "app_version"], "{:?}", snap.context_attributes());
        let keys = ["locale".to_owned(), "device".to_owned()];
        assert_eq!(client_attributes(Some(&snap), &keys), ["locale", "app_version", "device", "page_type"]);
        assert_eq!(client_attributes(None, &[]), ["page_type"]);
    }
}
