//! What the server passes from one peer to others besides changes (issue 17, items 1 and
//! 6): a document a peer asked for before it existed, once it is created; and presence
//! (`ephemeral` messages). Raw protocol peers against the real server, on SQLite and on
//! PostgreSQL, and across two instances on one PostgreSQL database.

use std::time::{Duration, Instant};

use automerge::ChangeHash;
use shared::inspection::AnswerValue;
use shared::protocol::{self, DocumentId, Message};
use walkaround_tests::tablet::{Heard, Notice, Tablet};
use walkaround_tests::{Db, PASSWORD, demo_areas, spawn, spawn_cluster, spawn_tuned};

walkaround_tests::on_both_databases!(
    a_peer_told_unavailable_gets_the_document_once_it_is_created,
    a_peer_of_another_site_waiting_for_a_document_gets_nothing_when_it_is_created,
    presence_reaches_the_other_peers_of_the_document_and_no_one_else,
    presence_counts_against_the_frame_rate_limit,
);

/// Reads and answers what the server sends until the tablet holds `heads` of `id`.
async fn until_heads(
    tablet: &mut Tablet,
    id: &DocumentId,
    heads: &[ChangeHash],
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let mut want = heads.to_vec();
    want.sort();
    loop {
        let mut ours = tablet.heads(id);
        ours.sort();
        if ours == want {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tablet.next_message(left).await {
            Some(message) => tablet.handle_message(message).await,
            None => return false,
        }
    }
}

/// The frames a tablet receives within `window` while it sends nothing.
async fn frames_within(tablet: &mut Tablet, window: Duration) -> usize {
    let before = tablet.wire_frames.1;
    tablet.listen(window).await;
    tablet.wire_frames.1 - before
}

async fn a_peer_told_unavailable_gets_the_document_once_it_is_created(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("旧报纸"));
    // Li opens the link before wang's tablet has sent the inspection.
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    assert_eq!(li.notices, vec![Notice::Unavailable(id)]);
    wang.sync().await;
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    // Li, still connected and sending nothing more, receives it.
    assert!(
        until_heads(&mut li, &id, &wang.heads(&id), Duration::from_secs(5)).await,
        "the waiting peer received the document"
    );
    // And from then on syncs it like any other: wang's next answer reaches li.
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    wang.sync().await;
    assert!(until_heads(&mut li, &id, &wang.heads(&id), Duration::from_secs(5)).await);
    assert_eq!(li.notices, vec![Notice::Unavailable(id)], "nothing else");
    assert!(app.state.hub.waiting.is_empty(), "nobody waits any more");
    app.stop().await;
}

async fn a_peer_of_another_site_waiting_for_a_document_gets_nothing_when_it_is_created(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    // Sun (site-b) asks for it before it exists: unavailable, like any missing id.
    let mut sun = Tablet::login(&app, "sun", PASSWORD).await;
    sun.want(id);
    sun.sync().await;
    assert_eq!(sun.notices, vec![Notice::Unavailable(id)]);
    wang.sync().await;
    assert_eq!(
        frames_within(&mut sun, Duration::from_millis(1500)).await,
        0,
        "not a single frame about another site's document"
    );
    assert!(sun.heads(&id).is_empty());
    // The same the other way round: li waits for a site-b inspection sun creates.
    let b = sun.create("workshop-walkaround", "site-b", demo_areas());
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(b);
    li.sync().await;
    assert_eq!(li.notices, vec![Notice::Unavailable(b)]);
    sun.forget(&id);
    sun.sync().await;
    assert!(
        sun.notices.len() == 1,
        "sun's creation accepted: {:?}",
        sun.notices
    );
    assert_eq!(frames_within(&mut li, Duration::from_millis(1500)).await, 0);
    assert!(li.heads(&b).is_empty());
    assert!(app.state.hub.waiting.is_empty());
    app.stop().await;
}

/// Presence data as automerge-repo's `DocHandle.broadcast` encodes it: a CBOR value.
fn presence(bay: &str) -> Vec<u8> {
    let mut bytes = vec![0xa1, 0x63];
    bytes.extend_from_slice(b"bay");
    bytes.push(0x60 + u8::try_from(bay.len()).expect("a short name"));
    bytes.extend_from_slice(bay.as_bytes());
    bytes
}

