//! The rules: every template, every rule, fines, conflicts and late answers.

mod support;

use shared::builtin::{self, CLOSING, FRONT_DESK, LUNCH, OPENING, PARTS_AUDIT, WALKAROUND};
use shared::catalog::Fine;
use shared::inspection::{AnswerValue, write};
use shared::role::Role;
use shared::rules::{FineDue, evaluate, total_yuan};
use shared::template::{ItemKind, Repeat};
use support::*;

/// A failing value for an item kind, with the occurrences it should count.
fn failing(kind: &ItemKind) -> Option<(AnswerValue, u32)> {
    match kind {
        ItemKind::PassFail => Some((AnswerValue::Fail, 1)),
        ItemKind::Count { max } => Some((AnswerValue::Count(max + 2), 2)),
        ItemKind::Number { max, .. } => Some((AnswerValue::Number(max + 1.0), 1)),
        _ => None,
    }
}

fn passing(kind: &ItemKind) -> AnswerValue {
    match kind {
        ItemKind::PassFail => AnswerValue::Pass,
        ItemKind::Count { max } => AnswerValue::Count(*max),
        ItemKind::Number { min, .. } => AnswerValue::Number(*min),
        ItemKind::Text => AnswerValue::Text("ok".into()),
        ItemKind::Photo => AnswerValue::Photo,
        ItemKind::Signature => AnswerValue::Signature(photo(9)),
    }
}

fn runner(template: &str) -> shared::policy::User {
    let role = builtin::find(template).expect("built-in").run_by[0];
    user("runner", role)
}

#[test]
fn every_template_with_every_item_passing_has_no_violations_and_can_be_submitted() {
    for tpl in builtin::templates() {
        let who = runner(tpl.id.as_str());
        let mut doc = create(tpl.id.as_str(), &who);
        for bay in ["bay-1", "bay-2"] {
            write::set_occupied(&mut doc, &who.id, t0(), &bay.parse().expect("id"), true)
                .expect("marks");
        }
        let inspection = read(&doc);
        for k in inspection.expected_keys() {
            let kind = &inspection.template.item(&k.item).expect("item").kind;
            answer(&mut doc, &who, 1, &k.to_string(), passing(kind));
        }
        let inspection = read(&doc);
        assert_eq!(evaluate(&inspection), vec![], "{}", tpl.id);
        assert_eq!(
            inspection.submission_problems(),
            Vec::<String>::new(),
            "{}",
            tpl.id
        );
        write::submit(&mut doc, &who.id, t(2)).expect("submits");
        assert!(read(&doc).submitted.is_some());
    }
}

fn t0() -> chrono::DateTime<chrono::Utc> {
    t(0)
}

#[test]
fn every_item_that_can_fail_gives_one_violation_of_its_rule_with_its_fine() {
    for tpl in builtin::templates() {
        let who = runner(tpl.id.as_str());
        for item in tpl.items.iter() {
            let Some((value, occurrences)) = failing(&item.kind) else {
                continue;
            };
            let mut doc = create(tpl.id.as_str(), &who);
            let k = match item.repeat.area_kind() {
                None => item.id.to_string(),
                Some(shared::site::AreaKind::Bay) => format!("{}@bay-2", item.id),
                Some(shared::site::AreaKind::Room) => format!("{}@tool-room", item.id),
                Some(shared::site::AreaKind::Entrance) => format!("{}@east-gate", item.id),
            };
            if item.repeat == Repeat::PerOccupiedBay {
                // Answers for an occupied bay count only while it is occupied.
                let bay = "bay-2".parse().expect("id");
                write::set_occupied(&mut doc, &who.id, t(4), &bay, true).expect("marks");
            }
            answer(&mut doc, &who, 5, &k, value);
            let violations = evaluate(&read(&doc));
            assert_eq!(violations.len(), 1, "{} {}", tpl.id, item.id);
            let v = &violations[0];
            assert_eq!(v.rule, item.rule);
            assert_eq!(v.item, item.id);
            assert_eq!(v.site.as_str(), SITE);
            assert_eq!(v.responsible, item.responsible);
            assert_eq!(v.occurrences, occurrences);
            assert_eq!(
                v.area.as_ref().map(|a| a.id.to_string()),
                k.split_once('@').map(|(_, a)| a.to_string())
            );
            let expected = match item.fine {
                Fine::None => FineDue::None,
                Fine::PerOccurrence { yuan } => FineDue::Yuan {
                    amount: u64::from(yuan * occurrences),
                },
                Fine::DismissalReview => FineDue::DismissalReview,
                Fine::ReplaceTool => FineDue::ReplaceTool,
            };
            assert_eq!(v.fine, expected, "{} {}", tpl.id, item.id);
            assert_eq!(v.evidence.len(), 1);
            assert_eq!(v.evidence[0].by, who.id);
            assert_eq!(v.evidence[0].note.as_deref(), Some("seen"));
            assert_eq!(v.evidence[0].photos, vec![photo(1)]);
            assert_eq!(v.recorded_at, t(5));
            assert!(!v.conflict && !v.after_submission);
        }
    }
}

