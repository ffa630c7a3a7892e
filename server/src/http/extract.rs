//! The extractors of the HTTP layer: [`AuthUser`] from an `Authorization: Bearer` header.
//!
//! The user and the check behind it are the auth layer's ([`crate::auth::authenticate`]);
//! what this module adds is reading the header and answering its absence with a 401.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::AppError;
use crate::auth::{AuthUser, authenticate};
use crate::state::AppState;

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized("missing Authorization: Bearer token".to_string())
                .because("missing_token")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "the Authorization header must be `Bearer <token>`".to_string(),
                )
                .because("malformed_authorization")
            })?;
        Ok(authenticate(&state.keys, &state.store, token.trim()).await?)
    }
}
