//! The office's screens' API: filters, who answers for a violation, CSV exports, the
//! monthly report, the weekly trend and routine schedules, with every permission denial.

use std::time::Duration;

use serde_json::{Value, json};
use shared::inspection::{AnswerValue, write};
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ApiClient, Db, PASSWORD, demo_areas, spawn};

walkaround_tests::on_both_databases!(
    violations_are_filtered_assigned_exported_and_reported,
    routines_are_scheduled_and_missed_ones_are_shown,
    a_group_office_pages_through_many_sites_in_time_order,
);

/// `GET path` as text (the CSV exports): the status, the content type and the body.
async fn text(user: &ApiClient, path: &str) -> (u16, String, String) {
    let r = user
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("responds");
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        r.status().as_u16(),
        kind,
        r.text().await.unwrap_or_default(),
    )
}

async fn violations_are_filtered_assigned_exported_and_reported(db: Db) {
    let app = spawn(db).await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    wang.answer(&id, "c9-masking", AnswerValue::Fail, Some("newspaper"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let doc = id.to_string();
    let (office, lead, manager, sun) = (
        app.as_user("office").await,
        app.as_user("li").await,
        app.as_user("wang").await,
        app.as_user("sun").await,
    );

    // Both are the workshop manager's: the only active user of the site with that role.
    let (status, body) = office.get("/api/v1/violations?person=wang").await;
    assert_eq!((status, body["total"].as_i64()), (200, Some(2)), "{body}");
    assert_eq!(body["violations"][0]["responsible_name"], "车间经理 王强");
    let (_, body) = office
        .get("/api/v1/violations?role=workshop_manager&rule=C9")
        .await;
    assert_eq!(body["total"], 1);
    let (status, body) = office.get("/api/v1/violations?role=boss").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (_, body) = office.get("/api/v1/violations?person=").await;
    assert_eq!(body["total"], 0, "nobody is unassigned yet");

    // Assigning: reviewers of the site only; the person must belong to the site.
    let path = format!("/api/v1/violations/{doc}/c9-masking/responsible");
    let (status, _) = lead.put(&path, json!({"user_id": "li"})).await;
    assert_eq!(status, 403, "a team lead does not assign");
    let (status, _) = sun.put(&path, json!({"user_id": "sun"})).await;
    assert_eq!(status, 404, "another site's violation is not there");
    let (status, body) = office.put(&path, json!({"user_id": "sun"})).await;
    assert_eq!(
        (status, body["error"]["fields"][0]["field"].as_str()),
        (422, Some("user_id")),
        "{body}"
    );
    let (status, _) = manager.put(&path, json!({"user_id": "li"})).await;
    assert_eq!(status, 200);
    let (_, body) = office
        .get(&format!("/api/v1/violations/{doc}/c9-masking/reviews"))
        .await;
    assert_eq!(body["assignments"][0]["after_user"], "li", "{body}");
    assert_eq!(body["assignments"][0]["before_user"], "wang");
    let (_, body) = office.get("/api/v1/violations?person=li").await;
    assert_eq!(body["total"], 1);
    // A later sync of the inspection keeps the office's assignment.
    wang.answer(&id, "c1-visitors", AnswerValue::Pass, None);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let (_, body) = office.get("/api/v1/violations?person=li").await;
    assert_eq!(body["total"], 1);

    // The waiver shows in the report and the exports.
    let (status, _) = office
        .post(
            &format!("/api/v1/violations/{doc}/c8-booth-floor/review"),
            json!({"action": "waive", "reason": "first time"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, report) = office.get("/api/v1/reports/monthly?site=demo-site").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"]["violations"], 2);
    assert_eq!(report["total"]["waived"], 1);
    let people: Vec<&str> = report["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|p| p["user_id"].as_str())
        .collect();
    assert_eq!(people.len(), 2, "{report}");
    assert!(people.contains(&"li") && people.contains(&"wang"));
    let (status, kind, csv) = text(&office, "/api/v1/reports/monthly.csv?site=demo-site").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(
        csv.starts_with('\u{feff}'),
        "a byte-order mark for spreadsheet programs"
    );
    assert!(csv.contains("li,班组长 李军,C9,"), "{csv}");
    let (_, _, csv) = text(&office, "/api/v1/violations.csv?status=waived").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",waived,") && lines[1].contains("rags"),
        "{csv}"
    );
    let (status, _) = sun.get("/api/v1/reports/monthly?site=demo-site").await;
    assert_eq!(status, 403, "another site's report");
    let (status, _) = office.get("/api/v1/reports/monthly?month=2026-13").await;
    assert_eq!(status, 400);

    let (status, trend) = office.get("/api/v1/reports/trend?weeks=4").await;
    assert_eq!(status, 200);
    assert_eq!(trend["weeks"].as_array().map(Vec::len), Some(4));
    assert_eq!(trend["by_rule"]["C8"][3], 1, "{trend}");
    let (status, _) = office.get("/api/v1/reports/trend?weeks=0").await;
    assert_eq!(status, 400);
    let (status, body) = lead.get("/api/v1/people?site=demo-site").await;
    assert_eq!(status, 200);
    assert!(body["people"].as_array().is_some_and(|p| p.len() >= 7));
    app.stop().await;
}

async fn routines_are_scheduled_and_missed_ones_are_shown(db: Db) {
    let app = spawn(db).await;
    let (office, lead, sun) = (
        app.as_user("office").await,
        app.as_user("li").await,
        app.as_user("sun").await,
    );
    let (status, body) = office.get("/api/v1/routines?site=demo-site").await;
    assert_eq!(
        (status, body["schedule"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    let schedule = json!({"schedule": [
        {"template_id": "closing-routine", "weekday": null, "due_minute": 1439},
        {"template_id": "parts-store-audit", "weekday": 5, "due_minute": 1020}
    ]});
    let (status, _) = lead
        .put("/api/v1/routines?site=demo-site", schedule.clone())
        .await;
    assert_eq!(status, 403, "a team lead does not set schedules");
    let (status, _) = sun
        .put("/api/v1/routines?site=demo-site", schedule.clone())
        .await;
    assert_eq!(status, 403, "nor does another site's office");
    let bad = json!({"schedule": [
        {"template_id": "no-such", "weekday": 9, "due_minute": 1440}
    ]});
    let (status, body) = office.put("/api/v1/routines?site=demo-site", bad).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "schedule[0].template_id",
            "schedule[0].weekday",
            "schedule[0].due_minute"
        ]
    );
    let (status, body) = office
        .put("/api/v1/routines?site=demo-site", schedule)
        .await;
    assert_eq!(
        (status, body["schedule"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{body}"
    );

    // Today's closing routine, submitted: done (its deadline is 23:59). Yesterday's was
    // never started: missed.
    let mut li = Tablet::login(&app, "li", PASSWORD).await;
    let id = li.create("closing-routine", "demo-site", demo_areas());
    let keys = {
        let (doc, _) = &li.docs[&id];
        shared::inspection::read(doc)
            .expect("reads")
            .expected_keys()
    };
    for key in keys {
        li.answer(&id, &key.to_string(), AnswerValue::Pass, None);
    }
    let user = li.user.clone();
    li.edit(&id, |doc| {
        write::submit(doc, &user, chrono::Utc::now()).expect("submits");
    });
    assert!(li.sync_until_acked(Duration::from_secs(10)).await);
    let (status, body) = lead.get("/api/v1/routines/status?site=demo-site").await;
    assert_eq!(status, 200, "{body}");
    let closing: Vec<&Value> = body["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .filter(|o| o["template_id"] == "closing-routine")
        .collect();
    assert_eq!(closing.len(), 7, "one a day for a week");
    let today = closing.last().expect("today");
    assert_eq!(today["status"], "done", "{today}");
    assert_eq!(today["doc_id"], id.to_string());
    assert_eq!(closing[5]["status"], "missed");
    assert!(body["missed"].as_i64().is_some_and(|m| m >= 6));
    let (status, _) = sun.get("/api/v1/routines/status?site=demo-site").await;
    assert_eq!(status, 403);
    let (status, _) = lead
        .get("/api/v1/routines/status?site=demo-site&from=2026-12-01&to=2026-11-01")
        .await;
    assert_eq!(status, 400);
    let (_, report) = office.get("/api/v1/reports/monthly?site=demo-site").await;
    let closing_missed = report["routines"]
        .as_array()
        .expect("routines")
        .iter()
        .find(|r| r["template_id"] == "closing-routine")
        .and_then(|r| r["missed"].as_i64());
    assert!(closing_missed.is_some(), "{report}");
    app.stop().await;
}

/// The list merges the sites' newest-first ranges; its pages must equal one global
/// ordering, and a broad filter's count stops at 10,000 and says so.
async fn a_group_office_pages_through_many_sites_in_time_order(db: Db) {
    use std::collections::BTreeSet;

    use server::store::users::UserRecord;
    use shared::ids::{SiteId, UserId};

    let app = spawn(db).await;
    let store = &app.state.store;
    let sites: Vec<String> = (0..3).map(|s| format!("group-{s}")).collect();
    for site in &sites {
        store
            .add_site(&shared::site::Site {
                id: SiteId::parse(site.clone()).expect("valid"),
                name: site.clone(),
                areas: demo_areas(),
            })
            .await
            .expect("adds");
    }
    store
        .add_user(&UserRecord {
            id: UserId::parse("group-office").expect("valid"),
            username: "group-office".into(),
            display_name: "集团办公室".into(),
            role: shared::role::Role::OfficeAdmin,
            password_hash: server::auth::hash_password(PASSWORD).expect("hashes"),
            disabled: false,
            sites: sites
                .iter()
                .map(|s| SiteId::parse(s.clone()).expect("valid"))
                .collect::<BTreeSet<_>>(),
        })
        .await
        .expect("adds");
    let end = chrono::Utc::now().timestamp_millis();
    walkaround_tests::bulk::violations(store, 10_500, &sites, 3, end - 90 * 86_400_000, end).await;
    let token = app.as_user("group-office").await;

    let (status, body) = token.get("/api/v1/violations?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["total"].as_i64(), body["total_exact"].as_bool()),
        (Some(10_000), Some(false))
    );
    let (_, body) = token.get("/api/v1/violations?rule=C2&limit=10").await;
    assert_eq!(
        body["total_exact"], true,
        "a narrow filter is counted exactly"
    );

    let expected: Vec<(String, String)> = match store {
        server::store::Store::Sqlite(pool, _) => sqlx::query_as(
            "select doc_id, answer_key from violations order by recorded_at desc, doc_id, answer_key limit 300 offset 4000",
        )
        .fetch_all(pool)
        .await
        .expect("reads"),
        server::store::Store::Postgres(pool) => sqlx::query_as(
            "select doc_id, answer_key from violations order by recorded_at desc, doc_id, answer_key limit 300 offset 4000",
        )
        .fetch_all(pool)
        .await
        .expect("reads"),
    };
    let (_, body) = token.get("/api/v1/violations?limit=300&offset=4000").await;
    let got: Vec<(String, String)> = body["violations"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|v| {
            (
                v["doc_id"].as_str().expect("id").to_string(),
                v["answer_key"].as_str().expect("key").to_string(),
            )
        })
        .collect();
    assert_eq!(got.len(), 300);
    assert_eq!(got, expected, "the merged pages follow one ordering");
    app.stop().await;
}
