//! Documents leave the server's memory when unused and come back on demand, so memory
//! follows the documents in use rather than everything ever synced.

use std::time::{Duration, Instant};

use server::config::DocumentMemory;
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn_tuned, stored_heads};

walkaround_tests::on_both_databases!(
    unused_documents_leave_memory_and_come_back_on_demand,
    at_most_max_resident_documents_stay_in_memory,
);

async fn spawn_with_memory(db: Db, memory: DocumentMemory) -> TestApp {
    spawn_tuned(db, |config| config.memory = memory).await
}

/// Waits up to ten seconds for `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn unused_documents_leave_memory_and_come_back_on_demand(db: Db) {
    let app = spawn_with_memory(
        db,
        DocumentMemory {
            idle_after: Duration::from_millis(300),
            max_resident: 1_000,
            sweep_every: Duration::from_millis(50),
        },
    )
    .await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let ids: Vec<_> = (0..6)
        .map(|_| wang.create("workshop-walkaround", "demo-site", demo_areas()))
        .collect();
    for id in &ids {
        wang.answer(id, "c8-booth-floor", AnswerValue::Fail, Some("报纸"));
    }
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert_eq!(app.state.hub.len(), 6);

    // The tablet stays connected, but nobody uses the documents: they leave memory while
    // their entries (which the connection subscribes to) stay.
    let hub = app.state.hub.clone();
    eventually("documents evicted", || hub.resident() == 0).await;
    assert_eq!(app.state.hub.len(), 6, "subscribed entries stay");

    // An edit to an evicted document loads it from the store, is judged against the
    // stored document and stored.
    wang.answer(&ids[2], "c7-oil-filters", AnswerValue::Count(3), None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    assert_eq!(stored_heads(&app, &ids[2]).await, wang.heads(&ids[2]));

    // Another device fetches every document, all evicted, and gets them whole.
    eventually("documents evicted again", || hub.resident() == 0).await;
    // The same manager on a second tablet (the walkaround is run by workshop managers).
    let mut li = Tablet::login(&app, "wang", PASSWORD).await;
    for id in &ids {
        li.want(*id);
    }
    li.sync().await;
    for id in &ids {
        assert_eq!(li.heads(id), wang.heads(id), "document {id}");
    }

    // A document evicted while a peer waits hears of another peer's change: wang's
    // connection learns li's edit although the document had left memory in between.
    eventually("documents evicted before the edit", || hub.resident() == 0).await;
    li.answer(&ids[4], "c7-oil-filters", AnswerValue::Count(1), None);
    assert!(li.sync_until_acked(Duration::from_secs(10)).await);
    wang.sync().await;
    assert_eq!(wang.heads(&ids[4]), li.heads(&ids[4]));

    // Once nobody is connected, the entries go too.
    wang.disconnect().await;
    li.disconnect().await;
    eventually("entries forgotten", || hub.is_empty()).await;
    let evicted = walkaround_tests::scrape_metric(
        &app.address.to_string(),
        "walkaround_documents_evicted_total",
    )
    .await
    .expect("an eviction counter");
    assert!(evicted >= 12.0, "{evicted} evictions counted");
}

async fn at_most_max_resident_documents_stay_in_memory(db: Db) {
    let app = spawn_with_memory(
        db,
        DocumentMemory {
            idle_after: Duration::from_secs(3600),
            max_resident: 2,
            sweep_every: Duration::from_millis(50),
        },
    )
    .await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let ids: Vec<_> = (0..5)
        .map(|_| wang.create("workshop-walkaround", "demo-site", demo_areas()))
        .collect();
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let hub = app.state.hub.clone();
    eventually("at most two documents in memory", || hub.resident() <= 2).await;
    // The most recently used stay; all still sync.
    for id in &ids {
        wang.answer(id, "c8-booth-floor", AnswerValue::Pass, None);
    }
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    for id in &ids {
        assert_eq!(stored_heads(&app, id).await, wang.heads(id));
    }
    eventually("back to at most two", || hub.resident() <= 2).await;
}
