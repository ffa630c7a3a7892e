//! Recovery from a refused change (issue 17, input 5).
//!
//! The server refuses a whole sync message when one change in it is not allowed, and keeps
//! nothing of it. A tablet that went on editing would stay stuck: every later change
//! depends on the refused one, so every later message carries it again and is refused
//! again. Recovery rebuilds the tablet's copy of the document from what the server has
//! acknowledged plus the tablet's own later edits that are still allowed:
//!
//! 1. the base is the document at the heads the server last reported (those the tablet
//!    holds): everything in it is on the server already;
//! 2. every later change, in the order it was made, is judged again with the shared policy
//!    (`shared::policy`) for the user as the server knows them now;
//! 3. an allowed change whose dependencies all survived is kept as it is (same bytes, same
//!    hash); an allowed change that depended on a dropped one is made again, as a new change
//!    with the same content, author and time, at the surviving part of its dependencies (so
//!    a concurrent answer from another tablet stays a conflict, as it was); the new change
//!    is judged too, exactly as the server will judge it;
//! 4. a refused change is dropped and reported: what it did (which answer, which bay, the
//!    submission, the creation) and why, in the policy's words and code.
//!
//! Pure: no `JsValue` here, so the algorithm is tested natively and in wasm alike.

use std::collections::HashMap;

use automerge::{ActorId, Automerge, Change, ChangeHash};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::i18n::Localized;
use shared::ids::{AreaId, UserId};
use shared::inspection::{
    self, AnswerKey, AnswerValue, EditError, Inspection, NewInspection, PhotoRef, write,
};
use shared::policy::{self, Denial, User};

/// One edit a change made, in the writer's terms.
#[derive(Debug, Clone)]
enum Edit {
    Create(Box<NewInspection>),
    Answer {
        key: AnswerKey,
        value: AnswerValue,
        note: Option<String>,
        photos: Vec<PhotoRef>,
        by: UserId,
        device: Option<String>,
        at: DateTime<Utc>,
    },
    Occupied {
        bay: AreaId,
        occupied: bool,
        by: UserId,
        at: DateTime<Utc>,
    },
    Submit {
        by: UserId,
        at: DateTime<Utc>,
    },
}

/// Why an edit does not survive: a stable code, the words of the policy, and the role
/// named by a role refusal (for the app to say it in the user's language).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// `Denial::code()`, or `incomplete` when a submission can no longer be made, or
    /// `server` when the server refused for a reason the tablet cannot reproduce.
    pub code: &'static str,
    /// The reason in the policy's words (as the server's `error` says it).
    pub reason: String,
    /// The role a role refusal names.
    pub role: Option<Localized>,
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Self {
        let role = match &denial {
            Denial::RoleNotAllowed { role, .. } | Denial::TemplateNotForRole { role, .. } => {
                Some(role.name())
            }
            _ => None,
        };
        Refusal {
            code: denial.code(),
            reason: denial.to_string(),
            role,
        }
    }
}

impl From<EditError> for Refusal {
    fn from(e: EditError) -> Self {
        let code = match e {
            EditError::Incomplete(_) => "incomplete",
            EditError::Submitted => "submitted",
            _ => "edit_failed",
        };
        Refusal {
            code,
            reason: e.to_string(),
            role: None,
        }
    }
}

/// One edit the tablet made that the rebuilt document does not hold, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    /// `create`, `answer`, `occupied` or `submit`.
    pub kind: &'static str,
    /// The answer key (`item` or `item@area`), for an answer.
    pub key: Option<String>,
    /// The item's text, for an answer.
    pub item: Option<Localized>,
    /// The area's name, for an answer per area or a bay's occupancy.
    pub area: Option<Localized>,
    /// The template's name, for a creation.
    pub template: Option<Localized>,
    /// Why.
    #[serde(flatten)]
    pub refusal: Refusal,
}

/// The outcome of [`rebuild`].
pub struct Rebuilt {
    /// The document: the acknowledged state plus every surviving edit. Empty (no heads)
    /// when the creation itself was refused.
    pub doc: Automerge,
    /// What was dropped, in the order it was made.
    pub dropped: Vec<Dropped>,
    /// How many of the tablet's unacknowledged changes survived.
    pub kept: usize,
}

