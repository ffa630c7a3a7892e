//! Values as real automerge implementations write them: JavaScript has one number type, and
//! automerge-js 3.5 stores `0` (and other whole numbers from some expressions) as `f64`. The
//! reader and the policy accept every whole number for counts, layouts and times, and refuse
//! what is not one (issue 17, input 2; docs/INSPECTION-DOCUMENT.md "Numbers").

mod support;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc, ScalarValue};
use shared::builtin;
use shared::inspection::AnswerValue;
use shared::policy::judge_change;
use shared::template::{ItemKind, Repeat};
use support::*;

/// The walkaround's first count item asked once, and its key.
fn count_key() -> String {
    let template = builtin::find(builtin::WALKAROUND).expect("built-in");
    let item = template
        .items
        .iter()
        .find(|i| matches!(i.kind, ItemKind::Count { .. }) && i.repeat == Repeat::Once)
        .expect("the walkaround counts something once");
    item.id.to_string()
}

/// Writes an answer record whose `value` is `raw`, as a JavaScript client would, and returns
/// the judged verdict and what the reader makes of it.
fn write_raw(raw: ScalarValue) -> (Result<(), String>, Result<AnswerValue, String>) {
    let m = manager();
    let mut doc = create(builtin::WALKAROUND, &m);
    let before = doc.clone();
    let item = count_key();
    let mut tx = doc.transaction();
    let answers = match tx.get(ROOT, "answers").expect("reads") {
        Some((_, id)) => id,
        None => panic!("the layout has answers"),
    };
    let record = tx
        .put_object(&answers, item.as_str(), ObjType::Map)
        .expect("puts");
    tx.put(&record, "value", raw).expect("puts");
    tx.put_object(&record, "photos", ObjType::List)
        .expect("puts");
    tx.put(&record, "by", "wang").expect("puts");
    tx.put(
        &record,
        "at",
        ScalarValue::Timestamp(t(1).timestamp_millis()),
    )
    .expect("puts");
    tx.commit();
    let verdict = judge_change(&m, &before, &last_change(&doc)).map_err(|d| d.to_string());
    let read = shared::inspection::read(&doc).expect("reads");
    let value = match read.answers.get(&key(&item)) {
        Some(records) if records.len() == 1 => Ok(records[0].value.clone()),
        _ => Err(format!("{:?}", read.problems)),
    };
    (verdict, value)
}

#[test]
fn a_count_written_as_a_whole_f64_is_a_count() {
    for (raw, n) in [(0.0, 0), (-0.0, 0), (2.0, 2), (4.0, 4)] {
        let (verdict, value) = write_raw(ScalarValue::F64(raw));
        assert_eq!(verdict, Ok(()), "{raw} is accepted");
        assert_eq!(value, Ok(AnswerValue::Count(n)), "{raw} reads as {n}");
    }
    // int and uint, as Rust and JavaScript write other whole numbers, read the same.
    assert_eq!(write_raw(ScalarValue::Int(2)).1, Ok(AnswerValue::Count(2)));
    assert_eq!(write_raw(ScalarValue::Uint(2)).1, Ok(AnswerValue::Count(2)));
}

#[test]
fn a_count_that_is_not_a_whole_non_negative_number_is_refused() {
    for raw in [
        ScalarValue::F64(2.5),
        ScalarValue::F64(-1.0),
        ScalarValue::F64(f64::NAN),
        ScalarValue::F64(f64::INFINITY),
        ScalarValue::F64(1e300),
        ScalarValue::Int(-1),
        ScalarValue::Str("2".into()),
    ] {
        let (verdict, value) = write_raw(raw.clone());
        assert!(verdict.is_err(), "{raw:?} is refused");
        assert!(value.is_err(), "{raw:?} is not read as a count");
    }
}

#[test]
fn times_and_layout_written_as_whole_f64s_are_read() {
    let m = manager();
    let mut doc = create(builtin::WALKAROUND, &m);
    let mut tx = doc.transaction();
    tx.put(ROOT, "layout", ScalarValue::F64(1.0)).expect("puts");
    tx.put(
        ROOT,
        "created_at",
        ScalarValue::F64(t(0).timestamp_millis() as f64),
    )
    .expect("puts");
    tx.commit();
    let read = read(&doc);
    assert_eq!(read.created_at, t(0));
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert!(doc.get(ROOT, "layout").expect("reads").is_some());
}
