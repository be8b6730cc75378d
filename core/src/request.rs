//! Placement requests: the borrowed form the engine reads, and an owned form parsed from JSON.

use crate::codes::{Coded, ErrorCode};
use serde_json::{Map, Value};

/// A decision request (SPEC §5). Borrowed, so building one allocates nothing.
///
/// Empty ids count as absent (SPEC §1); the engine normalises them, callers need not.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The placement asked about (`context.placement` in the JSON form).
    pub placement: &'a str,
    /// The logged-in user, if any.
    pub user_id: Option<&'a str>,
    /// The session, if any.
    pub session_id: Option<&'a str>,
    /// Targeting attributes (`placement`, `page_type`, `locale`, …).
    pub context: Option<&'a Map<String, Value>>,
    /// `false` when the visitor opted out of tracking: placement defaults, no events.
    pub consent: bool,
    /// QA overrides for this request only: experiment key → variant key.
    pub forced: Option<&'a Map<String, Value>>,
    /// Record why each candidate did or did not enroll.
    pub trace: bool,
}

impl<'a> Request<'a> {
    /// A request for `placement` with no ids, no context and consent given.
    pub fn new(placement: &'a str) -> Self {
        Request { placement, user_id: None, session_id: None, context: None, consent: true, forced: None, trace: false }
    }

    /// Sets the user id.
    pub fn user(mut self, id: &'a str) -> Self {
        self.user_id = Some(id);
        self
    }

    /// Sets the session id.
    pub fn session(mut self, id: &'a str) -> Self {
        self.session_id = Some(id);
        self
    }

    /// Sets the context attributes.
    pub fn context(mut self, ctx: &'a Map<String, Value>) -> Self {
        self.context = Some(ctx);
        self
    }

    /// Asks for a trace of every candidate.
    pub fn with_trace(mut self) -> Self {
        self.trace = true;
        self
    }

    pub(crate) fn norm_user(&self) -> Option<&'a str> {
        self.user_id.filter(|s| !s.is_empty())
    }

    pub(crate) fn norm_session(&self) -> Option<&'a str> {
        self.session_id.filter(|s| !s.is_empty())
    }
}

/// Why a JSON request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {0}")]
pub struct RequestError(pub String);

impl Coded for RequestError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// A request parsed from JSON (the form the C, Python and Node surfaces and the vectors use).
#[derive(Debug, Clone, Default)]
pub struct OwnedRequest {
    placement: String,
    user_id: Option<String>,
    session_id: Option<String>,
    context: Map<String, Value>,
    consent: bool,
    forced: Option<Map<String, Value>>,
    trace: bool,
}

fn opt_id(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, RequestError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(RequestError(format!("`{name}` must be a string or null, not {}", type_name(other)))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl OwnedRequest {
    /// Parses request JSON text. `require_placement` is true for decisions, false for flags.
    pub fn from_json(text: &str, require_placement: bool) -> Result<Self, RequestError> {
        let v: Value = serde_json::from_str(text).map_err(|e| RequestError(format!("not JSON: {e}")))?;
        Self::from_value(&v, require_placement)
    }

    /// Reads a parsed request document.
    pub fn from_value(v: &Value, require_placement: bool) -> Result<Self, RequestError> {
        let obj =
            v.as_object().ok_or_else(|| RequestError(format!("a request must be an object, not {}", type_name(v))))?;
        let context = match obj.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(RequestError(format!("`context` must be an object, not {}", type_name(other))));
            }
        };
        let placement = match context.get("placement") {
            Some(Value::String(p)) => p.clone(),
            None | Some(Value::Null) if !require_placement => String::new(),
            None | Some(Value::Null) => {
                return Err(RequestError("`context.placement` is required".into()));
            }
            Some(other) => {
                return Err(RequestError(format!("`context.placement` must be a string, not {}", type_name(other))));
            }
        };
        let consent = match obj.get("consent") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(RequestError(format!("`consent` must be a bool, not {}", type_name(other))));
            }
        };
        let trace = match obj.get("trace") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(RequestError(format!("`trace` must be a bool, not {}", type_name(other))));
            }
        };
        let forced = match obj.get("forced") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) if m.values().all(Value::is_string) => Some(m.clone()),
            Some(_) => {
                return Err(RequestError("`forced` must map experiment keys to variant keys".into()));
            }
        };
        Ok(OwnedRequest {
            placement,
            user_id: opt_id(obj, "user_id")?,
            session_id: opt_id(obj, "session_id")?,
            context,
            consent,
            forced,
            trace,
        })
    }

    /// The borrowed view the engine reads.
    pub fn as_request(&self) -> Request<'_> {
        Request {
            placement: &self.placement,
            user_id: self.user_id.as_deref(),
            session_id: self.session_id.as_deref(),
            context: Some(&self.context),
            consent: self.consent,
            forced: self.forced.as_ref(),
            trace: self.trace,
        }
    }
}
