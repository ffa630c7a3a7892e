//! `GET /api/v1/people`: the people of the caller's sites (or of one), whom the office
//! assigns violations to and the tablets name in records.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::query::{SiteQuery, readable_sites};
use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/people", get(people))
}

async fn people(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<SiteQuery>,
) -> Result<Json<Value>, AppError> {
    let sites = readable_sites(&auth, q.site.as_deref())?;
    let users = state.store.users_of_sites(&sites).await?;
    let people: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({ "id": u.id, "display_name": u.display_name, "role": u.role, "sites": u.sites, "disabled": u.disabled })
        })
        .collect();
    Ok(Json(json!({ "people": people })))
}