#[test]
fn two_unsigned_quotes_at_thirty_yuan_cost_sixty() {
    let who = user("yuan", Role::PartsManager);
    let mut doc = create(PARTS_AUDIT, &who);
    answer(
        &mut doc,
        &who,
        1,
        "d3-unsigned-quotes",
        AnswerValue::Count(2),
    );
    let v = evaluate(&read(&doc));
    assert_eq!(v[0].rule.as_str(), "D3");
    assert_eq!(v[0].occurrences, 2);
    assert_eq!(v[0].fine, FineDue::Yuan { amount: 60 });
    assert_eq!(total_yuan(&v), 60);
}

#[test]
fn b5_counts_discounts_over_five_without_a_fine_and_fines_each_unreported_order() {
    let who = user("fang", Role::ServiceManager);
    let mut doc = create(FRONT_DESK, &who);
    answer(&mut doc, &who, 1, "b5-discounts", AnswerValue::Count(5));
    assert!(
        evaluate(&read(&doc)).is_empty(),
        "five discounts are within the allowance"
    );
    answer(&mut doc, &who, 2, "b5-discounts", AnswerValue::Count(7));
    answer(&mut doc, &who, 3, "b5-unreported", AnswerValue::Count(3));
    answer(&mut doc, &who, 4, "b6-low-margin", AnswerValue::Count(1));
    answer(
        &mut doc,
        &who,
        5,
        "b4-hidden-complaints",
        AnswerValue::Count(2),
    );
    let v = evaluate(&read(&doc));
    let by_item: Vec<(&str, u32, u64)> = v
        .iter()
        .map(|v| (v.item.as_str(), v.occurrences, v.fine.yuan()))
        .collect();
    assert_eq!(
        by_item,
        [
            ("b4-hidden-complaints", 2, 40),
            ("b5-discounts", 2, 0),
            ("b5-unreported", 3, 60),
            ("b6-low-margin", 1, 50)
        ]
    );
    assert_eq!(total_yuan(&v), 150);
    assert!(v.iter().all(|v| v.responsible == Role::ServiceManager));
}

#[test]
fn the_oil_drain_cart_may_hold_three_filters_but_not_four() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    answer(&mut doc, &m, 1, "c7-oil-filters", AnswerValue::Count(3));
    assert!(evaluate(&read(&doc)).is_empty());
    answer(&mut doc, &m, 2, "c7-oil-filters", AnswerValue::Count(4));
    let v = evaluate(&read(&doc));
    assert_eq!(
        (v[0].rule.as_str(), v[0].occurrences, v[0].fine),
        ("C7", 1, FineDue::None)
    );
}

