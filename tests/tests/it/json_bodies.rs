//! Every JSON endpoint fed broken and mutated bodies over real HTTP: the fuzzing of the
//! JSON endpoints' bodies beside the `template_json` fuzz target, which covers the largest
//! body's parser and validation in depth.
//!
//! Each endpoint gets a valid body mutated at random (a field removed, retyped, made huge,
//! nested deep, an unknown field added, the JSON cut short or a byte flipped, invalid
//! UTF-8, the wrong content type). Every answer must be a success or a 4xx with the error
//! body, never a 5xx; a refused body must leave what the endpoint writes exactly as it
//! was; the server keeps answering. The generator is seeded, so a failure replays.

use serde_json::{Value, json};
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ApiClient, Db, Dice, PASSWORD, demo_areas, spawn};

walkaround_tests::on_both_databases!(every_json_endpoint_refuses_broken_bodies_and_keeps_its_data);

/// One endpoint: how to call it, a body it accepts, and where to read what it writes.
struct Endpoint {
    method: reqwest::Method,
    path: String,
    /// Who calls it: the office, or no one logged in.
    caller: ApiClient,
    valid: Value,
    /// A GET (as the office) whose answer shows everything the endpoint may change.
    reads: String,
}

/// Values a field can be turned into.
fn odd_value(dice: &mut Dice) -> Value {
    let deep = (0..200).fold(json!(1), |inner, _| json!([inner]));
    match dice.roll(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(0.5),
        5 => json!(""),
        6 => json!("x".repeat(100_000)),
        7 => json!("\u{0}\u{202e}控制"),
        8 => json!([]),
        9 => json!({}),
        10 => deep,
        11 => json!(i64::MIN),
        12 => json!(u64::MAX),
        _ => json!(["demo-site", 7, null]),
    }
}

/// A random object key somewhere in `value` (its path), if it has any.
fn some_key(value: &Value, dice: &mut Dice) -> Option<Vec<String>> {
    let mut path = Vec::new();
    let mut at = value;
    loop {
        let Value::Object(map) = at else {
            return (!path.is_empty()).then_some(path);
        };
        if map.is_empty() {
            return (!path.is_empty()).then_some(path);
        }
        let key = map
            .keys()
            .nth(dice.roll(map.len() as u64) as usize)?
            .clone();
        at = &map[&key];
        path.push(key);
        // Stop at this depth half of the time.
        if dice.roll(2) == 0 {
            return Some(path);
        }
    }
}

fn parent_mut<'a>(
    value: &'a mut Value,
    path: &[String],
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut at = value;
    for key in &path[..path.len() - 1] {
        at = at.get_mut(key)?;
    }
    at.as_object_mut()
}

/// A broken or mutated version of `valid`, as bytes, and its content type.
fn mutate(valid: &Value, dice: &mut Dice) -> (Vec<u8>, &'static str) {
    let mut body = valid.clone();
    let json_type = "application/json";
    match dice.roll(10) {
        // Structural mutations that keep it JSON.
        0..=2 => {
            if let Some(path) = some_key(&body, dice)
                && let Some(parent) = parent_mut(&mut body, &path)
            {
                let last = &path[path.len() - 1];
                parent.insert(last.clone(), odd_value(dice));
            }
        }
        3 => {
            if let Some(path) = some_key(&body, dice)
                && let Some(parent) = parent_mut(&mut body, &path)
            {
                parent.remove(&path[path.len() - 1]);
            }
        }
        4 => {
            if let Some(map) = body.as_object_mut() {
                map.insert("unexpected".to_string(), odd_value(dice));
            }
        }
        5 => body = odd_value(dice),
        // Byte-level mutations.
        6 => {
            let mut bytes = serde_json::to_vec(&body).expect("serialises");
            let cut = dice.roll(bytes.len() as u64) as usize;
            bytes.truncate(cut);
            return (bytes, json_type);
        }
        7 => {
            let mut bytes = serde_json::to_vec(&body).expect("serialises");
            let at = dice.roll(bytes.len() as u64) as usize;
            bytes[at] = dice.roll(256) as u8;
            return (bytes, json_type);
        }
        8 => {
            let mut bytes = serde_json::to_vec(&body).expect("serialises");
            let at = dice.roll(bytes.len() as u64) as usize;
            bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
            return (bytes, json_type);
        }
        _ => return (serde_json::to_vec(&body).expect("serialises"), "text/plain"),
    }
    (serde_json::to_vec(&body).expect("serialises"), json_type)
}

async fn read(office: &ApiClient, path: &str) -> String {
    let response = office
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    response.text().await.expect("a body")
}

