//! The HTTP API: one module per resource, merged into one router here.
//!
//! This is the edge of the server, and the only layer that knows HTTP: [`error`] maps
//! every failure to a status code, [`extract`] reads the caller's token, and [`sync`]
//! upgrades `/sync` to a WebSocket whose frames it hands to the sync layer.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

mod auth;
pub mod blobs;
mod documents;
pub mod error;
mod export;
mod extract;
mod health;
mod people;
mod query;
mod reports;
mod routines;
mod sites;
pub mod sync;
mod templates;
mod users;
mod violations;
pub mod web;

pub use blobs::MAX_BLOB_BYTES;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The Content-Security-Policy of every response that sets none of its own (blobs set a
/// stricter one). What the web app in `client-wasm/web` needs, and nothing more:
/// - `script-src 'self' 'wasm-unsafe-eval'`: its own ES modules, and compiling its own
///   wasm bundle (`WebAssembly.instantiateStreaming`); no inline script, no `eval`.
/// - `style-src 'self'` for `style.css` only: no `<style>` element and no `style`
///   attribute, not even one set from script (the app styles with classes; the Chromium
///   walk in `tests/e2e/csp.test.mjs` fails on any violation).
/// - `img-src 'self' blob:`: the icons, and evidence photos shown through object URLs of
///   blobs fetched with the bearer token (an `<img>` cannot send it).
/// - `connect-src 'self'`: the API and the `/sync` WebSocket (CSP Level 3 `'self'`
///   covers `ws:`/`wss:` to the same host).
/// - `worker-src 'self'` for the service worker; `manifest-src` falls back to `default-src`.
/// - `frame-ancestors 'none'` (no clickjacking), `base-uri 'none'`, `form-action 'self'`,
///   `object-src 'none'`.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' blob:; connect-src 'self'; \
worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response, unless the handler set its own.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, APP_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Addresses carry document ids; no other site needs to learn them.
        (header::REFERRER_POLICY, "no-referrer"),
        // For browsers older than `frame-ancestors`.
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// The whole application's router.
pub fn router(state: AppState) -> Router {
    // Photos have their own, larger limit; every other body is small JSON.
    let api = Router::new()
        .merge(health::router())
        .merge(templates::router())
        .merge(auth::router())
        .merge(documents::router())
        .merge(sites::router())
        .merge(violations::router())
        .merge(people::router())
        .merge(reports::router())
        .merge(routines::router())
        .merge(users::router())
        .route("/sync", axum::routing::get(sync::upgrade))
        .fallback(web::asset_or_not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    let app = Router::new()
        .merge(blobs::router())
        .merge(api)
        .layer(CompressionLayer::new());
    security_headers(app)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