#[test]
fn fluids_kept_back_flag_a_dismissal_review_and_a_lost_tool_is_the_borrowers() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    answer(&mut doc, &m, 1, "c3-fluids-fitted", AnswerValue::Fail);
    let v = evaluate(&read(&doc));
    assert_eq!(v[0].fine, FineDue::DismissalReview);
    assert_eq!(v[0].fine.yuan(), 0);

    let p = user("yuan", Role::PartsManager);
    let mut doc = create(PARTS_AUDIT, &p);
    answer(&mut doc, &p, 1, "d5-tool-loans", AnswerValue::Fail);
    assert_eq!(evaluate(&read(&doc))[0].fine, FineDue::ReplaceTool);
}

#[test]
fn covers_are_checked_in_each_occupied_bay_separately() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    let bay = |s: &str| s.parse().expect("id");
    write::set_occupied(&mut doc, &m.id, t(1), &bay("bay-1"), true).expect("marks");
    write::set_occupied(&mut doc, &m.id, t(1), &bay("bay-3"), true).expect("marks");
    let expected: Vec<String> = read(&doc)
        .expected_keys()
        .into_iter()
        .filter(|k| k.item.as_str().starts_with("c2-"))
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        expected,
        [
            "c2-interior-set@bay-1",
            "c2-interior-set@bay-3",
            "c2-fender-covers@bay-1",
            "c2-fender-covers@bay-3"
        ]
    );
    answer(&mut doc, &m, 2, "c2-interior-set@bay-1", AnswerValue::Fail);
    answer(&mut doc, &m, 2, "c2-fender-covers@bay-3", AnswerValue::Fail);
    answer(&mut doc, &m, 2, "c2-fender-covers@bay-1", AnswerValue::Pass);
    let v = evaluate(&read(&doc));
    let found: Vec<(String, String)> = v
        .iter()
        .map(|v| {
            (
                v.item.to_string(),
                v.area
                    .as_ref()
                    .map(|a| a.id.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("c2-fender-covers".into(), "bay-3".into()),
            ("c2-interior-set".into(), "bay-1".into())
        ]
    );
}

#[test]
fn rooms_and_entrances_repeat_their_items() {
    let lead = user("li", Role::TeamLead);
    let closing = read(&create(CLOSING, &lead));
    let rooms: Vec<String> = closing
        .expected_keys()
        .iter()
        .map(|k| k.to_string())
        .filter(|k| k.contains('@'))
        .collect();
    assert_eq!(
        rooms,
        ["c4-room-doors@tool-room", "c4-room-doors@mixing-room"]
    );
    let lunch = read(&create(LUNCH, &lead));
    let gates: Vec<String> = lunch
        .expected_keys()
        .iter()
        .map(|k| k.to_string())
        .filter(|k| k.contains('@'))
        .collect();
    assert_eq!(gates, ["c4-entrances@east-gate", "c4-entrances@west-gate"]);
    let t = builtin::find(LUNCH).expect("built-in");
    assert_eq!(
        t.item(&item("c4-entrances")).map(|i| i.repeat),
        Some(Repeat::PerEntrance)
    );
}

#[test]
fn not_applicable_text_photo_and_signature_answers_are_never_violations() {
    let s = user("zhou", Role::CustomerServiceSupervisor);
    let mut doc = create(OPENING, &s);
    answer(&mut doc, &s, 1, "a1-on-time", AnswerValue::NotApplicable);
    answer(
        &mut doc,
        &s,
        1,
        "a2-summary",
        AnswerValue::Text("fail".into()),
    );
    assert!(evaluate(&read(&doc)).is_empty());
}

#[test]
fn a_number_outside_its_bounds_is_one_occurrence() {
    let m = manager();
    let mut new = new_inspection(WALKAROUND, &m);
    new.template.items[0].kind = ItemKind::Number {
        min: 18.0,
        max: 26.0,
        unit: Some("°C".into()),
    };
    new.template.items[0].note_required_on_fail = false;
    let mut doc = write::create(&new, actor(0)).expect("creates");
    answer(&mut doc, &m, 1, "c1-visitors", AnswerValue::Number(26.0));
    assert!(evaluate(&read(&doc)).is_empty());
    answer(&mut doc, &m, 2, "c1-visitors", AnswerValue::Number(31.5));
    assert_eq!(evaluate(&read(&doc))[0].occurrences, 1);
    answer(&mut doc, &m, 3, "c1-visitors", AnswerValue::Number(-4.0));
    assert_eq!(evaluate(&read(&doc))[0].occurrences, 1);
}

#[test]
fn a_conflict_containing_a_fail_is_a_violation_until_resolved() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let mut a = create(WALKAROUND, &m);
    let mut b = replica(&a, 1);
    answer(&mut a, &m, 1, "c8-booth-floor", AnswerValue::Pass);
    answer(&mut b, &other, 2, "c8-booth-floor", AnswerValue::Fail);
    a.merge(&mut b).expect("merges");
    b.merge(&mut a).expect("merges");

    for doc in [&a, &b] {
        let inspection = read(doc);
        assert_eq!(inspection.conflicts().len(), 1);
        let v = evaluate(&inspection);
        assert_eq!(v.len(), 1);
        assert!(v[0].conflict);
        assert_eq!(v[0].evidence.len(), 2, "both answers are kept as evidence");
        assert_eq!(
            v[0].evidence[0].value,
            AnswerValue::Fail,
            "the failing answer comes first"
        );
        assert_eq!(v[0].evidence[0].by, other.id);
        assert_eq!(v[0].evidence[1].value, AnswerValue::Pass);
        assert!(
            inspection
                .submission_problems()
                .contains(&"c8-booth-floor: conflicting answers, pick one".to_string())
        );
    }
    assert_eq!(evaluate(&read(&a)), evaluate(&read(&b)));

    // The manager looks again and decides: the floor is clear.
    answer(&mut a, &m, 3, "c8-booth-floor", AnswerValue::Pass);
    let inspection = read(&a);
    assert!(inspection.conflicts().is_empty());
    assert!(evaluate(&inspection).is_empty());
}

