//! End-to-end tests of the tablet app in Debian's Chromium (`tests/e2e/`, playwright-core),
//! against the real server with the demo workshop. Screenshots of the main screens land in
//! `target/screenshots/`.

use std::path::Path;
use std::process::Command;

use walkaround_tests::{Db, PASSWORD, spawn};

#[tokio::test]
async fn the_tablet_app_works_offline_and_merges_in_chromium() {
    let has_bundle = server::http::web::ASSETS
        .iter()
        .any(|(name, _, _)| *name == "pkg/client_wasm_bg.wasm");
    assert!(
        has_bundle,
        "this server build has no web bundle: run the tests with `cargo xtask test`"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed (.ci/run installs it)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm install` in tests/e2e first (cargo xtask test does)"
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let app = spawn(Db::Sqlite).await;
    let url = format!("http://{}", app.address);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "app.test.mjs"])
            .current_dir(dir)
            .env("WALKAROUND_URL", url)
            .env("WALKAROUND_PASSWORD", PASSWORD)
            .env("WALKAROUND_SCREENSHOTS", shots)
            .output()
    })
    .await
    .expect("joins")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    app.stop().await;
}