async fn every_json_endpoint_refuses_broken_bodies_and_keeps_its_data(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;

    // A violation to review and assign, and a user to change.
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(
        wang.sync_until_acked(std::time::Duration::from_secs(10))
            .await
    );
    let violation = format!("/api/v1/violations/{id}/c8-booth-floor");
    let created = office
        .request(reqwest::Method::POST, "/api/v1/users")
        .json(&json!({"username": "target", "password": "a long enough password", "role": "team_lead", "sites": ["demo-site"]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status().as_u16(), 201);
    let target: Value = created.json().await.expect("JSON");
    let target = target["id"].as_str().expect("an id").to_string();
    let templates: Value =
        serde_json::from_str(&read(&office, "/api/v1/templates").await).expect("JSON");
    let template = templates["templates"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["id"] == "workshop-walkaround"))
        .expect("the walkaround template")
        .clone();
    let schedule: Value =
        serde_json::from_str(&read(&office, "/api/v1/routines?site=demo-site").await)
            .expect("JSON");
    let refresh = app.as_user("wang").await.login()["refresh_token"].clone();

    let endpoints = [
        Endpoint {
            method: reqwest::Method::POST,
            path: "/api/v1/auth/login".to_string(),
            caller: app.anonymous(),
            valid: json!({"username": "wang", "password": PASSWORD}),
            reads: "/api/v1/users".to_string(),
        },
        Endpoint {
            method: reqwest::Method::POST,
            path: "/api/v1/auth/refresh".to_string(),
            caller: app.anonymous(),
            valid: json!({ "refresh_token": refresh }),
            reads: "/api/v1/users".to_string(),
        },
        Endpoint {
            method: reqwest::Method::POST,
            path: "/api/v1/users".to_string(),
            caller: office.clone(),
            valid: json!({"username": "newcomer", "password": "a long enough password", "role": "team_lead", "sites": ["demo-site"], "display_name": "新人"}),
            reads: "/api/v1/users".to_string(),
        },
        Endpoint {
            method: reqwest::Method::PATCH,
            path: format!("/api/v1/users/{target}"),
            caller: office.clone(),
            valid: json!({"display_name": "组长", "role": "team_lead", "sites": ["demo-site"]}),
            reads: "/api/v1/users".to_string(),
        },
        Endpoint {
            method: reqwest::Method::PUT,
            path: "/api/v1/templates/workshop-walkaround".to_string(),
            caller: office.clone(),
            valid: template,
            reads: "/api/v1/templates".to_string(),
        },
        Endpoint {
            method: reqwest::Method::POST,
            path: format!("{violation}/review"),
            caller: office.clone(),
            valid: json!({"action": "acknowledge", "reason": "已看"}),
            reads: format!("{violation}/reviews"),
        },
        Endpoint {
            method: reqwest::Method::PUT,
            path: format!("{violation}/responsible"),
            caller: office.clone(),
            valid: json!({"user_id": "wang"}),
            reads: "/api/v1/violations?site=demo-site".to_string(),
        },
        Endpoint {
            method: reqwest::Method::PUT,
            path: "/api/v1/routines?site=demo-site".to_string(),
            caller: office.clone(),
            valid: json!({ "schedule": schedule["schedule"] }),
            reads: "/api/v1/routines?site=demo-site".to_string(),
        },
    ];

    let mut dice = Dice(0x6a50_b0d1);
    let (mut refused, mut accepted) = (0, 0);
    for endpoint in &endpoints {
        for n in 0..60 {
            let (body, content_type) = mutate(&endpoint.valid, &mut dice);
            let before = read(&office, &endpoint.reads).await;
            let request = endpoint
                .caller
                .request(endpoint.method.clone(), &endpoint.path)
                .header("content-type", content_type)
                .body(body.clone());
            let response = request.send().await.unwrap_or_else(|e| {
                panic!("{} {} #{n}: no answer: {e}", endpoint.method, endpoint.path)
            });
            let status = response.status().as_u16();
            let text = response.text().await.expect("a body");
            let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            assert!(
                status < 500,
                "{} {} #{n} answered {status} to {shown}: {text}",
                endpoint.method,
                endpoint.path
            );
            if status >= 400 {
                refused += 1;
                let error: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
                    panic!(
                        "{} {} #{n}: {status} without a JSON error: {text}",
                        endpoint.method, endpoint.path
                    )
                });
                assert!(
                    error["error"]["code"].is_string() && error["error"]["message"].is_string(),
                    "{} {} #{n}: {text}",
                    endpoint.method,
                    endpoint.path
                );
                assert_eq!(
                    read(&office, &endpoint.reads).await,
                    before,
                    "{} {} #{n} refused {shown} but changed what it writes",
                    endpoint.method,
                    endpoint.path
                );
            } else {
                accepted += 1;
            }
        }
    }
    // Most mutations break the body; a few still make a valid one.
    assert!(refused > accepted, "{refused} refused, {accepted} accepted");
    let health = app
        .anonymous()
        .request(reqwest::Method::GET, "/healthz")
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status().as_u16(), 200);
    app.stop().await;
}
