//! The HTTP layer's error type: the one place where failures become status codes.
//!
//! Internal errors are logged here with their detail and reach the client only as a
//! generic message, so no database text or path ever leaks out.
//!
//! Every error body is `{"error": {"code", "reason", "params", "message", …}}`: `code` is
//! the broad kind (one per status), `reason` a stable snake_case code for what exactly was
//! refused and `params` the values its sentence names. The app shows the sentence of
//! `reason` in the user's language; `message` is English for logs and scripts. Every
//! reason is listed in docs/API.md.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use shared::template::FieldError;

use crate::auth::AuthError;
use crate::office::{OfficeError, ReviewError};
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
    /// One of the errors above with a specific reason (see [`AppError::because`]).
    #[error("{}", .0.error)]
    Refused(Box<Refusal>),
}

/// An error with its stable reason code, the values its sentence names, and for a 422 the
/// fields at fault.
#[derive(Debug)]
pub struct Refusal {
    /// The error that sets the status, the `code` and the English message.
    pub error: AppError,
    /// The stable snake_case reason the app translates.
    pub reason: &'static str,
    /// The values the reason's sentence names (`{"user": "wang"}`).
    pub params: Map<String, Value>,
    /// Fields at fault, each with its own reason (sent as `error.fields`).
    pub fields: Vec<FieldError>,
}

impl AppError {
    /// This error, refused for a specific `reason` (snake_case, listed in docs/API.md).
    pub fn because(self, reason: &'static str) -> AppError {
        match self {
            AppError::Refused(mut r) => {
                r.reason = reason;
                AppError::Refused(r)
            }
            error => AppError::Refused(Box::new(Refusal {
                error,
                reason,
                params: Map::new(),
                fields: Vec::new(),
            })),
        }
    }

    /// This error with one more value its reason's sentence names.
    pub fn with(self, name: &str, value: impl Into<Value>) -> AppError {
        let mut refused = self.refusal();
        refused.params.insert(name.to_string(), value.into());
        AppError::Refused(refused)
    }

    /// This error with the fields at fault listed.
    pub fn fields(self, fields: Vec<FieldError>) -> AppError {
        let mut refused = self.refusal();
        refused.fields = fields;
        AppError::Refused(refused)
    }

    fn refusal(self) -> Box<Refusal> {
        match self {
            AppError::Refused(r) => r,
            error => {
                let reason = error.status_and_code().1;
                Box::new(Refusal {
                    error,
                    reason,
                    params: Map::new(),
                    fields: Vec::new(),
                })
            }
        }
    }

