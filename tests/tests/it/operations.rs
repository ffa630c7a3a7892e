//! Operations: readiness, metrics, graceful shutdown.

use std::time::Duration;

use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, demo_areas, spawn};

async fn ready_and_measured(db: Db) {
    let app = spawn(db).await;
    let (status, _) = app.anonymous().get("/readyz").await;
    assert_eq!(status, 200);

    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let metrics = app
        .anonymous()
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("responds")
        .text()
        .await
        .expect("text");
    let value = |name: &str| -> f64 {
        walkaround_tests::metric(&metrics, name).unwrap_or_else(|| panic!("{name} in\n{metrics}"))
    };
    assert_eq!(value("walkaround_sync_connections"), 1.0);
    assert_eq!(
        value("walkaround_changes_applied_total"),
        2.0,
        "creation and one answer"
    );
    assert_eq!(value("walkaround_documents_in_memory"), 1.0);
    assert!(value("walkaround_sync_latency_seconds_count") >= 1.0);
    assert!(value("walkaround_db_pool_connections") >= 1.0);
    app.stop().await;
}

#[tokio::test]
async fn readiness_and_metrics_on_sqlite() {
    ready_and_measured(Db::Sqlite).await;
}

#[tokio::test]
async fn readiness_and_metrics_on_postgres() {
    ready_and_measured(Db::Postgres).await;
}

#[tokio::test]
async fn a_shutdown_closes_sync_connections_and_keeps_their_sync_states() {
    let mut app = spawn(Db::Sqlite).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let started = std::time::Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < server::startup::DRAIN_TIMEOUT,
        "drained, not timed out"
    );
    assert!(wang.closed_within(Duration::from_secs(2)).await);
    let store = server::store::Store::open(&app.database)
        .await
        .expect("reopens");
    let state = store
        .sync_state(&id.to_string(), "storage-wang")
        .await
        .expect("reads");
    assert!(
        state.is_some(),
        "the peer's sync state was saved on the way down"
    );
    store.close().await;
    app.stop().await;
}
