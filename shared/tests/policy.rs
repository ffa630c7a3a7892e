//! The permission policy: every allow and every deny, on real automerge changes.

mod support;

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, Change, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use shared::builtin::{CLOSING, PARTS_AUDIT, WALKAROUND};
use shared::ids::SiteId;
use shared::inspection::{AnswerValue, keys, write};
use shared::policy::{Action, Denial, User, authorize, judge_change};
use shared::role::Role;
use support::*;

/// A change made by `f` on a fresh replica of `base`, as a tablet would send it.
fn forge(base: &Automerge, f: impl FnOnce(&mut Transaction<'_>, &Automerge)) -> Change {
    let mut doc = replica(base, 77);
    let snapshot = doc.clone();
    let mut tx = doc.transaction();
    f(&mut tx, &snapshot);
    tx.commit();
    last_change(&doc)
}

/// A change made through the honest writer on a replica of `base`.
fn honest(base: &Automerge, f: impl FnOnce(&mut Automerge)) -> Change {
    let mut doc = replica(base, 78);
    f(&mut doc);
    last_change(&doc)
}

fn obj(doc: &Automerge, key: &str) -> automerge::ObjId {
    match doc.get(ROOT, key).expect("reads") {
        Some((Value::Object(_), id)) => id,
        _ => panic!("{key} is an object"),
    }
}

fn code(r: Result<(), Denial>) -> &'static str {
    r.map(|()| "allowed").unwrap_or_else(|d| d.code())
}

/// A walkaround whose every item has passed, ready to submit.
fn complete_walkaround(m: &User) -> Automerge {
    let mut doc = create(WALKAROUND, m);
    for k in read(&doc).expected_keys() {
        let value = if k.item.as_str() == "c7-oil-filters" {
            AnswerValue::Count(1)
        } else {
            AnswerValue::Pass
        };
        answer(&mut doc, m, 1, &k.to_string(), value);
    }
    doc
}

fn creation_change(template: &str, creator: &User) -> (Automerge, Change) {
    let doc = create(template, creator);
    let change = last_change(&doc);
    (Automerge::new(), change)
}

// ---- creation ----

#[test]
fn a_manager_may_start_a_walkaround_at_their_own_site() {
    let m = manager();
    let (empty, change) = creation_change(WALKAROUND, &m);
    assert_eq!(code(judge_change(&m, &empty, &change)), "allowed");
}

#[test]
fn nobody_may_start_an_inspection_at_a_site_they_do_not_belong_to() {
    let m = manager();
    let (empty, change) = creation_change(WALKAROUND, &m);
    let elsewhere = user_at("wang", Role::WorkshopManager, &["site-2"]);
    assert_eq!(
        code(judge_change(&elsewhere, &empty, &change)),
        "not_member_of_site"
    );
}

#[test]
fn a_role_may_only_start_the_templates_it_runs() {
    let lead = user("li", Role::TeamLead);
    let (empty, change) = creation_change(WALKAROUND, &lead);
    assert_eq!(
        code(judge_change(&lead, &empty, &change)),
        "template_not_for_role"
    );
    let (empty, change) = creation_change(CLOSING, &lead);
    assert_eq!(code(judge_change(&lead, &empty, &change)), "allowed");
    let tech = user("tech", Role::Technician);
    let (empty, change) = creation_change(CLOSING, &tech);
    assert_eq!(
        code(judge_change(&tech, &empty, &change)),
        "role_not_allowed"
    );
}

#[test]
fn an_inspection_cannot_be_started_in_someone_elses_name() {
    let m = manager();
    let (empty, change) = creation_change(WALKAROUND, &user("zhao", Role::WorkshopManager));
    assert_eq!(code(judge_change(&m, &empty, &change)), "forged_author");
}

#[test]
fn a_document_is_created_once() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let second = last_change(&create(PARTS_AUDIT, &user("wang", Role::PartsManager)));
    assert_eq!(code(judge_change(&m, &base, &second)), "invalid_change");
}

