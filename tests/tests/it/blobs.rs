//! The photo store: upload, content addressing, size limit, per-site access, and uploads
//! judged by their bytes (issue 16, input 1: an SVG "photo" holding a script).

use reqwest::Method;
use serde_json::Value;
use walkaround_tests::{ApiClient, Db, spawn};

/// Uploads `body` as a photo of `site`, claiming `content_type`.
async fn upload(user: &ApiClient, site: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = user
        .request(Method::POST, &format!("/api/v1/blobs?site={site}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("responds");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn photos_are_content_addressed_and_kept_per_site(db: Db) {
    let app = spawn(db).await;
    let wang = app.as_user("wang").await;
    let photo = b"\x89PNG\r\n\x1a\n not really a png but bytes all the same".to_vec();
    let (status, body) = upload(&wang, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(status, 201);
    let sha = body["sha256"].as_str().expect("hash").to_string();
    assert_eq!(sha.len(), 64);
    let (status, again) = upload(&wang, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(
        (status, again["sha256"].as_str()),
        (200, Some(sha.as_str())),
        "idempotent"
    );

    let r = get_blob(&wang, &sha).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), photo);

    // Another site's manager can neither read it nor upload for this site.
    let sun = app.as_user("sun").await;
    let r = get_blob(&sun, &sha).await;
    assert_eq!(r.status().as_u16(), 404, "as if it did not exist");
    let (status, _) = upload(&sun, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(status, 403);
    // Technicians do not answer, so they do not upload either.
    let chen = app.as_user("chen").await;
    let (status, _) = upload(&chen, "demo-site", "image/jpeg", photo.clone()).await;
    assert_eq!(status, 403);

    // Bad input.
    let (status, _) = upload(&wang, "demo-site", "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, 415);
    let (status, _) = upload(&wang, "demo-site", "image/png", Vec::new()).await;
    assert_eq!(status, 400);
    let (status, _) = upload(
        &wang,
        "demo-site",
        "image/jpeg",
        vec![0; server::http::MAX_BLOB_BYTES + 1],
    )
    .await;
    assert_eq!(status, 413);
    let mut big = b"\xff\xd8\xff\xe0".to_vec();
    big.resize(2 * 1024 * 1024, 1);
    let (status, _) = upload(&wang, "demo-site", "image/jpeg", big).await;
    assert_eq!(status, 201, "a 2 MiB photo is fine");
    let r = get_blob(&wang, "not-a-hash").await;
    assert_eq!(r.status().as_u16(), 400);
    let r = get_blob(&app.anonymous(), &sha).await;
    assert_eq!(r.status().as_u16(), 401);
    app.stop().await;
}

#[tokio::test]
async fn photos_on_sqlite() {
    photos_are_content_addressed_and_kept_per_site(Db::Sqlite).await;
}

#[tokio::test]
async fn photos_on_postgres() {
    photos_are_content_addressed_and_kept_per_site(Db::Postgres).await;
}

/// The SVG of issue 16: a script that would run with the office's login if served as a page.
const SVG_WITH_SCRIPT: &[u8] =
    b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.cookie)</script></svg>";

/// A complete 1x1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x02\x01\xa2\xe0\xa1\xe5\0\0\0\0IEND\xaeB`\x82";

/// `GET /api/v1/blobs/{sha}`, whole: the tests read its headers and bytes.
async fn get_blob(user: &ApiClient, sha: &str) -> reqwest::Response {
    user.request(Method::GET, &format!("/api/v1/blobs/{sha}"))
        .send()
        .await
        .expect("responds")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn uploads_are_judged_by_their_bytes_never_by_their_header(db: Db) {
    let app = spawn(db).await;
    let wang = app.as_user("wang").await;

    // Scripts dressed as photos, whatever header they come with, are refused with a JSON error.
    let html = b"<!doctype html><html><body><script>alert(1)</script></body></html>".to_vec();
    for (content_type, body) in [
        ("image/svg+xml", SVG_WITH_SCRIPT.to_vec()),
        ("image/png", SVG_WITH_SCRIPT.to_vec()),
        ("image/jpeg", html.clone()),
        ("text/html", html.clone()),
        ("image/gif", b"GIF89a\x01\0\x01\0\0\0\0;".to_vec()),
        // "WEBP" where infer looks for it, but no RIFF container: an SVG in disguise.
        (
            "image/webp",
            b"<svg    WEBP xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
                .to_vec(),
        ),
    ] {
        let (status, body) = upload(&wang, "demo-site", content_type, body).await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert_eq!(body["error"]["code"], "not_an_image", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("JPEG, PNG, WebP")),
            "{body}"
        );
    }
    let sha = sha256_hex(SVG_WITH_SCRIPT);
    assert_eq!(get_blob(&wang, &sha).await.status().as_u16(), 404);

    // A real PNG declared as SVG is stored and served as what its bytes are.
    let (status, body) = upload(&wang, "demo-site", "image/svg+xml", PNG.to_vec()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["contentType"], "image/png");
    let sha = body["sha256"].as_str().expect("hash").to_string();
    let r = get_blob(&wang, &sha).await;
    assert_eq!(r.status().as_u16(), 200);
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    assert_eq!(
        headers["content-disposition"],
        format!("inline; filename=\"{sha}.png\"").as_str()
    );
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), PNG);

    // Each accepted format is recognised and served with its own type.
    for (bytes, mime) in [
        (b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec(), "image/jpeg"),
        (b"RIFF\x24\0\0\0WEBPVP8 \0\0".to_vec(), "image/webp"),
        (
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0".to_vec(),
            "image/heic",
        ),
    ] {
        let (status, body) = upload(&wang, "demo-site", "text/plain", bytes).await;
        assert_eq!((status, body["contentType"].as_str()), (201, Some(mime)));
        let r = get_blob(&wang, body["sha256"].as_str().expect("hash")).await;
        assert_eq!(r.headers()["content-type"], mime);
    }

    // Blobs stored before this check, with their uploader's type: an SVG is served as inert
    // bytes to download, a PNG stored as `text/html` as the PNG it is.
    let store = &app.state.store;
    let old_svg = sha256_hex(SVG_WITH_SCRIPT);
    store
        .put_blob(
            &old_svg,
            "demo-site",
            "image/svg+xml",
            SVG_WITH_SCRIPT,
            "wang",
        )
        .await
        .expect("stores");
    let r = get_blob(&wang, &old_svg).await;
    assert_eq!(r.status().as_u16(), 200);
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{old_svg}.bin\"").as_str()
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    let mut other_png = PNG.to_vec();
    other_png.extend_from_slice(b"trailing");
    let old_png = sha256_hex(&other_png);
    store
        .put_blob(&old_png, "demo-site", "text/html", &other_png, "wang")
        .await
        .expect("stores");
    let r = get_blob(&wang, &old_png).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    app.stop().await;
}

walkaround_tests::on_both_databases!(uploads_are_judged_by_their_bytes_never_by_their_header);
