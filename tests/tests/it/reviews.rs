//! The office's review of violations: who may do what, the trail, and that a tablet's
//! later sync never undoes a decision.

use std::time::Duration;

use serde_json::{Value, json};
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ApiClient, Db, PASSWORD, demo_areas, spawn};

/// Takes a review step on the violation `key` of `doc`.
async fn review(user: &ApiClient, doc: &str, key: &str, body: Value) -> (u16, Value) {
    user.post(&format!("/api/v1/violations/{doc}/{key}/review"), body)
        .await
}

async fn the_office_reviews_and_waives_with_a_trail(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let doc = id.to_string();
    let key = "c8-booth-floor";

    let office = app.as_user("office").await;
    let lead = app.as_user("li").await;
    let sun = app.as_user("sun").await;
    let manager = app.as_user("wang").await;

    let (status, body) = review(&office, &doc, key, json!({"action": "acknowledge"})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("acknowledged"))
    );
    let (status, _) = review(&office, &doc, key, json!({"action": "acknowledge"})).await;
    assert_eq!(status, 409, "already acknowledged");

    // A team lead may not waive a fine, nor review at all.
    let (status, body) = review(
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
    let (status, _) = review(&lead, &doc, key, json!({"action": "correct"})).await;
    assert_eq!(status, 403);
    // A manager of another site does not even see it.
    let (status, _) = review(&sun, &doc, key, json!({"action": "waive", "reason": "x"})).await;
    assert_eq!(status, 404);
    let (status, _) = sun
        .get(&format!("/api/v1/violations/{doc}/{key}/reviews"))
        .await;
    assert_eq!(status, 404);
    // A waiver needs a reason; bad bodies are clear errors.
    let (status, _) = review(
        &manager,
        &doc,
        key,
        json!({"action": "waive", "reason": "  "}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = review(&manager, &doc, key, json!({"action": "forgive"})).await;
    assert_eq!(status, 422);
    let (status, _) = review(
        &manager,
        &doc,
        "c1-visitors",
        json!({"action": "acknowledge"}),
    )
    .await;
    assert_eq!(status, 404, "no violation under that key");

    let (status, body) = review(
        &manager,
        &doc,
        key,
        json!({"action": "waive", "reason": "客户车辆临时停放，已当场清理"}),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("waived")));

    let (status, trail) = office
        .get(&format!("/api/v1/violations/{doc}/{key}/reviews"))
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
    let (_, list) = office.get("/api/v1/violations?status=waived").await;
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
