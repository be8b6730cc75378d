//! Signed snapshots (contract/snapshot.md "Signed snapshots"): the envelope that carries an
//! Ed25519 signature with a snapshot, and the key texts.
//!
//! One scheme for every source (HTTP body, `config_path`, bootstrap, the persisted last-good copy,
//! `update_snapshot`): the document is an envelope
//!
//! ```text
//! {"vario_signed":1,"signature":"ed25519:<base64(64-byte signature)>","snapshot":<snapshot JSON>}
//! ```
//!
//! and the signature is over the exact bytes of the `snapshot` member as they appear in the
//! envelope (no re-serialisation, so any JSON writer can verify what another signed). Keys are
//! text: standard base64 (RFC 4648 §4, padded) of the 32-byte Ed25519 public key, or of the
//! 32-byte private seed for a signing key, optionally prefixed with `ed25519:`.
//!
//! Pure: no I/O, no randomness (a new signing key is made from 32 random bytes the caller
//! supplies, [`SigningKey::from_seed`]). The runtime verifies with [`open_snapshot`]; the
//! `vario snapshot` commands and the future control plane sign with [`sign_snapshot`].
//!
//! ```
//! use vario_core::signing::{SigningKey, open_snapshot, sign_snapshot, SignatureError};
//! let key = SigningKey::from_seed([7; 32]);
//! let public = key.public_key();
//! let envelope = sign_snapshot(&key, r#"{"schema_version":1,"version":3}"#);
//! assert_eq!(open_snapshot(&envelope, Some(&public)).unwrap(), r#"{"schema_version":1,"version":3}"#);
//! // A plain snapshot is refused once a key is configured.
//! assert_eq!(open_snapshot(r#"{"schema_version":1,"version":3}"#, Some(&public)), Err(SignatureError::Unsigned));
//! ```

use crate::codes::{Coded, ErrorCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, Verifier as _};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The algorithm prefix of signatures and (optionally) of key texts.
const PREFIX: &str = "ed25519:";

/// The envelope's format number (`vario_signed`).
pub const ENVELOPE_VERSION: u64 = 1;

/// Why a signed-snapshot document or a key text was refused. Code `SNAPSHOT_SIGNATURE` for the
/// document errors; a bad key text is the caller's option error (`INVALID_OPTIONS` at build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A public key is configured but the document is not a signed envelope.
    #[error("snapshot is not signed, but snapshot_public_key is set: a signed envelope is required")]
    Unsigned,
    /// An envelope, but not a well-formed one (missing member, another format, a signature that is
    /// not `ed25519:<base64 of 64 bytes>`).
    #[error("signed snapshot envelope is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify: the snapshot was altered or signed with another key.
    #[error("snapshot signature does not verify with snapshot_public_key (altered, or signed with another key)")]
    BadSignature,
}

impl Coded for SignatureError {
    /// `SNAPSHOT_SIGNATURE`.
    fn code(&self) -> ErrorCode {
        ErrorCode::SnapshotSignature
    }
}

/// A key text that is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// An Ed25519 public key: what a client verifies snapshots with (`snapshot_public_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

/// An Ed25519 signing key: what the control plane (or `vario snapshot sign`) signs with.
/// Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SigningKey").field(&self.public_key().to_text()).finish()
    }
}

