//! Exposure events as pure data (SPEC §5), pseudonymised ids, and exposure tokens.
//!
//! The core never logs: a [`Decision`](crate::Decision) yields a [`RawExposure`] (raw ids, cheap to build on the
//! hot path); the runtime pseudonymises it off the hot path into [`ExposureData`] and wraps it in an
//! [`ExposureEvent`] envelope with an event id and timestamp it generates. Raw ids never reach
//! `ExposureData`, and so never reach a body, a log or a token.

use crate::codes::{Coded, ErrorCode, Reason, UnitType};
use crate::time::{Millis, format_rfc3339_millis};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Turns raw ids into `hex(HMAC-SHA256(key, id))`, or `hex(SHA-256(id))` without a key (SPEC §5).
#[derive(Clone)]
pub struct Pseudonymizer {
    keyed: Option<HmacSha256>,
    /// Signs and verifies exposure tokens: derived from the id key, or from a per-process secret
    /// ([`Pseudonymizer::with_token_secret`]) when there is none.
    token: Option<HmacSha256>,
    /// No token key: redeem unsigned tokens without verification (`allow_unsigned_tokens`).
    unsigned_ok: bool,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer").field("keyed", &self.keyed.is_some()).finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Domain separation: the token key is derived from the id key, never the id key itself.
const TOKEN_KEY_LABEL: &[u8] = b"vario/exposure-token/v1";

impl Pseudonymizer {
    /// A pseudonymizer keyed with `key` (`None`: plain SHA-256, which is guessable for small id
    /// spaces; the runtime warns at start-up).
    pub fn new(key: Option<&str>) -> Self {
        let keyed = key.and_then(|k| HmacSha256::new_from_slice(k.as_bytes()).ok());
        let token = keyed.clone().and_then(|mut m| {
            m.update(TOKEN_KEY_LABEL);
            HmacSha256::new_from_slice(&m.finalize().into_bytes()).ok()
        });
        Pseudonymizer { keyed, token, unsigned_ok: false }
    }

    /// Without an id key, signs tokens with a key derived from `secret` instead (the runtime gives
    /// a random per-process one), so an edited token is refused even with no key configured.
    /// Tokens then only redeem in this process; cross-process redemption needs a shared
    /// `id_hash_key`. No effect when an id key is set.
    pub fn with_token_secret(mut self, secret: &[u8]) -> Self {
        if self.token.is_none() {
            self.token = HmacSha256::new_from_slice(secret).ok().and_then(|mut m| {
                m.update(TOKEN_KEY_LABEL);
                HmacSha256::new_from_slice(&m.finalize().into_bytes()).ok()
            });
        }
        self
    }

    /// Without any token key (no id key, no secret), redeem tokens without verifying them
    /// (`allow_unsigned_tokens`). By default such a pseudonymizer refuses every token
    /// ([`TokenError::MissingSignature`], `TOKEN_UNSIGNED`).
    pub fn allow_unsigned_tokens(mut self, allow: bool) -> Self {
        self.unsigned_ok = allow;
        self
    }

    /// True when tokens are signed (an id key or a token secret).
    pub fn signs_tokens(&self) -> bool {
        self.token.is_some()
    }

    /// True when a key is configured.
    pub fn is_keyed(&self) -> bool {
        self.keyed.is_some()
    }

    /// The pseudonym of `id` as lowercase hex.
    pub fn apply(&self, id: &str) -> String {
        match &self.keyed {
            Some(m) => {
                let mut m = m.clone();
                m.update(id.as_bytes());
                hex(&m.finalize().into_bytes())
            }
            None => hex(&Sha256::digest(id.as_bytes())),
        }
    }
}

/// Indices of an exposure into the snapshot that decided it (see [`Decision::exposure_key`](crate::Decision::exposure_key)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExposureKey {
    /// The deciding snapshot's version.
    pub config_version: u64,
    /// Placement index in that snapshot.
    pub placement: usize,
    /// Experiment index in that snapshot.
    pub experiment: usize,
    /// Variant index within the experiment.
    pub variant: usize,
    /// The unit type bucketed.
    pub unit_type: UnitType,
    /// The served variant's share.
    pub allocation_share: f64,
}

/// What an `ASSIGNED` decision would log, still holding raw ids. In-process only.
#[derive(Debug, Clone, PartialEq)]
pub struct RawExposure {
    /// Raw user id, if the request had one.
    pub user_id: Option<String>,
    /// Raw session id, if the request had one.
    pub session_id: Option<String>,
    /// The rest of the event.
    pub data: ExposureFields,
}

