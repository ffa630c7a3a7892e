//! Limits and abuse: connections per user, a flooding connection, a peer that never
//! reads, many idle connections and dead ones, and a reconnect storm after a restart.
//! Honest peers must be unaffected throughout.
//!
//! A test binary of its own, not a module of `it` (tests/Cargo.toml):
//! `many_idle_connections_are_cheap` reads this process's resident memory, which every
//! other test running in the same process would add to.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use server::config::{Config, SyncLimits};
use shared::inspection::AnswerValue;
use shared::protocol::{self, ClientSession};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use walkaround_tests::tablet::{Tablet, access_token, random_doc_id};
use walkaround_tests::{PASSWORD, TestApp, demo_areas, spawn_with, temp_data_dir};

async fn spawn_limited(limits: SyncLimits) -> TestApp {
    let mut config = Config::for_tests(temp_data_dir());
    config.limits = limits;
    let app = spawn_with(config, None).await;
    server::demo::seed(&app.state.store)
        .await
        .expect("seeds the demo workshop");
    app
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw WebSocket that has joined (it has read the server's `peer`), with its session.
async fn joined_with_session(app: &TestApp, token: &str) -> (Ws, ClientSession) {
    let url = format!("ws://{}/sync?token={token}", app.address);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut session = ClientSession::new("raw", None);
    let join = protocol::encode(&session.join());
    ws.send(WsMessage::Binary(join.into()))
        .await
        .expect("sends");
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                session.receive(protocol::decode(&bytes).expect("a protocol message"));
                return (ws, session);
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no peer message: {other:?}"),
        }
    }
}

/// A raw WebSocket that has joined.
async fn joined(app: &TestApp, token: &str) -> Ws {
    joined_with_session(app, token).await.0
}

fn open_connections(app: &TestApp, user: &str) -> usize {
    app.state
        .connections
        .lock()
        .map(|m| m.get(user).copied().unwrap_or(0))
        .unwrap_or(0)
}

async fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_user_holds_at_most_so_many_connections() {
    let app = spawn_limited(SyncLimits {
        connections_per_user: 3,
        ..SyncLimits::default()
    })
    .await;
    let token = access_token(&app, "wang", PASSWORD).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(joined(&app, &token).await);
    }
    let url = format!("ws://{}/sync?token={token}", app.address);
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429)
        }
        other => panic!(
            "a fourth connection is refused, got {:?}",
            other.map(|_| ())
        ),
    }
    // Another user is not affected, and a closed connection frees its slot.
    let li = access_token(&app, "li", PASSWORD).await;
    drop(joined(&app, &li).await);
    let mut first = open.remove(0);
    first.close(None).await.expect("closes");
    drop(first);
    until("the slot is released", Duration::from_secs(5), || {
        open_connections(&app, "wang") == 2
    })
    .await;
    open.push(joined(&app, &token).await);
    app.stop().await;
}

#[tokio::test]
async fn a_flooding_connection_is_slowed_and_an_honest_tablet_is_not() {
    let app = spawn_limited(SyncLimits {
        frames_per_second: 100.0,
        frame_burst: 20.0,
        ..SyncLimits::default()
    })
    .await;
    let token = access_token(&app, "li", PASSWORD).await;
    let (mut flood, session) = joined_with_session(&app, &token).await;
    let frames = 220;
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        // Every request for an unknown document is answered `doc-unavailable`.
        let mut answered = 0;
        for _ in 0..frames {
            let id = random_doc_id();
            let request = session.sync(id, Vec::new(), true);
            flood
                .send(WsMessage::Binary(protocol::encode(&request).into()))
                .await
                .expect("sends");
        }
        while answered < frames {
            match tokio::time::timeout(Duration::from_secs(10), flood.next()).await {
                Ok(Some(Ok(WsMessage::Binary(_)))) => answered += 1,
                Ok(Some(Ok(_))) => {}
                other => panic!("flood answer: {other:?}"),
            }
        }
        started.elapsed()
    });
    // Meanwhile an honest tablet syncs as usual.
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    let honest = Instant::now();
    assert!(wang.sync_until_acked(Duration::from_secs(5)).await);
    let honest = honest.elapsed();
    let flood = reader.await.expect("the flood finishes");
    // 220 frames at 100 a second after a burst of 20 take at least two seconds.
    assert!(
        flood >= Duration::from_millis(1900),
        "the flood was slowed: {flood:?}"
    );
    assert!(
        honest < Duration::from_secs(1),
        "the honest tablet was not: {honest:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_peer_that_never_reads_is_disconnected_and_costs_nothing_more() {
    let app = spawn_limited(SyncLimits {
        write_timeout: Duration::from_millis(800),
        ping_interval: Duration::from_secs(600),
        ..SyncLimits::default()
    })
    .await;
    // Large documents for the silent peer to ask for: 64 inspections with long notes,
    // more than the kernel's socket buffers on both ends hold (about 10 MiB on loopback).
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    // Text that does not compress (automerge deflates large changes).
    let mut x: u32 = 12_345;
    let note: String = (0..30_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from_u32(0x4e00 + (x >> 16) % 0x5000).unwrap_or('车')
        })
        .collect();
    let mut ids = Vec::new();
    for _ in 0..64 {
        let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
        for key in [
            "c1-visitors",
            "c9-masking",
            "c8-booth-floor",
            "c7-old-parts",
        ] {
            wang.answer(&id, key, AnswerValue::Fail, Some(&note));
        }
        ids.push(id);
    }
    assert!(wang.sync_until_acked(Duration::from_secs(60)).await);

    // The silent peer asks for all of them and then reads nothing.
    let token = access_token(&app, "li", PASSWORD).await;
    let (mut silent, session) = joined_with_session(&app, &token).await;
    for id in &ids {
        use automerge::sync::SyncDoc;
        let hello = automerge::Automerge::new()
            .generate_sync_message(&mut automerge::sync::State::new())
            .expect("a first message")
            .encode();
        let request = session.sync(*id, hello, true);
        silent
            .send(WsMessage::Binary(protocol::encode(&request).into()))
            .await
            .expect("sends");
    }
    until(
        "the silent peer is disconnected",
        Duration::from_secs(15),
        || open_connections(&app, "li") == 0,
    )
    .await;
    // The honest tablet carries on.
    wang.answer(&ids[0], "c9-paint-stands", AnswerValue::Pass, None);
    let ok = wang.sync_until_acked(Duration::from_secs(5)).await;
    assert!(
        ok,
        "wang syncs: notices {:?}, open {}",
        wang.notices,
        open_connections(&app, "wang")
    );
    drop(silent);
    app.stop().await;
}

