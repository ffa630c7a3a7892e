//! `POST /api/v1/auth/login`, `/refresh`, `/logout`, and `GET /api/v1/me`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::auth::{self, REFRESH_GRACE, REFRESH_TTL};
use crate::http::error::{ApiJson, AppError};
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::sessions::Rotation;
use crate::store::users::UserRecord;

/// Failed logins per user name allowed in [`WINDOW_MS`].
pub const MAX_FAILURES_PER_USER: i64 = 5;
/// Failed logins per client address allowed in [`WINDOW_MS`].
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// The rate-limit window: 15 minutes.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

fn user_json(u: &UserRecord) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "sites": u.sites,
    })
}

/// Issues an access token and a new refresh token in login `family`.
async fn tokens(state: &AppState, user: &UserRecord, family: &str) -> Result<Value, AppError> {
    let refresh = auth::random_token()?;
    let expires = now_ms() + REFRESH_TTL.as_millis() as i64;
    state
        .store
        .insert_refresh(
            &auth::token_hash(&refresh),
            user.id.as_str(),
            family,
            expires,
        )
        .await?;
    token_body(state, user, family, &refresh)
}

/// The body that hands out a fresh access token with the stored refresh token `refresh`.
fn token_body(
    state: &AppState,
    user: &UserRecord,
    family: &str,
    refresh: &str,
) -> Result<Value, AppError> {
    let now = chrono::Utc::now().timestamp();
    let (access, exp) = state.keys.issue(user.id.as_str(), family, now)?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": exp - now,
        "refresh_token": refresh,
        "user": user_json(user),
    }))
}

#[tracing::instrument(skip(state, body), fields(username = %body.username))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<Value>, AppError> {
    let by_user = format!("user:{}", body.username);
    let by_addr = format!("addr:{}", peer.ip());
    let since = now_ms() - WINDOW_MS;
    if state.store.login_failures_since(&by_user, since).await? >= MAX_FAILURES_PER_USER
        || state.store.login_failures_since(&by_addr, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(AppError::TooManyRequests {
            message: "too many failed logins; wait and try again".to_string(),
            retry_after: (WINDOW_MS / 1000) as u64,
        }
        .because("too_many_logins")
        .with("retry_after", WINDOW_MS / 1000));
    }
    let user = state.store.user_by_username(&body.username).await?;
    let password = body.password;
    // Verify even for an unknown user, against a fixed hash, so response time does not
    // reveal which user names exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = auth::password_work(move || auth::verify_password(&password, &hash)).await?;
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            state
                .store
                .record_login_failure(&[by_user, by_addr])
                .await?;
            return Err(auth::AuthError::BadCredentials.into());
        }
    };
    state.store.clear_login_failures(&by_user, since).await?;
    let family = auth::random_token()?;
    Ok(Json(tokens(&state, &user, &family).await?))
}

/// An argon2id hash of a random password, checked against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2wK0LChrcKgBjahoOy+F1sPNjTmg8sd8+Rl4fsH0PjA";

async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Value>, AppError> {
    let successor = auth::random_token()?;
    let now = now_ms();
    let rotation = state
        .store
        .rotate_refresh(
            &auth::token_hash(&body.refresh_token),
            &auth::token_hash(&successor),
            now + REFRESH_TTL.as_millis() as i64,
            now,
            REFRESH_GRACE.as_millis() as i64,
        )
        .await?;
    let (user_id, family) = match rotation {
        Rotation::Unknown => {
            return Err(AppError::Unauthorized("unknown refresh token".to_string())
                .because("unknown_refresh_token"));
        }
        Rotation::Expired => {
            return Err(
                AppError::Unauthorized("the refresh token has expired".to_string())
                    .because("refresh_token_expired"),
            );
        }
        Rotation::Reused => {
            return Err(AppError::Unauthorized(
                "the refresh token was already used or revoked".to_string(),
            )
            .because("refresh_token_reused"));
        }
        Rotation::Issued {
            user_id, family, ..
        } => (user_id, family),
    };
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            AppError::Unauthorized("the user is disabled".to_string()).because("user_disabled")
        })?;
    Ok(Json(token_body(&state, &user, &family, &successor)?))
}

async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, AppError> {
    if let Some(record) = state
        .store
        .refresh_by_hash(&auth::token_hash(&body.refresh_token))
        .await?
    {
        state.store.revoke_family(&record.family).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(auth: AuthUser) -> Json<Value> {
    Json(user_json(&auth.record))
}
