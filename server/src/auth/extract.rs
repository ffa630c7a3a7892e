//! The authenticated user, as an axum extractor.

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use shared::policy::User;

use super::{AuthError, Claims};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::users::UserRecord;

/// A request made with a valid access token of an enabled user whose login is live.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user, as the policy sees them.
    pub user: User,
    /// The stored record.
    pub record: UserRecord,
    /// The token's claims.
    pub claims: Claims,
}

/// Checks a raw access token all the way: signature and claims, then the user and login
/// in the database (so disabling a user or logging out takes effect at once).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    let claims = state.keys.verify(token)?;
    let record = state
        .store
        .user_by_id(&claims.sub)
        .await?
        .ok_or(AuthError::Revoked)?;
    if record.disabled || !state.store.family_active(&claims.sid).await? {
        return Err(AuthError::Revoked.into());
    }
    let user = User {
        id: record.id.clone(),
        role: record.role,
        sites: record.sites.iter().cloned().collect::<BTreeSet<_>>(),
    };
    Ok(AuthUser {
        user,
        record,
        claims,
    })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized("missing Authorization: Bearer token".to_string())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "the Authorization header must be `Bearer <token>`".to_string(),
                )
            })?;
        authenticate(state, token.trim()).await
    }
}