fn rss_kib() -> u64 {
    walkaround_tests::process::rss_kib(std::process::id())
}

#[tokio::test]
async fn many_idle_connections_are_cheap() {
    let app = spawn_limited(SyncLimits {
        connections_per_user: 10_000,
        ..SyncLimits::default()
    })
    .await;
    let token = access_token(&app, "wang", PASSWORD).await;
    let before = rss_kib();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(joined(&app, &token).await);
    }
    let per_connection = (rss_kib().saturating_sub(before)) / 300;
    println!("300 idle connections: {per_connection} KiB each (server and client together)");
    assert!(
        per_connection < 256,
        "an idle connection costs {per_connection} KiB"
    );
    assert_eq!(open_connections(&app, "wang"), 300);
    // An honest tablet is served while they sit there.
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    let id = li.create("closing-routine", "demo-site", demo_areas());
    li.answer(&id, "c5-lights", AnswerValue::Pass, None);
    assert!(li.sync_until_acked(Duration::from_secs(5)).await);
    drop(idle);
    app.stop().await;
}

#[tokio::test]
async fn dead_peers_are_found_by_ping_and_closed() {
    let app = spawn_limited(SyncLimits {
        ping_interval: Duration::from_millis(300),
        ..SyncLimits::default()
    })
    .await;
    let token = access_token(&app, "wang", PASSWORD).await;
    // Five peers whose network died: they never read, so never answer a ping.
    let mut dead = Vec::new();
    for _ in 0..5 {
        dead.push(joined(&app, &token).await);
    }
    // One live but idle peer: it reads (and so answers pings) and sends nothing.
    let li = access_token(&app, "li", PASSWORD).await;
    let mut live = joined(&app, &li).await;
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = live.next().await {} });
    until("dead peers are closed", Duration::from_secs(5), || {
        open_connections(&app, "wang") == 0
    })
    .await;
    assert_eq!(open_connections(&app, "li"), 1, "the live peer stays");
    reader.abort();
    drop(dead);
    app.stop().await;
}

#[tokio::test]
async fn every_tablet_reconnects_after_a_restart_and_converges() {
    let data_dir = temp_data_dir();
    let mut first = spawn_with(Config::for_tests(data_dir.clone()), None).await;
    server::demo::seed(&first.state.store).await.expect("seeds");
    let mut tablets = Vec::new();
    for n in 0..40 {
        let user = if n % 2 == 0 { "wang" } else { "li" };
        let template = if n % 2 == 0 {
            "workshop-walkaround"
        } else {
            "closing-routine"
        };
        let mut tablet = Tablet::login(&first, user, PASSWORD).await;
        let id = tablet.create(template, "demo-site", demo_areas());
        assert!(tablet.sync_until_acked(Duration::from_secs(10)).await);
        tablets.push((tablet, id));
    }
    first.shutdown().await;
    // Offline work while the server is down, then the storm.
    for (tablet, id) in tablets.iter_mut() {
        let key = if tablet.user.as_str() == "wang" {
            "c1-visitors"
        } else {
            "c5-lights"
        };
        tablet.answer(id, key, AnswerValue::Pass, None);
    }
    let second = spawn_with(Config::for_tests(data_dir.clone()), None).await;
    let address = second.address.to_string();
    let started = Instant::now();
    let results = futures_util::future::join_all(tablets.iter_mut().map(|(tablet, _)| {
        let address = address.clone();
        async move {
            tablet.connect_to(&address).await;
            tablet.sync_until_acked(Duration::from_secs(20)).await
        }
    }))
    .await;
    let storm = started.elapsed();
    println!("40 tablets reconnected and were acknowledged in {storm:?}");
    assert!(results.iter().all(|ok| *ok), "{results:?}");
    for (tablet, id) in &tablets {
        let mut ours = tablet.heads(id);
        ours.sort();
        assert_eq!(walkaround_tests::stored_heads(&second, id).await, ours);
    }
    second.stop().await;
    first.stop().await;
}
