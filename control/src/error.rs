//! The one error type of every route: an HTTP status and a stable code (SPEC §8 "Errors"), rendered
//! as `{"error": {"code", "message", "details"?}}`. Pure apart from the `IntoResponse` impl.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The stable error codes of the control-plane API (SPEC §8), one per failure class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApiCode {
    /// Not JSON, wrong types, unknown fields, a bad name or query.
    BadRequest,
    /// No token, an unknown one, or an SDK key on an admin route.
    Unauthorized,
    /// A token whose role is too low for the route.
    Forbidden,
    /// No such resource.
    NotFound,
    /// A duplicate key.
    Conflict,
    /// A lifecycle change the state machine does not allow.
    InvalidTransition,
    /// An allocation change that would move units between variants of a live experiment.
    Reshuffle,
    /// `If-Match` named a revision that is no longer current.
    RevisionConflict,
    /// A request body over 1 MiB.
    TooLarge,
    /// The engine would disable what the write produces (details: its lints).
    ValidationFailed,
    /// The environment has no published version yet.
    NotPublished,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The database or Redis failed; nothing was changed.
    Internal,
    /// The service is shutting down or a dependency is unavailable.
    Unavailable,
}

impl ApiCode {
    /// The HTTP status this code is always sent with.
    pub fn status(self) -> StatusCode {
        match self {
            ApiCode::BadRequest => StatusCode::BAD_REQUEST,
            ApiCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiCode::Forbidden => StatusCode::FORBIDDEN,
            ApiCode::NotFound | ApiCode::NotPublished => StatusCode::NOT_FOUND,
            ApiCode::Conflict | ApiCode::InvalidTransition | ApiCode::Reshuffle => StatusCode::CONFLICT,
            ApiCode::RevisionConflict => StatusCode::PRECONDITION_FAILED,
            ApiCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ApiCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as sent (`"BAD_REQUEST"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiCode::BadRequest => "BAD_REQUEST",
            ApiCode::Unauthorized => "UNAUTHORIZED",
            ApiCode::Forbidden => "FORBIDDEN",
            ApiCode::NotFound => "NOT_FOUND",
            ApiCode::Conflict => "CONFLICT",
            ApiCode::InvalidTransition => "INVALID_TRANSITION",
            ApiCode::Reshuffle => "RESHUFFLE",
            ApiCode::RevisionConflict => "REVISION_CONFLICT",
            ApiCode::TooLarge => "TOO_LARGE",
            ApiCode::ValidationFailed => "VALIDATION_FAILED",
            ApiCode::NotPublished => "NOT_PUBLISHED",
            ApiCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiCode::Internal => "INTERNAL",
            ApiCode::Unavailable => "UNAVAILABLE",
        }
    }
}

/// An API failure: what the client is told.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// The stable code (and so the status).
    pub code: ApiCode,
    /// For humans.
    pub message: String,
    /// Structured detail: the engine's lints, the buckets a reshuffle would move.
    pub details: Option<serde_json::Value>,
}

/// The error body, as documented in the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` member of [`ErrorBody`].
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ApiCode,
    /// For humans.
    pub message: String,
    /// Lints `{code, item, message}` for `VALIDATION_FAILED`; `{buckets_moved}` for `RESHUFFLE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: ApiCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: None }
    }

    /// The same error carrying `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `400 BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ApiCode::BadRequest, message)
    }

    /// `404 NOT_FOUND` for `what`.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(ApiCode::NotFound, format!("no such {what}"))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // A unique-constraint violation is the client's duplicate key, not our failure.
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return ApiError::new(ApiCode::Conflict, "an item with this key already exists");
        }
        if matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) {
            return ApiError::new(ApiCode::Unavailable, "no database connection available; try again");
        }
        // Contention the client can retry: SQLite busy or locked past the busy timeout, a Postgres
        // serialization failure or deadlock.
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("5" | "6" | "517" | "40001" | "40P01"))
        {
            return ApiError::new(ApiCode::Unavailable, "the database is busy; nothing was changed, try again");
        }
        log::error!("vario-control: database error: {e}");
        ApiError::new(ApiCode::Internal, "database error; nothing was changed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message, details: self.details } };
        (self.code.status(), axum::Json(body)).into_response()
    }
}

/// What every route returns.
pub type ApiResult<T> = Result<T, ApiError>;
