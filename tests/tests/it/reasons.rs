//! Every refusal the office and the tablet can meet carries a stable `reason` and the
//! `params` its sentence names, so the app says it in the user's language (issue 20,
//! item 10); a body that does not fit names its field's path (`items[0].rule`) and never
//! shows serde's own text.

use std::time::Duration;

use serde_json::{Value, json};
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, TestApp, demo_areas, spawn};

walkaround_tests::on_both_databases!(every_refusal_carries_its_reason_and_params);

/// The status, `error.code`, `error.reason` and `error.params` of an answer, after checking
/// that every error body has the whole shape.
fn refusal(status: u16, body: &Value) -> (u16, &str, &str, &Value) {
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error["params"].is_object(), "{body}");
    (
        status,
        error["code"].as_str().unwrap_or_default(),
        error["reason"].as_str().unwrap_or_default(),
        &error["params"],
    )
}

/// The `(field, reason)` of each of `error.fields`.
fn fields(body: &Value) -> Vec<(String, String)> {
    body["error"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or_default().to_string(),
                        f["reason"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Breaks one field of a template.
type Breaker = fn(&mut Value);

async fn templates(app: &TestApp) -> Value {
    app.anonymous().get("/api/v1/templates").await.1
}

async fn every_refusal_carries_its_reason_and_params(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    let lead = app.as_user("li").await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let review = format!("/api/v1/violations/{id}/c8-booth-floor/review");

    // Reviews.
    let (s, b) = office.post(&review, json!({"action": "waive"})).await;
    assert_eq!(
        refusal(s, &b),
        (422, "invalid_body", "waive_needs_reason", &json!({}))
    );
    assert_eq!(b["error"]["message"], "a waiver needs a reason", "kept");
    let (s, b) = lead
        .post(&review, json!({"action": "waive", "reason": "x"}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (
            403,
            "forbidden",
            "role_not_allowed",
            &json!({"role": "team_lead"})
        )
    );
    let (s, _) = office.post(&review, json!({"action": "acknowledge"})).await;
    assert_eq!(s, 200);
    let (s, b) = office.post(&review, json!({"action": "acknowledge"})).await;
    assert_eq!(
        refusal(s, &b),
        (
            409,
            "conflict",
            "already_in_status",
            &json!({"status": "acknowledged"})
        )
    );
    let (s, b) = office
        .post(
            &format!("/api/v1/violations/{id}/no-such-key/review"),
            json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        (404, "not_found", "no_such_violation", &json!({}))
    );
    // Bodies that do not fit name the field, with a reason instead of serde's text.
    let (s, b) = office.post(&review, json!({"action": "explode"})).await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_body",
            "unknown_value",
            &json!({"field": "action"})
        )
    );
    let (s, b) = office
        .post(&review, json!({"action": "reopen", "colour": 1}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_body",
            "unknown_field",
            &json!({"field": "colour"})
        )
    );
    let (s, b) = office.post(&review, json!({"reason": "x"})).await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_body",
            "missing_field",
            &json!({"field": "action"})
        )
    );
    let (s, b) = office.post(&review, json!({"action": 7})).await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_body",
            "wrong_type",
            &json!({"field": "action"})
        )
    );
    assert!(
        !b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid type"),
        "{b}"
    );

    // Assignment.
    let assign = format!("/api/v1/violations/{id}/c8-booth-floor/responsible");
    let (s, b) = office.put(&assign, json!({"user_id": "sun"})).await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_fields",
            "not_user_of_site",
            &json!({"user": "sun", "site": "demo-site"})
        )
    );
    assert_eq!(fields(&b), [("user_id".into(), "not_user_of_site".into())]);
    let (s, _) = office.put(&assign, json!({"user_id": "li"})).await;
    assert_eq!(s, 200);
    let (s, b) = office.put(&assign, json!({"user_id": "li"})).await;
    assert_eq!(
        refusal(s, &b),
        (409, "conflict", "already_assigned", &json!({"user": "li"}))
    );

    // Users.
    let (s, b) = office.post("/api/v1/users", json!({"username": "wang", "password": "long enough", "role": "team_lead", "sites": ["demo-site"]}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (409, "conflict", "user_exists", &json!({"user": "wang"}))
    );
    assert_eq!(b["error"]["message"], "a user wang already exists", "kept");
    let (s, b) = office
        .post(
            "/api/v1/users",
            json!({"username": "bad name", "password": "short", "role": "boss", "sites": []}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        (422, "invalid_body", "invalid_username", &json!({}))
    );
    let got = fields(&b);
    let want: Vec<(String, String)> = [
        ("username", "invalid_username"),
        ("role", "unknown_role"),
        ("password", "password_too_short"),
        ("sites", "no_sites"),
    ]
    .map(|(f, r)| (f.to_string(), r.to_string()))
    .into();
    assert_eq!(got, want);
    assert_eq!(b["error"]["fields"][1]["params"], json!({"role": "boss"}));
    assert_eq!(b["error"]["fields"][2]["params"], json!({"min": 8}));
    let (s, b) = office.post("/api/v1/users", json!({"username": "zhang", "password": "long enough", "role": "team_lead", "sites": ["No Site!"]}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_body",
            "unknown_site",
            &json!({"site": "No Site!"})
        )
    );
    let (s, b) = office.post("/api/v1/users", json!({"username": "zhang", "password": "long enough", "role": "team_lead", "sites": ["site-b"]}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (
            403,
            "forbidden",
            "not_member_of_site",
            &json!({"site": "site-b"})
        )
    );
    let (s, b) = office
        .patch("/api/v1/users/nobody", json!({"role": "technician"}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (404, "not_found", "no_such_user", &json!({}))
    );
    let (s, b) = office
        .patch("/api/v1/users/li", json!({"display_name": " "}))
        .await;
    assert_eq!(
        refusal(s, &b),
        (422, "invalid_body", "display_name_empty", &json!({}))
    );
    let (s, b) = office
        .call("POST", "/api/v1/users/office/disable", None)
        .await;
    assert_eq!(
        refusal(s, &b),
        (409, "conflict", "cannot_disable_self", &json!({}))
    );
    let (s, b) = lead.get("/api/v1/users").await;
    assert_eq!(
        refusal(s, &b),
        (
            403,
            "forbidden",
            "role_not_allowed",
            &json!({"role": "team_lead"})
        )
    );

    // Queries of the office's screens.
    for (path, want) in [
        (
            "/api/v1/violations?status=lost",
            ("unknown_status", json!({"status": "lost"})),
        ),
        (
            "/api/v1/violations?role=boss",
            ("unknown_role", json!({"role": "boss"})),
        ),
        (
            "/api/v1/violations?rule=Z9",
            ("unknown_rule", json!({"rule": "Z9"})),
        ),
        (
            "/api/v1/violations?from=yesterday",
            ("bad_time", json!({"field": "from"})),
        ),
        (
            "/api/v1/violations?limit=0",
            ("bad_limit", json!({"max": 500})),
        ),
        ("/api/v1/violations?offset=-1", ("bad_offset", json!({}))),
        (
            "/api/v1/violations.csv?headers=fr",
            ("unknown_headers", json!({"headers": "fr"})),
        ),
        (
            "/api/v1/reports/monthly?month=2026-13",
            ("bad_month", json!({"month": "2026-13"})),
        ),
        (
            "/api/v1/reports/trend?weeks=99",
            ("weeks_out_of_range", json!({"min": 1, "max": 52})),
        ),
        (
            "/api/v1/routines/status?site=demo-site&from=3.1",
            ("bad_date", json!({"field": "from"})),
        ),
        (
            "/api/v1/routines/status?site=demo-site&from=2026-01-01&to=2025-01-01",
            ("bad_date_range", json!({"max_days": 93})),
        ),
    ] {
        let (s, b) = office.get(path).await;
        assert_eq!(
            refusal(s, &b),
            (400, "bad_request", want.0, &want.1),
            "{path}"
        );
    }
    let (s, b) = office.get("/api/v1/violations?site=site-b").await;
    assert_eq!(
        refusal(s, &b),
        (
            403,
            "forbidden",
            "not_member_of_site",
            &json!({"site": "site-b"})
        )
    );

    // Routine schedules.
    let (s, b) = office
        .put(
            "/api/v1/routines?site=demo-site",
            json!({"schedule": [
                {"template_id": "no-such-template", "weekday": 9, "due_minute": 2000},
            ]}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        (
            422,
            "invalid_fields",
            "unknown_template",
            &json!({"template": "no-such-template"})
        )
    );
    assert_eq!(
        fields(&b),
        [
            ("schedule[0].template_id".into(), "unknown_template".into()),
            ("schedule[0].weekday".into(), "bad_weekday".into()),
            ("schedule[0].due_minute".into(), "bad_due_minute".into()),
        ]
    );

    // Logins and tokens.
    let anonymous = app.anonymous();
    let (s, b) = anonymous
        .post(
            "/api/v1/auth/login",
            json!({"username": "wang", "password": "wrong password"}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        (401, "unauthorized", "bad_credentials", &json!({}))
    );
    let (s, b) = anonymous.get("/api/v1/users").await;
    assert_eq!(
        refusal(s, &b),
        (401, "unauthorized", "missing_token", &json!({}))
    );
    let (s, b) = anonymous
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": "nothing-like-it"}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        (401, "unauthorized", "unknown_refresh_token", &json!({}))
    );
    let r = anonymous
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("responds");
    let (s, b) = (r.status().as_u16(), r.json::<Value>().await.expect("JSON"));
    assert_eq!(
        refusal(s, &b),
        (400, "bad_request", "malformed_json", &json!({}))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_template_that_does_not_fit_names_the_field_and_why() {
    let app = spawn(Db::Sqlite).await;
    let office = app.as_user("office").await;
    let all = templates(&app).await;
    let walk = all["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["id"] == "workshop-walkaround")
        .cloned()
        .expect("the walkaround");
    let path = "/api/v1/templates/workshop-walkaround";

    let cases: [(&str, Breaker, &str); 6] = [
        (
            "items[0].rule",
            |t| t["items"][0]["rule"] = json!(5),
            "wrong_type",
        ),
        (
            "items[0].rule",
            |t| t["items"][0]["rule"] = json!("C?"),
            "invalid_value",
        ),
        (
            "items[0].rule",
            |t| {
                t["items"][0].as_object_mut().expect("item").remove("rule");
            },
            "missing_field",
        ),
        (
            "name.zh",
            |t| t["name"]["zh"] = json!(["车间"]),
            "wrong_type",
        ),
        (
            "run_by[0]",
            |t| t["run_by"] = json!(["boss"]),
            "unknown_value",
        ),
        (
            "items[2].rule",
            |t| t["items"][2]["rule"] = json!("D99"),
            "unknown_rule",
        ),
    ];
    for (field, break_it, reason) in cases {
        let mut bad = walk.clone();
        break_it(&mut bad);
        let (s, b) = office.put(path, bad).await;
        assert_eq!(
            (
                s,
                b["error"]["code"].as_str(),
                b["error"]["reason"].as_str()
            ),
            (422, Some("invalid_fields"), Some(reason)),
            "{field}: {b}"
        );
        assert_eq!(fields(&b), [(field.to_string(), reason.to_string())], "{b}");
        let message = b["error"]["fields"][0]["message"]
            .as_str()
            .unwrap_or_default();
        for serde_text in ["invalid type", "found '", "expected", "`"] {
            assert!(!message.contains(serde_text), "{field}: {message}");
        }
    }
    // Validation beyond types keeps its reasons too, one per field.
    let mut bad = walk.clone();
    bad["run_by"] = json!([]);
    bad["items"][1]["id"] = bad["items"][0]["id"].clone();
    let (s, b) = office.put(path, bad).await;
    assert_eq!(s, 422);
    assert_eq!(
        fields(&b),
        [
            ("run_by".into(), "no_roles".into()),
            ("items[1].id".into(), "duplicate_item_id".into())
        ]
    );
    app.stop().await;
}
