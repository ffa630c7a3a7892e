//! The office manages users: add, edit, disable (ending sessions at once), enable; only
//! for its own sites, and only office admins.

use serde_json::json;
use walkaround_tests::{Db, spawn};

#[tokio::test]
async fn the_office_adds_edits_disables_and_enables_users_of_its_sites() {
    let app = spawn(Db::Sqlite).await;
    let office = app.as_user("office").await;

    let (status, body) = office.get("/api/v1/users").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["users"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(
        names,
        ["chen", "fang", "li", "office", "wang", "yuan", "zhou"],
        "not sun, of site-b"
    );

    let new = json!({"username": "zhang", "password": "long enough", "role": "team_lead", "sites": ["demo-site"], "display_name": "班组长 张"});
    let (status, body) = office.post("/api/v1/users", new.clone()).await;
    assert_eq!((status, body["role"].as_str()), (201, Some("team_lead")));
    let (status, _) = office.post("/api/v1/users", new).await;
    assert_eq!(status, 409);
    let (status, body) = office
        .post(
            "/api/v1/users",
            json!({"username": "bad name", "password": "short", "role": "boss", "sites": []}),
        )
        .await;
    assert_eq!(status, 422);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for field in ["username:", "role:", "password:", "sites:"] {
        assert!(message.contains(field), "{message} names {field}");
    }
    let (status, _) = office.post("/api/v1/users", json!({"username": "x1", "password": "long enough", "role": "team_lead", "sites": ["site-b"]})).await;
    assert_eq!(status, 403, "not the office's site");

    let zhang = app.login_as("zhang", "long enough").await;
    let (status, _) = zhang.get("/api/v1/users").await;
    assert_eq!(status, 403, "a team lead does not manage users");

    let (status, body) = office
        .patch("/api/v1/users/zhang", json!({"role": "workshop_manager"}))
        .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("workshop_manager"))
    );
    let (_, me) = zhang.get("/api/v1/me").await;
    assert_eq!(
        me["role"], "workshop_manager",
        "the change applies to open sessions at once"
    );
    let (status, _) = office
        .patch("/api/v1/users/sun", json!({"role": "technician"}))
        .await;
    assert_eq!(
        status, 404,
        "another site's user is not the office's to see"
    );
    let (status, _) = office
        .patch("/api/v1/users/zhang", json!({"role": "king"}))
        .await;
    assert_eq!(status, 422);

    let (status, body) = office
        .call("POST", "/api/v1/users/zhang/disable", None)
        .await;
    assert_eq!((status, body["disabled"].as_bool()), (200, Some(true)));
    let (status, _) = zhang.get("/api/v1/me").await;
    assert_eq!(status, 401, "disabling revokes at once");
    let (status, _) = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "zhang", "password": "long enough"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = office
        .call("POST", "/api/v1/users/office/disable", None)
        .await;
    assert_eq!(status, 409, "the office cannot lock itself out");

    let (status, _) = office
        .call("POST", "/api/v1/users/zhang/enable", None)
        .await;
    assert_eq!(status, 200);
    app.login_as("zhang", "long enough").await;
    app.stop().await;
}