#[test]
fn two_tablets_that_answer_alike_agree_and_only_a_difference_is_a_conflict() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let mut a = create(WALKAROUND, &m);
    let mut b = replica(&a, 1);
    // The same failed item, offline on both tablets, the same note: one answer.
    for (doc, who, at) in [(&mut a, &m, 1), (&mut b, &other, 2)] {
        write::answer(
            doc,
            &who.id,
            t(at),
            &key("c8-booth-floor"),
            &AnswerValue::Fail,
            Some("地面有报纸"),
            &[],
        )
        .expect("answers");
    }
    // Both passed the mixing table; one of them also noted something: that differs.
    answer(&mut a, &m, 3, "c8-mixing-table", AnswerValue::Pass);
    answer(&mut b, &other, 4, "c8-mixing-table", AnswerValue::Pass);
    a.merge(&mut b).expect("merges");
    b.merge(&mut a).expect("merges");
    for doc in [&a, &b] {
        let inspection = read(doc);
        let floor = &inspection.answers[&key("c8-booth-floor")];
        assert_eq!(floor.len(), 1, "alike answers are one answer");
        assert_eq!(floor[0].by, m.id, "the earliest is kept, on every replica");
        let table = &inspection.answers[&key("c8-mixing-table")];
        assert_eq!(table.len(), 1);
        assert!(inspection.conflicts().is_empty());
        let v = evaluate(&inspection);
        assert_eq!(v.len(), 1);
        assert!(!v[0].conflict);
    }
    // A different note is a difference.
    let mut c = replica(&a, 2);
    write::answer(
        &mut a,
        &m.id,
        t(5),
        &key("c8-booth-floor"),
        &AnswerValue::Fail,
        Some("地面有报纸和胶带"),
        &[],
    )
    .expect("answers");
    write::answer(
        &mut c,
        &other.id,
        t(6),
        &key("c8-booth-floor"),
        &AnswerValue::Fail,
        Some("地面有报纸"),
        &[],
    )
    .expect("answers");
    a.merge(&mut c).expect("merges");
    assert_eq!(read(&a).conflicts().len(), 1);
}

