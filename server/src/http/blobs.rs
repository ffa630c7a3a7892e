//! `POST /api/v1/blobs?site=SITE` and `GET /api/v1/blobs/{sha256}`: the photo store.
//!
//! Blobs are content-addressed: the server computes the SHA-256 of the body, which is the
//! reference an answer's `photos` list holds. Uploading the same photo twice is harmless.
//! Only users of the site may upload for it or read it.
//!
//! A blob is judged by its bytes, never by the uploader's `Content-Type`: only the raster
//! formats a tablet camera produces are accepted ([`ImageKind`]), and the type served is
//! the one recognised from the stored bytes at the moment of serving. So a script dressed
//! as a photo (an SVG or HTML body) is refused at the door, and a blob stored before this
//! check with a type of its uploader's choosing is served as inert bytes, never as a page.
//! Every blob response also carries `nosniff`, a sandboxing CSP and a
//! `Content-Disposition`, so even a browser that opens one as a document runs nothing.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
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

use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;

/// The largest blob accepted, in bytes (10 MiB: a tablet camera photo).
pub const MAX_BLOB_BYTES: usize = 10 * 1024 * 1024;

/// The CSP of every blob response: nothing may load, and a blob opened as a document is
/// sandboxed (no script, its own opaque origin).
pub const BLOB_CSP: &str = "default-src 'none'; sandbox";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/blobs", post(upload))
        .route("/api/v1/blobs/{sha256}", get(download))
        .layer(RequestBodyLimitLayer::new(MAX_BLOB_BYTES))
}

/// The image formats a blob may hold, recognised from the bytes by their magic numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG, what most cameras and `<input capture>` produce.
    Jpeg,
    /// PNG (screenshots, signatures drawn on a canvas).
    Png,
    /// WebP (Android cameras, canvas exports).
    Webp,
    /// HEIC (iPhone and iPad cameras), recognised by its `ftyp` box brand.
    Heic,
}

impl ImageKind {
    /// The kind of image `bytes` hold, or `None` for anything else (SVG, HTML, PDF, …).
    pub fn recognise(bytes: &[u8]) -> Option<Self> {
        use infer::image;
        if image::is_jpeg(bytes) {
            Some(Self::Jpeg)
        } else if image::is_png(bytes) {
            Some(Self::Png)
        } else if image::is_webp(bytes) && bytes.starts_with(b"RIFF") {
            // infer looks only at "WEBP" at offset 8; the RIFF container starts the file.
            Some(Self::Webp)
        } else if image::is_heif(bytes) {
            Some(Self::Heic)
        } else {
            None
        }
    }

    /// The MIME type served for it.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
        }
    }

    /// The file name extension offered with it.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Heic => "heic",
        }
    }
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
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let site = SiteId::parse(q.site.clone()).map_err(|e| {
        AppError::BadRequest(e.to_string())
            .because("unknown_site")
            .with("site", q.site)
    })?;
    policy::authorize(&auth.user, Action::Answer, Some(&site))?;
    if body.is_empty() {
        return Err(AppError::BadRequest("the body is empty".to_string()).because("empty_body"));
    }
    // The uploader's Content-Type is deliberately not read: it is whatever they claim.
    let kind = ImageKind::recognise(&body).ok_or_else(|| {
        AppError::NotAnImage(
            "a blob must be a JPEG, PNG, WebP or HEIC image (recognised from its bytes)"
                .to_string(),
        )
    })?;
    let sha256 = hex::encode(Sha256::digest(&body));
    let created = state
        .store
        .put_blob(
            &sha256,
            site.as_str(),
            kind.mime(),
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
        Json(json!({
            "sha256": sha256,
            "size": body.len(),
            "site": site,
            "contentType": kind.mime(),
        })),
    ))
}

async fn download(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let reference =
        PhotoRef::parse(sha256).map_err(|e| AppError::BadRequest(e).because("bad_photo_ref"))?;
    let sites: Vec<String> = auth.user.sites.iter().map(ToString::to_string).collect();
    let blob = state
        .store
        .blob(reference.as_str(), &sites)
        .await?
        .ok_or_else(|| AppError::NotFound("no such blob".to_string()).because("no_such_blob"))?;
    // The stored type is not trusted: blobs stored before uploads were judged by their
    // bytes carry whatever type their uploader claimed (`image/svg+xml`, say). The bytes
    // decide, and what is not a recognised image is offered as a download of inert bytes.
    let name = reference.as_str();
    let (content_type, disposition) = match ImageKind::recognise(&blob.data) {
        Some(kind) => (
            kind.mime(),
            format!("inline; filename=\"{name}.{}\"", kind.extension()),
        ),
        None => (
            "application/octet-stream",
            format!("attachment; filename=\"{name}.bin\""),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, BLOB_CSP.to_string()),
            // The address is the content: it never changes.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_string(),
            ),
        ],
        blob.data,
    ))
}

#[cfg(test)]
mod tests {
    use super::ImageKind;

    #[test]
    fn only_camera_rasters_are_recognised() {
        assert_eq!(
            ImageKind::recognise(b"\xff\xd8\xff\xe0\0\x10JFIF"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::recognise(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::recognise(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(
            ImageKind::recognise(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(ImageKind::Heic)
        );
        for hostile in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..],
            b"<!doctype html><script>alert(1)</script>",
            b"<svg    WEBP><script>alert(1)</script></svg>",
            b"GIF89a\x01\0\x01\0",
            b"%PDF-1.7",
            b"",
        ] {
            assert_eq!(ImageKind::recognise(hostile), None);
        }
    }
}
