//! The office manages users: add, edit, disable (ending sessions at once), enable; only
//! for its own sites, and only office admins.

use serde_json::{Value, json};
use walkaround_tests::tablet::access_token;
use walkaround_tests::{Db, PASSWORD, TestApp, spawn};

async fn token(app: &TestApp, user: &str, password: &str) -> String {
    access_token(app, user, password).await
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("responds");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_office_adds_edits_disables_and_enables_users_of_its_sites() {
    use reqwest::Method;
    let app = spawn(Db::Sqlite).await;
    let office = token(&app, "office", PASSWORD).await;

    let (status, body) = call(&app, Method::GET, &office, "/api/v1/users", None).await;
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
    let (status, body) = call(
        &app,
        Method::POST,
        &office,
        "/api/v1/users",
        Some(new.clone()),
    )
    .await;
    assert_eq!((status, body["role"].as_str()), (201, Some("team_lead")));
    let (status, _) = call(&app, Method::POST, &office, "/api/v1/users", Some(new)).await;
    assert_eq!(status, 409);
    let (status, body) = call(
        &app,
        Method::POST,
        &office,
        "/api/v1/users",
        Some(json!({"username": "bad name", "password": "short", "role": "boss", "sites": []})),
    )
    .await;
    assert_eq!(status, 422);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for field in ["username:", "role:", "password:", "sites:"] {
        assert!(message.contains(field), "{message} names {field}");
    }
    let (status, _) = call(&app, Method::POST, &office, "/api/v1/users",
        Some(json!({"username": "x1", "password": "long enough", "role": "team_lead", "sites": ["site-b"]}))).await;
    assert_eq!(status, 403, "not the office's site");

    let zhang = token(&app, "zhang", "long enough").await;
    let (status, _) = call(&app, Method::GET, &zhang, "/api/v1/users", None).await;
    assert_eq!(status, 403, "a team lead does not manage users");

    let (status, body) = call(
        &app,
        Method::PATCH,
        &office,
        "/api/v1/users/zhang",
        Some(json!({"role": "workshop_manager"})),
    )
    .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("workshop_manager"))
    );
    let (_, me) = call(&app, Method::GET, &zhang, "/api/v1/me", None).await;
    assert_eq!(
        me["role"], "workshop_manager",
        "the change applies to open sessions at once"
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &office,
        "/api/v1/users/sun",
        Some(json!({"role": "technician"})),
    )
    .await;
    assert_eq!(
        status, 404,
        "another site's user is not the office's to see"
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &office,
        "/api/v1/users/zhang",
        Some(json!({"role": "king"})),
    )
    .await;
    assert_eq!(status, 422);

    let (status, body) = call(
        &app,
        Method::POST,
        &office,
        "/api/v1/users/zhang/disable",
        None,
    )
    .await;
    assert_eq!((status, body["disabled"].as_bool()), (200, Some(true)));
    let (status, _) = call(&app, Method::GET, &zhang, "/api/v1/me", None).await;
    assert_eq!(status, 401, "disabling revokes at once");
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "zhang", "password": "long enough"}))
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 401);
    let (status, _) = call(
        &app,
        Method::POST,
        &office,
        "/api/v1/users/office/disable",
        None,
    )
    .await;
    assert_eq!(status, 409, "the office cannot lock itself out");

    let (status, _) = call(
        &app,
        Method::POST,
        &office,
        "/api/v1/users/zhang/enable",
        None,
    )
    .await;
    assert_eq!(status, 200);
    token(&app, "zhang", "long enough").await;
    app.stop().await;
}
