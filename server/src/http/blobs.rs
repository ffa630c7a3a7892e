//! `POST /api/v1/blobs?site=SITE` and `GET /api/v1/blobs/{sha256}`: the photo store.
//!
//! Blobs are content-addressed: the server computes the SHA-256 of the body, which is the
//! reference an answer's `photos` list holds. Uploading the same photo twice is harmless.
//! Only users of the site may upload for it or read it.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use shared::ids::SiteId;
use shared::inspection::PhotoRef;
use shared::policy::{self, Action};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::extract::AuthUser;
use crate::error::AppError;
use crate::state::AppState;

/// The largest blob accepted, in bytes (10 MiB: a tablet camera photo).
pub const MAX_BLOB_BYTES: usize = 10 * 1024 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/blobs", post(upload))
        .route("/api/v1/blobs/{sha256}", get(download))
        .layer(RequestBodyLimitLayer::new(MAX_BLOB_BYTES))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    site: String,
}

async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let site = SiteId::parse(q.site).map_err(|e| AppError::BadRequest(e.to_string()))?;
    policy::authorize(&auth.user, Action::Answer, Some(&site))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !content_type.starts_with("image/") {
        return Err(AppError::UnsupportedMediaType(
            "a blob must be an image (Content-Type: image/…)".to_string(),
        ));
    }
    if body.is_empty() {
        return Err(AppError::BadRequest("the body is empty".to_string()));
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    let created = state
        .store
        .put_blob(
            &sha256,
            site.as_str(),
            &content_type,
            &body,
            auth.user.id.as_str(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "sha256": sha256, "size": body.len(), "site": site })),
    ))
}

async fn download(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let reference = PhotoRef::parse(sha256).map_err(AppError::BadRequest)?;
    let sites: Vec<String> = auth.user.sites.iter().map(ToString::to_string).collect();
    let blob = state
        .store
        .blob(reference.as_str(), &sites)
        .await?
        .ok_or_else(|| AppError::NotFound("no such blob".to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, blob.content_type),
            // The address is the content: it never changes.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_string(),
            ),
        ],
        blob.data,
    ))
}
