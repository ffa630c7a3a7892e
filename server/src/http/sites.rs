//! `GET /api/v1/sites`: the caller's sites with their bays, rooms and entrances (what a
//! tablet needs to start an inspection offline).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sites", get(sites))
}

async fn sites(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Value>, AppError> {
    let mut sites = Vec::new();
    for id in &auth.user.sites {
        if let Some(site) = state.store.site(id).await? {
            sites.push(site);
        }
    }
    Ok(Json(json!({ "sites": sites })))
}