/// Rebuilds `doc` from the `acked` heads (those the server reported and `doc` holds) plus
/// every later change `judge` allows. `judge` sees the rebuilt document so far and one
/// change whose dependencies it holds: [`judge_for`] is the shared policy's verdict.
pub fn rebuild(
    doc: &Automerge,
    acked: &[ChangeHash],
    judge: impl Fn(&Automerge, &Change) -> Result<(), Refusal>,
) -> Result<Rebuilt, String> {
    let mut rebuilt = if acked.is_empty() {
        Automerge::new()
    } else {
        doc.fork_at(acked).map_err(|e| e.to_string())?
    };
    // Every change the server has not acknowledged, in the order it was applied here
    // (automerge returns them in causal order).
    let later: Vec<Change> = doc.get_changes(acked);
    // What a dropped or remade change stands for in the rebuilt document's history.
    let mut replaced: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
    let mut dropped = Vec::new();
    let mut kept = 0;
    for change in later {
        let deps = change.deps().to_vec();
        let mut mapped: Vec<ChangeHash> = Vec::new();
        for dep in &deps {
            for h in replaced
                .get(dep)
                .map_or(std::slice::from_ref(dep), Vec::as_slice)
            {
                if !mapped.contains(h) {
                    mapped.push(*h);
                }
            }
        }
        if sorted(mapped.clone()) == sorted(deps.clone()) {
            // Its whole past survived: the change itself is judged and kept as it is.
            match judge(&rebuilt, &change) {
                Ok(()) => {
                    rebuilt
                        .apply_changes([change.clone()])
                        .map_err(|e| e.to_string())?;
                    kept += 1;
                }
                Err(refusal) => {
                    push_dropped(&mut dropped, describe(doc, &change)?, refusal);
                    replaced.insert(change.hash(), mapped);
                }
            }
            continue;
        }
        // Part of its past was dropped: the same edits are made again where they still
        // can be, as new changes, and judged like any change.
        let described = describe(doc, &change)?;
        let mut outcome = Ok(Vec::new());
        if !described.edits.is_empty() {
            outcome = remake(&rebuilt, &mapped, &described.edits);
        }
        let verdict = outcome.and_then(|new| {
            let mut trial = rebuilt.clone();
            for c in &new {
                judge(&trial, c)?;
                trial
                    .apply_changes([c.clone()])
                    .map_err(|e| Refusal::from(Denial::InvalidChange(e.to_string())))?;
            }
            Ok((trial, new))
        });
        match verdict {
            Ok((trial, new)) => {
                rebuilt = trial;
                kept += 1;
                let heads = if new.is_empty() {
                    mapped
                } else {
                    new.iter().map(Change::hash).collect()
                };
                replaced.insert(change.hash(), heads);
            }
            Err(refusal) => {
                push_dropped(&mut dropped, described, refusal);
                replaced.insert(change.hash(), mapped);
            }
        }
    }
    // Later edits on this tablet are made under an actor the refused changes never used.
    rebuilt.set_actor(ActorId::random());
    Ok(Rebuilt {
        doc: rebuilt,
        dropped,
        kept,
    })
}

/// The shared policy's verdict on `change` made by `user`, as the server judges it.
pub fn judge_for(user: &User) -> impl Fn(&Automerge, &Change) -> Result<(), Refusal> + '_ {
    move |doc, change| policy::judge_change(user, doc, change).map_err(Refusal::from)
}

fn sorted(mut v: Vec<ChangeHash>) -> Vec<ChangeHash> {
    v.sort();
    v
}

/// The edits of one change, and the inspection after it (for the names of what it did).
struct Described {
    edits: Vec<Edit>,
    after: Option<Inspection>,
}

