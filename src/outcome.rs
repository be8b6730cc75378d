//! [`Outcome`]: what a host reports after a decision (SPEC §5 `outcome`), and its JSON form.
//!
//! Pure: a data type and its parser; imports nothing from the crate. The pipeline's processor
//! turns an outcome into an event (pseudonymised ids, the unit's recent assignments attached).

use serde_json::{Map, Value};
use vario_core::RequestError;

/// An outcome (SPEC §5 `outcome`) to track.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The unit's user id, if known (pseudonymised before it leaves the process).
    pub user_id: Option<String>,
    /// The unit's session id, if known.
    pub session_id: Option<String>,
    /// `impression`, `click`, `add_to_cart`, `purchase`, …
    pub event_type: String,
    /// The item acted on.
    pub item_id: Option<String>,
    /// Monetary or numeric value.
    pub value: Option<f64>,
    /// ISO 4217 currency of `value`.
    pub currency: Option<String>,
    /// The placement the outcome is attributed to.
    pub placement: Option<String>,
    /// Free-form properties.
    pub properties: Map<String, Value>,
}

impl Outcome {
    /// An outcome from a JSON object with the [`Outcome`] field names (`event_type` required;
    /// `user_id`, `session_id`, `item_id`, `currency`, `placement` strings; `value` a number;
    /// `properties` an object; `null` is the same as absent). The form the C ABI takes and the
    /// bindings build. An unknown field is an error (code `INVALID_REQUEST`).
    pub fn from_value(v: &Value) -> Result<Outcome, RequestError> {
        let obj = v.as_object().ok_or_else(|| RequestError("an outcome must be a JSON object".into()))?;
        let mut o = Outcome::default();
        for (k, val) in obj {
            if val.is_null() {
                continue;
            }
            let string =
                || val.as_str().map(str::to_owned).ok_or_else(|| RequestError(format!("`{k}` must be a string")));
            match k.as_str() {
                "user_id" => o.user_id = Some(string()?),
                "session_id" => o.session_id = Some(string()?),
                "event_type" => o.event_type = string()?,
                "item_id" => o.item_id = Some(string()?),
                "currency" => o.currency = Some(string()?),
                "placement" => o.placement = Some(string()?),
                "value" => o.value = Some(val.as_f64().ok_or_else(|| RequestError("`value` must be a number".into()))?),
                "properties" => {
                    o.properties =
                        val.as_object().cloned().ok_or_else(|| RequestError("`properties` must be an object".into()))?
                }
                other => return Err(RequestError(format!("unknown outcome field `{other}`"))),
            }
        }
        if o.event_type.is_empty() {
            return Err(RequestError("`event_type` is required".into()));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vario_core::{Coded, ErrorCode};

    #[test]
    fn outcome_from_value() {
        let o = Outcome::from_value(&json!({
            "event_type": "purchase", "user_id": "u1", "value": 9.5, "currency": null,
            "properties": {"sku": "x"}
        }))
        .expect("valid outcome");
        assert_eq!((o.event_type.as_str(), o.user_id.as_deref(), o.value), ("purchase", Some("u1"), Some(9.5)));
        assert!(o.currency.is_none());
        assert_eq!(o.properties["sku"], "x");
        for bad in [
            json!({"user_id": "u1"}),
            json!({"event_type": "click", "value": "9"}),
            json!({"event_type": "click", "colour": "red"}),
            json!([]),
        ] {
            let e = Outcome::from_value(&bad).expect_err("rejected");
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{bad}");
        }
    }
}