/// Exposure fields other than ids (SPEC §5 `exposure`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposureFields {
    /// The experiment's `id`.
    pub experiment_id: Value,
    /// The experiment's key.
    pub experiment_key: String,
    /// The variant served.
    pub variant: String,
    /// The experiment's iteration.
    pub iteration: u64,
    /// The unit type bucketed.
    pub unit_type: UnitType,
    /// The placement.
    pub placement: String,
    /// `context.page_type`.
    pub page_type: Option<String>,
    /// Always `ASSIGNED` today.
    pub reason: Reason,
    /// The propensity of the served variant.
    pub allocation_share: f64,
    /// The snapshot version that decided.
    pub config_version: u64,
    /// When the decision was made (RFC 3339 UTC, ms).
    pub decided_at: String,
    /// Selected request context (the keys the caller chose to forward).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// The interleaved list this impression showed (teams, and ranks for `balanced`), when the
    /// caller interleaved (SPEC §10; contract/events.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaving: Option<crate::interleave::Impression>,
}

/// An exposure with pseudonymised ids: safe to send, store or put in a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposureData {
    /// Pseudonymised user id.
    pub user_id: Option<String>,
    /// Pseudonymised session id.
    pub session_id: Option<String>,
    /// The rest.
    #[serde(flatten)]
    pub fields: ExposureFields,
}

/// The SDK that produced an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdk {
    /// e.g. `vario-rust`, `vario-python`.
    pub name: String,
    /// The SDK's version.
    pub version: String,
}

/// A complete `exposure` event as sent to the ingestion URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposureEvent {
    /// Always `exposure`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Idempotency key (UUID).
    pub event_id: String,
    /// When the exposure happened (RFC 3339 UTC, ms).
    pub timestamp: String,
    /// Who produced it.
    pub sdk: Sdk,
    /// Ids and fields.
    #[serde(flatten)]
    pub data: ExposureData,
}

/// What an exposure needs from its snapshot, and nothing more: experiment ids, keys, iterations,
/// variant keys and placement names. Small (no segments, params or compiled rules), so a runtime
/// can keep many past versions to resolve queued [`ExposureKey`]s,
/// and comparable, so identical dictionaries of consecutive versions can be shared.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExposureDict {
    pub(crate) placements: Vec<Box<str>>,
    pub(crate) placements_json: Vec<Box<str>>,
    pub(crate) experiments: Vec<DictExperiment>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DictExperiment {
    id: Value,
    key: Box<str>,
    iteration: u64,
    variants: Vec<Box<str>>,
    /// `"experiment_id":…,"experiment_key":"…"` as JSON, written once.
    json: Box<str>,
    /// `"variant":"…"` per variant, as JSON.
    variants_json: Vec<Box<str>>,
}