/// What `change` did to `doc`: the inspection at its dependencies against the inspection
/// with it.
fn describe(doc: &Automerge, change: &Change) -> Result<Described, String> {
    // A change the reader cannot make sense of has no edits to make again.
    let nothing = || Described {
        edits: Vec::new(),
        after: None,
    };
    let read_at = |heads: &[ChangeHash]| -> Result<Option<Inspection>, String> {
        let at = doc.fork_at(heads).map_err(|e| e.to_string())?;
        Ok(inspection::read(&at).ok())
    };
    let before = if change.deps().is_empty() {
        None
    } else {
        match read_at(change.deps())? {
            Some(view) => Some(view),
            None => return Ok(nothing()),
        }
    };
    let Some(after) = read_at(&[change.hash()])? else {
        return Ok(nothing());
    };
    let mut edits = Vec::new();
    if before.is_none() {
        edits.push(Edit::Create(Box::new(NewInspection {
            id: after.id.clone(),
            site: after.site.clone(),
            template: shared::template::Template::clone(&after.template),
            areas: after.areas.to_vec(),
            created_by: after.created_by.clone(),
            created_at: after.created_at,
        })));
    }
    let empty = Default::default();
    let old_answers = before.as_ref().map_or(&empty, |b| &b.answers);
    for (key, records) in &after.answers {
        let old = old_answers.get(key).map(Vec::as_slice).unwrap_or_default();
        for r in records
            .iter()
            .filter(|r| !old.iter().any(|o| o.obj == r.obj))
        {
            edits.push(Edit::Answer {
                key: key.clone(),
                value: r.value.clone(),
                note: r.note.clone(),
                photos: r.photos.clone(),
                by: r.by.clone(),
                device: r.device.clone(),
                at: r.at,
            });
        }
    }
    let empty = Default::default();
    let old_occupied = before.as_ref().map_or(&empty, |b| &b.occupied);
    for (bay, records) in &after.occupied {
        let old = old_occupied.get(bay).map(Vec::as_slice).unwrap_or_default();
        for r in records
            .iter()
            .filter(|r| !old.iter().any(|o| o.obj == r.obj))
        {
            edits.push(Edit::Occupied {
                bay: bay.clone(),
                occupied: r.occupied,
                by: r.by.clone(),
                at: r.at,
            });
        }
    }
    if let (None, Some(s)) = (
        before.as_ref().and_then(|b| b.submitted.as_ref()),
        &after.submitted,
    ) {
        edits.push(Edit::Submit {
            by: s.by.clone(),
            at: s.at,
        });
    }
    Ok(Described {
        edits,
        after: Some(after),
    })
}

/// Makes `edits` again on `rebuilt` at `heads`; returns the new changes in order.
fn remake(
    rebuilt: &Automerge,
    heads: &[ChangeHash],
    edits: &[Edit],
) -> Result<Vec<Change>, Refusal> {
    let creates = matches!(edits.first(), Some(Edit::Create(_)));
    let mut fork = if heads.is_empty() {
        if !creates {
            return Err(Refusal {
                code: "document_refused",
                reason: "the inspection it belongs to was refused".to_string(),
                role: None,
            });
        }
        Automerge::new()
    } else {
        rebuilt
            .fork_at(heads)
            .map_err(|e| Refusal::from(Denial::InvalidChange(e.to_string())))?
    };
    for edit in edits {
        match edit {
            Edit::Create(new) => {
                if !fork.get_heads().is_empty() {
                    continue;
                }
                fork = write::create(new, ActorId::random())?;
            }
            Edit::Answer {
                key,
                value,
                note,
                photos,
                by,
                device,
                at,
            } => {
                write::answer_from(
                    &mut fork,
                    by,
                    device.as_deref(),
                    *at,
                    key,
                    value,
                    note.as_deref(),
                    photos,
                )?;
            }
            Edit::Occupied {
                bay,
                occupied,
                by,
                at,
            } => {
                write::set_occupied(&mut fork, by, *at, bay, *occupied)?;
            }
            Edit::Submit { by, at } => {
                write::submit(&mut fork, by, *at)?;
            }
        }
    }
    Ok(fork.get_changes(heads))
}

