//! Time from a tablet is evidence, not truth (issue 17, input 4): a closing routine stamped
//! tomorrow 17:00–17:10 China Standard Time by a tablet whose clock is a day ahead is
//! accepted (refusing would strand an honest tablet), but recorded at the server's receive
//! time: tomorrow's routine is not done, the fine is in this month, and the office sees how
//! far the tablet's clock was ahead. A later recomputation keeps the time first judged.

use std::time::Duration;

use chrono::{Days, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};
use shared::inspection::{AnswerValue, NewInspection, PhotoRef, write};
use shared::template::ItemKind;
use shared::time::CHINA;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{Db, PASSWORD, demo_areas, spawn};

walkaround_tests::on_both_databases!(a_tablet_clock_a_day_ahead_is_recorded_at_the_servers_time);

async fn a_tablet_clock_a_day_ahead_is_recorded_at_the_servers_time(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    let (status, _) = office.put("/api/v1/routines?site=demo-site", json!({"schedule": [{"template_id": "closing-routine", "weekday": null, "due_minute": 1110}]}))
    .await;
    assert_eq!(status, 200);

    // Tomorrow 17:00 China Standard Time, on the tablet's clock.
    let today = Utc::now().with_timezone(&CHINA).date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).expect("date");
    let at = |minute: u32| {
        CHINA
            .from_local_datetime(
                &tomorrow.and_time(NaiveTime::from_hms_opt(17, minute, 0).expect("time")),
            )
            .single()
            .expect("time")
            .with_timezone(&Utc)
    };

    let mut lead = Tablet::login(&app, "li", PASSWORD).await;
    lead.connect(&app).await;
    let id = lead.create("closing-routine", "demo-site", demo_areas());
    let user = shared::ids::UserId::parse("li").expect("id");
    let photo = [PhotoRef::parse("ab".repeat(32)).expect("valid")];
    let mut failed = None;
    lead.edit(&id, |doc| {
        let new = NewInspection {
            id: shared::ids::InspectionId::parse(id.to_string()).expect("id"),
            site: shared::ids::SiteId::parse("demo-site").expect("site"),
            template: shared::builtin::find("closing-routine").expect("built-in"),
            areas: demo_areas(),
            created_by: user.clone(),
            created_at: at(0),
        };
        *doc = write::create(&new, automerge::ActorId::random()).expect("creates");
        let inspection = shared::inspection::read(doc).expect("reads");
        for (n, key) in inspection.expected_keys().into_iter().enumerate() {
            let kind = inspection
                .template
                .item(&key.item)
                .expect("item")
                .kind
                .clone();
            let value = match kind {
                ItemKind::Count { .. } => AnswerValue::Count(0),
                ItemKind::PassFail if failed.is_none() => {
                    failed = Some(key.to_string());
                    AnswerValue::Fail
                }
                _ => AnswerValue::Pass,
            };
            let minute = u32::try_from(1 + n % 8).expect("small");
            write::answer(doc, &user, at(minute), &key, &value, Some("灯未关"), &photo)
                .expect("answers");
        }
    });
    let failed = failed.expect("the closing routine asks a pass/fail item");
    let before = Utc::now().timestamp_millis();
    assert!(
        lead.sync_until_acked(Duration::from_secs(10)).await,
        "accepted, not refused"
    );
    let received = Utc::now().timestamp_millis();

    let violation = |list: &Value| -> Value {
        list["violations"]
            .as_array()
            .expect("list")
            .iter()
            .find(|v| v["doc_id"] == id.to_string() && v["answer_key"] == failed.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("the failed item {failed} is a violation: {list}"))
    };
    let (status, list) = office.get("/api/v1/violations?site=demo-site").await;
    assert_eq!(status, 200, "{list}");
    let first = violation(&list);
    let recorded = first["recorded_at"].as_i64().expect("ms");
    assert!(
        (before..=received).contains(&recorded),
        "recorded at the receive time: {first}"
    );
    // Ahead by the tablet's stamp (tomorrow 17:01–17:08) less the receive time: between
    // about 0 and 41 hours, whatever the time of day the test runs at.
    let ahead = first["clock_ahead_ms"].as_i64().expect("flagged");
    let (earliest, latest) = (
        at(0).timestamp_millis() - received,
        at(9).timestamp_millis() - before,
    );
    assert!(
        (earliest..=latest).contains(&ahead) && ahead > projection_tolerance_ms(),
        "ahead by the tablet's stamp less the receive time ({earliest}..={latest}): {ahead}"
    );

    // The submission comes later, still stamped tomorrow; the recomputed projection keeps the
    // violation's time as first judged, and the submission is recorded at its receive time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    lead.edit(&id, |doc| {
        write::submit(doc, &user, at(10)).expect("submits");
    });
    let submit_from = Utc::now().timestamp_millis();
    assert!(
        lead.sync_until_acked(Duration::from_secs(10)).await,
        "accepted, not refused"
    );
    let submit_to = Utc::now().timestamp_millis();
    let (_, list) = office.get("/api/v1/violations?site=demo-site").await;
    assert_eq!(
        violation(&list)["recorded_at"],
        first["recorded_at"],
        "kept as first judged"
    );
    assert_eq!(violation(&list)["clock_ahead_ms"], first["clock_ahead_ms"]);

    // Tomorrow's closing routine is not done by today's work; today's occurrence holds it.
    let (status, routines) = office
        .get(&format!(
            "/api/v1/routines/status?site=demo-site&from={today}&to={tomorrow}"
        ))
        .await;
    assert_eq!(status, 200, "{routines}");
    let occurrences = routines["occurrences"].as_array().expect("list");
    let on = |date: chrono::NaiveDate| {
        occurrences
            .iter()
            .find(|o| o["template_id"] == "closing-routine" && o["date"] == date.to_string())
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_ne!(
        on(tomorrow)["status"],
        "done",
        "tomorrow is not done today: {routines}"
    );
    let todays = on(today);
    assert_eq!(todays["doc_id"], id.to_string(), "{routines}");
    let submitted = todays["submitted_at"].as_i64().expect("submitted");
    assert!((submit_from..=submit_to).contains(&submitted), "{todays}");

    // The fine counts today (this month's report), not tomorrow (next month's, on the 30th).
    let (status, later) = office
        .get(&format!(
            "/api/v1/violations?site=demo-site&from={tomorrow}"
        ))
        .await;
    assert_eq!(status, 200, "{later}");
    assert!(
        !later["violations"]
            .as_array()
            .expect("list")
            .iter()
            .any(|v| v["doc_id"] == id.to_string()),
        "nothing of it is dated tomorrow: {later}"
    );
    let (_, todays) = office
        .get(&format!(
            "/api/v1/violations?site=demo-site&from={today}&to={tomorrow}"
        ))
        .await;
    violation(&todays);
    app.stop().await;
}

/// The tolerance beyond which a tablet's clock counts as ahead (the projection's).
fn projection_tolerance_ms() -> i64 {
    server::store::projection::CLOCK_TOLERANCE_MS
}