#[test]
fn a_document_that_is_not_an_inspection_is_refused() {
    let m = manager();
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    tx.put(ROOT, "title", "shopping list").expect("writes");
    tx.commit();
    assert_eq!(
        code(judge_change(&m, &Automerge::new(), &last_change(&doc))),
        "not_an_inspection"
    );
}

// ---- answers ----

#[test]
fn a_user_may_answer_and_mark_bays_under_their_own_name() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let c = honest(&base, |d| {
        answer(d, &m, 1, "c1-visitors", AnswerValue::Fail)
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "allowed");
    let c = honest(&base, |d| {
        write::set_occupied(d, &m.id, t(1), &"bay-2".parse().expect("id"), true).expect("marks");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "allowed");
    let second = user("zhao", Role::WorkshopManager);
    let c = honest(&base, |d| {
        answer(d, &second, 1, "c9-masking", AnswerValue::Pass)
    });
    assert_eq!(
        code(judge_change(&second, &base, &c)),
        "allowed",
        "another role that runs the template may help"
    );
}

/// Issue 20, item 7: who may answer is decided by the template (`run_by`); reviewing roles
/// read and review, they do not answer, mark bays or submit, even at their own site.
#[test]
fn only_the_roles_that_run_a_template_answer_mark_bays_or_submit_it() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    for role in [
        Role::OfficeAdmin,
        Role::TeamLead,
        Role::ServiceManager,
        Role::PartsManager,
    ] {
        let other = user("other", role);
        let c = honest(&base, |d| {
            answer(d, &other, 1, "c9-masking", AnswerValue::Fail)
        });
        assert_eq!(
            code(judge_change(&other, &base, &c)),
            "template_not_for_role",
            "{role:?} answers"
        );
        let c = honest(&base, |d| {
            write::set_occupied(d, &other.id, t(1), &"bay-2".parse().expect("id"), true)
                .expect("marks");
        });
        assert_eq!(
            code(judge_change(&other, &base, &c)),
            "template_not_for_role",
            "{role:?} marks a bay"
        );
        let inspection = read(&base);
        assert!(
            !shared::policy::may_answer(&other, &inspection),
            "{role:?} is shown read-only"
        );
    }
    assert!(shared::policy::may_answer(&m, &read(&base)));
    // The office does answer what it runs: the parts-store audit.
    let office = user("office", Role::OfficeAdmin);
    let audit = create(PARTS_AUDIT, &office);
    let key = read(&audit).expected_keys()[0].to_string();
    let kind = read(&audit)
        .template
        .item(&read(&audit).expected_keys()[0].item)
        .expect("item")
        .kind
        .clone();
    let value = match kind {
        shared::template::ItemKind::Count { .. } => AnswerValue::Count(0),
        _ => AnswerValue::Pass,
    };
    let c = honest(&audit, |d| answer(d, &office, 1, &key, value));
    assert_eq!(code(judge_change(&office, &audit, &c)), "allowed");
}

#[test]
fn an_answer_recorded_under_another_users_id_is_refused() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let c = honest(&base, |d| {
        answer(
            d,
            &user("zhao", Role::WorkshopManager),
            1,
            "c1-visitors",
            AnswerValue::Pass,
        )
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "forged_author");
    let c = honest(&base, |d| {
        write::set_occupied(
            d,
            &"zhao".parse().expect("id"),
            t(1),
            &"bay-2".parse().expect("id"),
            true,
        )
        .expect("marks");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "forged_author");
}

#[test]
fn technicians_do_not_answer() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let tech = user("tech", Role::Technician);
    let c = honest(&base, |d| {
        answer(d, &tech, 1, "c1-visitors", AnswerValue::Pass)
    });
    assert_eq!(code(judge_change(&tech, &base, &c)), "role_not_allowed");
}