#[test]
fn in_a_conflict_of_counts_the_worst_count_decides() {
    let p = user("yuan", Role::PartsManager);
    let q = user("qian", Role::PartsManager);
    let mut a = create(PARTS_AUDIT, &p);
    let mut b = replica(&a, 1);
    let mut c = replica(&a, 2);
    answer(&mut a, &p, 1, "d3-unsigned-quotes", AnswerValue::Count(1));
    answer(&mut b, &q, 1, "d3-unsigned-quotes", AnswerValue::Count(4));
    answer(&mut c, &q, 1, "d3-unsigned-quotes", AnswerValue::Count(0));
    a.merge(&mut b).expect("merges");
    a.merge(&mut c).expect("merges");
    let v = evaluate(&read(&a));
    assert_eq!(
        (v[0].occurrences, v[0].fine.yuan(), v[0].evidence.len()),
        (4, 120, 3)
    );
}

#[test]
fn an_answer_made_offline_during_submission_is_kept_and_marked_late() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let mut a = create(WALKAROUND, &m);
    let who = m.clone();
    // Tablet A answers everything and submits; tablet B, offline, finds a violation.
    let inspection = read(&a);
    for k in inspection.expected_keys() {
        let kind = &inspection.template.item(&k.item).expect("item").kind;
        let value = if let ItemKind::Count { .. } = kind {
            AnswerValue::Count(0)
        } else {
            AnswerValue::Pass
        };
        answer(&mut a, &who, 1, &k.to_string(), value);
    }
    let mut b = replica(&a, 1);
    write::submit(&mut a, &m.id, t(2)).expect("submits");
    answer(&mut b, &other, 3, "c9-masking", AnswerValue::Fail);
    a.merge(&mut b).expect("merges");

    let inspection = read(&a);
    assert!(inspection.submitted.is_some());
    let late: Vec<_> = inspection
        .answers
        .values()
        .flatten()
        .filter(|a| a.late)
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].by, other.id);
    let v = evaluate(&inspection);
    assert_eq!(v.len(), 1);
    assert!(v[0].after_submission);
    assert!(!v[0].conflict, "tablet B had seen the pass it replaced");
    assert_eq!(v[0].evidence.len(), 1);
}

#[test]
fn evaluation_is_deterministic_across_merge_orders() {
    let users: Vec<_> = (0..3)
        .map(|n| user(&format!("u{n}"), Role::WorkshopManager))
        .collect();
    let base = create(WALKAROUND, &users[0]);
    let mut docs: Vec<_> = (1..=3).map(|n| replica(&base, n)).collect();
    for (n, doc) in docs.iter_mut().enumerate() {
        answer(
            doc,
            &users[n],
            n as i64,
            "c9-masking",
            if n == 1 {
                AnswerValue::Fail
            } else {
                AnswerValue::Pass
            },
        );
        answer(
            doc,
            &users[n],
            n as i64,
            "c7-oil-filters",
            AnswerValue::Count(n as u32 * 3),
        );
    }
    let mut x = replica(&docs[0], 10);
    x.merge(&mut docs[1].clone()).expect("merges");
    x.merge(&mut docs[2].clone()).expect("merges");
    let mut y = replica(&docs[2], 11);
    y.merge(&mut docs[1].clone()).expect("merges");
    y.merge(&mut docs[0].clone()).expect("merges");
    assert_eq!(x.get_heads(), y.get_heads());
    assert_eq!(read(&x), read(&y));
    assert_eq!(evaluate(&read(&x)), evaluate(&read(&y)));
    assert_eq!(evaluate(&read(&x)).len(), 2);
}

#[test]
fn submission_requires_notes_and_photos_where_the_template_asks() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    write::answer(
        &mut doc,
        &m.id,
        t(1),
        &key("c1-visitors"),
        &AnswerValue::Fail,
        None,
        &[],
    )
    .expect("answers");
    write::answer(
        &mut doc,
        &m.id,
        t(1),
        &key("c8-booth-floor"),
        &AnswerValue::Fail,
        Some("rags"),
        &[],
    )
    .expect("answers");
    let problems = read(&doc).submission_problems();
    assert!(problems.contains(&"c1-visitors: a failed answer needs a note".to_string()));
    assert!(problems.contains(&"c8-booth-floor: a failed answer needs a photo".to_string()));
    assert!(problems.contains(&"c9-masking: not answered".to_string()));
    assert!(
        !problems.iter().any(|p| p.starts_with("c3-")),
        "the C3 spot check is optional"
    );
    assert!(matches!(
        write::submit(&mut doc, &m.id, t(2)),
        Err(write::EditError::Incomplete(_))
    ));
}

