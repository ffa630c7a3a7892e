//! Several instances on one PostgreSQL database: live fan-out between them, concurrent
//! writes to one document, failover, and revocation seen by every instance.

use std::time::Duration;

use shared::inspection::AnswerValue;
use shared::protocol::Message;
use walkaround_tests::process::ServerProcess;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{
    PASSWORD, TestApp, demo_areas, spawn_cluster, stored_doc, stored_heads, temp_data_dir,
};

async fn stop_all(apps: Vec<TestApp>) {
    let mut apps = apps;
    let first = apps.remove(0);
    for app in apps {
        app.stop().await;
    }
    first.stop().await;
}

fn sorted(mut heads: Vec<automerge::ChangeHash>) -> Vec<automerge::ChangeHash> {
    heads.sort();
    heads
}

#[tokio::test]
async fn a_change_accepted_by_one_instance_reaches_clients_of_another() {
    let apps = spawn_cluster(2).await;
    let mut wang = Tablet::login(&apps[0], "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    // The same manager on a second tablet, through the other instance.
    let mut second = Tablet::login(&apps[1], "wang", PASSWORD).await;
    second.want(id);
    assert!(second.sync_until_acked(Duration::from_secs(10)).await);
    assert_eq!(second.heads(&id), wang.heads(&id));

    // The team lead's tablet only listens; the manager answers through the other instance.
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("newspaper"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let pushed = second.next_message(Duration::from_secs(5)).await;
    assert!(
        matches!(&pushed, Some(Message::Sync { document_id, .. }) if *document_id == id),
        "{pushed:?}"
    );
    // Let the tablet apply it and finish the exchange, then compare.
    second.handle_message(pushed.expect("checked above")).await;
    second.sync().await;
    assert_eq!(sorted(second.heads(&id)), sorted(wang.heads(&id)));
    stop_all(apps).await;
}

#[tokio::test]
async fn concurrent_writes_to_one_document_on_two_instances_are_both_kept() {
    let apps = spawn_cluster(2).await;
    let mut wang = Tablet::login(&apps[0], "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    // The same manager on a second tablet, through the other instance.
    let mut second = Tablet::login(&apps[1], "wang", PASSWORD).await;
    second.want(id);
    assert!(second.sync_until_acked(Duration::from_secs(10)).await);

    for round in 0..5 {
        wang.answer(&id, "c8-booth-floor", AnswerValue::Pass, None);
        wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
        second.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
        second.answer(
            &id,
            "c7-old-parts",
            if round % 2 == 0 {
                AnswerValue::Pass
            } else {
                AnswerValue::Fail
            },
            Some("x"),
        );
        // Both sync at once, each through its own instance.
        let (a, b) = tokio::join!(
            wang.sync_until_acked(Duration::from_secs(10)),
            second.sync_until_acked(Duration::from_secs(10))
        );
        assert!(
            a && b,
            "round {round}: acknowledged (first tablet {a}, second {b})"
        );
        assert!(
            wang.notices.is_empty() && second.notices.is_empty(),
            "round {round}: {:?} {:?}",
            wang.notices,
            second.notices
        );
    }
    // Let the instances' fan-out settle, then both tablets catch up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wang.sync().await;
    second.sync().await;
    assert_eq!(sorted(wang.heads(&id)), sorted(second.heads(&id)));
    assert_eq!(
        stored_heads(&apps[0], &id).await,
        sorted(wang.heads(&id)),
        "every change of both instances is stored"
    );
    assert!(
        wang.notices.is_empty() && second.notices.is_empty(),
        "{:?} {:?}",
        wang.notices,
        second.notices
    );
    stop_all(apps).await;
}

#[tokio::test]
async fn a_tablet_fails_over_to_another_instance_and_loses_nothing() {
    let mut apps = spawn_cluster(3).await;
    let mut wang = Tablet::login(&apps[1], "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let acknowledged = sorted(wang.heads(&id));

    // Instance 1 goes away; the tablet keeps working offline and reconnects elsewhere.
    let dead = apps.remove(1);
    dead.stop().await;
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("newspaper"));
    wang.connect(&apps[1]).await;
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let stored = stored_heads(&apps[0], &id).await;
    assert_eq!(stored, sorted(wang.heads(&id)));
    assert_ne!(stored, acknowledged);
    stop_all(apps).await;
}

#[tokio::test]
async fn a_logout_on_one_instance_closes_connections_on_every_instance() {
    let apps = spawn_cluster(2).await;
    // The same manager on a second tablet, through the other instance.
    let mut second = Tablet::login(&apps[1], "wang", PASSWORD).await;
    let (status, _) = apps[0]
        .anonymous()
        .post(
            "/api/v1/auth/logout",
            serde_json::json!({"refresh_token": second.refresh_token}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(second.closed_within(Duration::from_secs(6)).await);
    // Rate limits hold across instances too: failures counted on one lock out the other.
    for _ in 0..5 {
        let _ = apps[0]
            .anonymous()
            .request(reqwest::Method::POST, "/api/v1/auth/login")
            .json(&serde_json::json!({"username": "fang", "password": "wrong"}))
            .send()
            .await;
    }
    let (status, _) = apps[1]
        .anonymous()
        .post(
            "/api/v1/auth/login",
            serde_json::json!({"username": "fang", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 429);
    stop_all(apps).await;
}

/// An instance dies without warning (SIGKILL, as on a power cut or an OOM kill) while a
/// tablet is sending to it. What it acknowledged is stored; the tablet reconnects to
/// another instance, which takes whatever had not been acknowledged, and nothing is lost.
#[tokio::test]
async fn a_tablet_fails_over_after_its_instance_is_killed_and_loses_nothing() {
    let apps = spawn_cluster(1).await;
    let server::config::Database::Postgres { url } = apps[0].database.clone() else {
        unreachable!("a cluster runs on PostgreSQL")
    };
    let mut doomed = ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_walkaround-process")),
        temp_data_dir(),
        Some(url),
        false,
    )
    .await;
    let mut wang = Tablet::login_at(&doomed.address.to_string(), "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let acknowledged = wang.heads(&id);

    // More work leaves for the doomed instance, which is killed while it arrives.
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("newspaper"));
    wang.answer(&id, "c8-booth-floor", AnswerValue::Pass, None);
    wang.send_changes().await;
    doomed.kill();
    let stored = stored_doc(&apps[0], &id).await;
    for head in &acknowledged {
        assert!(
            stored.get_change_meta_by_hash(head).is_some(),
            "an acknowledged change survived the kill"
        );
    }

    // The tablet keeps working offline and fails over.
    wang.answer(&id, "c7-old-parts", AnswerValue::Fail, Some("bumper"));
    wang.connect(&apps[0]).await;
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert_eq!(stored_heads(&apps[0], &id).await, sorted(wang.heads(&id)));
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    drop(doomed);
    stop_all(apps).await;
}
