//! The office edits templates: a new version each time, field-level errors, office only,
//! and inspections under way keep the version they started with.

use std::time::Duration;

use serde_json::{Value, json};
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn};

/// Saves template `id` as `user`.
async fn put(app: &TestApp, user: &str, id: &str, body: Value) -> (u16, Value) {
    app.as_user(user)
        .await
        .put(&format!("/api/v1/templates/{id}"), body)
        .await
}

/// The current version of template `id`, as anyone reads it.
async fn current(app: &TestApp, id: &str) -> Value {
    let (_, body) = app.anonymous().get("/api/v1/templates").await;
    body["templates"]
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_office_saves_new_template_versions_with_field_level_errors() {
    let app = spawn(Db::Sqlite).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let running = wang.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);

    let mut walk = current(&app, "workshop-walkaround").await;
    assert_eq!(walk["version"], 1);
    walk["items"]
        .as_array_mut()
        .expect("items")
        .retain(|i| i["rule"] != "C3");
    walk["name"]["en"] = json!("Workshop walkaround (no spot check)");
    let (status, body) = put(&app, "office", "workshop-walkaround", walk.clone()).await;
    assert_eq!(
        (status, body["template"]["version"].as_i64()),
        (200, Some(2))
    );
    let now = current(&app, "workshop-walkaround").await;
    assert_eq!(now["version"], 2);
    assert!(
        !now["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["rule"] == "C3")
    );

    // Only the office edits templates.
    let (status, _) = put(&app, "wang", "workshop-walkaround", walk.clone()).await;
    assert_eq!(status, 403);

    // Every invalid field is named.
    let mut bad = walk.clone();
    bad["run_by"] = json!([]);
    bad["items"][0]["fine"] = json!({"type": "per_occurrence", "yuan": 999});
    bad["items"][1]["id"] = bad["items"][0]["id"].clone();
    let (status, body) = put(&app, "office", "workshop-walkaround", bad).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_fields"))
    );
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["run_by", "items[0].fine", "items[1].id"]);
    let (status, body) = put(&app, "office", "workshop-walkaround", json!({"name": "no"})).await;
    assert_eq!(
        (status, body["error"]["fields"][0]["field"].as_str()),
        (422, Some("name")),
        "the field that does not fit, not the whole template"
    );

    // A new template starts at version 1.
    let mut booth = walk.clone();
    booth["items"]
        .as_array_mut()
        .expect("items")
        .retain(|i| i["rule"] == "C8" || i["rule"] == "C9");
    booth["name"] = json!({"zh": "烤漆房检查", "en": "Paint-booth check"});
    let (status, body) = put(&app, "office", "paint-booth-check", booth).await;
    assert_eq!(
        (status, body["template"]["version"].as_i64()),
        (200, Some(1))
    );

    // The walkaround under way keeps version 1, spot check included.
    wang.answer(
        &running,
        "c3-fluids-fitted",
        shared::inspection::AnswerValue::Pass,
        Some("checked"),
    );
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert!(wang.notices.is_empty(), "{:?}", wang.notices);
    app.stop().await;
}