#[test]
fn the_writer_refuses_values_and_keys_that_do_not_fit_the_template() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    let heads = doc.get_heads();
    let err = |r: Result<_, write::EditError>| r.expect_err("refused").to_string();
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("c7-oil-filters"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("does not fit")
    );
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("c1-visitors@bay-1"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("asked once")
    );
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("c6-bay-clear"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("per area")
    );
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("c6-bay-clear@tool-room"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("not of the kind")
    );
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("c6-bay-clear@bay-9"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("no area")
    );
    assert!(
        err(write::answer(
            &mut doc,
            &m.id,
            t(1),
            &key("x1"),
            &AnswerValue::Pass,
            None,
            &[]
        ))
        .contains("no item")
    );
    assert!(
        err(write::set_occupied(
            &mut doc,
            &m.id,
            t(1),
            &"tool-room".parse().expect("id"),
            true
        ))
        .contains("not a bay")
    );
    assert_eq!(doc.get_heads(), heads, "nothing was written");
}

/// Issue 17, input 3: a fully answered closing routine forks on two tablets; one submits at
/// 18:20, the other re-answers an item and submits at 18:40. The earliest submission counts
/// (whichever automerge's tie-break shows), the other is kept as a duplicate, the re-answer
/// is a late amendment, and both tablets' changes are allowed at their dependencies.
#[test]
fn of_two_offline_submissions_the_earliest_counts_and_the_other_is_kept() {
    let lead = user("li", Role::TeamLead);
    let other = user("zhao", Role::TeamLead);
    let mut a = create(CLOSING, &lead);
    for k in read(&a).expected_keys() {
        let kind = &read(&a).template.item(&k.item).expect("item").kind.clone();
        let value = if let ItemKind::Count { .. } = kind {
            AnswerValue::Count(0)
        } else {
            AnswerValue::Pass
        };
        answer(&mut a, &lead, 1, &k.to_string(), value);
    }
    let mut b = replica(&a, 1);
    let forked = a.clone();
    let first_item = read(&a).expected_keys()[0].to_string();
    write::submit(&mut a, &lead.id, t(20)).expect("submits at 18:20");
    let a_submit = last_change(&a);
    answer(&mut b, &other, 30, &first_item, AnswerValue::Pass);
    write::submit(&mut b, &other.id, t(40)).expect("submits at 18:40");
    let b_submit = last_change(&b);
    // Each submission is judged at its own dependencies and allowed.
    assert_eq!(
        shared::policy::judge_change(&lead, &forked, &a_submit).map_err(|d| d.to_string()),
        Ok(())
    );
    let b_at_deps = b.fork_at(b_submit.deps()).expect("forks");
    assert_eq!(
        shared::policy::judge_change(&other, &b_at_deps, &b_submit).map_err(|d| d.to_string()),
        Ok(())
    );

    for (x, y) in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
        let mut merged = x;
        let mut y = y;
        merged.merge(&mut y).expect("merges");
        let inspection = read(&merged);
        let submitted = inspection.submitted.as_ref().expect("submitted");
        assert_eq!(
            (submitted.at, &submitted.by),
            (t(20), &lead.id),
            "the earliest counts"
        );
        assert_eq!(inspection.duplicate_submissions.len(), 1);
        assert_eq!(
            (
                inspection.duplicate_submissions[0].at,
                &inspection.duplicate_submissions[0].by
            ),
            (t(40), &other.id)
        );
        // The re-answer after the earliest submission is a late amendment; nothing is lost.
        let records = &inspection.answers[&key(&first_item)];
        assert!(
            records.iter().any(|r| r.late && r.by == other.id),
            "{records:?}"
        );
        assert!(inspection.problems.is_empty(), "{:?}", inspection.problems);
    }
}