    /// Field errors as one 422 `invalid_body` (the users API's code, kept for its clients),
    /// whose reason and params are the first field's.
    pub fn invalid_body(fields: Vec<FieldError>) -> AppError {
        let text = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = AppError::Unprocessable(text);
        if let Some(first) = fields.first() {
            error = error.because(first.reason);
            for (name, value) in &first.params {
                error = error.with(name, value.clone());
            }
        }
        error.fields(fields)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<OfficeError> for AppError {
    fn from(e: OfficeError) -> Self {
        match e {
            OfficeError::NoSuchViolation => {
                AppError::NotFound(e.to_string()).because("no_such_violation")
            }
            OfficeError::Denied(denial) => AppError::from(denial),
            OfficeError::Review(ReviewError::NeedsReason) => {
                AppError::Unprocessable(e.to_string()).because("waive_needs_reason")
            }
            OfficeError::Review(ReviewError::Already(status)) => AppError::Conflict(e.to_string())
                .because("already_in_status")
                .with("status", status.as_str()),
            OfficeError::AlreadyAssigned(Some(person)) => {
                AppError::Conflict(format!("the violation is already assigned to {person}"))
                    .because("already_assigned")
                    .with("user", person)
            }
            OfficeError::AlreadyAssigned(None) => {
                AppError::Conflict("the violation is already unassigned".to_string())
                    .because("already_unassigned")
            }
            OfficeError::Invalid(fields) => AppError::Invalid(fields),
            OfficeError::Corrupt(detail) => AppError::Internal(detail),
            OfficeError::Store(e) => AppError::from(e),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Hash(detail) => AppError::Internal(detail),
            AuthError::Store(e) => AppError::from(e),
            other => {
                let reason = match other {
                    AuthError::BadCredentials => "bad_credentials",
                    AuthError::BadToken(_) => "bad_token",
                    _ => "session_ended",
                };
                AppError::Unauthorized(other.to_string()).because(reason)
            }
        }
    }
}

impl From<shared::policy::Denial> for AppError {
    fn from(d: shared::policy::Denial) -> Self {
        use shared::policy::Denial;
        let error = AppError::Forbidden(d.to_string()).because(d.code());
        match &d {
            Denial::NotMemberOfSite { site, .. } => error.with("site", site.as_str()),
            Denial::RoleNotAllowed { role, .. } => error.with("role", role.as_str()),
            Denial::TemplateNotForRole { role, template, .. } => error
                .with("role", role.as_str())
                .with("template", template.as_str()),
            _ => error,
        }
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
            AppError::Refused(r) => r.error.status_and_code(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let refusal = match self {
            AppError::Refused(r) => *r,
            AppError::Invalid(fields) => {
                let first = fields.first();
                Refusal {
                    reason: first.map_or("invalid_fields", |f| f.reason),
                    params: first
                        .map(|f| f.params.clone().into_iter().collect())
                        .unwrap_or_default(),
                    fields: fields.clone(),
                    error: AppError::Invalid(fields),
                }
            }
            error => Refusal {
                reason: code,
                params: Map::new(),
                fields: Vec::new(),
                error,
            },
        };
        let message = match &refusal.error {
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let mut error = json!({
            "code": code,
            "reason": refusal.reason,
            "params": refusal.params,
            "message": message,
        });
        if !refusal.fields.is_empty() {
            error["fields"] = json!(refusal.fields);
        }
        let body = Json(json!({ "error": error }));
        match refusal.error {
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

/// Deserializes `value` as a `T`, or says which field does not fit and why, with the
/// field's path (`items[0].rule`) and a reason code, never serde's own text:
/// `wrong_type`, `missing_field`, `unknown_field`, `unknown_value` (a name not among the
/// allowed ones) or `invalid_value` (the right type, but not a valid value).
pub fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let text = e.inner().to_string();
        // serde's error constructors (`invalid_type`, `missing_field`, …) each start their
        // text with a fixed phrase; serde_json keeps no other record of which one it was.
        let quoted = || text.split('`').nth(1).unwrap_or_default().to_string();
        let join = |parent: &str, name: &str| match parent {
            "." | "" => name.to_string(),
            parent => format!("{parent}.{name}"),
        };
        let (reason, field, message) = if text.starts_with("invalid type") {
            ("wrong_type", path, "has the wrong type")
        } else if text.starts_with("missing field") {
            ("missing_field", join(&path, &quoted()), "is missing")
        } else if text.starts_with("unknown field") {
            let name = quoted();
            let field = if path.ends_with(&name) {
                path
            } else {
                join(&path, &name)
            };
            ("unknown_field", field, "is not a field here")
        } else if text.starts_with("unknown variant") {
            ("unknown_value", path, "is not one of the allowed values")
        } else {
            ("invalid_value", path, "is not a valid value")
        };
        let field = if field == "." { String::new() } else { field };
        FieldError::new(field.clone(), reason, message).with("field", field)
    })
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
                    AppError::UnsupportedMediaType(rejection.body_text()).because("not_json")
                }
                _ => AppError::BadRequest(rejection.body_text()).because("malformed_json"),
            })?;
        if holds_nul(&value) {
            return Err(AppError::Unprocessable(
                "text in the body must not contain the NUL character".to_string(),
            )
            .because("nul_in_text"));
        }
        from_json(value).map(ApiJson).map_err(|field| {
            AppError::Unprocessable(format!(
                "the body does not fit: {} {}",
                field.field, field.message
            ))
            .because(field.reason)
            .with("field", field.field.clone())
            .fields(vec![field])
        })
    }
}