impl ExposureDict {
    /// Builds the dictionary from each placement's name and each experiment's
    /// `(id, key, iteration, variant keys)`, in snapshot order.
    pub(crate) fn new<'s>(
        placements: impl Iterator<Item = &'s str>,
        experiments: impl Iterator<Item = (&'s Value, &'s str, u64, Vec<Box<str>>)>,
    ) -> Self {
        let js = |v: &str| serde_json::to_string(v).unwrap_or_default();
        let placements: Vec<Box<str>> = placements.map(Box::from).collect();
        ExposureDict {
            placements_json: placements.iter().map(|p| format!("\"placement\":{}", js(p)).into()).collect(),
            placements,
            experiments: experiments
                .map(|(id, key, iteration, variants)| DictExperiment {
                    json: format!(
                        "\"experiment_id\":{},\"experiment_key\":{}",
                        serde_json::to_string(id).unwrap_or_else(|_| "null".into()),
                        js(key),
                    )
                    .into(),
                    variants_json: variants.iter().map(|v| format!("\"variant\":{}", js(v)).into()).collect(),
                    id: id.clone(),
                    key: key.into(),
                    iteration,
                    variants,
                })
                .collect(),
        }
    }

    /// `(experiment_id, experiment_key, variant, iteration)` of an exposure key, borrowed (for
    /// de-dup and attribution without copying).
    pub fn names(&self, key: &ExposureKey) -> Option<(&Value, &str, &str, u64)> {
        let e = self.experiments.get(key.experiment)?;
        Some((&e.id, &e.key, e.variants.get(key.variant)?, e.iteration))
    }

    /// Writes the exposure event for `key` as one JSON object, without intermediate allocations.
    /// Byte-for-byte the same object (same fields, same order) as serialising the
    /// [`ExposureEvent`] built from [`ExposureDict::exposure_fields`]; a test pins that.
    ///
    /// `user_id`/`session_id` are already pseudonymised; `context_json` is a JSON object (or empty
    /// for none); `sdk_json` is the serialised [`Sdk`].
    #[allow(clippy::too_many_arguments)]
    pub fn write_event(
        &self,
        out: &mut Vec<u8>,
        key: &ExposureKey,
        event_id: &str,
        timestamp: Millis,
        sdk_json: &str,
        user_id: Option<&str>,
        session_id: Option<&str>,
        page_type: Option<&str>,
        decided_at: Millis,
        context_json: &[u8],
    ) -> bool {
        let (Some(e), Some(p)) = (self.experiments.get(key.experiment), self.placements_json.get(key.placement)) else {
            return false;
        };
        let Some(v) = e.variants_json.get(key.variant) else { return false };
        let opt = |out: &mut Vec<u8>, s: Option<&str>| match s {
            Some(s) => {
                let _ = serde_json::to_writer(&mut *out, s);
            }
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"type\":\"exposure\",\"event_id\":");
        opt(out, Some(event_id));
        out.extend_from_slice(b",\"timestamp\":\"");
        out.extend_from_slice(&crate::time::rfc3339_millis_bytes(timestamp));
        out.extend_from_slice(b"\",\"sdk\":");
        out.extend_from_slice(sdk_json.as_bytes());
        out.extend_from_slice(b",\"user_id\":");
        opt(out, user_id);
        out.extend_from_slice(b",\"session_id\":");
        opt(out, session_id);
        out.push(b',');
        out.extend_from_slice(e.json.as_bytes());
        out.push(b',');
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b",\"iteration\":");
        let _ = serde_json::to_writer(&mut *out, &e.iteration);
        out.extend_from_slice(b",\"unit_type\":\"");
        out.extend_from_slice(key.unit_type.as_str().as_bytes());
        out.extend_from_slice(b"\",");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b",\"page_type\":");
        opt(out, page_type);
        out.extend_from_slice(b",\"reason\":\"ASSIGNED\",\"allocation_share\":");
        let _ = serde_json::to_writer(&mut *out, &key.allocation_share);
        out.extend_from_slice(b",\"config_version\":");
        let _ = serde_json::to_writer(&mut *out, &key.config_version);
        out.extend_from_slice(b",\"decided_at\":\"");
        out.extend_from_slice(&crate::time::rfc3339_millis_bytes(decided_at));
        out.push(b'"');
        if context_json.len() > 2 {
            out.extend_from_slice(b",\"context\":");
            out.extend_from_slice(context_json);
        }
        out.push(b'}');
        true
    }

    /// Resolves an exposure key of a decision made on a snapshot with this dictionary.
    pub fn exposure_fields(
        &self,
        key: &ExposureKey,
        page_type: Option<String>,
        decided_at: Millis,
        context: Map<String, Value>,
    ) -> Option<ExposureFields> {
        let e = self.experiments.get(key.experiment)?;
        Some(ExposureFields {
            experiment_id: e.id.clone(),
            experiment_key: e.key.to_string(),
            variant: e.variants.get(key.variant)?.to_string(),
            iteration: e.iteration,
            unit_type: key.unit_type,
            placement: self.placements.get(key.placement)?.to_string(),
            page_type,
            reason: Reason::Assigned,
            allocation_share: key.allocation_share,
            config_version: key.config_version,
            decided_at: format_rfc3339_millis(decided_at),
            context,
            interleaving: None,
        })
    }
}

impl RawExposure {
    /// Replaces the raw ids with pseudonyms.
    pub fn pseudonymize(self, p: &Pseudonymizer) -> ExposureData {
        ExposureData {
            user_id: self.user_id.as_deref().map(|u| p.apply(u)),
            session_id: self.session_id.as_deref().map(|s| p.apply(s)),
            fields: self.data,
        }
    }
}

impl ExposureData {
    /// Wraps the data in an event envelope.
    pub fn into_event(self, event_id: String, timestamp: Millis, sdk: Sdk) -> ExposureEvent {
        ExposureEvent {
            kind: "exposure".into(),
            event_id,
            timestamp: format_rfc3339_millis(timestamp),
            sdk,
            data: self,
        }
    }
}

