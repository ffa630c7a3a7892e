//! The restore procedure of docs/DEPLOYMENT.md, tested: back up a live server, destroy
//! its data, restore, and every document and violation is back.

use std::time::Duration;

use serde_json::Value;
use server::config::{Config, Database};
use shared::inspection::AnswerValue;
use sqlx::Connection;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{
    Db, PASSWORD, TestApp, demo_areas, pg_admin_url, spawn, spawn_with, temp_data_dir, unique_name,
};

async fn office_view(app: &TestApp) -> (Value, Value) {
    let office = app.as_user("office").await;
    let mut docs = office.get("/api/v1/documents").await.1["documents"].clone();
    if let Some(list) = docs.as_array_mut() {
        list.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_string());
    }
    (docs, office.get("/api/v1/violations?limit=500").await.1)
}

async fn backup_destroy_restore(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
        wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
        wang.answer(&id, "c7-oil-filters", AnswerValue::Count(3 + n), None);
        ids.push(id);
    }
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let before = office_view(&app).await;
    assert_eq!(before.1["total"], 5);

    // Back up while serving, then destroy everything.
    let file = std::env::temp_dir().join(format!("{}.backup", unique_name("walkaround")));
    server::backup::backup(&app.database, &file)
        .await
        .expect("backs up");
    assert!(
        server::backup::backup(&app.database, &file).await.is_err(),
        "never overwrites a backup"
    );
    wang.disconnect().await;
    app.stop().await;

    // Restore into a fresh store and serve it.
    let (database, owned) = match db {
        Db::Sqlite => (
            Database::Sqlite {
                data_dir: temp_data_dir(),
            },
            None,
        ),
        Db::Postgres => {
            let name = unique_name("walkaround_restore");
            let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
                .await
                .expect("connects");
            sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("creates");
            let admin = pg_admin_url();
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin);
            (
                Database::Postgres {
                    url: format!("{base}/{name}"),
                },
                Some(name),
            )
        }
    };
    server::backup::restore(&database, &file)
        .await
        .expect("restores");
    if db == Db::Sqlite {
        assert!(
            server::backup::restore(&database, &file).await.is_err(),
            "never restores over a database"
        );
    }
    let mut config = Config::for_tests(temp_data_dir());
    if let Database::Sqlite { data_dir } = &database {
        config.data_dir = data_dir.clone();
    }
    config.database = database;
    let restored = spawn_with(config, owned).await;
    let after = office_view(&restored).await;
    assert_eq!(after.0, before.0, "every document is back");
    assert_eq!(after.1, before.1, "every violation is back");

    // And the documents themselves: a tablet continues where it left off.
    wang.connect(&restored).await;
    wang.answer(&ids[0], "c9-masking", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    let _ = std::fs::remove_file(&file);
    restored.stop().await;
}

#[tokio::test]
async fn a_sqlite_backup_restores_every_document_and_violation() {
    backup_destroy_restore(Db::Sqlite).await;
}

#[tokio::test]
async fn a_postgres_backup_restores_every_document_and_violation() {
    backup_destroy_restore(Db::Postgres).await;
}

#[tokio::test]
async fn a_file_that_is_not_a_backup_is_refused() {
    let file = std::env::temp_dir().join(format!("{}.backup", unique_name("not-a-backup")));
    std::fs::write(&file, b"hello").expect("writes");
    let database = Database::Sqlite {
        data_dir: temp_data_dir(),
    };
    let err = server::backup::restore(&database, &file)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not a usable backup"), "{err}");
    let _ = std::fs::remove_file(&file);
}
