//! Interoperability: two stock automerge-repo 2.x clients (Node, `tests/interop/`) create,
//! find, edit concurrently and converge through the real server.

use walkaround_tests::{Db, PASSWORD, demo_areas, run_node, spawn};

/// Runs one script of `tests/interop` against a fresh server with the demo workshop and
/// fails with its output unless it printed `done`.
async fn run_stock_clients(script: &str, done: &str) {
    let app = spawn(Db::Sqlite).await;
    let areas = serde_json::to_string(&demo_areas()).expect("serializes");
    let (ok, out) = run_node(
        "interop",
        &[script],
        vec![
            ("WALKAROUND_URL", format!("http://{}", app.address)),
            ("WALKAROUND_PASSWORD", PASSWORD.to_string()),
            ("WALKAROUND_AREAS", areas),
        ],
    )
    .await;
    assert!(ok && out.contains(done), "stock clients failed:\n{out}");
    app.stop().await;
}

#[tokio::test]
async fn stock_automerge_repo_clients_sync_through_the_server() {
    run_stock_clients("stock-clients.mjs", "converged").await;
}

/// The side-by-side benchmark harness (`tests/bench/harness.mjs`, docs/BENCHMARKS.md) at a
/// toy size, so that it keeps working: both servers, all five phases converge.
#[tokio::test]
async fn the_benchmark_harness_runs_against_both_servers() {
    let out = std::env::temp_dir().join(walkaround_tests::unique_name("bench-smoke"));
    let (ok, text) = run_node(
        "bench",
        &[
            "harness.mjs",
            "--tablets",
            "2",
            "--docs",
            "3",
            "--edits",
            "2",
            "--rounds",
            "4",
            "--timeout",
            "60",
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
        vec![(
            "WALKAROUND_EXE",
            env!("CARGO_BIN_EXE_walkaround-process").to_string(),
        )],
    )
    .await;
    assert!(ok, "the harness failed:\n{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the report is written")).expect("JSON");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{text}");
    for run in runs {
        let phases = run["results"].as_array().expect("phases");
        assert_eq!(phases.len(), 6, "{text}");
        assert!(
            phases
                .iter()
                .all(|p| p["cpu_seconds"].as_f64().is_some()
                    && p["peak_rss_kib"].as_f64() > Some(0.0)),
            "{text}"
        );
    }
}

/// Issue 17, items 1 and 6, with stock clients: tablet A creates an inspection and tablet
/// B opens its URL at once (and, deterministically, before A is online), and B gets it;
/// automerge-repo's `Presence` and `handle.broadcast` pass between them through the server
/// and never to a stock client of another site (`tests/interop/waiting-and-presence.mjs`).
#[tokio::test]
async fn stock_clients_get_a_document_opened_before_it_existed_and_see_each_others_presence() {
    run_stock_clients("waiting-and-presence.mjs", "waiting and presence: ok").await;
}