/// Why an exposure token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not of the form `v1.<payload>[.<signature>]`.
    #[error("exposure token is malformed")]
    Malformed,
    /// A version this SDK does not read.
    #[error("exposure token version `{0}` is not supported (v1)")]
    UnsupportedVersion(String),
    /// The payload is not base64url or not an exposure.
    #[error("exposure token payload is invalid: {0}")]
    Payload(String),
    /// The token is unsigned, and unsigned tokens are not accepted (a key is configured, or none is
    /// and `allow_unsigned_tokens` is off).
    #[error("exposure token is not signed; unsigned tokens are refused (see allow_unsigned_tokens)")]
    MissingSignature,
    /// The signature does not match: the token was altered or signed with another key.
    #[error("exposure token signature does not match")]
    BadSignature,
    /// The key that verifies tokens is not known yet (it comes with the first snapshot).
    #[error("exposure token cannot be verified before the first snapshot provides the key")]
    KeyUnavailable,
}

impl Coded for TokenError {
    fn code(&self) -> ErrorCode {
        match self {
            TokenError::Malformed => ErrorCode::TokenMalformed,
            TokenError::UnsupportedVersion(_) => ErrorCode::TokenVersion,
            TokenError::Payload(_) => ErrorCode::TokenPayload,
            TokenError::MissingSignature => ErrorCode::TokenUnsigned,
            TokenError::BadSignature => ErrorCode::TokenSignature,
            TokenError::KeyUnavailable => ErrorCode::TokenKeyUnavailable,
        }
    }
}

/// What an exposure token carries: the exposure, with pseudonymised ids only, and the event id
/// minted when the decision was made, so redeeming one token twice (two tabs, a retry, two
/// processes) yields one idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenPayload {
    /// The exposure event's `event_id`.
    pub event_id: String,
    /// The exposure.
    #[serde(flatten)]
    pub data: ExposureData,
}

impl Pseudonymizer {
    /// Encodes an exposure as a URL-safe, self-contained token: `v1.<base64url(JSON)>`, plus
    /// `.<base64url(HMAC-SHA256)>` when a key is configured (tamper-evident).
    pub fn encode_token(&self, payload: &TokenPayload) -> String {
        let json = serde_json::to_vec(payload).unwrap_or_default();
        let mut t = String::with_capacity(4 + json.len() * 4 / 3 + 45);
        t.push_str("v1.");
        B64.encode_string(&json, &mut t);
        if let Some(m) = &self.token {
            let mut m = m.clone();
            m.update(t.as_bytes());
            t.push('.');
            B64.encode_string(m.finalize().into_bytes(), &mut t);
        }
        t
    }

    /// Decodes and verifies a token: with a token key its signature must verify; without one it is
    /// refused (`TOKEN_UNSIGNED`) unless [`Pseudonymizer::allow_unsigned_tokens`] was set.
    pub fn decode_token(&self, token: &str) -> Result<TokenPayload, TokenError> {
        let mut parts = token.split('.');
        let (Some(ver), Some(payload)) = (parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let sig = parts.next();
        if parts.next().is_some() {
            return Err(TokenError::Malformed);
        }
        if ver != "v1" {
            return Err(TokenError::UnsupportedVersion(ver.chars().take(16).collect()));
        }
        match &self.token {
            Some(m) => {
                let sig = sig.ok_or(TokenError::MissingSignature)?;
                let sig = B64.decode(sig).map_err(|_| TokenError::BadSignature)?;
                let mut m = m.clone();
                m.update(&token.as_bytes()[..ver.len() + 1 + payload.len()]);
                m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
            }
            // Nothing to verify with: only an explicit opt-in redeems such a token.
            None if self.unsigned_ok => {}
            None => return Err(TokenError::MissingSignature),
        }
        let json = B64.decode(payload).map_err(|e| TokenError::Payload(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| TokenError::Payload(e.to_string()))
    }
}

/// The `event_id` an exposure token will log under (minted when the decision was made): the
/// impression id a later click names (`properties.impression_id`) to be credited to exactly this
/// impression. Reads the payload without verifying the signature; the id is not a secret, and
/// redeeming still verifies.
pub fn token_event_id(token: &str) -> Result<String, TokenError> {
    #[derive(Deserialize)]
    struct Id {
        event_id: String,
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(payload)) = (parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let json = B64.decode(payload).map_err(|e| TokenError::Payload(e.to_string()))?;
    let id: Id = serde_json::from_slice(&json).map_err(|e| TokenError::Payload(e.to_string()))?;
    Ok(id.event_id)
}
