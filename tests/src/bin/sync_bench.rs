//! Cold sync benchmark: N simulated tablets each create M inspections offline (every item
//! answered), then all connect at once and sync until the server has acknowledged every
//! document. Reports the wall time from the first connection to the last acknowledgement.
//!
//! ```sh
//! cargo run --release -p walkaround-tests --bin sync-bench -- --tablets 50 --inspections 20 --db sqlite
//! cargo run --release -p walkaround-tests --bin sync-bench -- --tablets 50 --inspections 20 --db postgres
//! cargo run --release -p walkaround-tests --bin sync-bench -- --tablets 50 --inspections 20 --db postgres --instances 2
//! ```
//!
//! With `--instances N` (PostgreSQL only) the tablets are spread over N server instances
//! on one database, round robin.

use std::time::{Duration, Instant};

use shared::inspection::AnswerValue;
use shared::template::ItemKind;
use walkaround_tests::tablet::{Tablet, sync_all_at_once};
use walkaround_tests::{Db, PASSWORD, arg, demo_areas, spawn, spawn_cluster};

#[tokio::main]
async fn main() {
    let tablets: usize = arg("--tablets", "50").parse().expect("--tablets N");
    let inspections: usize = arg("--inspections", "20").parse().expect("--inspections M");
    let db = match arg("--db", "sqlite").as_str() {
        "sqlite" => Db::Sqlite,
        "postgres" => Db::Postgres,
        other => panic!("--db sqlite|postgres, not {other}"),
    };
    let instances: usize = arg("--instances", "1").parse().expect("--instances N");
    let apps = match (db, instances) {
        (_, 1) => vec![spawn(db).await],
        (Db::Postgres, n) => spawn_cluster(n).await,
        (Db::Sqlite, _) => panic!("several instances need --db postgres"),
    };
    // Each demo user runs the checklist its role runs.
    let users = [
        ("wang", "workshop-walkaround"),
        ("li", "closing-routine"),
        ("yuan", "parts-store-audit"),
        ("fang", "front-desk-weekly"),
        ("zhou", "supervisor-opening"),
    ];

    // Offline preparation, not timed: log in, create and answer.
    let mut prepared = Vec::with_capacity(tablets);
    for n in 0..tablets {
        let (user, template_id) = users[n % users.len()];
        let template = shared::builtin::find(template_id).expect("built-in");
        let mut tablet = Tablet::login(&apps[n % apps.len()], user, PASSWORD).await;
        tablet.disconnect().await;
        for _ in 0..inspections {
            let id = tablet.create(template_id, "demo-site", demo_areas());
            for item in template
                .items
                .iter()
                .filter(|i| i.repeat == shared::template::Repeat::Once)
            {
                let value = match item.kind {
                    ItemKind::Count { .. } => AnswerValue::Count(1),
                    ItemKind::Text => AnswerValue::Text("本周正常".to_string()),
                    _ => AnswerValue::Pass,
                };
                tablet.answer(&id, item.id.as_str(), value, None);
            }
        }
        prepared.push(tablet);
    }
    let changes: usize = prepared.iter().map(Tablet::change_count).sum();

    let started = Instant::now();
    let timeout = Duration::from_secs(arg("--timeout", "600").parse().unwrap_or(600));
    let (_, acked) = sync_all_at_once(prepared, timeout).await;
    let elapsed = started.elapsed();
    println!(
        "{tablets} tablets x {inspections} inspections ({} documents, {changes} changes) on {db:?}, {instances} instance(s): {:.2} s, {acked}/{tablets} tablets fully acknowledged",
        tablets * inspections,
        elapsed.as_secs_f64()
    );
    let mut apps = apps;
    let first = apps.remove(0);
    for app in apps {
        app.stop().await;
    }
    first.stop().await;
    assert_eq!(acked, tablets, "every tablet was acknowledged");
}
