//! End-to-end tests of the tablet app in Debian's Chromium (`tests/e2e/`, playwright-core),
//! against the real server with the demo workshop. Screenshots of the main screens land in
//! `target/screenshots/`.

use walkaround_tests::{Db, run_browser_test, spawn};

#[tokio::test]
async fn the_tablet_app_works_offline_and_merges_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "app.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn photos_and_new_inspections_reach_the_second_tablet_and_the_office_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "team.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn a_new_tablet_reloaded_mid_download_ends_with_every_document_of_its_window_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    server::demo::seed_history(&app.state.store, chrono::Utc::now())
        .await
        .expect("seeds six weeks of history");
    run_browser_test(&app, "download.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn every_ad_hoc_template_can_be_started_and_the_header_shows_no_null_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "home.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn a_change_refused_after_an_offline_demotion_is_dropped_shown_and_the_rest_arrives_in_chromium()
 {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "recovery.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_submission_and_a_clock_ahead_are_shown_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "display.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn two_tablets_on_one_inspection_see_who_else_is_there_and_where_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "presence.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn a_note_typed_while_another_tablet_answers_or_the_app_closes_is_kept_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "typing.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn pending_counts_unacknowledged_answers_across_reloads_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "pending.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn progress_problems_photos_and_a_confirmed_submission_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "submit.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn the_office_detail_stays_open_through_its_actions_and_names_people_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "office.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn a_bay_marked_empty_keeps_answers_without_their_violation_and_occupancy_disagreements_are_shown_in_chromium()
 {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "bays.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn the_servers_refusals_are_said_in_the_language_of_the_screen_in_chromium() {
    let app = spawn(Db::Sqlite).await;
    run_browser_test(&app, "reasons.test.mjs").await;
    app.stop().await;
}

#[tokio::test]
async fn the_office_holds_no_document_until_it_opens_one_and_a_tablet_keeps_its_window_in_chromium()
{
    let app = spawn(Db::Sqlite).await;
    server::demo::seed_history(&app.state.store, chrono::Utc::now())
        .await
        .expect("seeds six weeks of history");
    run_browser_test(&app, "office-docs.test.mjs").await;
    app.stop().await;
}
