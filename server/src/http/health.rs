//! `GET /healthz` (liveness), `GET /readyz` (readiness) and `GET /metrics`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::http::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Ready: the database answers, every migration this binary knows is applied, and the
/// server is not shutting down.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if *state.shutdown.borrow() {
        return Err(AppError::Unavailable("shutting down".to_string()));
    }
    state
        .store
        .ping()
        .await
        .map_err(|e| AppError::Unavailable(format!("database unreachable: {e}")))?;
    let pending = state
        .store
        .pending_migrations()
        .await
        .map_err(|e| AppError::Unavailable(format!("cannot read migrations: {e}")))?;
    if pending > 0 {
        return Err(AppError::Unavailable(format!(
            "{pending} migrations not applied"
        )));
    }
    Ok(Json(
        json!({ "status": "ready", "database": state.store.kind() }),
    ))
}

async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let body = state.metrics.render(
        (state.hub.resident(), state.hub.len()),
        state.store.pool_stats(),
        state.store.group_commits(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(
        json!({ "status": "ok", "database": state.store.kind() }),
    ))
}
