//! Rights are read at the moment of use on an open sync socket (issue 16, input 3): a
//! change is stored only if the user's role, sites and status are, when it commits, those
//! it was judged with, and a connection stops receiving documents of a site its user has
//! left within the revocation check (2 s). A connection judges with the rights it last
//! read; the write's check of their version sends a change judged on stale rights back to
//! be judged again (issue 21), in both directions: a demotion refuses it, a promotion
//! accepts it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::ids::SiteId;
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::{Notice, Tablet};
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn, stored_heads};

walkaround_tests::on_both_databases!(
    an_answer_sent_after_a_demotion_on_the_same_socket_is_refused,
    an_answer_sent_after_a_promotion_on_the_same_socket_is_accepted,
    a_socket_stops_receiving_a_site_its_user_has_left,
    a_change_sent_right_after_disabling_is_refused_and_the_socket_closes,
    reading_the_user_again_is_cheap,
);

/// Longer than the revocation check (2 s), with room for a busy machine.
const AFTER_CHECK: Duration = Duration::from_millis(2600);

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

async fn violations_of(app: &TestApp, doc: &str) -> Vec<Value> {
    let office = app.as_user("office").await;
    let (_, body) = office.get("/api/v1/violations?site=demo-site").await;
    body["violations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|v| v["doc_id"] == doc)
        .cloned()
        .collect()
}

async fn an_answer_sent_after_a_demotion_on_the_same_socket_is_refused(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    // The closing routine: team leads run it (its `run_by`), so li may answer it.
    let id = wang.create("closing-routine", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    li.answer(&id, "c5-lights", AnswerValue::Pass, None);
    assert!(
        li.sync_until_acked(Duration::from_secs(10)).await,
        "a team lead answers"
    );
    let stored = stored_heads(&app, &id).await;

    // The office demotes the team lead while the socket stays open.
    let office = app.as_user("office").await;
    let (status, _) = office
        .patch("/api/v1/users/li", json!({"role": "technician"}))
        .await;
    assert_eq!(status, 200);

    // At once, not after a check interval: the change is judged with the current role.
    li.answer(
        &id,
        "c5-fans",
        AnswerValue::Fail,
        Some("after the demotion"),
    );
    assert!(!li.sync_until_acked(Duration::from_secs(2)).await);
    assert!(
        li.notices.iter().any(|n| matches!(
            n,
            Notice::Error { message, document_id: Some(d) }
                if *d == id && message.starts_with("change refused")
        )),
        "{:?}",
        li.notices
    );
    assert_eq!(stored_heads(&app, &id).await, stored, "nothing stored");
    assert!(
        violations_of(&app, &id.to_string()).await.is_empty(),
        "nothing listed"
    );
    app.stop().await;
}

async fn an_answer_sent_after_a_promotion_on_the_same_socket_is_accepted(db: Db) {
    let app = spawn(db).await;
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    // The closing routine: team leads run it (its `run_by`); chen, a technician, may not.
    let id = li.create("closing-routine", "demo-site", demo_areas());
    assert!(li.sync_until_acked(Duration::from_secs(10)).await);
    let mut chen = Tablet::login(&app, "chen", PASSWORD).await;
    chen.want(id);
    chen.sync().await;
    assert_eq!(
        sorted(chen.heads(&id)),
        sorted(li.heads(&id)),
        "chen holds it"
    );

    // The office promotes the technician while his socket stays open; his connection
    // last read him as a technician.
    let office = app.as_user("office").await;
    let (status, _) = office
        .patch("/api/v1/users/chen", json!({"role": "team_lead"}))
        .await;
    assert_eq!(status, 200);

    chen.answer(&id, "c5-lights", AnswerValue::Pass, None);
    assert!(
        chen.sync_until_acked(Duration::from_secs(10)).await,
        "judged with the role he has now: {:?}",
        chen.notices
    );
    assert!(
        !chen
            .notices
            .iter()
            .any(|n| matches!(n, Notice::Error { .. })),
        "{:?}",
        chen.notices
    );
    assert_eq!(
        stored_heads(&app, &id).await,
        sorted(chen.heads(&id)),
        "stored"
    );
    app.stop().await;
}

async fn a_socket_stops_receiving_a_site_its_user_has_left(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    assert_eq!(
        sorted(li.heads(&id)),
        sorted(wang.heads(&id)),
        "li follows it"
    );

    // Li moves to site B while her socket stays open.
    app.state
        .store
        .edit_user("li", None, |user| {
            user.sites = BTreeSet::from([SiteId::parse("site-b").expect("valid")]);
            Ok::<(), ()>(())
        })
        .await
        .expect("stores")
        .expect("edits")
        .expect("li exists");
    tokio::time::sleep(AFTER_CHECK).await;

    // The site's work goes on; none of it reaches li any more.
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let before = li.heads(&id);
    li.listen(Duration::from_millis(1500)).await;
    assert_eq!(li.heads(&id), before, "no document of a site she has left");

    // And what she sends for it is treated as a document she cannot see.
    li.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(!li.sync_until_acked(Duration::from_secs(2)).await);
    assert!(
        li.notices
            .iter()
            .any(|n| matches!(n, Notice::Unavailable(d) if *d == id)),
        "{:?}",
        li.notices
    );
    assert_eq!(
        stored_heads(&app, &id).await,
        sorted(wang.heads(&id)),
        "only wang's work is stored"
    );
    app.stop().await;
}

async fn a_change_sent_right_after_disabling_is_refused_and_the_socket_closes(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let stored = stored_heads(&app, &id).await;
    app.state
        .store
        .set_user_disabled("wang", true)
        .await
        .expect("disables");
    wang.answer(
        &id,
        "c9-masking",
        AnswerValue::Fail,
        Some("after disabling"),
    );
    assert!(!wang.sync_until_acked(Duration::from_millis(500)).await);
    assert!(
        wang.closed_within(Duration::from_millis(500)).await,
        "closed at the first message, not at the next check"
    );
    assert_eq!(stored_heads(&app, &id).await, stored, "nothing stored");
    app.stop().await;
}

/// What re-reading the user costs, as each incoming sync message that asks for a document
/// or opens one does, and each write that finds the rights changed.
async fn reading_the_user_again_is_cheap(db: Db) {
    let app = spawn(db).await;
    let store = &app.state.store;
    store.user_by_id("wang").await.expect("warm");
    let n = 500;
    let started = Instant::now();
    for _ in 0..n {
        store.user_by_id("wang").await.expect("reads");
    }
    let each = started.elapsed() / n;
    println!("{db:?}: one user read takes {each:?}");
    assert!(each < Duration::from_millis(5), "{each:?} per read");
    app.stop().await;
}
