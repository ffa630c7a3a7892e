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

// ---- every item kind, as automerge-js writes it and as Rust writes it ----

use proptest::prelude::*;
use shared::ids::{InspectionId, ItemId, SiteId};
use shared::inspection::{AnswerKey, NewInspection, PhotoRef, write};
use shared::template::{Item, Template};

/// The walkaround with one item of every kind, asked once.
fn every_kind() -> Template {
    let mut template = builtin::find(builtin::WALKAROUND).expect("built-in");
    let base = template
        .items
        .iter()
        .find(|i| i.kind == ItemKind::PassFail && i.repeat == Repeat::Once)
        .expect("a pass/fail item asked once")
        .clone();
    let kinds = [
        ("k-pass", ItemKind::PassFail),
        ("k-count", ItemKind::Count { max: 3 }),
        (
            "k-number",
            ItemKind::Number {
                min: -10.0,
                max: 100.0,
                unit: None,
            },
        ),
        ("k-text", ItemKind::Text),
        ("k-photo", ItemKind::Photo),
        ("k-signature", ItemKind::Signature),
    ];
    template.items = kinds
        .into_iter()
        .map(|(id, kind)| Item {
            id: ItemId::parse(id).expect("valid"),
            photo_required_on_fail: false,
            note_required_on_fail: false,
            fine: if kind.can_fail() {
                base.fine
            } else {
                shared::catalog::Fine::None
            },
            kind,
            ..base.clone()
        })
        .collect();
    template
}

/// A number as JavaScript hands it to automerge-js 3.5: whole numbers as `int` (but `0`,
/// and at random any other whole number, as `f64`, as some expressions produce), the rest as
/// `f64`.
fn js_number(x: f64, as_f64: bool) -> ScalarValue {
    if x.fract() == 0.0 && x != 0.0 && !as_f64 {
        ScalarValue::Int(x as i64)
    } else {
        ScalarValue::F64(x)
    }
}

fn kind_and_value() -> impl Strategy<Value = (&'static str, AnswerValue, ScalarValue)> {
    let photo = PhotoRef::parse("ab".repeat(32)).expect("valid");
    prop_oneof![
        prop::sample::select(vec!["pass", "fail", "not_applicable"]).prop_map(|s| {
            let v = match s {
                "pass" => AnswerValue::Pass,
                "fail" => AnswerValue::Fail,
                _ => AnswerValue::NotApplicable,
            };
            ("k-pass", v, ScalarValue::Str(s.into()))
        }),
        (0u32..20, any::<bool>()).prop_map(|(n, as_f64)| (
            "k-count",
            AnswerValue::Count(n),
            js_number(f64::from(n), as_f64)
        )),
        (
            prop_oneof![(-10i32..=100).prop_map(f64::from), -10.0f64..100.0],
            any::<bool>()
        )
            .prop_map(|(x, as_f64)| (
                "k-number",
                AnswerValue::Number(x),
                js_number(x, as_f64)
            )),
        ".{0,40}".prop_map(|s: String| (
            "k-text",
            AnswerValue::Text(s.clone()),
            ScalarValue::Str(s.into())
        )),
        Just(("k-photo", AnswerValue::Photo, ScalarValue::Null)),
        Just((
            "k-signature",
            AnswerValue::Signature(photo.clone()),
            ScalarValue::Str(photo.as_str().into())
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Issue 17, input 2, for every kind: a record written the way automerge-js writes it
    /// (numbers as JavaScript numbers, strings, a `Date`) is allowed by the policy and read
    /// exactly as the record Rust's writer makes for the same answer.
    #[test]
    fn every_kind_written_as_javascript_does_reads_as_rust_writes_it(
        (item, value, raw) in kind_and_value()
    ) {
        let m = manager();
        let new = NewInspection {
            id: InspectionId::parse("every-kind").expect("valid"),
            site: SiteId::parse(SITE).expect("valid"),
            template: every_kind(),
            areas: areas(),
            created_by: m.id.clone(),
            created_at: t(0),
        };
        let base = write::create(&new, actor(0)).expect("creates");
        let key = AnswerKey::parse(item).expect("key");
        let photos = [photo(1)];

        let mut rust = base.clone();
        write::answer(&mut rust, &m.id, t(1), &key, &value, None, &photos).expect("answers");
        let mut js = base.clone();
        let mut tx = js.transaction();
        let answers = match tx.get(ROOT, "answers").expect("reads") {
            Some((_, id)) => id,
            None => panic!("the layout has answers"),
        };
        let record = tx.put_object(&answers, item, ObjType::Map).expect("puts");
        if raw != ScalarValue::Null {
            tx.put(&record, "value", raw.clone()).expect("puts");
        }
        let list = tx.put_object(&record, "photos", ObjType::List).expect("puts");
        tx.insert(&list, 0, photo(1).as_str()).expect("inserts");
        tx.put(&record, "by", "wang").expect("puts");
        tx.put(&record, "at", ScalarValue::Timestamp(t(1).timestamp_millis())).expect("puts");
        tx.commit();

        for doc in [&rust, &js] {
            let verdict = judge_change(&m, &base, &last_change(doc)).map_err(|d| d.to_string());
            prop_assert_eq!(verdict, Ok(()), "{:?} as {:?}", value, raw);
        }
        let (a, b) = (read(&rust), read(&js));
        prop_assert!(b.problems.is_empty(), "{:?}", b.problems);
        let values = |i: &shared::inspection::Inspection| {
            i.answers[&key].iter().map(|r| (r.value.clone(), r.photos.clone(), r.at)).collect::<Vec<_>>()
        };
        prop_assert_eq!(values(&a), values(&b));
    }
}

#[test]
fn an_answer_names_the_device_that_wrote_it_when_its_writer_says() {
    let m = manager();
    let mut doc = create(builtin::WALKAROUND, &m);
    shared::inspection::write::answer_from(
        &mut doc,
        &m.id,
        Some("tablet-0a1b2c3d4e5f6a7b"),
        t(1),
        &key("c8-booth-floor"),
        &AnswerValue::Pass,
        None,
        &[],
    )
    .expect("answers");
    shared::inspection::write::answer(
        &mut doc,
        &m.id,
        t(2),
        &key("c8-mixing-table"),
        &AnswerValue::Pass,
        None,
        &[],
    )
    .expect("answers");
    let inspection = read(&doc);
    assert_eq!(
        inspection.answers[&key("c8-booth-floor")][0]
            .device
            .as_deref(),
        Some("tablet-0a1b2c3d4e5f6a7b")
    );
    assert_eq!(inspection.answers[&key("c8-mixing-table")][0].device, None);
    // The policy allows it like any other answer.
    let before = create(builtin::WALKAROUND, &m);
    let mut after = before.clone();
    shared::inspection::write::answer_from(
        &mut after,
        &m.id,
        Some("tablet-1"),
        t(3),
        &key("c8-booth-floor"),
        &AnswerValue::Fail,
        Some("seen"),
        &[photo(1)],
    )
    .expect("answers");
    let change = last_change(&after);
    judge_change(&m, &before, &change).expect("allowed");
}
