//! Scale: sizes the JavaScript clients cannot reach, against the real server process.
//! Simulated tablets (built on `shared`, many per process) upload D inspections; then C
//! idle sync connections are opened and held while the uploaders keep answering, one
//! acknowledged answer at a time. Reports changes applied and acknowledged per second,
//! acknowledgement latency p50/p99, server memory per idle connection, and what the
//! document cache holds (documents in memory, RSS) before and after idle documents are
//! evicted.
//!
//! ```sh
//! cargo build --release -p walkaround-tests --bins
//! WALKAROUND_DOC_IDLE_SECS=20 ./target/release/scale-bench --connections 2000 --docs 100000 --uploaders 100
//! ```
//!
//! The server process inherits the environment: `WALKAROUND_DOC_IDLE_SECS` (60 unless
//! set) decides how soon the cache empties at the end.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use server::store::users::UserRecord;
use shared::ids::{SiteId, UserId};
use shared::inspection::AnswerValue;
use shared::protocol::{self, ClientSession};
use shared::role::Role;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use walkaround_tests::process::{ServerProcess, rss_kib, server_beside_me};
use walkaround_tests::tablet::{Tablet, login_at, sync_all_at_once};
use walkaround_tests::{Db, Dice, PASSWORD, arg, demo_areas, spawn};

/// A gauge from the server's `/metrics`.
async fn metric(server: &ServerProcess, name: &str) -> f64 {
    walkaround_tests::scrape_metric(&server.address.to_string(), &format!("walkaround_{name}"))
        .await
        .unwrap_or(f64::NAN)
}

