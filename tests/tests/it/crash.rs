//! Crash safety: the real server process is killed with SIGKILL at random moments while
//! tablets write, then started again. Every change the server acknowledged before a kill
//! must be stored, the database must pass its integrity check, and every tablet must
//! converge with the server afterwards.
//!
//! CI runs a few kills per store; the documented run sets `WALKAROUND_CRASH_KILLS=50`:
//!
//! ```sh
//! WALKAROUND_CRASH_KILLS=50 cargo test -p walkaround-tests --test it crash:: -- --nocapture
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use automerge::ChangeHash;
use server::config::Database;
use server::store::Store;
use shared::inspection::AnswerValue;
use shared::protocol::DocumentId;
use walkaround_tests::process::ServerProcess;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ANSWER_KEYS, Db, Dice, PASSWORD, demo_areas, spawn, stored_in};

const KEYS: &[&str] = ANSWER_KEYS.split_at(6).0;

async fn integrity(database: &Database) {
    let store = Store::open(database).await.expect("opens the store");
    if let Store::Sqlite(pool, _) = &store {
        let result: String = sqlx::query_scalar("pragma integrity_check")
            .fetch_one(pool)
            .await
            .expect("checks");
        assert_eq!(result, "ok", "SQLite integrity check");
    }
    store.close().await;
}

async fn crash_run(db: Db) {
    let kills: usize = std::env::var("WALKAROUND_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(4);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    println!("crash run on {db:?}: {kills} kills, seed {seed}");
    let mut dice = Dice(seed);

    // An in-process server seeds the demo workshop, then hands its store to the process.
    let mut seeded = spawn(db).await;
    seeded.shutdown().await;
    let database = seeded.database.clone();
    let exe = Path::new(env!("CARGO_BIN_EXE_walkaround-process"));
    let url = match &database {
        Database::Postgres { url } => Some(url.clone()),
        Database::Sqlite { .. } => None,
    };
    let mut server = ServerProcess::start(exe, seeded.data_dir.clone(), url, false).await;
    let address = server.address.to_string();

    let users = ["wang", "wang", "wang", "fang"];
    let mut tablets = Vec::new();
    for user in users {
        let mut tablet = Tablet::login_at(&address, user, PASSWORD).await;
        let template = if user == "fang" {
            "front-desk-weekly"
        } else {
            "workshop-walkaround"
        };
        let id = tablet.create(template, "demo-site", demo_areas());
        tablets.push((tablet, id));
    }
    // Everything each tablet has seen the server report as its heads: committed.
    let mut acknowledged: HashMap<DocumentId, Vec<ChangeHash>> = HashMap::new();
    let mut edits = 0usize;

    for round in 0..kills {
        // Some offline work, then everyone syncs while the killer waits a random moment.
        for (tablet, id) in tablets.iter_mut() {
            for _ in 0..1 + dice.roll(3) {
                let (key, value) = if tablet.user.as_str() == "fang" {
                    (
                        "b4-hidden-complaints",
                        AnswerValue::Count(dice.roll(3) as u32),
                    )
                } else {
                    let key = KEYS[dice.roll(KEYS.len() as u64) as usize];
                    let value = if dice.roll(2) == 0 {
                        AnswerValue::Pass
                    } else {
                        AnswerValue::Fail
                    };
                    (key, value)
                };
                tablet.answer(id, key, value, Some("crash test"));
                edits += 1;
            }
        }
        let delay = Duration::from_millis(dice.roll(250));
        let pid = server.pid().expect("running").to_string();
        let syncing = futures_util::future::join_all(
            tablets
                .iter_mut()
                .map(|(tablet, _)| tablet.sync_until_acked(Duration::from_millis(400))),
        );
        let killer = async {
            tokio::time::sleep(delay).await;
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .expect("runs kill");
            assert!(killed.success());
        };
        let (_, ()) = tokio::join!(syncing, killer);
        server.kill();
        for (tablet, id) in tablets.iter() {
            if let Some(heads) = tablet.acknowledged.get(id) {
                acknowledged.insert(*id, heads.clone());
            }
        }
        integrity(&database).await;
        for (id, heads) in &acknowledged {
            let doc = stored_in(&database, id).await;
            for head in heads {
                assert!(
                    doc.get_change_meta_by_hash(head).is_some(),
                    "round {round}: an acknowledged change of {id} was lost (seed {seed})"
                );
            }
        }
        server.restart().await;
        for (tablet, _) in tablets.iter_mut() {
            tablet.connect_to(&address).await;
        }
    }

    // Afterwards every tablet converges with the server, and everything is stored.
    for (tablet, id) in tablets.iter_mut() {
        assert!(
            tablet.sync_until_acked(Duration::from_secs(15)).await,
            "{} converges after the last restart",
            tablet.user
        );
        let mut ours = tablet.heads(id);
        ours.sort();
        let mut theirs = stored_in(&database, id).await.get_heads();
        theirs.sort();
        assert_eq!(ours, theirs, "every edit of {} is stored", tablet.user);
        assert!(tablet.notices.is_empty(), "{:?}", tablet.notices);
    }
    integrity(&database).await;
    println!("crash run on {db:?}: {kills} kills, {edits} edits, 0 acknowledged changes lost");
    drop(server);
    seeded.stop().await;
}

#[tokio::test]
async fn acknowledged_changes_survive_sigkill_on_sqlite() {
    crash_run(Db::Sqlite).await;
}

#[tokio::test]
async fn acknowledged_changes_survive_sigkill_on_postgres() {
    crash_run(Db::Postgres).await;
}
