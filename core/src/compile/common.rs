//! What every item kind's compiler shares: the item-level failure, the lint sink, overrides.

use crate::codes::LintCode;
use crate::lint::Lint;
use crate::targeting::RuleError;
use serde::Deserialize;
use serde_json::Value;

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
        self.0.push(Lint { code, severity: code.severity(), item: item.into(), message: message.into() });
    }
}

pub(crate) fn raw_key(v: &Value) -> String {
    v.get("key").and_then(Value::as_str).unwrap_or("?").to_owned()
}