const KEYS: [&str; 4] = [
    "c1-visitors",
    "c9-masking",
    "c8-booth-floor",
    "c6-aisles-clear",
];

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An idle sync connection: connected, joined, and then silent (as a tablet with nothing
/// to send).
async fn idle_connection(address: &str, token: &str) -> Ws {
    let url = format!("ws://{address}/sync?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut session = ClientSession::new("idle", None);
    ws.send(WsMessage::Binary(protocol::encode(&session.join()).into()))
        .await
        .expect("sends");
    while let Some(Ok(message)) = ws.next().await {
        if let WsMessage::Binary(bytes) = message {
            session.receive(protocol::decode(&bytes).expect("a protocol message"));
            break;
        }
    }
    ws
}

#[tokio::main]
async fn main() {
    let connections: usize = arg("--connections", "2000")
        .parse()
        .expect("--connections C");
    let docs: usize = arg("--docs", "100000").parse().expect("--docs D");
    let uploaders: usize = arg("--uploaders", "100").parse().expect("--uploaders U");
    let edits: usize = arg("--edits", "20")
        .parse()
        .expect("--edits E (per uploader)");
    let per_user = 20; // The server's default connections per user.
    let users = uploaders.max(connections.div_ceil(per_user - 1));

    // Seed users in-process, then run the server as its own process.
    let mut seeded = spawn(Db::Sqlite).await;
    let hash = server::auth::hash_password(PASSWORD).expect("hashes");
    for u in 0..users {
        seeded
            .state
            .store
            .add_user(&UserRecord {
                id: UserId::parse(format!("load-{u}")).expect("valid"),
                username: format!("load-{u}"),
                display_name: format!("负载 {u}"),
                role: Role::WorkshopManager,
                password_hash: hash.clone(),
                disabled: false,
                sites: BTreeSet::from([SiteId::parse("demo-site").expect("valid")]),
            })
            .await
            .expect("adds a user");
    }
    seeded.shutdown().await;
    let exe = server_beside_me();
    // The server process inherits the environment, WALKAROUND_DOC_IDLE_SECS included.
    let idle_secs: u64 = std::env::var("WALKAROUND_DOC_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let server = ServerProcess::start(&exe, seeded.data_dir.clone(), None, false).await;
    let address = server.address.to_string();
    let pid = server.pid().expect("running");
    let rss_start = rss_kib(pid);

    // 1. Upload: each uploader made its share of the inspections offline.
    let per_uploader = docs.div_ceil(uploaders);
    let mut prepared = Vec::new();
    for u in 0..uploaders {
        let mut tablet = Tablet::login_at(&address, &format!("load-{u}"), PASSWORD).await;
        tablet.disconnect().await;
        for _ in 0..per_uploader {
            let id = tablet.create("workshop-walkaround", "demo-site", demo_areas());
            tablet.answer(&id, KEYS[0], AnswerValue::Pass, None);
        }
        prepared.push(tablet);
    }
    let changes: usize = prepared.iter().map(Tablet::change_count).sum();
    let started = Instant::now();
    let (tablets, acked) = sync_all_at_once(prepared, Duration::from_secs(3600)).await;
    let upload = started.elapsed();
    let rss_uploaded = rss_kib(pid);
    let resident_uploaded = metric(&server, "documents_in_memory").await;
    println!(
        "upload: {} documents, {changes} changes from {uploaders} tablets in {:.1} s: {:.0} changes/s applied and acknowledged; {acked}/{uploaders} fully acknowledged",
        uploaders * per_uploader,
        upload.as_secs_f64(),
        changes as f64 / upload.as_secs_f64()
    );
    println!(
        "  server RSS {} → {} MiB, documents in memory {resident_uploaded}",
        rss_start / 1024,
        rss_uploaded / 1024
    );

    // 2. Idle connections, spread over the users (at most 19 each, under the limit).
    let mut tokens = Vec::new();
    for u in 0..users {
        let body = login_at(&address, &format!("load-{u}"), PASSWORD).await;
        tokens.push(body["access_token"].as_str().expect("token").to_string());
    }
    let rss_before_idle = rss_kib(pid);
    let mut idle = Vec::with_capacity(connections);
    for c in 0..connections {
        idle.push(idle_connection(&address, &tokens[c % users]).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(pid);
    let open = metric(&server, "sync_connections").await;
    println!(
        "idle: {connections} connections open ({open} counted by the server): RSS {} → {} MiB, {:.1} KiB per connection",
        rss_before_idle / 1024,
        rss_idle / 1024,
        (rss_idle.saturating_sub(rss_before_idle)) as f64 / connections as f64
    );

    // 3. Live answers while the idle connections stay open: each uploader answers in
    //    random inspections of its own, one acknowledged answer at a time.
    let started = Instant::now();
    let tasks: Vec<_> = tablets
        .into_iter()
        .enumerate()
        .map(|(n, mut tablet)| {
            tokio::spawn(async move {
                let mut dice = Dice(0x5ca1e ^ n as u64);
                let ids: Vec<_> = tablet.docs.keys().copied().collect();
                let mut latencies = Vec::new();
                for e in 0..edits {
                    let id = ids[dice.roll(ids.len() as u64) as usize];
                    tablet.answer(&id, KEYS[1 + e % 3], AnswerValue::Fail, Some("负载"));
                    let t = Instant::now();
                    if tablet.sync_until_acked(Duration::from_secs(60)).await {
                        latencies.push(t.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("joins"));
    }
    let live = started.elapsed();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "live: {} answers acknowledged in {:.1} s ({:.0}/s) with {connections} idle connections open; acknowledgement p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        live.as_secs_f64(),
        latencies.len() as f64 / live.as_secs_f64(),
        at(0.5),
        at(0.99)
    );

    // 4. The cache after the documents go idle.
    let resident_live = metric(&server, "documents_in_memory").await;
    let rss_live = rss_kib(pid);
    let wait = idle_secs + 20;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    println!(
        "cache: {resident_live} documents in memory at {} MiB RSS; {wait} s later {} in memory at {} MiB ({} evicted in all)",
        rss_live / 1024,
        metric(&server, "documents_in_memory").await,
        rss_kib(pid) / 1024,
        metric(&server, "documents_evicted_total").await,
    );
    drop(idle);
    drop(server);
}
