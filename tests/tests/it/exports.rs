//! CSV exports hold no formula a spreadsheet would evaluate (issue 16, input 2): notes
//! typed on a tablet and names typed in the office that start with `=`, `+`, `-`, `@`, a
//! tab or a carriage return reach every export as text, with a leading `'`. The office
//! reads Chinese headers and people's names by default; `?headers=codes` gives the English
//! code headers scripts read, with the same columns in the same order (issue 20, item 14).

use std::time::Duration;

use serde_json::json;
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::Tablet;
use walkaround_tests::{ANSWER_KEYS, ApiClient, Db, PASSWORD, demo_areas, spawn};

walkaround_tests::on_both_databases!(
    every_export_neutralises_cells_a_spreadsheet_would_evaluate,
    the_office_reads_exports_with_chinese_headers_and_names
);

/// What people type that spreadsheets evaluate, one per answer.
const FORMULAS: [&str; 6] = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1"];

/// The export at `path`, parsed: header first, then each record.
async fn export(user: &ApiClient, path: &str) -> Vec<Vec<String>> {
    let r = user
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 200, "{path}");
    let text = r.text().await.expect("text");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

/// No cell of `rows` starts with a character that makes a spreadsheet evaluate it.
fn assert_inert(rows: &[Vec<String>], what: &str) {
    for row in rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{what}: {cell:?} in {row:?}"
            );
        }
    }
}

async fn every_export_neutralises_cells_a_spreadsheet_would_evaluate(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    // The workshop manager answers for the workshop rules; the office names him a formula.
    let (status, _) = office
        .patch(
            "/api/v1/users/wang",
            json!({ "display_name": "=HYPERLINK(\"http://evil/\",\"x\")" }),
        )
        .await;
    assert_eq!(status, 200);

    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    for (key, note) in ANSWER_KEYS.iter().zip(FORMULAS) {
        wang.answer(&id, key, AnswerValue::Fail, Some(note));
    }
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);

    // The violations export: every note arrives, as text.
    let rows = export(
        &office,
        "/api/v1/violations.csv?site=demo-site&headers=codes",
    )
    .await;
    assert_eq!(rows.len(), 1 + FORMULAS.len(), "{rows:?}");
    let column = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("a column {name}"))
    };
    let (note, person) = (column("note"), column("responsible_name"));
    let mut notes: Vec<&str> = rows[1..].iter().map(|r| r[note].as_str()).collect();
    notes.sort_unstable();
    let mut expected: Vec<String> = FORMULAS.iter().map(|f| format!("'{f}")).collect();
    expected.sort_unstable();
    assert_eq!(notes, expected);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[person] == "'=HYPERLINK(\"http://evil/\",\"x\")"),
        "{rows:?}"
    );
    assert_inert(&rows, "violations.csv");

    // The monthly report export: the person's name, on each of their lines.
    let rows = export(
        &office,
        "/api/v1/reports/monthly.csv?site=demo-site&headers=codes",
    )
    .await;
    let name = rows[0]
        .iter()
        .position(|h| h == "name")
        .expect("a name column");
    assert!(
        rows.iter()
            .any(|r| r[name] == "'=HYPERLINK(\"http://evil/\",\"x\")"),
        "{rows:?}"
    );
    assert_inert(&rows, "monthly.csv");
    app.stop().await;
}

/// The violations export's columns as they always were, then the names.
const VIOLATION_CODES: [&str; 20] = [
    "recorded_at",
    "site",
    "rule",
    "rule_title",
    "area",
    "item",
    "responsible_role",
    "responsible_user",
    "responsible_name",
    "occurrences",
    "fine_type",
    "fine_yuan",
    "status",
    "recorded_by",
    "note",
    "inspection",
    "responsible_role_name",
    "fine_type_name",
    "status_name",
    "recorded_by_name",
];

const MONTHLY_CODES: [&str; 11] = [
    "month",
    "user_id",
    "name",
    "rule",
    "rule_title",
    "violations",
    "fine_yuan",
    "waived",
    "waived_yuan",
    "dismissal_reviews",
    "tools_to_replace",
];

async fn the_office_reads_exports_with_chinese_headers_and_names(db: Db) {
    let app = spawn(db).await;
    let office = app.as_user("office").await;
    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    wang.answer(&id, "c8-booth-floor", AnswerValue::Fail, Some("rags"));
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);
    let (status, _) = office
        .post(
            &format!("/api/v1/violations/{id}/c8-booth-floor/review"),
            json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, wang_user) = office.get("/api/v1/users").await;
    let wang_name = wang_user["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == "wang")
        .and_then(|u| u["display_name"].as_str())
        .expect("wang's name")
        .to_string();
    assert_ne!(wang_name, "wang", "the demo names people");

    // By default: Chinese headers, the codes in the same columns as always, names after.
    let zh = export(&office, "/api/v1/violations.csv?site=demo-site").await;
    assert_eq!(
        zh[0],
        [
            "记录时间",
            "门店",
            "条款",
            "条款名称",
            "区域",
            "检查项",
            "责任岗位代码",
            "责任人账号",
            "责任人",
            "次数",
            "罚款类型代码",
            "罚款金额（元）",
            "状态代码",
            "记录人账号",
            "备注",
            "所属检查",
            "责任岗位",
            "罚款类型",
            "状态",
            "记录人"
        ]
    );
    let codes = export(
        &office,
        "/api/v1/violations.csv?site=demo-site&headers=codes",
    )
    .await;
    assert_eq!(codes[0], VIOLATION_CODES);
    assert_eq!(zh[1..], codes[1..], "only the header row differs");
    let row = &zh[1];
    let at = |code: &str| {
        let i = VIOLATION_CODES
            .iter()
            .position(|c| *c == code)
            .expect("a column");
        row[i].as_str()
    };
    assert_eq!(
        (
            at("rule"),
            at("status"),
            at("recorded_by"),
            at("responsible_role")
        ),
        ("C8", "acknowledged", "wang", "workshop_manager")
    );
    assert_eq!(
        (
            at("status_name"),
            at("recorded_by_name"),
            at("responsible_role_name")
        ),
        ("已确认", wang_name.as_str(), "车间经理")
    );

    // The monthly report: Chinese headers by default, the codes on request, same cells.
    let zh = export(&office, "/api/v1/reports/monthly.csv?site=demo-site").await;
    assert_eq!(
        zh[0],
        [
            "月份",
            "责任人账号",
            "责任人",
            "条款",
            "条款名称",
            "违规数",
            "应罚金额（元）",
            "免罚数",
            "免罚金额（元）",
            "开除审查",
            "照价赔偿"
        ]
    );
    let codes = export(
        &office,
        "/api/v1/reports/monthly.csv?site=demo-site&headers=codes",
    )
    .await;
    assert_eq!(codes[0], MONTHLY_CODES);
    assert_eq!(zh[1..], codes[1..]);
    assert!(
        zh.iter()
            .any(|r| r[1] == "wang" && r[2] == wang_name && r[3] == "C8" && r[5] == "1"),
        "{zh:?}"
    );
    app.stop().await;
}
