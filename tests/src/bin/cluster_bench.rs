//! Fan-out latency between instances: a tablet on instance A answers; a tablet on
//! instance B, syncing the same document, waits for the server to push the change. The
//! latency runs from A's send to B's receipt and covers A's validation and commit, the
//! PostgreSQL notification, B's reload and push.
//!
//! ```sh
//! cargo run --release -p walkaround-tests --bin cluster-bench -- --rounds 200
//! ```

use std::time::{Duration, Instant};

use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{PASSWORD, arg, demo_areas, spawn_cluster};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let rounds: usize = arg("--rounds", "200").parse().expect("--rounds N");
    let mut apps = spawn_cluster(2).await;
    let mut writer = Tablet::login(&apps[0], "wang", PASSWORD).await;
    let id = writer.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(writer.sync_until_acked(Duration::from_secs(10)).await);
    let mut reader = Tablet::login(&apps[1], "li", PASSWORD).await;
    reader.want(id);
    assert!(reader.sync_until_acked(Duration::from_secs(10)).await);

    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let value = if round % 2 == 0 {
            AnswerValue::Fail
        } else {
            AnswerValue::Pass
        };
        writer.answer(&id, "c8-booth-floor", value, Some("bench"));
        let mut target = writer.heads(&id);
        target.sort();
        let started = Instant::now();
        // The reader applies whatever the server pushes until it holds the new change.
        let receive = async {
            loop {
                match reader.next_message(Duration::from_secs(10)).await {
                    Some(message) => {
                        reader.handle_message(message).await;
                        let mut heads = reader.heads(&id);
                        heads.sort();
                        if heads == target {
                            return started.elapsed();
                        }
                    }
                    None => panic!("the change did not arrive within 10 s in round {round}"),
                }
            }
        };
        let (acked, latency) =
            tokio::join!(writer.sync_until_acked(Duration::from_secs(10)), receive);
        assert!(acked);
        latencies.push(latency);
    }
    latencies.sort();
    println!(
        "fan-out between two instances over {rounds} rounds: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    let first = apps.remove(0);
    for app in apps {
        app.stop().await;
    }
    first.stop().await;
}