/// Records what a dropped change did, once per distinct edit and reason.
fn push_dropped(dropped: &mut Vec<Dropped>, described: Described, refusal: Refusal) {
    let after = described.after.as_ref();
    let area_name = |id: &AreaId| {
        after
            .and_then(|a| a.areas.iter().find(|x| &x.id == id))
            .map(|x| x.name.clone())
    };
    let mut entries: Vec<Dropped> = described
        .edits
        .iter()
        .map(|edit| {
            let mut d = Dropped {
                kind: "answer",
                key: None,
                item: None,
                area: None,
                template: None,
                refusal: refusal.clone(),
            };
            match edit {
                Edit::Create(new) => {
                    d.kind = "create";
                    d.template = Some(new.template.name.clone());
                }
                Edit::Answer { key, .. } => {
                    d.key = Some(key.to_string());
                    d.item = after
                        .and_then(|a| a.item_for(key).ok())
                        .map(|i| i.text.clone());
                    d.area = key.area.as_ref().and_then(area_name);
                }
                Edit::Occupied { bay, .. } => {
                    d.kind = "occupied";
                    d.area = area_name(bay);
                }
                Edit::Submit { .. } => d.kind = "submit",
            }
            d
        })
        .collect();
    // A creation carries the fixed fields; what it failed for is the creation.
    if entries.iter().any(|d| d.kind == "create") {
        entries.retain(|d| d.kind == "create");
    }
    for d in entries {
        if !dropped.contains(&d) {
            dropped.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::SiteId;
    use shared::role::Role;

    fn user(id: &str, role: Role) -> User {
        User {
            id: UserId::parse(id).expect("valid"),
            role,
            sites: [SiteId::parse("site-1").expect("valid")]
                .into_iter()
                .collect(),
        }
    }

    fn key(s: &str) -> AnswerKey {
        AnswerKey::parse(s).expect("valid key")
    }

    fn new_walkaround(by: &str) -> NewInspection {
        let areas = vec![shared::site::Area {
            id: AreaId::parse("bay-1").expect("valid"),
            kind: shared::site::AreaKind::Bay,
            name: Localized::new("1号工位", "Bay 1"),
            key_room: false,
        }];
        NewInspection {
            id: shared::ids::InspectionId::parse("insp-1").expect("valid"),
            site: SiteId::parse("site-1").expect("valid"),
            template: shared::builtin::find(shared::builtin::WALKAROUND).expect("built-in"),
            areas,
            created_by: UserId::parse(by).expect("valid"),
            created_at: Utc::now(),
        }
    }

    fn answer(doc: &mut Automerge, by: &str, k: &str, value: AnswerValue) {
        write::answer(
            doc,
            &UserId::parse(by).expect("valid"),
            Utc::now(),
            &key(k),
            &value,
            None,
            &[],
        )
        .expect("writes");
    }

    fn values(doc: &Automerge) -> Vec<(String, AnswerValue, String)> {
        let view = inspection::read(doc).expect("reads");
        view.answers
            .iter()
            .flat_map(|(k, rs)| {
                rs.iter()
                    .map(move |r| (k.to_string(), r.value.clone(), r.by.to_string()))
            })
            .collect()
    }

    #[test]
    fn a_refused_answer_is_dropped_and_the_later_ones_are_made_again_on_the_acknowledged_state() {
        let wang = user("wang", Role::WorkshopManager);
        let mut doc = write::create(&new_walkaround("wang"), ActorId::random()).expect("creates");
        answer(&mut doc, "wang", "c8-booth-floor", AnswerValue::Pass);
        let acked = doc.get_heads();
        // Offline, on a shared tablet: an answer recorded under another user (refused as a
        // forged author), then the user's own answers, which depend on it.
        answer(&mut doc, "li", "c9-masking", AnswerValue::Fail);
        answer(&mut doc, "wang", "c8-mixing-table", AnswerValue::Fail);
        answer(&mut doc, "wang", "c9-masking", AnswerValue::Pass);

        let rebuilt = rebuild(&doc, &acked, judge_for(&wang)).expect("rebuilds");
        assert_eq!(rebuilt.kept, 2);
        assert_eq!(rebuilt.dropped.len(), 1, "{:?}", rebuilt.dropped);
        let d = &rebuilt.dropped[0];
        assert_eq!(
            (d.kind, d.key.as_deref(), d.refusal.code),
            ("answer", Some("c9-masking"), "forged_author")
        );
        assert!(d.item.is_some());
        let mut got = values(&rebuilt.doc);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("c8-booth-floor".into(), AnswerValue::Pass, "wang".into()),
                ("c8-mixing-table".into(), AnswerValue::Fail, "wang".into()),
                ("c9-masking".into(), AnswerValue::Pass, "wang".into()),
            ]
        );
        // Every surviving change passes the server's judge, message as a whole.
        let mut server = doc.fork_at(&acked).expect("forks");
        let added: Vec<Change> = rebuilt.doc.get_changes(&acked);
        policy::judge_and_apply(&wang, &mut server, &added).expect("allowed");
    }

    #[test]
    fn allowed_changes_whose_past_survived_are_kept_byte_for_byte() {
        let wang = user("wang", Role::WorkshopManager);
        let mut doc = write::create(&new_walkaround("wang"), ActorId::random()).expect("creates");
        let acked = doc.get_heads();
        answer(&mut doc, "wang", "c8-booth-floor", AnswerValue::Pass);
        let rebuilt = rebuild(&doc, &acked, judge_for(&wang)).expect("rebuilds");
        assert!(rebuilt.dropped.is_empty());
        assert_eq!(sorted(rebuilt.doc.get_heads()), sorted(doc.get_heads()));
    }

    #[test]
    fn a_creation_the_user_may_no_longer_make_drops_the_whole_document() {
        // Demoted from workshop manager to team lead while offline: a team lead may answer
        // a walkaround but not start one.
        let li = user("wang", Role::TeamLead);
        let mut doc = write::create(&new_walkaround("wang"), ActorId::random()).expect("creates");
        answer(&mut doc, "wang", "c8-booth-floor", AnswerValue::Pass);
        let rebuilt = rebuild(&doc, &[], judge_for(&li)).expect("rebuilds");
        assert!(rebuilt.doc.get_heads().is_empty());
        assert_eq!(rebuilt.kept, 0);
        assert_eq!(rebuilt.dropped.len(), 2, "{:?}", rebuilt.dropped);
        assert_eq!(rebuilt.dropped[0].kind, "create");
        assert_eq!(rebuilt.dropped[0].refusal.code, "template_not_for_role");
        assert_eq!(
            rebuilt.dropped[0]
                .refusal
                .role
                .as_ref()
                .map(|r| r.zh.as_str()),
            Some(Role::TeamLead.name().zh.as_str())
        );
        // The answer could not be made without the document: it is reported too.
        assert_eq!(rebuilt.dropped[1].key.as_deref(), Some("c8-booth-floor"));
    }

    #[test]
    fn a_concurrent_answer_from_another_tablet_stays_a_conflict_after_the_rebuild() {
        let wang = user("wang", Role::WorkshopManager);
        let mut doc = write::create(&new_walkaround("wang"), ActorId::random()).expect("creates");
        let created = doc.get_heads();
        let mut other = doc.fork();
        // Offline here: a refused change, then an answer to c8.
        answer(&mut doc, "li", "c9-masking", AnswerValue::Fail);
        answer(&mut doc, "wang", "c8-booth-floor", AnswerValue::Pass);
        // Meanwhile li answered c8 on her tablet; the server has it, and so do we now.
        answer(&mut other, "li", "c8-booth-floor", AnswerValue::Fail);
        doc.merge(&mut other).expect("merges");
        let acked = other.get_heads();
        assert_ne!(acked, created);
        let rebuilt = rebuild(&doc, &acked, judge_for(&wang)).expect("rebuilds");
        assert_eq!(rebuilt.dropped.len(), 1);
        let view = inspection::read(&rebuilt.doc).expect("reads");
        assert_eq!(view.answers[&key("c8-booth-floor")].len(), 2, "a conflict");
    }

    #[test]
    fn a_submission_that_needed_a_dropped_answer_is_dropped_as_incomplete() {
        let wang = user("wang", Role::WorkshopManager);
        let mut doc = write::create(&new_walkaround("wang"), ActorId::random()).expect("creates");
        let acked = doc.get_heads();
        let view = inspection::read(&doc).expect("reads");
        let keys = view.expected_keys();
        let (first, rest) = keys.split_first().expect("keys");
        // The first answer is refused (another author); the rest are wang's.
        let value_for =
            |k: &AnswerKey, view: &Inspection| match view.item_for(k).expect("item").kind {
                shared::template::ItemKind::PassFail => AnswerValue::Pass,
                shared::template::ItemKind::Count { .. } => AnswerValue::Count(0),
                shared::template::ItemKind::Number { min, .. } => AnswerValue::Number(min),
                shared::template::ItemKind::Text => AnswerValue::Text("ok".into()),
                _ => AnswerValue::NotApplicable,
            };
        answer(&mut doc, "li", &first.to_string(), value_for(first, &view));
        for k in rest {
            answer(&mut doc, "wang", &k.to_string(), value_for(k, &view));
        }
        write::submit(&mut doc, &UserId::parse("wang").expect("valid"), Utc::now())
            .expect("submits");
        let rebuilt = rebuild(&doc, &acked, judge_for(&wang)).expect("rebuilds");
        let codes: Vec<_> = rebuilt
            .dropped
            .iter()
            .map(|d| (d.kind, d.refusal.code))
            .collect();
        assert_eq!(
            codes,
            vec![("answer", "forged_author"), ("submit", "incomplete")]
        );
        assert!(
            inspection::read(&rebuilt.doc)
                .expect("reads")
                .submitted
                .is_none()
        );
    }
}
