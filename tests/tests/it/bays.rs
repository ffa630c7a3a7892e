//! A bay marked empty again (issue 20, item 5): the answers of its occupied-only items stay
//! in the document but do not count, so the violation they made leaves the office's list
//! through the same shared rules the tablet uses, and comes back when the bay is marked
//! occupied again.

use std::time::Duration;

use serde_json::Value;
use shared::ids::{AreaId, UserId};
use shared::inspection::{AnswerValue, write};
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ApiClient, Db, PASSWORD, demo_areas, spawn};

walkaround_tests::on_both_databases!(
    a_violation_of_a_bay_marked_empty_again_leaves_the_office_and_returns
);

const KEY: &str = "c2-fender-covers@bay-4";

/// Whether the office's violation list shows the fender covers of bay 4 in `doc`.
async fn office_lists(office: &ApiClient, doc: &str) -> bool {
    let (status, list) = office.get("/api/v1/violations?site=demo-site").await;
    assert_eq!(status, 200, "{list}");
    list["violations"]
        .as_array()
        .expect("a list")
        .iter()
        .any(|v: &Value| v["doc_id"] == doc && v["answer_key"] == KEY)
}

async fn a_violation_of_a_bay_marked_empty_again_leaves_the_office_and_returns(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let user = UserId::parse("wang").expect("id");
    let bay = AreaId::parse("bay-4").expect("id");
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    let mark = |wang: &mut Tablet, occupied: bool| {
        wang.edit(&id, |doc| {
            write::set_occupied(doc, &user, chrono::Utc::now(), &bay, occupied).expect("marks");
        });
    };
    mark(&mut wang, true);
    wang.answer(&id, KEY, AnswerValue::Fail, Some("4号工位未使用叶子板护罩"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let doc = id.to_string();
    assert!(
        office_lists(&office, &doc).await,
        "the failed covers are a violation"
    );

    mark(&mut wang, false);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert!(
        !office_lists(&office, &doc).await,
        "an empty bay's covers do not count"
    );

    mark(&mut wang, true);
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    assert!(
        office_lists(&office, &doc).await,
        "the kept answer counts again once the bay is occupied again"
    );
    app.stop().await;
}
