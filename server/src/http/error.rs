//! The HTTP layer's error type: the one place where failures become status codes.
//!
//! Internal errors are logged here with their detail and reach the client only as a
//! generic message, so no database text or path ever leaks out.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::AuthError;
use crate::store::StoreError;

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such resource (or one the caller may not see).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The body is well-formed JSON of the wrong shape.
    #[error("{0}")]
    Unprocessable(String),
    /// Field-level validation errors (a template, say).
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<shared::template::FieldError>),
    /// The body is not JSON, or not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An uploaded blob is not one of the accepted image formats (judged by its bytes).
    #[error("{0}")]
    NotAnImage(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The resource already exists.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again later.
    #[error("{message}")]
    TooManyRequests {
        /// What happened.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// The server cannot serve right now (not ready, shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Hash(detail) => AppError::Internal(detail),
            AuthError::Store(e) => AppError::from(e),
            other => AppError::Unauthorized(other.to_string()),
        }
    }
}

impl From<shared::policy::Denial> for AppError {
    fn from(d: shared::policy::Denial) -> Self {
        AppError::Forbidden(d.to_string())
    }
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            AppError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields"),
            AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json"),
            AppError::NotAnImage(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_an_image"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let mut error = json!({ "code": code, "message": message });
        if let AppError::Invalid(fields) = &self {
            error["fields"] = json!(fields);
        }
        let body = Json(json!({ "error": error }));
        match self {
            AppError::TooManyRequests { retry_after, .. } => (
                status,
                [(header::RETRY_AFTER, retry_after.to_string())],
                body,
            )
                .into_response(),
            AppError::Unauthorized(_) => (
                status,
                [(header::WWW_AUTHENTICATE, "Bearer".to_string())],
                body,
            )
                .into_response(),
            _ => (status, body).into_response(),
        }
    }
}

/// `Json<T>` whose rejections are [`AppError`]s with a JSON body, like every other error.
///
/// Strings holding the NUL character are refused here, for every endpoint at once:
/// PostgreSQL cannot store NUL in text (the write would fail as an internal error after
/// the body was accepted), and no name, reason or label a person types contains one.
pub struct ApiJson<T>(pub T);

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<Value>::from_request(req, state)
            .await
            .map_err(|rejection| match &rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    AppError::UnsupportedMediaType(rejection.body_text())
                }
                _ => AppError::BadRequest(rejection.body_text()),
            })?;
        if holds_nul(&value) {
            return Err(AppError::Unprocessable(
                "text in the body must not contain the NUL character".to_string(),
            ));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| AppError::Unprocessable(format!("the body does not fit: {e}")))
    }
}
