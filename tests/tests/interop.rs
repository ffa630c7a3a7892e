//! Interoperability: two stock automerge-repo 2.x clients (Node, `tests/interop/`) create,
//! find, edit concurrently and converge through the real server.

use std::process::Command;

use walkaround_tests::{Db, PASSWORD, demo_areas, spawn};

#[tokio::test]
async fn stock_automerge_repo_clients_sync_through_the_server() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    assert!(
        dir.join("node_modules/@automerge/automerge-repo").is_dir(),
        "run `npm install` in tests/interop first (cargo xtask test does)"
    );
    let app = spawn(Db::Sqlite).await;
    let areas = serde_json::to_string(&demo_areas()).expect("serializes");
    let url = format!("http://{}", app.address);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("stock-clients.mjs")
            .current_dir(dir)
            .env("WALKAROUND_URL", url)
            .env("WALKAROUND_PASSWORD", PASSWORD)
            .env("WALKAROUND_AREAS", areas)
            .output()
    })
    .await
    .expect("joins")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stock clients failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("converged"), "{stdout}");
    app.stop().await;
}