/// The 32 bytes of a key text: base64 (standard, padded), optional `ed25519:` prefix, surrounding
/// whitespace ignored (key files end with a newline).
fn key_bytes(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let t = text.trim();
    let t = t.strip_prefix(PREFIX).unwrap_or(t);
    let bytes = B64.decode(t).map_err(|e| KeyError(format!("{what} is not base64: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| KeyError(format!("{what} must be 32 bytes (44 base64 characters), not {}", bytes.len())))
}

impl PublicKey {
    /// Parses a public key text (see the module docs).
    pub fn from_text(text: &str) -> Result<PublicKey, KeyError> {
        let b = key_bytes(text, "snapshot_public_key")?;
        ed25519_dalek::VerifyingKey::from_bytes(&b)
            .map(PublicKey)
            .map_err(|_| KeyError("snapshot_public_key is not a valid Ed25519 public key".into()))
    }

    /// The key as text: base64 of its 32 bytes.
    pub fn to_text(&self) -> String {
        B64.encode(self.0.as_bytes())
    }
}

impl SigningKey {
    /// The signing key whose private seed is these 32 bytes (give it 32 bytes from the OS's
    /// random source for a new key).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses a signing key text (base64 of the 32-byte seed; see the module docs).
    pub fn from_text(text: &str) -> Result<SigningKey, KeyError> {
        key_bytes(text, "signing key").map(SigningKey::from_seed)
    }

    /// The seed as text: what a key file holds. Secret.
    pub fn to_text(&self) -> String {
        B64.encode(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

/// The envelope's members. Unknown members are ignored, so a plain snapshot parses as an
/// envelope with none of them (`vario_signed` absent: not an envelope).
#[derive(Deserialize)]
struct Probe<'a> {
    vario_signed: Option<serde_json::Value>,
    signature: Option<String>,
    #[serde(borrow)]
    snapshot: Option<&'a RawValue>,
}

/// The signature text (`ed25519:<base64>`) of `snapshot` bytes.
pub fn signature_text(key: &SigningKey, snapshot: &[u8]) -> String {
    format!("{PREFIX}{}", B64.encode(key.0.sign(snapshot).to_bytes()))
}

/// Wraps `snapshot_json` in a signed envelope. Its bytes are used verbatim (only leading and
/// trailing whitespace is dropped, as JSON ignores it): the input should be one JSON value (a
/// snapshot); it is not parsed or validated here, so the signer never changes a byte it signs.
pub fn sign_snapshot(key: &SigningKey, snapshot_json: &str) -> String {
    let body = snapshot_json.trim();
    let sig = signature_text(key, body.as_bytes());
    let mut out = String::with_capacity(body.len() + sig.len() + 48);
    out.push_str("{\"vario_signed\":1,\"signature\":\"");
    out.push_str(&sig);
    out.push_str("\",\"snapshot\":");
    out.push_str(body);
    out.push('}');
    out
}

/// The snapshot text inside `text`, verified against `key` when one is given.
///
/// - With a key: `text` must be an envelope whose signature verifies over the exact bytes of its
///   `snapshot` member; anything else is refused ([`SignatureError`]).
/// - Without a key: an envelope is unwrapped (its signature is not checked, so a control plane can
///   sign before every client has the key); any other text is returned unchanged, for the
///   snapshot parser to accept or refuse as before.
pub fn open_snapshot<'a>(text: &'a str, key: Option<&PublicKey>) -> Result<&'a str, SignatureError> {
    // Without a key, a plain snapshot (every client's case today) skips the probe parse (a scan of
    // the whole document, about 4 % of its compile time): no `vario_signed` text, no envelope. An
    // envelope that spells the member with escapes is then refused by the snapshot parser.
    if key.is_none() && !text.contains("vario_signed") {
        return Ok(text);
    }
    let probe = serde_json::from_str::<Probe<'a>>(text).ok();
    let Some(p) = probe.filter(|p| p.vario_signed.is_some()) else {
        return match key {
            Some(_) => Err(SignatureError::Unsigned),
            None => Ok(text),
        };
    };
    if p.vario_signed.as_ref().and_then(|v| v.as_u64()) != Some(ENVELOPE_VERSION) {
        return Err(SignatureError::Malformed(format!("vario_signed must be {ENVELOPE_VERSION}")));
    }
    let Some(snapshot) = p.snapshot else {
        return Err(SignatureError::Malformed("no `snapshot` member".into()));
    };
    let Some(key) = key else { return Ok(snapshot.get()) };
    let sig = p.signature.ok_or_else(|| SignatureError::Malformed("no `signature` member".into()))?;
    let b64 = sig.strip_prefix(PREFIX).ok_or_else(|| {
        SignatureError::Malformed("the signature must be `ed25519:<base64>` (another algorithm?)".into())
    })?;
    let bytes = B64.decode(b64).map_err(|_| SignatureError::Malformed("the signature is not base64".into()))?;
    let sig = Signature::from_slice(&bytes)
        .map_err(|_| SignatureError::Malformed(format!("the signature is {} bytes, not 64", bytes.len())))?;
    key.0.verify(snapshot.get().as_bytes(), &sig).map_err(|_| SignatureError::BadSignature)?;
    Ok(snapshot.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = r#"{"schema_version":1,"version":3,"placements":{"home":{}}}"#;

    #[test]
    fn round_trip_and_every_refusal() {
        let key = SigningKey::from_seed([1; 32]);
        let other = SigningKey::from_seed([2; 32]).public_key();
        let public = PublicKey::from_text(&format!("ed25519:{}\n", key.public_key().to_text())).unwrap();
        let env = sign_snapshot(&key, SNAP);
        assert_eq!(open_snapshot(&env, Some(&public)), Ok(SNAP));
        assert_eq!(open_snapshot(&env, None), Ok(SNAP), "no key: unwrapped, unchecked");
        assert_eq!(open_snapshot(SNAP, None), Ok(SNAP), "no key, plain: as before");
        assert_eq!(open_snapshot(SNAP, Some(&public)), Err(SignatureError::Unsigned));
        assert_eq!(open_snapshot("not json", Some(&public)), Err(SignatureError::Unsigned));
        assert_eq!(open_snapshot(&env, Some(&other)), Err(SignatureError::BadSignature));
        let tampered = env.replace("\"version\":3", "\"version\":4");
        assert_eq!(open_snapshot(&tampered, Some(&public)), Err(SignatureError::BadSignature));
        // Whitespace inside the signed bytes is part of them.
        let spaced = env.replace("\"version\":3", "\"version\": 3");
        assert_eq!(open_snapshot(&spaced, Some(&public)), Err(SignatureError::BadSignature));
        for bad in [
            env.replace("\"vario_signed\":1", "\"vario_signed\":2"),
            env.replace("ed25519:", "rsa:"),
            env.replace(",\"snapshot\":", ",\"snap\":"),
            r#"{"vario_signed":1,"signature":"ed25519:AAAA","snapshot":{}}"#.to_owned(),
        ] {
            assert!(matches!(open_snapshot(&bad, Some(&public)), Err(SignatureError::Malformed(_))), "{bad}");
        }
        assert_eq!(SignatureError::Unsigned.code(), ErrorCode::SnapshotSignature);
    }

    #[test]
    fn key_texts() {
        let key = SigningKey::from_seed([9; 32]);
        let back = SigningKey::from_text(&key.to_text()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(key.public_key().to_text().len(), 44);
        assert!(!format!("{key:?}").contains(&key.to_text()), "Debug hides the secret");
        assert!(PublicKey::from_text("not base64!").is_err());
        assert!(PublicKey::from_text(&B64.encode([0u8; 16])).is_err());
        assert!(SigningKey::from_text("").is_err());
    }
}
