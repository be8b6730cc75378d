//! What every item kind's compiler shares: the item-level failure, the lint sink, overrides.

use crate::codes::LintCode;
use crate::codes::UnitKind;
use crate::lint::Lint;
use crate::targeting::RuleError;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OverrideUnit {
    User,
    Session,
}

#[derive(Deserialize)]
pub(crate) struct RawOverride {
    pub(crate) unit: OverrideUnit,
    pub(crate) id: String,
    pub(crate) variant: String,
}

/// An item-level failure: the first problem found disables the item.
pub(crate) struct Problem(pub(crate) LintCode, pub(crate) String);

impl From<RuleError> for Problem {
    fn from(e: RuleError) -> Self {
        Problem(e.code, e.message)
    }
}

pub(crate) fn problem<T>(code: LintCode, msg: impl Into<String>) -> Result<T, Problem> {
    Err(Problem(code, msg.into()))
}

pub(crate) struct Lints(pub(crate) Vec<Lint>);

impl Lints {
    pub(crate) fn push(&mut self, code: LintCode, item: impl Into<String>, message: impl Into<String>) {
        // Messages quote the snapshot (patterns, values, serde's excerpts): bounded, whatever it holds.
        let message: String = message.into();
        let message = crate::lint::quote(&message, 4 * crate::lint::MAX_QUOTE).into_owned();
        self.0.push(Lint { code, severity: code.severity(), item: item.into(), message });
    }
}

pub(crate) fn raw_key(v: &Value) -> String {
    v.get("key").and_then(Value::as_str).unwrap_or("?").to_owned()
}

/// The identity of an item that failed its strict parse, read field by field.
///
/// Each field is kept as raw JSON text and read on its own, so a value the strict parse cannot hold
/// elsewhere in the item (a number past `f64`, nesting past the parser's depth limit, a lone
/// surrogate escape) does not erase the item: it still answers `CONFIG_ERROR` under its own key on
/// its own placements, and a flag's kill switch still applies (contract/snapshot.md).
#[derive(Deserialize, Default)]
pub(crate) struct Loose<'a> {
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    unit: Option<&'a RawValue>,
    #[serde(borrow, default)]
    iteration: Option<&'a RawValue>,
    #[serde(borrow, default)]
    placements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    kill_switch: Option<&'a RawValue>,
    #[serde(borrow, default)]
    default_variant: Option<&'a RawValue>,
    #[serde(borrow, default)]
    variants: Option<&'a RawValue>,
}

impl<'a> Loose<'a> {
    /// Reads what it can; an item that is not even an object has no identity (key `?`).
    pub(crate) fn read(raw: &'a RawValue) -> Loose<'a> {
        serde_json::from_str(raw.get()).unwrap_or_default()
    }

    /// The item's key, with any unpaired surrogate replaced by U+FFFD; `?` when there is none.
    pub(crate) fn key(&self) -> String {
        self.key.and_then(lossy_string).unwrap_or_else(|| "?".to_owned())
    }

    /// The item's `id` (`null` when unreadable).
    pub(crate) fn id(&self) -> Value {
        self.id.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or(Value::Null)
    }

    /// The unit kind, or the default.
    pub(crate) fn unit(&self) -> UnitKind {
        self.unit.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default()
    }

    /// The iteration, or 1.
    pub(crate) fn iteration(&self) -> u64 {
        self.iteration.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or(1)
    }

    /// The placements named (each read on its own; unreadable ones are skipped).
    pub(crate) fn placements(&self) -> Vec<Box<str>> {
        self.placements
            .and_then(|r| serde_json::from_str::<Vec<&RawValue>>(r.get()).ok())
            .map(|list| list.into_iter().filter_map(lossy_string).map(Box::from).collect())
            .unwrap_or_default()
    }

    /// `Some((default variant, its value))` when `kill_switch` is `true` and `default_variant`
    /// names one of the flag's `variants` with a readable value: what the kill switch serves.
    pub(crate) fn kill_switch_default(&self) -> Option<(String, Value)> {
        let on = self.kill_switch.and_then(|r| serde_json::from_str::<bool>(r.get()).ok())?;
        let name: String = serde_json::from_str(self.default_variant?.get()).ok()?;
        // Values read one by one: another variant's unreadable value does not hide the default's.
        let variants: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(self.variants?.get()).ok()?;
        let value: Value = serde_json::from_str(variants.get(&name)?.get()).ok()?;
        on.then_some((name, value))
    }
}

/// A JSON string read as text; an unpaired surrogate escape (which a Rust string cannot hold)
/// becomes U+FFFD instead of failing the read.
fn lossy_string(raw: &RawValue) -> Option<String> {
    if let Ok(s) = serde_json::from_str::<String>(raw.get()) {
        return Some(s);
    }
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = |s: &str| s.get(2..6).and_then(|h| u16::from_str_radix(h, 16).ok());
        let tail = &rest[i..];
        match hex(tail) {
            Some(hi @ 0xD800..=0xDBFF) if tail.get(6..8) == Some("\\u") => match hex(&tail[6..]) {
                Some(0xDC00..=0xDFFF) => {
                    out.push_str(&tail[..12]);
                    rest = &tail[12..];
                    continue;
                }
                _ => {
                    let _ = hi;
                    out.push_str("\\ufffd");
                }
            },
            Some(0xD800..=0xDFFF) => out.push_str("\\ufffd"),
            _ => {
                // A backslash-u that is not a surrogate (or not an escape): kept as it is.
                out.push_str(tail.get(..6).unwrap_or(tail));
                rest = tail.get(6..).unwrap_or("");
                continue;
            }
        }
        rest = &tail[6..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).ok()
}
