//! The web app, embedded in the binary (see `build.rs`), served at `/`.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::AppError;

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Walkaround</title>\
<p>The web app's bundle is not in this build. Run <code>cargo xtask run</code> \
(or <code>cargo xtask wasm</code> before building the server).</p>";

/// Serves an embedded file for a GET outside the API, or the JSON 404 of the API.
pub async fn asset_or_not_found(request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let is_api = path.starts_with("api/") || path == "sync";
    if !(request.method() == Method::GET || request.method() == Method::HEAD) || is_api {
        return AppError::NotFound(format!("no route for /{path}"))
            .because("no_route")
            .into_response();
    }
    let name = if path.is_empty() { "index.html" } else { path };
    if name == "index.html" && !HAS_BUNDLE {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response();
    }
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *content_type),
                // The service worker decides what is cached; the browser always asks.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => AppError::NotFound(format!("no route for /{path}"))
            .because("no_route")
            .into_response(),
    }
}
