//! The office's review of violations: who may do what, the trail, and that a tablet's
//! later sync never undoes a decision.

use std::time::Duration;

use serde_json::{Value, json};
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::{Tablet, access_token};
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn};

async fn token(app: &TestApp, user: &str) -> String {
    access_token(app, user, PASSWORD).await
}

async fn review(app: &TestApp, token: &str, doc: &str, key: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/violations/{doc}/{key}/review")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("responds");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("responds");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn the_office_reviews_and_waives_with_a_trail(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let doc = id.to_string();
    let key = "c8-booth-floor";

    let office = token(&app, "office").await;
    let lead = token(&app, "li").await;
    let sun = token(&app, "sun").await;
    let manager = token(&app, "wang").await;

    let (status, body) = review(&app, &office, &doc, key, json!({"action": "acknowledge"})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("acknowledged"))
    );
    let (status, _) = review(&app, &office, &doc, key, json!({"action": "acknowledge"})).await;
    assert_eq!(status, 409, "already acknowledged");

    // A team lead may not waive a fine, nor review at all.
    let (status, body) = review(
        &app,
        &lead,
        &doc,
        key,
        json!({"action": "waive", "reason": "please"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = review(&app, &lead, &doc, key, json!({"action": "correct"})).await;
    assert_eq!(status, 403);
    // A manager of another site does not even see it.
    let (status, _) = review(
        &app,
        &sun,
        &doc,
        key,
        json!({"action": "waive", "reason": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(
        &app,
        &sun,
        &format!("/api/v1/violations/{doc}/{key}/reviews"),
    )
    .await;
    assert_eq!(status, 404);
    // A waiver needs a reason; bad bodies are clear errors.
    let (status, _) = review(
        &app,
        &manager,
        &doc,
        key,
        json!({"action": "waive", "reason": "  "}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = review(&app, &manager, &doc, key, json!({"action": "forgive"})).await;
    assert_eq!(status, 422);
    let (status, _) = review(
        &app,
        &manager,
        &doc,
        "c1-visitors",
        json!({"action": "acknowledge"}),
    )
    .await;
    assert_eq!(status, 404, "no violation under that key");

    let (status, body) = review(
        &app,
        &manager,
        &doc,
        key,
        json!({"action": "waive", "reason": "客户车辆临时停放，已当场清理"}),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("waived")));

    let (status, trail) = get(
        &app,
        &office,
        &format!("/api/v1/violations/{doc}/{key}/reviews"),
    )
    .await;
    assert_eq!(status, 200);
    let steps: Vec<(String, String, String, String)> = trail["reviews"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (
                s("user_id"),
                s("action"),
                s("status_before"),
                s("status_after"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                "office".into(),
                "acknowledge".into(),
                "open".into(),
                "acknowledged".into()
            ),
            (
                "wang".into(),
                "waive".into(),
                "acknowledged".into(),
                "waived".into()
            )
        ]
    );
    assert_eq!(
        trail["reviews"][1]["reason"],
        "客户车辆临时停放，已当场清理"
    );

    // The tablet keeps working on the inspection; the decision stands.
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let (_, list) = get(&app, &office, "/api/v1/violations?status=waived").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["violations"][0]["answer_key"], key);
    app.stop().await;
}

#[tokio::test]
async fn reviews_on_sqlite() {
    the_office_reviews_and_waives_with_a_trail(Db::Sqlite).await;
}

#[tokio::test]
async fn reviews_on_postgres() {
    the_office_reviews_and_waives_with_a_trail(Db::Postgres).await;
}
