//! CSV exports hold no formula a spreadsheet would evaluate (issue 16, input 2): notes
//! typed on a tablet and names typed in the office that start with `=`, `+`, `-`, `@`, a
//! tab or a carriage return reach every export as text, with a leading `'`.

use std::time::Duration;

use serde_json::json;
use shared::inspection::AnswerValue;
use walkaround_tests::tablet::{Tablet, access_token};
use walkaround_tests::{ANSWER_KEYS, Db, PASSWORD, TestApp, demo_areas, spawn};

walkaround_tests::on_both_databases!(every_export_neutralises_cells_a_spreadsheet_would_evaluate);

/// What people type that spreadsheets evaluate, one per answer.
const FORMULAS: [&str; 6] = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1"];

/// The export at `path`, parsed: header first, then each record.
async fn export(app: &TestApp, token: &str, path: &str) -> Vec<Vec<String>> {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
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
    let office = access_token(&app, "office", PASSWORD).await;
    // The workshop manager answers for the workshop rules; the office names him a formula.
    let r = app
        .client
        .patch(app.url("/api/v1/users/wang"))
        .bearer_auth(&office)
        .json(&json!({ "display_name": "=HYPERLINK(\"http://evil/\",\"x\")" }))
        .send()
        .await
        .expect("responds");
    assert_eq!(r.status().as_u16(), 200);

    let mut wang = Tablet::login(&app, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    for (key, note) in ANSWER_KEYS.iter().zip(FORMULAS) {
        wang.answer(&id, key, AnswerValue::Fail, Some(note));
    }
    assert!(wang.sync_until_acked(Duration::from_secs(10)).await);

    // The violations export: every note arrives, as text.
    let rows = export(&app, &office, "/api/v1/violations.csv?site=demo-site").await;
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
    let rows = export(&app, &office, "/api/v1/reports/monthly.csv?site=demo-site").await;
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
