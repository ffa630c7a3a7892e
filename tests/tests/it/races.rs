//! Office writes decide inside their transaction (issue 16, input 5): identical decisions
//! sent at the same moment give exactly one success, and edits of different fields at the
//! same moment all land. Eight requests at once, on both databases.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ApiClient, Db, PASSWORD, TestApp, demo_areas, spawn};

walkaround_tests::on_both_databases!(
    eight_identical_reviews_at_once_give_one_success_and_one_trail_entry,
    two_office_users_acknowledging_at_once_give_one_success_and_one_already_in_status,
    eight_identical_assignments_at_once_give_one_success_and_one_trail_entry,
    edits_of_one_user_at_once_all_land,
    template_saves_at_once_never_share_a_version,
);

/// Sends `body` to `path` eight times at once; the statuses, sorted.
async fn eight_at_once(user: &ApiClient, method: &str, path: &str, body: Value) -> Vec<u16> {
    let mut statuses: Vec<u16> =
        join_all((0..8).map(|_| async { user.call(method, path, Some(body.clone())).await.0 }))
            .await;
    statuses.sort_unstable();
    statuses
}

/// A violation of the demo site: (document id, answer key).
async fn a_violation(app: &TestApp) -> (String, &'static str) {
    let mut wang = Tablet::login(app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    (id.to_string(), "c8-booth-floor")
}

const ONE_WINS: [u16; 8] = [200, 409, 409, 409, 409, 409, 409, 409];

async fn eight_identical_reviews_at_once_give_one_success_and_one_trail_entry(db: Db) {
    let app = spawn(db).await;
    let (doc, key) = a_violation(&app).await;
    let office = app.as_user("office").await;
    let path = format!("/api/v1/violations/{doc}/{key}/review");
    let statuses = eight_at_once(&office, "POST", &path, json!({"action": "acknowledge"})).await;
    assert_eq!(statuses, ONE_WINS);
    let (_, trail) = office
        .get(&format!("/api/v1/violations/{doc}/{key}/reviews"))
        .await;
    assert_eq!(trail["status"], "acknowledged");
    let steps = trail["reviews"].as_array().expect("a trail");
    assert_eq!(steps.len(), 1, "{trail}");
    assert_eq!(
        (&steps[0]["status_before"], &steps[0]["status_after"]),
        (&json!("open"), &json!("acknowledged"))
    );
    // And again for the next step, from a decided state.
    let statuses = eight_at_once(&office, "POST", &path, json!({"action": "reopen"})).await;
    assert_eq!(statuses, ONE_WINS);
    app.stop().await;
}

async fn two_office_users_acknowledging_at_once_give_one_success_and_one_already_in_status(db: Db) {
    let app = spawn(db).await;
    let (doc, key) = a_violation(&app).await;
    let office = app.as_user("office").await;
    let fang = app.as_user("fang").await;
    let path = format!("/api/v1/violations/{doc}/{key}/review");
    let body = json!({"action": "acknowledge"});
    let (a, b) = tokio::join!(
        office.post(&path, body.clone()),
        fang.post(&path, body.clone()),
    );
    let mut answers = [a, b];
    answers.sort_by_key(|(status, _)| *status);
    let [(won, _), (lost, refusal)] = answers;
    assert_eq!((won, lost), (200, 409), "{refusal}");
    assert_eq!(refusal["error"]["reason"], "already_in_status", "{refusal}");
    assert_eq!(
        refusal["error"]["params"],
        json!({"status": "acknowledged"}),
        "{refusal}"
    );
    let (_, trail) = office
        .get(&format!("/api/v1/violations/{doc}/{key}/reviews"))
        .await;
    assert_eq!(
        trail["reviews"].as_array().map(Vec::len),
        Some(1),
        "{trail}"
    );
    app.stop().await;
}

async fn eight_identical_assignments_at_once_give_one_success_and_one_trail_entry(db: Db) {
    let app = spawn(db).await;
    let (doc, key) = a_violation(&app).await;
    let office = app.as_user("office").await;
    let path = format!("/api/v1/violations/{doc}/{key}/responsible");
    let statuses = eight_at_once(&office, "PUT", &path, json!({"user_id": "li"})).await;
    assert_eq!(statuses, ONE_WINS);
    let (_, trail) = office
        .get(&format!("/api/v1/violations/{doc}/{key}/reviews"))
        .await;
    let assignments = trail["assignments"].as_array().expect("a trail");
    assert_eq!(assignments.len(), 1, "{trail}");
    assert_eq!(assignments[0]["after_user"], "li");
    app.stop().await;
}

async fn edits_of_one_user_at_once_all_land(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    // Each request changes one thing; read-modify-write outside a transaction let a rename
    // write back the role or sites it had read before another request changed them.
    let names: Vec<String> = (0..6).map(|i| format!("组长{i}")).collect();
    let mut bodies = vec![
        json!({"role": "technician"}),
        json!({"password": "a new password for li"}),
    ];
    bodies.extend(names.iter().map(|n| json!({"display_name": n})));
    let statuses: Vec<u16> = join_all(bodies.into_iter().map(|body| {
        let office = office.clone();
        async move { office.patch("/api/v1/users/li", body).await.0 }
    }))
    .await;
    assert_eq!(statuses, [200; 8]);
    let (_, users) = office.get("/api/v1/users").await;
    let li = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == "li")
        .expect("li")
        .clone();
    assert_eq!(li["role"], "technician", "{li}");
    app.login_as("li", "a new password for li").await;
    assert!(
        names.iter().any(|n| li["display_name"] == n.as_str()),
        "{li}"
    );
    app.stop().await;
}

async fn template_saves_at_once_never_share_a_version(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    let (_, body) = office.get("/api/v1/templates").await;
    let walk = body["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["id"] == "workshop-walkaround")
        .expect("the walkaround")
        .clone();
    let responses =
        join_all((0..8).map(|_| office.put("/api/v1/templates/workshop-walkaround", walk.clone())))
            .await;
    let mut versions = BTreeSet::new();
    for (status, body) in &responses {
        match status {
            200 => assert!(
                versions.insert(body["template"]["version"].as_i64().expect("a version")),
                "two saves claimed one version: {responses:?}"
            ),
            409 => {}
            other => panic!("{other}: {body}"),
        }
    }
    let first = walk["version"].as_i64().expect("a version") + 1;
    let expected: BTreeSet<i64> = (first..first + versions.len() as i64).collect();
    assert_eq!(versions, expected, "versions without gaps: {responses:?}");
    app.stop().await;
}
