//! Interoperability: two stock automerge-repo 2.x clients (Node, `tests/interop/`) create,
//! find, edit concurrently and converge through the real server.

use walkaround_tests::{Db, PASSWORD, demo_areas, run_node, spawn};

#[tokio::test]
async fn stock_automerge_repo_clients_sync_through_the_server() {
    let modules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interop/node_modules/@automerge/automerge-repo");
    assert!(
        modules.is_dir(),
        "run `npm install` in tests/interop first (cargo xtask test does)"
    );
    let app = spawn(Db::Sqlite).await;
    let areas = serde_json::to_string(&demo_areas()).expect("serializes");
    let (ok, out) = run_node(
        "interop",
        &["stock-clients.mjs"],
        vec![
            ("WALKAROUND_URL", format!("http://{}", app.address)),
            ("WALKAROUND_PASSWORD", PASSWORD.to_string()),
            ("WALKAROUND_AREAS", areas),
        ],
    )
    .await;
    assert!(
        ok && out.contains("converged"),
        "stock clients failed:\n{out}"
    );
    app.stop().await;
}