async fn presence_reaches_the_other_peers_of_the_document_and_no_one_else(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.sync().await;
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    assert_eq!(li.heads(&id), wang.heads(&id));
    // Yuan is at the same site but has another inspection open; sun is at another site
    // and asked for this one (unavailable).
    let mut yuan = Tablet::login(&app, "yuan", PASSWORD).await;
    yuan.create("parts-store-audit", "demo-site", demo_areas());
    yuan.sync().await;
    let mut sun = Tablet::login(&app, "sun", PASSWORD).await;
    sun.want(id);
    sun.sync().await;
    assert_eq!(sun.notices, vec![Notice::Unavailable(id)]);

    wang.send_ephemeral(id, "wang-session", 1, presence("喷漆房"))
        .await;
    li.listen(Duration::from_millis(800)).await;
    assert_eq!(
        li.heard,
        vec![Heard {
            sender_id: wang.peer_id(),
            target_id: li.peer_id(),
            document_id: id,
            session_id: "wang-session".to_string(),
            count: 1,
            data: presence("喷漆房"),
        }],
        "relayed with its sender, session and count, addressed to li"
    );
    // A repeat (a count that does not grow) is dropped, as the reference does.
    wang.send_ephemeral(id, "wang-session", 1, presence("again"))
        .await;
    // A stock client passes what it heard back to its peers: the echo goes nowhere.
    let echo = Message::Ephemeral {
        sender_id: wang.peer_id(),
        target_id: "server".to_string(),
        document_id: id,
        session_id: "wang-session".to_string(),
        count: 2,
        data: presence("echo"),
    };
    li.send_raw(protocol::encode(&echo)).await;
    // A peer of another site cannot speak into the document either.
    sun.send_ephemeral(id, "sun-session", 1, presence("B店"))
        .await;
    // Nor does presence outgrow its purpose.
    wang.send_ephemeral(id, "wang-session", 3, vec![0x40; 64 * 1024 + 1])
        .await;
    li.listen(Duration::from_millis(800)).await;
    assert_eq!(li.heard.len(), 1, "nothing more reached li: {:?}", li.heard);
    wang.listen(Duration::from_millis(300)).await;
    assert!(wang.heard.is_empty(), "the sender hears nothing back");
    assert!(
        wang.notices
            .iter()
            .any(|n| matches!(n, Notice::Error { message, .. } if message.contains("ephemeral data over"))),
        "{:?}",
        wang.notices
    );
    assert_eq!(
        frames_within(&mut sun, Duration::from_millis(300)).await,
        0,
        "the other site's peer got nothing"
    );
    yuan.listen(Duration::from_millis(300)).await;
    assert!(yuan.heard.is_empty(), "nor a peer of another document");
    // Presence is never stored.
    let mut heads = wang.heads(&id);
    heads.sort();
    assert_eq!(walkaround_tests::stored_heads(&app, &id).await, heads);
    app.stop().await;
}

async fn presence_counts_against_the_frame_rate_limit(db: Db) {
    let app = spawn_tuned(db, |config| {
        config.limits.frames_per_second = 50.0;
        config.limits.frame_burst = 10.0;
    })
    .await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.sync().await;
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    let started = Instant::now();
    for count in 1..=60 {
        wang.send_ephemeral(id, "wang-session", count, presence("bay"))
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while li.heard.len() < 60 && Instant::now() < deadline {
        if let Some(message) = li.next_message(Duration::from_secs(1)).await {
            li.handle_message(message).await;
        }
    }
    let took = started.elapsed();
    assert_eq!(
        li.heard.len(),
        60,
        "every presence message arrived, in order"
    );
    assert!(li.heard.windows(2).all(|w| w[0].count < w[1].count));
    // 60 frames at 50 a second after a burst of 10 take about a second.
    assert!(took >= Duration::from_millis(900), "slowed: {took:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_peer_waiting_on_one_instance_gets_a_document_created_on_another() {
    let apps = spawn_cluster(2).await;
    let one = apps[0].address.to_string();
    let two = apps[1].address.to_string();
    let mut wang = Tablet::login_at(&one, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("newspaper"));
    let mut li = Tablet::login_at(&two, "li", PASSWORD).await;
    li.want(id);
    li.sync().await;
    assert_eq!(li.notices, vec![Notice::Unavailable(id)]);
    let mut sun = Tablet::login_at(&two, "sun", PASSWORD).await;
    sun.want(id);
    sun.sync().await;
    wang.sync().await;
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    assert!(
        until_heads(&mut li, &id, &wang.heads(&id), Duration::from_secs(10)).await,
        "the change notification from the other instance brought it"
    );
    assert_eq!(
        frames_within(&mut sun, Duration::from_millis(1000)).await,
        0
    );
    let mut apps = apps;
    let first = apps.remove(0);
    for app in apps {
        app.stop().await;
    }
    first.stop().await;
}