#[test]
fn answers_of_a_bay_marked_empty_again_are_kept_but_do_not_count_until_it_is_occupied_again() {
    let m = manager();
    let mut doc = create(WALKAROUND, &m);
    let bay = "bay-2".parse().expect("id");
    write::set_occupied(&mut doc, &m.id, t(1), &bay, true).expect("marks");
    answer(&mut doc, &m, 2, "c2-fender-covers@bay-2", AnswerValue::Fail);
    assert_eq!(evaluate(&read(&doc)).len(), 1);

    write::set_occupied(&mut doc, &m.id, t(3), &bay, false).expect("marks empty");
    let inspection = read(&doc);
    assert!(
        inspection
            .answers
            .contains_key(&key("c2-fender-covers@bay-2")),
        "the answer is kept in the document"
    );
    assert_eq!(evaluate(&inspection), vec![], "but does not count");
    assert!(
        !inspection
            .submission_problems()
            .iter()
            .any(|p| p.starts_with("c2-fender-covers@bay-2")),
        "nor is it asked for"
    );

    write::set_occupied(&mut doc, &m.id, t(4), &bay, true).expect("marks again");
    let v = evaluate(&read(&doc));
    assert_eq!(v.len(), 1, "it counts again");
    assert_eq!(v[0].key, key("c2-fender-covers@bay-2"));
}

#[test]
fn an_occupancy_disagreement_is_listed_and_blocks_submission_until_someone_picks_one() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let bay = "bay-2".parse().expect("id");
    let mut a = create(WALKAROUND, &m);
    let mut b = replica(&a, 1);
    // Offline: A marks the bay occupied; B marks it occupied, then empty again.
    write::set_occupied(&mut a, &m.id, t(1), &bay, true).expect("marks");
    write::set_occupied(&mut b, &other.id, t(1), &bay, true).expect("marks");
    write::set_occupied(&mut b, &other.id, t(2), &bay, false).expect("marks empty");
    a.merge(&mut b).expect("merges");
    b.merge(&mut a).expect("merges");

    for doc in [&a, &b] {
        let inspection = read(doc);
        assert_eq!(inspection.occupied[&bay].len(), 2, "both records are kept");
        assert_eq!(inspection.occupancy_disagreements(), vec![&bay]);
        assert!(
            inspection.is_occupied(&bay),
            "a disagreement counts as occupied"
        );
        assert_eq!(
            inspection.submission_problems()[0],
            "occupied@bay-2: occupancy disagrees, pick one"
        );
    }
    let mut submitting = a.clone();
    assert!(matches!(
        write::submit(&mut submitting, &m.id, t(3)),
        Err(write::EditError::Incomplete(_))
    ));

    // B looks again and picks: the bay is empty. The new record replaces both.
    write::set_occupied(&mut b, &other.id, t(4), &bay, false).expect("picks");
    let inspection = read(&b);
    assert!(inspection.occupancy_disagreements().is_empty());
    assert!(!inspection.is_occupied(&bay));
    assert!(
        !inspection
            .submission_problems()
            .iter()
            .any(|p| p.starts_with("occupied@"))
    );
}

#[test]
fn two_tablets_marking_a_bay_the_same_way_do_not_disagree() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let bay = "bay-2".parse().expect("id");
    let mut a = create(WALKAROUND, &m);
    let mut b = replica(&a, 1);
    write::set_occupied(&mut a, &m.id, t(1), &bay, true).expect("marks");
    write::set_occupied(&mut b, &other.id, t(2), &bay, true).expect("marks");
    a.merge(&mut b).expect("merges");
    let inspection = read(&a);
    assert_eq!(inspection.occupied[&bay].len(), 2, "two concurrent records");
    assert!(inspection.occupancy_disagreements().is_empty());
    assert!(
        !inspection
            .submission_problems()
            .iter()
            .any(|p| p.starts_with("occupied@"))
    );
}
