//! The HTTP API of the foundation: health, templates, errors, first run.

use walkaround_tests::{TestApp, spawn_postgres, spawn_sqlite, spawn_with};

async fn check_health(app: &TestApp, kind: &str) {
    let (status, body) = app.anonymous().get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], kind);
}

#[tokio::test]
async fn health_is_ok_on_sqlite() {
    let app = spawn_sqlite().await;
    check_health(&app, "sqlite").await;
    app.stop().await;
}

#[tokio::test]
async fn health_is_ok_on_postgres() {
    let app = spawn_postgres().await;
    check_health(&app, "postgres").await;
    app.stop().await;
}

#[tokio::test]
async fn templates_lists_the_six_built_ins_covering_every_rule() {
    let app = spawn_sqlite().await;
    let (status, body) = app.anonymous().get("/api/v1/templates").await;
    assert_eq!(status, 200);
    let templates = body["templates"].as_array().expect("a list");
    assert_eq!(templates.len(), 6);
    assert_eq!(templates[0]["id"], "workshop-walkaround");
    assert_eq!(templates[0]["name"]["zh"], "车间巡检");
    let mut rules: Vec<String> = templates
        .iter()
        .flat_map(|t| t["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["rule"].as_str().map(String::from))
        .collect();
    rules.sort();
    rules.dedup();
    assert_eq!(rules.len(), 29, "A1–A4, B1, B4–B6, C1–C9, D1–D12");
    let d3 = templates
        .iter()
        .flat_map(|t| t["items"].as_array().cloned().unwrap_or_default())
        .find(|i| i["id"] == "d3-unsigned-quotes")
        .expect("D3 item");
    assert_eq!(d3["fine"]["yuan"], 30);
    app.stop().await;
}

#[tokio::test]
async fn the_regulation_is_served_rule_by_rule() {
    let app = spawn_sqlite().await;
    let (status, body) = app.anonymous().get("/api/v1/regulation").await;
    assert_eq!(status, 200);
    assert_eq!(body["rules"].as_array().map(Vec::len), Some(29));
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let app = spawn_sqlite().await;
    let (status, body) = app.anonymous().get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn the_first_run_creates_the_data_directory_and_a_restart_reuses_it() {
    let dir = walkaround_tests::temp_data_dir()
        .join("nested")
        .join("data");
    let config = server::config::Config::for_tests(dir.clone());
    let app = spawn_with(config.clone(), None).await;
    check_health(&app, "sqlite").await;
    assert!(dir.join("walkaround.db").is_file());
    // Stop without removing the directory, then start again on the same data.
    let address = app.address;
    drop(app);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let again = spawn_with(config, None).await;
    assert_ne!(again.address, address, "port 0 picks a fresh port");
    check_health(&again, "sqlite").await;
    let tables: Vec<String> = {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("walkaround.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("opens");
        sqlx::query_scalar("select name from sqlite_master where type = 'table' and name in ('sites', 'areas') order by name")
            .fetch_all(&mut conn)
            .await
            .expect("queries")
    };
    assert_eq!(tables, ["areas", "sites"]);
    again.stop().await;
}
