//! `GET /api/v1/templates` (the built-in checklists) and `GET /api/v1/regulation`.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/templates", get(templates))
        .route("/api/v1/regulation", get(regulation))
}

async fn templates() -> Json<Value> {
    Json(json!({ "templates": shared::builtin::templates() }))
}

async fn regulation() -> Json<Value> {
    Json(json!({ "rules": shared::catalog::rules() }))
}
