//! The photo store: upload, content addressing, size limit, per-site access.

use serde_json::Value;
use walkaround_tests::tablet::access_token;
use walkaround_tests::{Db, PASSWORD, TestApp, spawn};

async fn token(app: &TestApp, user: &str) -> String {
    access_token(app, user, PASSWORD).await
}

async fn upload(
    app: &TestApp,
    token: &str,
    site: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/blobs?site={site}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("responds");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn photos_are_content_addressed_and_kept_per_site(db: Db) {
    let app = spawn(db).await;
    let wang = token(&app, "wang").await;
    let photo = b"\x89PNG\r\n\x1a\n not really a png but bytes all the same".to_vec();
    let (status, body) = upload(&app, &wang, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(status, 201);
    let sha = body["sha256"].as_str().expect("hash").to_string();
    assert_eq!(sha.len(), 64);
    let (status, again) = upload(&app, &wang, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(
        (status, again["sha256"].as_str()),
        (200, Some(sha.as_str())),
        "idempotent"
    );

    let r = app
        .client
        .get(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&wang)
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), photo);

    // Another site's manager can neither read it nor upload for this site.
    let sun = token(&app, "sun").await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&sun)
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 404, "as if it did not exist");
    let (status, _) = upload(&app, &sun, "demo-site", "image/png", photo.clone()).await;
    assert_eq!(status, 403);
    // Technicians do not answer, so they do not upload either.
    let chen = token(&app, "chen").await;
    let (status, _) = upload(&app, &chen, "demo-site", "image/jpeg", photo.clone()).await;
    assert_eq!(status, 403);

    // Bad input.
    let (status, _) = upload(&app, &wang, "demo-site", "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, 415);
    let (status, _) = upload(&app, &wang, "demo-site", "image/png", Vec::new()).await;
    assert_eq!(status, 400);
    let (status, _) = upload(
        &app,
        &wang,
        "demo-site",
        "image/jpeg",
        vec![0; server::http::MAX_BLOB_BYTES + 1],
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = upload(
        &app,
        &wang,
        "demo-site",
        "image/jpeg",
        vec![1; 2 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 201, "a 2 MiB photo is fine");
    let r = app
        .client
        .get(app.url("/api/v1/blobs/not-a-hash"))
        .bearer_auth(&wang)
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 400);
    let r = app
        .client
        .get(app.url(&format!("/api/v1/blobs/{sha}")))
        .send()
        .await
        .expect("responds");
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
