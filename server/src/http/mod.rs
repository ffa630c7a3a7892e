//! The HTTP API: one module per resource, merged into one router here.

use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

mod auth;
pub mod blobs;
mod documents;
mod health;
mod reports;
mod reviews;
mod sites;
mod templates;
mod users;
pub mod web;

pub use blobs::MAX_BLOB_BYTES;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole application's router.
pub fn router(state: AppState) -> Router {
    // Photos have their own, larger limit; every other body is small JSON.
    let api = Router::new()
        .merge(health::router())
        .merge(templates::router())
        .merge(auth::router())
        .merge(documents::router())
        .merge(sites::router())
        .merge(reviews::router())
        .merge(reports::router())
        .merge(users::router())
        .route(
            "/sync",
            axum::routing::get(crate::sync::connection::upgrade),
        )
        .fallback(web::asset_or_not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    Router::new()
        .merge(blobs::router())
        .merge(api)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
