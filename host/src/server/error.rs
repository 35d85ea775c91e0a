//! How the API answers when it cannot do what it was asked: an HTTP status chosen by the same
//! error classes as the command line's exit codes, and a JSON body naming the problem.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pipeline_core::text::printable;
use serde_json::json;

use crate::engine::EngineError;

/// A refused or failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// A short class scripts can branch on: `invalid_input`, `not_found`, `signal_refused`,
    /// `busy`, `unauthorized`, `forbidden`, `internal`.
    kind: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs its API token: `Authorization: Bearer <token>`, or log in at /login",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let (status, kind) = match &error {
            EngineError::UnknownExecution(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::SignalRefused(_) => (StatusCode::CONFLICT, "signal_refused"),
            EngineError::Owned { .. } => (StatusCode::CONFLICT, "busy"),
            other if other.is_user_error() => (StatusCode::BAD_REQUEST, "invalid_input"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Messages may quote what plugins and providers said: escaped like every other output.
        let body = json!({ "error": { "kind": self.kind, "message": printable(&self.message) } });
        (self.status, Json(body)).into_response()
    }
}
