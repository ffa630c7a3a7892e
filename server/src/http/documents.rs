//! `GET /api/v1/documents`: discovery for tablets, the documents of the caller's sites in
//! the order they last changed, a page at a time after a cursor.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::query::{MAX_PAGE, page, readable_sites};
use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/documents", get(documents))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsQuery {
    since: Option<i64>,
    limit: Option<i64>,
}

async fn documents(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<DocumentsQuery>,
) -> Result<Json<Value>, AppError> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(AppError::BadRequest(
            "since must be 0 or a cursor returned earlier".to_string(),
        )
        .because("bad_cursor"));
    }
    let limit = page(q.limit, MAX_PAGE)?;
    let sites = readable_sites(&auth, None)?;
    let docs = state.store.docs_since(&sites, since, limit).await?;
    let cursor = docs.last().map_or(since, |d| d.version);
    let documents: Vec<Value> = docs
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "url": format!("automerge:{}", d.id),
                "kind": d.kind,
                "site": d.site_id,
                "template": d.template_id,
                "created_by": d.created_by,
                "created_at": d.created_at,
                "updated_at": d.updated_at,
            })
        })
        .collect();
    let more = documents.len() as i64 == limit;
    Ok(Json(
        json!({ "documents": documents, "cursor": cursor, "more": more }),
    ))
}
