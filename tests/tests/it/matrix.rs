//! The permission matrix as the server enforces it over HTTP: every role × read, review,
//! waive, edit templates, manage users × its own site or another site. The expected table
//! is the same hand-written one as `shared/tests/matrix.rs`; allowed is any 2xx (or 409
//! "already in that state"), denied is 403, and another site's violation is 404 (hidden is
//! missing).

use std::time::Duration;

use serde_json::json;
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn};

const TABLE: [(&str, &str); 7] = [
    ("office", "RVWTU"),
    ("wang", "RVW"),
    ("fang", "RVW"),
    ("yuan", "RVW"),
    ("li", "R"),
    ("zhou", "R"),
    ("chen", "R"),
];

async fn violation_at(app: &TestApp, user: &str, site: &str) -> String {
    let mut tablet = Tablet::login(app, user, PASSWORD).await;
    let id = tablet.create("workshop-walkaround", site, demo_areas());
    tablet.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(tablet.sync_until_acked(Duration::from_secs(10)).await);
    format!("/api/v1/violations/{id}/c8-booth-floor/review")
}

#[tokio::test]
async fn every_role_is_allowed_or_denied_by_the_server_as_the_table_says() {
    let app = spawn(Db::Sqlite).await;
    let own = violation_at(&app, "wang", "demo-site").await;
    let other = violation_at(&app, "sun", "site-b").await;
    let template = shared::builtin::find("closing-routine").expect("built-in");
    let mut checked = 0;
    for (n, (user, allowed)) in TABLE.into_iter().enumerate() {
        let client = app.as_user(user).await;
        let may = |letter: char| allowed.contains(letter);
        let ok = |status: u16| (200..300).contains(&status) || status == 409;

        // Read.
        let status = client.get("/api/v1/violations?site=demo-site").await.0;
        assert_eq!(ok(status), may('R'), "{user} reads its site: {status}");
        let status = client.get("/api/v1/violations?site=site-b").await.0;
        assert_eq!(status, 403, "{user} reads another site");
        // Review and waive.
        for (letter, body) in [
            ('V', json!({"action": "acknowledge"})),
            ('W', json!({"action": "waive", "reason": "matrix"})),
        ] {
            let status = client.post(&own, body.clone()).await.0;
            if may(letter) {
                assert!(ok(status), "{user} {letter} at its site: {status}");
                // Back to open, so the next role meets the same state.
                let back = client.post(&own, json!({"action": "reopen"})).await.0;
                assert!(ok(back), "{user} reopens: {back}");
            } else {
                assert_eq!(status, 403, "{user} {letter} at its site");
            }
            let status = client.post(&other, body).await.0;
            assert_eq!(status, 404, "{user} {letter} at another site");
            checked += 2;
        }
        // Edit a template (not tied to a site).
        let status = client
            .put(
                "/api/v1/templates/closing-routine",
                serde_json::to_value(&template).expect("serializes"),
            )
            .await
            .0;
        assert_eq!(ok(status), may('T'), "{user} edits a template: {status}");
        // Manage users, at its own site and at another.
        for (site, own_site) in [("demo-site", true), ("site-b", false)] {
            let body = json!({"username": format!("new-{n}-{site}"), "password": "long-enough-1", "role": "technician", "sites": [site]});
            let status = client.post("/api/v1/users", body).await.0;
            assert_eq!(
                ok(status),
                may('U') && own_site,
                "{user} adds a user at {site}: {status}"
            );
            checked += 1;
        }
        checked += 3;
    }
    assert_eq!(checked, 7 * 9);
    app.stop().await;
}
