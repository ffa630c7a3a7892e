//! The web app against the attacks of issue 16, in Debian's Chromium (`tests/e2e/`,
//! playwright-core), each file against its own server with the demo workshop:
//! - `session.test.mjs`: one token refresh at a time however many screens ask, a logout
//!   only when the server refuses the refresh; an SVG "photo" refused, told, never resent;
//! - `csp.test.mjs`: every page on a tablet and a desktop, in both languages, with no
//!   Content-Security-Policy violation;
//! - `sinks.test.mjs`: markup in every free-text field stays text on every screen.
//!
//! Run with `cargo test -p walkaround-tests --test it browser_security::` (the wasm bundle must
//! be built first: `cargo xtask wasm`). Screenshots land in `target/screenshots/`.

use shared::ids::SiteId;
use walkaround_tests::{Db, run_browser_test, spawn};

/// Runs one test file of `tests/e2e` against a fresh server and fails with its output.
async fn run_on_a_fresh_server(file: &str) {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, file).await;
    app.stop().await;
}

#[tokio::test]
async fn the_app_refreshes_its_token_once_and_refuses_a_script_as_a_photo_in_chromium() {
    run_on_a_fresh_server("session.test.mjs").await;
}

#[tokio::test]
async fn every_page_of_the_app_keeps_to_the_content_security_policy_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    // The workshop manager and the office work for both sites, so the site choice shows.
    for id in ["wang", "office"] {
        app.state
            .store
            .edit_user(id, None, |user| {
                user.sites.insert(SiteId::parse("site-b").expect("valid"));
                Ok::<_, ()>(())
            })
            .await
            .expect("stores")
            .expect("edits")
            .expect("the demo user exists");
    }
    run_browser_test(&app, "csp.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn markup_in_every_free_text_field_stays_text_on_every_screen_in_chromium() {
    run_on_a_fresh_server("sinks.test.mjs").await;
}