#[test]
fn nobody_may_answer_another_sites_inspection() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let outsider = user_at("sun", Role::WorkshopManager, &["site-2"]);
    let c = honest(&base, |d| {
        answer(d, &outsider, 1, "c1-visitors", AnswerValue::Pass)
    });
    assert_eq!(
        code(judge_change(&outsider, &base, &c)),
        "not_member_of_site"
    );
}

#[test]
fn answers_are_replaced_never_deleted_or_edited_in_place() {
    let m = manager();
    let mut base = create(WALKAROUND, &m);
    answer(&mut base, &m, 1, "c1-visitors", AnswerValue::Fail);
    let c = forge(&base, |tx, doc| {
        tx.delete(obj(doc, keys::ANSWERS), "c1-visitors")
            .expect("deletes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "deleted");
    let c = forge(&base, |tx, doc| {
        let answers = obj(doc, keys::ANSWERS);
        let Some((_, record)) = doc.get(&answers, "c1-visitors").expect("reads") else {
            panic!("answered")
        };
        tx.put(&record, keys::VALUE, "pass").expect("writes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "edited_in_place");
    let c = honest(&base, |d| {
        answer(d, &m, 2, "c1-visitors", AnswerValue::Pass)
    });
    assert_eq!(
        code(judge_change(&m, &base, &c)),
        "allowed",
        "a new record replaces the old"
    );
}

#[test]
fn values_and_keys_outside_the_layout_are_refused() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let record = |key: &'static str, value: ScalarValue| {
        forge(&base, move |tx, doc| {
            let r = tx
                .put_object(obj(doc, keys::ANSWERS), key, ObjType::Map)
                .expect("writes");
            tx.put(&r, keys::VALUE, value).expect("writes");
            tx.put(&r, keys::BY, "wang").expect("writes");
            tx.put(&r, keys::AT, ScalarValue::Timestamp(0))
                .expect("writes");
        })
    };
    for (key, value) in [
        ("c1-visitors", ScalarValue::Str("maybe".into())),
        ("c7-oil-filters", ScalarValue::Int(-1)),
        ("c7-oil-filters", ScalarValue::Str("3".into())),
        ("c9-nothing", ScalarValue::Str("pass".into())),
        ("c6-bay-clear", ScalarValue::Str("pass".into())),
    ] {
        assert_eq!(
            code(judge_change(&m, &base, &record(key, value))),
            "malformed",
            "{key}"
        );
    }
    let c = forge(&base, |tx, _| {
        tx.put(ROOT, "fine_total", 0).expect("writes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "malformed");
}

#[test]
fn the_template_copy_areas_and_site_of_an_inspection_are_immutable() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let mut lenient = std::sync::Arc::unwrap_or_clone(read(&base).template);
    lenient.items.retain(|i| i.rule.as_str() != "C2");
    let json = serde_json::to_string(&lenient).expect("serializes");
    for (field, value) in [
        (keys::TEMPLATE, json),
        (keys::AREAS, "[]".to_string()),
        (keys::SITE, "site-2".to_string()),
    ] {
        let c = forge(&base, |tx, _| {
            tx.put(ROOT, field, value.as_str()).expect("writes");
        });
        let expected = if field == keys::SITE {
            "not_member_of_site"
        } else {
            "immutable"
        };
        assert_eq!(code(judge_change(&m, &base, &c)), expected, "{field}");
    }
    let everywhere = user_at("wang", Role::WorkshopManager, &[SITE, "site-2"]);
    let c = forge(&base, |tx, _| {
        tx.put(ROOT, keys::SITE, "site-2").expect("writes");
    });
    assert_eq!(code(judge_change(&everywhere, &base, &c)), "immutable");
}

// ---- submission ----

#[test]
fn a_complete_inspection_may_be_submitted_by_its_inspector() {
    let m = manager();
    let base = complete_walkaround(&m);
    let c = honest(&base, |d| {
        write::submit(d, &m.id, t(3)).expect("submits");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "allowed");
}

#[test]
fn an_incomplete_inspection_cannot_be_submitted() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let c = forge(&base, |tx, doc| {
        let r = tx
            .put_object(ROOT, keys::SUBMITTED, ObjType::Map)
            .expect("writes");
        let heads = tx
            .put_object(&r, keys::HEADS, ObjType::List)
            .expect("writes");
        for (i, h) in doc.get_heads().iter().enumerate() {
            tx.insert(&heads, i, h.to_string()).expect("writes");
        }
        tx.put(&r, keys::BY, "wang").expect("writes");
        tx.put(&r, keys::AT, ScalarValue::Timestamp(0))
            .expect("writes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "incomplete");
}

#[test]
fn a_submission_must_record_the_heads_its_author_saw() {
    let m = manager();
    let base = complete_walkaround(&m);
    let creation = last_change(&create(WALKAROUND, &m)).hash();
    let c = forge(&base, |tx, _| {
        let r = tx
            .put_object(ROOT, keys::SUBMITTED, ObjType::Map)
            .expect("writes");
        let heads = tx
            .put_object(&r, keys::HEADS, ObjType::List)
            .expect("writes");
        // A real change of the document, but not what the submitter had seen: answers
        // made before the submission would all read as late amendments.
        tx.insert(&heads, 0, creation.to_string()).expect("writes");
        tx.put(&r, keys::BY, "wang").expect("writes");
        tx.put(&r, keys::AT, ScalarValue::Timestamp(0))
            .expect("writes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "heads_mismatch");
}

#[test]
fn a_submission_in_someone_elses_name_is_refused() {
    let m = manager();
    let base = complete_walkaround(&m);
    let c = honest(&base, |d| {
        write::submit(d, &"zhao".parse().expect("id"), t(3)).expect("submits");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "forged_author");
}

#[test]
fn a_submitted_inspection_is_frozen_for_those_who_saw_the_submission() {
    let m = manager();
    let mut base = complete_walkaround(&m);
    write::submit(&mut base, &m.id, t(3)).expect("submits");
    let c = forge(&base, |tx, doc| {
        let r = tx
            .put_object(obj(doc, keys::ANSWERS), "c1-visitors", ObjType::Map)
            .expect("writes");
        tx.put(&r, keys::VALUE, "fail").expect("writes");
        tx.put(&r, keys::BY, "wang").expect("writes");
        tx.put(&r, keys::AT, ScalarValue::Timestamp(0))
            .expect("writes");
    });
    assert_eq!(code(judge_change(&m, &base, &c)), "submitted");
    let c = forge(&base, |tx, _| {
        tx.delete(ROOT, keys::SUBMITTED).expect("deletes");
    });
    assert_eq!(
        code(judge_change(&m, &base, &c)),
        "submitted",
        "nobody unsubmits"
    );
}

#[test]
fn an_answer_made_offline_while_another_tablet_submitted_is_accepted() {
    let m = manager();
    let other = user("zhao", Role::WorkshopManager);
    let base = complete_walkaround(&m);
    // Tablet B goes offline with the complete walkaround and finds newspaper masking.
    let mut offline = replica(&base, 2);
    answer(&mut offline, &other, 4, "c9-masking", AnswerValue::Fail);
    let late = last_change(&offline);
    // Meanwhile tablet A submits and the server stores it.
    let mut server = base.clone();
    write::submit(&mut server, &m.id, t(3)).expect("submits");
    // B reconnects: its change is judged against what B saw, and accepted.
    assert_eq!(code(judge_change(&other, &server, &late)), "allowed");
    server.apply_changes([late]).expect("applies");
    let merged = read(&server);
    assert!(merged.submitted.is_some());
    let v = shared::rules::evaluate(&merged);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].after_submission,
        "the office sees it as an amendment after submission"
    );
}

// ---- review ----

#[test]
fn reviewers_comment_only_on_submitted_inspections() {
    let m = manager();
    let office = user("office", Role::OfficeAdmin);
    let lead = user("li", Role::TeamLead);
    let complete = complete_walkaround(&m);
    let early = honest(&complete, |d| {
        let mut tx = d.transaction();
        let r = tx
            .put_object(ROOT, keys::REVIEW, ObjType::Map)
            .expect("writes");
        tx.put(&r, keys::COMMENT, "too early").expect("writes");
        tx.put(&r, keys::BY, "office").expect("writes");
        tx.put(&r, keys::AT, ScalarValue::Timestamp(0))
            .expect("writes");
        tx.commit();
    });
    assert_eq!(
        code(judge_change(&office, &complete, &early)),
        "not_submitted"
    );

    let mut submitted = complete.clone();
    write::submit(&mut submitted, &m.id, t(3)).expect("submits");
    let c = honest(&submitted, |d| {
        write::review(d, &office.id, t(9), "checked").expect("reviews");
    });
    assert_eq!(code(judge_change(&office, &submitted, &c)), "allowed");
    let c = honest(&submitted, |d| {
        write::review(d, &lead.id, t(9), "looks fine").expect("reviews");
    });
    assert_eq!(
        code(judge_change(&lead, &submitted, &c)),
        "role_not_allowed"
    );
    let c = honest(&submitted, |d| {
        write::review(d, &m.id, t(9), "in his name").expect("reviews");
    });
    assert_eq!(code(judge_change(&office, &submitted, &c)), "forged_author");
}

// ---- changes that cannot be placed ----

#[test]
fn a_change_whose_dependencies_are_unknown_is_refused() {
    let m = manager();
    let base = create(WALKAROUND, &m);
    let mut ahead = replica(&base, 3);
    answer(&mut ahead, &m, 1, "c1-visitors", AnswerValue::Pass);
    answer(&mut ahead, &m, 2, "c9-masking", AnswerValue::Pass);
    assert_eq!(
        code(judge_change(&m, &base, &last_change(&ahead))),
        "invalid_change"
    );
}

// ---- coarse actions ----

#[test]
fn templates_and_users_are_managed_by_the_office_only() {
    for role in Role::ALL {
        let u = user("x", role);
        let expected = if role == Role::OfficeAdmin {
            "allowed"
        } else {
            "role_not_allowed"
        };
        assert_eq!(
            code(authorize(&u, Action::EditTemplate, None)),
            expected,
            "{role:?}"
        );
        assert_eq!(
            code(authorize(
                &u,
                Action::ManageUsers,
                Some(&SiteId::parse(SITE).expect("id"))
            )),
            expected
        );
    }
}

#[test]
fn fines_are_waived_by_the_office_and_managers_never_by_team_leads() {
    let site = SiteId::parse(SITE).expect("id");
    let other = SiteId::parse("site-2").expect("id");
    let allowed: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| authorize(&user("x", *r), Action::Waive, Some(&site)).is_ok())
        .collect();
    assert_eq!(
        allowed,
        [
            Role::OfficeAdmin,
            Role::WorkshopManager,
            Role::ServiceManager,
            Role::PartsManager
        ]
    );
    assert_eq!(
        code(authorize(
            &user("x", Role::OfficeAdmin),
            Action::Waive,
            Some(&other)
        )),
        "not_member_of_site"
    );
}

#[test]
fn everyone_reads_their_own_sites_and_nobody_reads_another() {
    let site = SiteId::parse(SITE).expect("id");
    let other = SiteId::parse("site-2").expect("id");
    for role in Role::ALL {
        assert_eq!(
            code(authorize(&user("x", role), Action::Read, Some(&site))),
            "allowed"
        );
        assert_eq!(
            code(authorize(&user("x", role), Action::Read, Some(&other))),
            "not_member_of_site"
        );
    }
}

// ---- judging a batch ----

/// `judge_and_apply` over a whole history gives the verdicts of `judge_change` one change
/// at a time: an honest history is applied whole and its last state returned; the same
/// history with another user's answer in the middle is refused with the same code.
#[test]
fn judging_a_batch_agrees_with_judging_each_change() {
    let m = manager();
    let lead = user("li", Role::TeamLead);
    let doc = complete_walkaround(&m);
    let history: Vec<Change> = doc.get_changes(&[]);
    let mut fresh = Automerge::new();
    let view = shared::policy::judge_and_apply(&m, &mut fresh, &history)
        .expect("an honest history is allowed")
        .expect("the last state was read");
    assert_eq!(fresh.get_heads(), doc.get_heads());
    assert_eq!(view, read(&doc));

    // One change answered by the team lead, recorded under the manager's name.
    let mut tampered = replica(&doc, 79);
    answer(&mut tampered, &m, 2, "c1-visitors", AnswerValue::Fail);
    let forged = last_change(&tampered);
    let one_by_one = code(judge_change(&lead, &doc, &forged));
    let mut batch = history.clone();
    batch.push(forged);
    let mut scratch = doc.clone();
    let batched = shared::policy::judge_and_apply(&lead, &mut scratch, &batch[history.len()..]);
    assert_eq!(
        batched
            .map(|_| ())
            .map_err(|d| d.code())
            .expect_err("the forged change is refused"),
        one_by_one
    );
    assert_eq!(one_by_one, "forged_author");
}

#[test]
fn devices_keep_their_sites_inspections_only_for_the_roles_that_run_them_on_the_floor() {
    let templates = shared::builtin::templates();
    let keeps = |role| shared::policy::keeps_site_documents(&user("u", role), &templates);
    for role in [
        Role::WorkshopManager,
        Role::TeamLead,
        Role::ServiceManager,
        Role::PartsManager,
        Role::CustomerServiceSupervisor,
    ] {
        assert!(keeps(role), "{role:?} runs inspections and keeps them");
    }
    // The office runs the parts-store audit too, but works online and opens on demand.
    assert!(!keeps(Role::OfficeAdmin));
    assert!(!keeps(Role::Technician), "runs no template");
    assert!(
        !shared::policy::keeps_site_documents(&user("u", Role::WorkshopManager), &[]),
        "no template, nothing to run"
    );
}

// ---- bounded sync (issue 18) ----

#[test]
fn a_devices_window_starts_at_midnight_china_time_days_before_today() {
    use chrono::{TimeZone, Utc};
    use shared::policy::device_window_start;
    // 2026-11-30 01:30 in China is 2026-11-29 17:30 UTC.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 29, 17, 30, 0)
        .single()
        .expect("valid");
    let start = |days| device_window_start(now, days).to_rfc3339();
    assert_eq!(start(0), "2026-11-29T16:00:00+00:00", "today, China time");
    assert_eq!(
        start(7),
        "2026-11-22T16:00:00+00:00",
        "and the 7 days before it"
    );
    assert_eq!(
        device_window_start(now, u32::MAX),
        device_window_start(now, shared::policy::MAX_DEVICE_DAYS),
        "a year at most"
    );
}

#[test]
fn a_device_keeps_what_is_unsubmitted_recent_or_opened_in_its_window() {
    use chrono::Duration;
    use shared::policy::{DEVICE_DAYS, device_keeps};
    let m = manager();
    let mut doc = complete_walkaround(&m);
    let started = read(&doc).created_at;
    let week = Duration::days(i64::from(DEVICE_DAYS) + 1);
    let later = started + week;
    assert!(
        device_keeps(&read(&doc), None, later, DEVICE_DAYS),
        "not submitted: kept however old"
    );
    write::submit(&mut doc, &m.id, t(5)).expect("submits");
    let submitted = read(&doc);
    assert!(
        device_keeps(&submitted, None, started, DEVICE_DAYS),
        "submitted today: kept"
    );
    assert!(
        !device_keeps(&submitted, None, later, DEVICE_DAYS),
        "submitted and older than the window: dropped"
    );
    assert!(
        device_keeps(&submitted, Some(later), later, DEVICE_DAYS),
        "opened again today: kept"
    );
    assert!(
        !device_keeps(&submitted, Some(started), later, DEVICE_DAYS),
        "opened long ago: dropped"
    );
}
