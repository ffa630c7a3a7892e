//! The permission policy: who may do what, and the judge of every change to an inspection.
//!
//! Two levels. [`authorize`] answers coarse questions (may a team lead waive a fine at this
//! site?) for the server's HTTP endpoints and the office. [`check_inspection_change`]
//! compares an inspection before and after a change and allows it only if every difference
//! is one the user may make; [`judge_change`] runs it on a raw automerge change, judging it
//! against the document *at the change's dependencies*: what its author saw when making
//! it. A tablet that answered offline while another tablet submitted acted honestly on the
//! document it had; judging it against the merged, submitted document would refuse it
//! forever. Its answer is accepted and the reader marks it `late`.
//!
//! The server runs this on every incoming change; the tablet runs it before sending one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{Automerge, Change, ChangeHash, ObjType, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{SiteId, UserId};
use crate::inspection::{self, Inspection};
use crate::role::Role;

/// The person making a request or a change, as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Their id.
    pub id: UserId,
    /// Their role.
    pub role: Role,
    /// The sites they belong to.
    pub sites: BTreeSet<SiteId>,
}

impl User {
    /// Whether the user belongs to `site`.
    pub fn belongs_to(&self, site: &SiteId) -> bool {
        self.sites.contains(site)
    }
}

/// A coarse action, for [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read inspections, violations and reports of a site.
    Read,
    /// Start an inspection.
    CreateInspection,
    /// Answer items, mark bays occupied.
    Answer,
    /// Submit an inspection.
    Submit,
    /// Review a submitted inspection: acknowledge or mark violations corrected.
    Review,
    /// Waive a fine.
    Waive,
    /// Create or edit templates.
    EditTemplate,
    /// Add, edit and disable users and sites.
    ManageUsers,
}

/// A role as an English sentence names it: "team lead", "office admin".
fn role_words(role: Role) -> String {
    role.name().en.to_lowercase()
}

impl Action {
    /// The action as an English sentence names it, after "may not": "answer", "waive a fine".
    pub fn words(self) -> &'static str {
        match self {
            Action::Read => "read this site's inspections",
            Action::CreateInspection => "start an inspection",
            Action::Answer => "answer",
            Action::Submit => "submit",
            Action::Review => "review",
            Action::Waive => "waive a fine",
            Action::EditTemplate => "edit templates",
            Action::ManageUsers => "manage users and sites",
        }
    }

    /// Every action, in a stable order.
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::CreateInspection,
        Action::Answer,
        Action::Submit,
        Action::Review,
        Action::Waive,
        Action::EditTemplate,
        Action::ManageUsers,
    ];

    /// Whether a role may take this action at all (at a site it belongs to).
    pub fn allowed_for(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Read => true,
            // Technicians are observed, not observers.
            Action::CreateInspection | Action::Answer | Action::Submit => role != Technician,
            // Reviews and waivers are the office's and the managers' (not team leads').
            Action::Review | Action::Waive => {
                matches!(
                    role,
                    OfficeAdmin | WorkshopManager | ServiceManager | PartsManager
                )
            }
            Action::EditTemplate | Action::ManageUsers => role == OfficeAdmin,
        }
    }
}

/// Why a request or change was refused. `code()` is stable, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The user does not belong to the site.
    #[error("user {user} does not belong to site {site}")]
    NotMemberOfSite {
        /// The user.
        user: UserId,
        /// The site.
        site: SiteId,
    },
    /// The role may not take the action.
    #[error("a {} may not {}", role_words(*.role), .action.words())]
    RoleNotAllowed {
        /// The role.
        role: Role,
        /// The action.
        action: Action,
    },
    /// The role may not run this template: start it, answer it or submit it. Who runs a
    /// template is the template's `run_by`; reviewing roles read and review, they do not
    /// answer (issue 20, item 7).
    #[error("a {} may not {act} a {template} inspection", role_words(*.role))]
    TemplateNotForRole {
        /// What was attempted: `start`, `answer` or `submit`.
        act: &'static str,
        /// The role.
        role: Role,
        /// The template id.
        template: String,
    },
    /// A record claims an author other than the user making the change.
    #[error("{path} is recorded under {claimed}, but the change is made by {user}")]
    ForgedAuthor {
        /// The document path.
        path: String,
        /// The author the record claims.
        claimed: UserId,
        /// The user making the change.
        user: UserId,
    },
    /// The inspection was submitted before the change's author made it.
    #[error("the inspection is submitted; {path} cannot change")]
    Submitted {
        /// The document path.
        path: String,
    },
    /// A field fixed at creation was changed.
    #[error("{field} is fixed when the inspection is created")]
    Immutable {
        /// The root key.
        field: &'static str,
    },
    /// A record was removed instead of replaced.
    #[error("{path} was deleted; answers are replaced, never deleted")]
    Deleted {
        /// The document path.
        path: String,
    },
    /// A record was edited in place instead of written whole.
    #[error("{path} was edited in place; records are written whole")]
    EditedInPlace {
        /// The document path.
        path: String,
    },
    /// The change writes something the layout does not allow.
    #[error("{path}: {message}")]
    Malformed {
        /// The document path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The inspection cannot be submitted in this state.
    #[error("the inspection cannot be submitted: {}", .0.join("; "))]
    Incomplete(Vec<String>),
    /// A review before submission.
    #[error("only a submitted inspection can be reviewed")]
    NotSubmitted,
    /// The submission's heads are not the heads its author saw.
    #[error("the submission's heads are not the document the submitter saw")]
    HeadsMismatch,
    /// The document is not a readable inspection.
    #[error(transparent)]
    NotAnInspection(#[from] inspection::ReadError),
    /// The change cannot be applied where it claims to belong.
    #[error("the change cannot be applied: {0}")]
    InvalidChange(String),
}

impl Denial {
    /// A stable snake_case code naming the rule of the policy that refused.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::NotMemberOfSite { .. } => "not_member_of_site",
            Denial::RoleNotAllowed { .. } => "role_not_allowed",
            Denial::TemplateNotForRole { .. } => "template_not_for_role",
            Denial::ForgedAuthor { .. } => "forged_author",
            Denial::Submitted { .. } => "submitted",
            Denial::Immutable { .. } => "immutable",
            Denial::Deleted { .. } => "deleted",
            Denial::EditedInPlace { .. } => "edited_in_place",
            Denial::Malformed { .. } => "malformed",
            Denial::Incomplete(_) => "incomplete",
            Denial::NotSubmitted => "not_submitted",
            Denial::HeadsMismatch => "heads_mismatch",
            Denial::NotAnInspection(_) => "not_an_inspection",
            Denial::InvalidChange(_) => "invalid_change",
        }
    }
}

/// May `user` take `action` at `site`? `None` for actions not tied to a site (templates).
pub fn authorize(user: &User, action: Action, site: Option<&SiteId>) -> Result<(), Denial> {
    if let Some(site) = site.filter(|s| !user.belongs_to(s)) {
        return Err(Denial::NotMemberOfSite {
            user: user.id.clone(),
            site: site.clone(),
        });
    }
    if action.allowed_for(user.role) {
        Ok(())
    } else {
        Err(Denial::RoleNotAllowed {
            role: user.role,
            action,
        })
    }
}

fn own(user: &User, path: String, by: &UserId) -> Result<(), Denial> {
    if by == &user.id {
        Ok(())
    } else {
        Err(Denial::ForgedAuthor {
            path,
            claimed: by.clone(),
            user: user.id.clone(),
        })
    }
}

/// Checks the records under one map (answers or occupancy): nothing deleted, nothing
/// edited in place, every new record authored by `user`. Returns the paths of new records.
fn check_records<K: Ord + std::fmt::Display, R>(
    user: &User,
    root: &str,
    before: &BTreeMap<K, Vec<R>>,
    after: &BTreeMap<K, Vec<R>>,
    id: impl Fn(&R) -> &str,
    by: impl Fn(&R) -> &UserId,
    same: impl Fn(&R, &R) -> bool,
) -> Result<Vec<String>, Denial> {
    for key in before.keys() {
        if !after.contains_key(key) {
            return Err(Denial::Deleted {
                path: format!("{root}/{key}"),
            });
        }
    }
    let mut new = Vec::new();
    for (key, records) in after {
        // Formatted only for a record that is new or refused, not for every one unchanged.
        let path = || format!("{root}/{key}");
        let old = before.get(key).map(Vec::as_slice).unwrap_or_default();
        for record in records {
            match old.iter().find(|o| id(o) == id(record)) {
                Some(o) if same(o, record) => {}
                Some(_) => return Err(Denial::EditedInPlace { path: path() }),
                None => {
                    own(user, path(), by(record))?;
                    new.push(path());
                }
            }
        }
    }
    Ok(new)
}

/// Whether the user's role runs the inspection's template (its `run_by`): only those
/// start, answer and submit it. The tablet uses this to show a read-only inspection.
pub fn runs(user: &User, inspection: &Inspection) -> bool {
    inspection.template.run_by.contains(&user.role)
}

/// Whether `user` may answer `inspection` now: a role that runs its template, at its site,
/// before it is submitted.
pub fn may_answer(user: &User, inspection: &Inspection) -> bool {
    inspection.submitted.is_none()
        && runs(user, inspection)
        && authorize(user, Action::Answer, Some(&inspection.site)).is_ok()
}

/// Whether a device keeps every inspection of its user's sites, fetching each one that
/// discovery lists (bounded sync, issue 18). It does for the roles that run inspections on
/// the floor (some template's `run_by`), who start, resume and answer them offline. The
/// office (`OfficeAdmin`) works online from the office's screens and the HTTP API, and a
/// role that runs no template only reads: their devices keep only the inspections they open
/// (fetched on demand) or start themselves.
pub fn keeps_site_documents(user: &User, templates: &[crate::template::Template]) -> bool {
    user.role != Role::OfficeAdmin && templates.iter().any(|t| t.run_by.contains(&user.role))
}

/// Days of history a floor device keeps besides what is not yet submitted (bounded sync,
/// issue 18): today and the 7 days before it. A workshop sets its own with the server's
/// `--device-days`; discovery tells the device the number in use.
pub const DEVICE_DAYS: u32 = 7;

/// The most days a workshop may set for [`DEVICE_DAYS`]: a year.
pub const MAX_DEVICE_DAYS: u32 = 366;

/// Where a floor device's window of history starts: midnight, China time
/// ([`crate::time::CHINA`]), `days` days before the day of `now`. `days` = 0 keeps today only.
pub fn device_window_start(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let today = now.with_timezone(&crate::time::CHINA).date_naive();
    let first = today - chrono::Duration::days(i64::from(days.min(MAX_DEVICE_DAYS)));
    first
        .and_hms_opt(0, 0, 0)
        .and_then(|t| crate::time::CHINA.from_local_datetime(&t).single())
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// Whether a floor device keeps `inspection` (bounded sync, issue 18): it is not submitted
/// yet, or it started on or after [`device_window_start`], or the user opened it
/// (`opened`) on or after that. The server lists exactly these in discovery with
/// `scope=device` (by the times it recorded on receipt); a device drops the others it
/// holds once nothing of them is waiting to be sent. Times are the device's: at worst a
/// wrong clock keeps a document a while longer or fetches it again when opened.
pub fn device_keeps(
    inspection: &Inspection,
    opened: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    days: u32,
) -> bool {
    let start = device_window_start(now, days);
    inspection.submitted.is_none()
        || inspection.created_at >= start
        || opened.is_some_and(|at| at >= start)
}

/// Whether `user` may turn the inspection `before` (None: the empty document) into `after`.
pub fn check_inspection_change(
    user: &User,
    before: Option<&Inspection>,
    after: &Inspection,
) -> Result<(), Denial> {
    authorize(user, Action::Read, Some(&after.site))?;
    match before {
        None => {
            authorize(user, Action::CreateInspection, Some(&after.site))?;
            if !runs(user, after) {
                return Err(Denial::TemplateNotForRole {
                    act: "start",
                    role: user.role,
                    template: after.template.id.to_string(),
                });
            }
            own(
                user,
                inspection::keys::CREATED_BY.to_string(),
                &after.created_by,
            )?;
            if let Err(errors) = after.template.validate() {
                let e = &errors[0];
                return Err(Denial::Malformed {
                    path: format!("template.{}", e.field),
                    message: e.message.clone(),
                });
            }
        }
        Some(b) => {
            use inspection::keys;
            let fixed = [
                (keys::ID, b.id == after.id),
                (keys::SITE, b.site == after.site),
                (keys::TEMPLATE, b.template == after.template),
                (keys::AREAS, b.areas == after.areas),
                (keys::CREATED_BY, b.created_by == after.created_by),
                (keys::CREATED_AT, b.created_at == after.created_at),
            ];
            if let Some((field, _)) = fixed.into_iter().find(|(_, same)| !same) {
                return Err(Denial::Immutable { field });
            }
        }
    }

    let old_problems: BTreeSet<_> = before
        .map(|b| b.problems.iter().collect())
        .unwrap_or_default();
    if let Some(p) = after.problems.iter().find(|p| !old_problems.contains(p)) {
        return Err(Denial::Malformed {
            path: p.path.clone(),
            message: p.message.clone(),
        });
    }

    // A creation is compared with the same inspection holding nothing yet (made only
    // then: it copies the whole inspection).
    let empty;
    let b = match before {
        Some(b) => b,
        None => {
            empty = Inspection {
                answers: BTreeMap::new(),
                occupied: BTreeMap::new(),
                submitted: None,
                duplicate_submissions: Vec::new(),
                review: None,
                problems: Vec::new(),
                ..after.clone()
            };
            &empty
        }
    };
    let submitted_before = b.submitted.is_some();

    // `late` is derived from the submission, not stored in the record, so it is not
    // part of what a change could have edited.
    let same_answer = |x: &inspection::Answer, y: &inspection::Answer| {
        x.value == y.value
            && x.note == y.note
            && x.photos == y.photos
            && x.by == y.by
            && x.at == y.at
    };
    let mut written = check_records(
        user,
        inspection::keys::ANSWERS,
        &b.answers,
        &after.answers,
        |r| &r.obj,
        |r| &r.by,
        same_answer,
    )?;
    written.extend(check_records(
        user,
        inspection::keys::OCCUPIED,
        &b.occupied,
        &after.occupied,
        |r| &r.obj,
        |r| &r.by,
        |x, y| x == y,
    )?);
    if let Some(path) = written.into_iter().next() {
        if submitted_before {
            return Err(Denial::Submitted { path });
        }
        authorize(user, Action::Answer, Some(&after.site))?;
        if !runs(user, after) {
            return Err(Denial::TemplateNotForRole {
                act: "answer",
                role: user.role,
                template: after.template.id.to_string(),
            });
        }
    }

    match (&b.submitted, &after.submitted) {
        (None, None) => {}
        (None, Some(s)) => {
            authorize(user, Action::Submit, Some(&after.site))?;
            if !runs(user, after) {
                return Err(Denial::TemplateNotForRole {
                    act: "submit",
                    role: user.role,
                    template: after.template.id.to_string(),
                });
            }
            own(user, inspection::keys::SUBMITTED.to_string(), &s.by)?;
            let problems = after.submission_problems();
            if !problems.is_empty() {
                return Err(Denial::Incomplete(problems));
            }
        }
        (Some(x), Some(y)) if x == y && b.duplicate_submissions == after.duplicate_submissions => {}
        (Some(_), _) => {
            return Err(Denial::Submitted {
                path: inspection::keys::SUBMITTED.to_string(),
            });
        }
    }

    if b.review != after.review {
        authorize(user, Action::Review, Some(&after.site))?;
        let Some(review) = &after.review else {
            return Err(Denial::Deleted {
                path: inspection::keys::REVIEW.to_string(),
            });
        };
        if after.submitted.is_none() {
            return Err(Denial::NotSubmitted);
        }
        own(user, inspection::keys::REVIEW.to_string(), &review.by)?;
    }
    Ok(())
}

/// Judges one automerge change made by `user` to the document `doc` (which must already
/// hold the change's dependencies): the change is replayed on the document as it was at
/// its dependencies and the two states are compared with [`check_inspection_change`].
///
/// This is the reference judge: the document as it was is built from its history
/// (`Automerge::fork_at`), which costs the whole history for a change made concurrently
/// with another. [`judge_and_apply_from`] and [`judge_applied`] give exactly its verdicts
/// (`shared/tests/judge.rs`) and, on a [`History::Checked`] document, read the document at
/// the change's dependencies instead of rebuilding it.
pub fn judge_change(user: &User, doc: &Automerge, change: &Change) -> Result<(), Denial> {
    let deps = change.deps();
    if deps.is_empty() && !doc.get_heads().is_empty() {
        return Err(already_exists());
    }
    check_structure(doc, change)?;
    // Usually a change was made on top of the document's current heads; then the document
    // itself is what its author saw, and replaying the history up to the dependencies
    // (which costs the whole history) is not needed.
    let mut at = if same_heads(&doc.get_heads(), deps) {
        doc.clone()
    } else {
        fork_at(doc, deps)?
    };
    let before = if deps.is_empty() {
        None
    } else {
        Some(inspection::read(&at)?)
    };
    at.apply_changes([change.clone()])
        .map_err(|e| Denial::InvalidChange(e.to_string()))?;
    if !at.get_heads().contains(&change.hash()) {
        return Err(not_applied());
    }
    let after = inspection::read(&at)?;
    check_transition(user, before.as_ref(), &after, deps)
}

/// Whether every change of a document keeps automerge's own rules for changes (the first
/// two of [`check_structure`]'s: operation counters after the dependencies', and each
/// actor's changes one chain of ancestors). automerge does not check them when it applies
/// a change; its historical reads (by vector clock) see exactly the document at some heads
/// only while they hold (issue 21's review: a change breaking them could hide a submission
/// from such reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Every change keeps the rules: a concurrent change is judged by reading the document
    /// at its dependencies (automerge's historical reads).
    Checked,
    /// Not known to keep them: a concurrent change is judged on the document rebuilt from
    /// its history up to the change's dependencies ([`judge_change`]).
    Unchecked,
}

/// Checks every change of `doc` for automerge's rules for changes (see [`History`]), in
/// one pass over the changes' metadata: O(changes × actors), no operation is read. A
/// document whose changes were all judged by this policy passes, since
/// [`check_structure`] refuses any change that breaks them; one stored before that rule,
/// or written around the judge, may not, and is then judged by replay.
pub fn check_history(doc: &Automerge) -> History {
    use std::collections::HashMap;
    let metas = doc.get_changes_meta(&[]);
    let mut actors: HashMap<&automerge::ActorId, usize> = HashMap::new();
    for meta in &metas {
        let next = actors.len();
        actors.entry(meta.actor.as_ref()).or_insert(next);
    }
    // For each change seen: its max op and, per actor, the highest sequence number among
    // it and its ancestors.
    let mut seen: HashMap<ChangeHash, (u64, Vec<u64>)> = HashMap::with_capacity(metas.len());
    for meta in &metas {
        let mut clock = vec![0u64; actors.len()];
        for dep in &meta.deps {
            // Changes come after their dependencies; one that does not is not checked.
            let Some((max_op, dep_clock)) = seen.get(dep) else {
                return History::Unchecked;
            };
            if meta.start_op <= *max_op {
                return History::Unchecked;
            }
            for (c, d) in clock.iter_mut().zip(dep_clock) {
                *c = (*c).max(*d);
            }
        }
        let Some(&actor) = actors.get(meta.actor.as_ref()) else {
            return History::Unchecked;
        };
        // automerge numbers each actor's changes 1, 2, 3, … (it refuses a gap or a second
        // change with one number), so the actor's previous change is an ancestor exactly
        // when the highest number of the actor among the ancestors is this one less one.
        if clock[actor] + 1 != meta.seq {
            return History::Unchecked;
        }
        clock[actor] = meta.seq;
        seen.insert(meta.hash, (meta.max_op, clock));
    }
    History::Checked
}

/// Whether `changes`, all held by `doc`, keep automerge's rules for changes (see
/// [`History`]): for adding changes judged elsewhere (another server instance) to a
/// [`History::Checked`] document.
pub fn check_added(doc: &Automerge, changes: &[Change]) -> History {
    if changes.iter().all(|c| check_structure(doc, c).is_ok()) {
        History::Checked
    } else {
        History::Unchecked
    }
}

/// Refuses a change that breaks what automerge itself keeps for every change it writes
/// (its dependencies must be in `doc`; `doc` may also hold the change itself):
/// - its first operation counter is above every dependency's last, so its operations come
///   after everything its author saw;
/// - every earlier change of its actor (lower sequence number) is among its ancestors, so
///   an actor's changes form one chain;
/// - its operations refer only to operations among its ancestors (or its own).
///
/// automerge does not check either when it applies a change, and a document holding one
/// that breaks them may not load again once saved, and reads it by vector clock (its
/// historical reads) see the wrong operations (issue 21's review). Honest automerge
/// clients, ours and the stock JavaScript ones, never write such a change.
///
/// Returns how many changes of `doc` (other than `change`) are not among its ancestors
/// (those its author had not seen), and the change's operations, decoded.
fn check_structure(
    doc: &Automerge,
    change: &Change,
) -> Result<(usize, Vec<automerge::legacy::Op>), Denial> {
    check_structure_given(doc, change, None)
}

/// A change of the document that another's author had not seen (not among its
/// ancestors): its actor, sequence number and the counters of its operations.
struct Unseen<'a> {
    actor: std::borrow::Cow<'a, automerge::ActorId>,
    seq: u64,
    start_op: u64,
    max_op: u64,
}

/// [`check_structure`], where `later`, when given, is exactly the changes of `doc` other
/// than `change` that are not among its ancestors (in a chain `doc` holds nothing beyond,
/// the changes after it), so they are not looked up in `doc`'s change graph (which costs
/// the whole of them for each change of a chain).
fn check_structure_given(
    doc: &Automerge,
    change: &Change,
    later: Option<&[Change]>,
) -> Result<(usize, Vec<automerge::legacy::Op>), Denial> {
    let malformed = |what: &str| {
        Denial::InvalidChange(format!("it breaks automerge's rules for a change: {what}"))
    };
    let start = change.start_op().get();
    for dep in change.deps() {
        let Some(meta) = doc.get_change_meta_by_hash(dep) else {
            return Err(Denial::InvalidChange(
                "its dependencies are not all known".to_string(),
            ));
        };
        if start <= meta.max_op {
            return Err(malformed(
                "its operation counter does not follow its dependencies'",
            ));
        }
    }
    let actor = change.actor_id();
    let seq = change.seq();
    let hash = change.hash();
    let operations = change.decode().operations;
    check_keys(doc, change, &operations).map_err(&malformed)?;
    // What `get_changes_meta` lists is what is not an ancestor of the dependencies: for a
    // change on top of the document's heads, nothing (or the change itself).
    let unseen: Vec<Unseen<'_>> = match later {
        Some(later) => later
            .iter()
            .map(|other| Unseen {
                actor: std::borrow::Cow::Borrowed(other.actor_id()),
                seq: other.seq(),
                start_op: other.start_op().get(),
                max_op: other.max_op(),
            })
            .collect(),
        None => doc
            .get_changes_meta(change.deps())
            .into_iter()
            .filter(|other| other.hash != hash)
            .map(|other| Unseen {
                actor: other.actor,
                seq: other.seq,
                start_op: other.start_op,
                max_op: other.max_op,
            })
            .collect(),
    };
    if unseen
        .iter()
        .any(|other| other.actor.as_ref() == actor && other.seq < seq)
    {
        return Err(malformed(
            "an earlier change of its actor is not among its dependencies",
        ));
    }
    if unseen.is_empty() {
        return Ok((0, operations));
    }
    // An operation may only refer to operations its author saw: the object it writes in,
    // the list element it follows, the values it overwrites or deletes. One that names an
    // operation of a change outside its dependencies would overwrite or delete a value the
    // judge, reading the document at the dependencies, never sees (a submission, say).
    let is_unseen = |id: &automerge::legacy::OpId| {
        unseen.iter().any(|other| {
            other.actor.as_ref() == &id.1 && other.start_op <= id.0 && id.0 <= other.max_op
        })
    };
    let refers_to_unseen = operations.iter().any(|op| {
        let obj = match &op.obj {
            automerge::legacy::ObjectId::Id(id) => Some(id),
            automerge::legacy::ObjectId::Root => None,
        };
        let elem = match &op.key {
            automerge::legacy::Key::Seq(automerge::legacy::ElementId::Id(id)) => Some(id),
            _ => None,
        };
        obj.into_iter()
            .chain(elem)
            .chain(op.pred.iter())
            .any(is_unseen)
    });
    if refers_to_unseen {
        return Err(malformed("it refers to operations its author had not seen"));
    }
    Ok((unseen.len(), operations))
}

/// Whether every operation of `change` is keyed the way its object is: by a key in a map
/// (or the root), by a list position in a list or text (the head only to insert after),
/// inserts only into a list or text, and marks only in a text. automerge 0.12 takes a change that breaks this through the sync protocol and
/// panics applying it with `apply_changes` (a map's record made under a list position,
/// `shared/tests/judge.rs`): stored, it would break every peer that applies it. The
/// objects are those of `doc` or made earlier in the change itself; an operation in an
/// object that is neither is malformed too.
fn check_keys(
    doc: &Automerge,
    change: &Change,
    operations: &[automerge::legacy::Op],
) -> Result<(), &'static str> {
    use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
    let start = change.start_op().get();
    let actor = change.actor_id();
    // The objects the change writes in (looked up once each) and makes, by their ids.
    let mut objects: HashMap<OpId, ObjType> = HashMap::new();
    for (i, op) in (0u64..).zip(operations) {
        let object = match &op.obj {
            ObjectId::Root => ObjType::Map,
            ObjectId::Id(id) => match objects.get(id) {
                Some(object) => *object,
                // An object of this change not made by an earlier operation of it: `doc`
                // may already hold the change (the server's fork), and must not be asked.
                None if id.1 == *actor && id.0 >= start => {
                    return Err("an operation is in an object that does not exist");
                }
                None => {
                    let obj = doc
                        .import_obj(&format!("{}@{}", id.0, id.1))
                        .map_err(|_| "an operation is in an object that does not exist")?;
                    let object = doc
                        .object_type(&obj)
                        .map_err(|_| "an operation is in an object that does not exist")?;
                    objects.insert(id.clone(), object);
                    object
                }
            },
        };
        let sequence = matches!(object, ObjType::List | ObjType::Text);
        match (&op.key, sequence) {
            (Key::Map(_), false) if !op.insert => {}
            // The head of a sequence is only a place to insert after.
            (Key::Seq(ElementId::Head), true) if !op.insert => {
                return Err("an operation's key does not fit its object");
            }
            (Key::Seq(_), true) => {}
            _ => return Err("an operation's key does not fit its object"),
        }
        match &op.action {
            OpType::Make(made_type) => {
                objects.insert(OpId(start + i, actor.clone()), *made_type);
            }
            OpType::MarkBegin(_) | OpType::MarkEnd(_) if object != ObjType::Text => {
                return Err("a mark is outside a text");
            }
            _ => {}
        }
    }
    Ok(())
}

/// The document as it was at `heads`, built from its history.
fn fork_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<Automerge, Denial> {
    doc.fork_at(heads)
        .map_err(|e| Denial::InvalidChange(format!("its dependencies are not all known: {e}")))
}

/// A second change without dependencies would be a second creation of the same document,
/// racing the first for every fixed field.
fn already_exists() -> Denial {
    Denial::InvalidChange("the document already exists; a change must depend on it".to_string())
}

fn not_applied() -> Denial {
    Denial::InvalidChange("it was not applied".to_string())
}

/// Whether the document's heads are exactly a change's dependencies (sorted lists equal: a
/// dependency named twice is not the same list).
pub fn same_heads(heads: &[ChangeHash], deps: &[ChangeHash]) -> bool {
    let mut heads = heads.to_vec();
    heads.sort();
    let mut deps = deps.to_vec();
    deps.sort();
    heads == deps
}

/// The comparison of the states before and after one change, shared by [`judge_change`]
/// and [`judge_and_apply`].
fn check_transition(
    user: &User,
    before: Option<&Inspection>,
    after: &Inspection,
    deps: &[automerge::ChangeHash],
) -> Result<(), Denial> {
    check_inspection_change(user, before, after)?;
    let newly_submitted = before.is_none_or(|b| b.submitted.is_none());
    if let (true, Some(s)) = (newly_submitted, &after.submitted) {
        let mut seen: Vec<String> = deps.iter().map(ToString::to_string).collect();
        seen.sort();
        if s.heads != seen {
            return Err(Denial::HeadsMismatch);
        }
    }
    Ok(())
}

/// How many changes a concurrent change's author may not have seen for the judge to read
/// the document at its dependencies by moving the inspection it holds now back over them
/// (reading again only the records they touched); with more, the whole inspection is read
/// at the dependencies.
const REREAD_UNSEEN: usize = 16;

/// Judges `changes` (in dependency order) made by `user` and applies each allowed one to
/// `doc`, with exactly the verdicts of [`judge_change`] one by one. Returns the inspection
/// as it is after the last change when that was read on the way.
///
/// Checks `doc`'s history first ([`check_history`]); a caller that keeps documents checks
/// once and calls [`judge_and_apply_from`]. On a denial `doc` is left part-way, so pass a
/// scratch copy and drop it then.
pub fn judge_and_apply(
    user: &User,
    doc: &mut Automerge,
    changes: &[Change],
) -> Result<Option<Inspection>, Denial> {
    let history = check_history(doc);
    judge_and_apply_from(user, doc, changes, None, history)
}

/// [`judge_and_apply`] for a document whose history is known (`history`, see [`History`])
/// and, when the caller has it, the inspection as `doc` holds it now (`current`, what
/// [`inspection::read`] gives; the server keeps it with each document in memory).
///
/// The per-change costs of [`judge_change`] are avoided: the document is changed in place,
/// not copied; the state before a change on top of the heads is the state after the
/// previous one; the state after it is that state with only the records the change
/// touched read again ([`inspection::Touched`]); and on a checked history a concurrent
/// change is judged by reading the document at its dependencies (the inspection now, moved
/// back over the changes its author had not seen) instead of rebuilding the document from
/// its history. On a denial `doc` is left part-way, so pass a scratch copy and drop it
/// then.
pub fn judge_and_apply_from(
    user: &User,
    doc: &mut Automerge,
    changes: &[Change],
    mut current: Option<Inspection>,
    history: History,
) -> Result<Option<Inspection>, Denial> {
    refers_to_later(changes)?;
    for change in changes {
        let deps = change.deps();
        let on_heads = !deps.is_empty() && same_heads(&doc.get_heads(), deps);
        if deps.is_empty() || (!on_heads && history == History::Unchecked) {
            judge_change(user, doc, change)?;
            doc.apply_changes([change.clone()])
                .map_err(|e| Denial::InvalidChange(e.to_string()))?;
            current = None;
            continue;
        }
        let (unseen, operations) = check_structure(doc, change)?;
        let before = if on_heads {
            match current.take() {
                Some(view) => view,
                None => inspection::read(doc)?,
            }
        } else {
            at_dependencies(doc, change, current.as_ref(), unseen)?
        };
        doc.apply_changes([change.clone()])
            .map_err(|e| Denial::InvalidChange(e.to_string()))?;
        if !doc.get_heads().contains(&change.hash()) {
            return Err(not_applied());
        }
        let touched = inspection::Touched::by_operations(doc, change, &operations);
        let (after, now) = after_change(doc, change, &before, &touched, on_heads, current)?;
        check_transition(user, Some(&before), &after, deps)?;
        current = if on_heads { Some(after) } else { now };
    }
    Ok(current)
}

/// The changes `doc` holds after `before` (its heads before a message), as automerge
/// stores them, provided they are exactly the `judged` changes: automerge keeps a change's
/// operations, not its bytes, and writes it out again from them, so a reference it could
/// not place (a predecessor naming an operation that exists nowhere, or one in an object
/// the change does not write in) is dropped and the stored change is another change,
/// with another hash. Later changes depending on the original would then never apply, and
/// a snapshot holding it would not load (automerge checks a document's heads). Refuses a
/// message whose changes do not survive being stored; returns them, ready to be written,
/// when they do.
pub fn stored_changes(
    doc: &Automerge,
    before: &[ChangeHash],
    judged: &[ChangeHash],
) -> Result<Vec<Change>, Denial> {
    let dropped = || {
        Denial::InvalidChange(
            "it breaks automerge's rules for a change: it refers to an operation automerge does not keep"
                .to_string(),
        )
    };
    // automerge's debug builds check the changes they write out against a second encoding
    // and panic on such a change; release builds write it out altered.
    let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.get_changes(before)))
        .map_err(|_| dropped())?;
    let mut theirs: Vec<ChangeHash> = judged.to_vec();
    theirs.sort_unstable();
    theirs.dedup();
    let mut ours: Vec<ChangeHash> = stored.iter().map(Change::hash).collect();
    ours.sort_unstable();
    if ours != theirs {
        return Err(dropped());
    }
    Ok(stored)
}

/// Refuses a message in which a change refers (by the object it writes in, the element it
/// follows or a value it overwrites) to an operation of a change after it in `changes`
/// (dependency order). Replayed one change at a time such a reference points nowhere and
/// is ignored; but the changes are stored as one chunk, which automerge loads as one
/// batch, where it does hide the later value (a deletion nobody judged; issue 21's
/// review of session 12). Costs one decode of each change of a message of several.
fn refers_to_later(changes: &[Change]) -> Result<(), Denial> {
    use automerge::legacy::{ElementId, Key, ObjectId};
    if changes.len() < 2 {
        return Ok(());
    }
    // Each actor's changes of the message by their first operation: (start, max, index).
    let mut ranges: HashMap<&automerge::ActorId, Vec<(u64, u64, usize)>> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        if !change.is_empty() {
            ranges.entry(change.actor_id()).or_default().push((
                change.start_op().get(),
                change.max_op(),
                i,
            ));
        }
    }
    for list in ranges.values_mut() {
        list.sort_unstable();
    }
    let later = |id: &automerge::legacy::OpId, index: usize| {
        ranges.get(&id.1).is_some_and(|list| {
            let after = list.partition_point(|(start, _, _)| *start <= id.0);
            after > 0 && {
                let (_, max, at) = list[after - 1];
                id.0 <= max && at > index
            }
        })
    };
    for (i, change) in changes.iter().enumerate() {
        for op in change.decode().operations {
            let obj = match &op.obj {
                ObjectId::Id(id) => Some(id),
                ObjectId::Root => None,
            };
            let elem = match &op.key {
                Key::Seq(ElementId::Id(id)) => Some(id),
                _ => None,
            };
            if obj
                .into_iter()
                .chain(elem)
                .chain(op.pred.iter())
                .any(|id| later(id, i))
            {
                return Err(Denial::InvalidChange(
                    "it breaks automerge's rules for a change: it refers to operations its author had not seen"
                        .to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// The inspection as the document was at `change`'s dependencies, read on `doc` (which
/// holds them and may hold the change), whose history is checked: the inspection `now`
/// (as `doc` holds it without the change) moved back over the `unseen` changes, when
/// known and few; otherwise read whole at the dependencies.
fn at_dependencies(
    doc: &Automerge,
    change: &Change,
    now: Option<&Inspection>,
    unseen: usize,
) -> Result<Inspection, Denial> {
    let deps = change.deps();
    let hash = change.hash();
    match now {
        Some(now) if unseen <= REREAD_UNSEEN => {
            let others: Vec<Change> = doc
                .get_changes(deps)
                .into_iter()
                .filter(|c| c.hash() != hash)
                .collect();
            let touched = inspection::Touched::by(doc, &others);
            Ok(inspection::reread(doc, Some(deps), now, &touched)?)
        }
        _ => Ok(inspection::read_at(doc, deps)?),
    }
}

/// The inspection just after `change` (its author's view: the state before it plus the
/// records it `touched`), and, for a concurrent change whose inspection without it is
/// known (`current`), the inspection `doc` now holds. For a change on top of the heads the
/// inspection just after it is the one `doc` holds, and the second is `None`.
fn after_change(
    doc: &Automerge,
    change: &Change,
    before: &Inspection,
    touched: &inspection::Touched,
    on_heads: bool,
    current: Option<Inspection>,
) -> Result<(Inspection, Option<Inspection>), Denial> {
    if on_heads {
        return Ok((inspection::reread(doc, None, before, touched)?, None));
    }
    let after = inspection::reread(doc, Some(&[change.hash()]), before, touched)?;
    let now = match current {
        Some(current) => Some(inspection::reread(doc, None, &current, touched)?),
        None => None,
    };
    Ok((after, now))
}

/// Most changes in one message that [`judge_applied`] judges by historical reads in the
/// copy holding them; a larger message (a long offline session sent at once) is judged by
/// replay, whose cost per change does not grow with the number of changes in the message.
pub const MAX_APPLIED_CHANGES: usize = 64;

/// Whether [`judge_applied`] judges `changes` changes on a document whose history is
/// `history` in the copy holding them: one change, or at most [`MAX_APPLIED_CHANGES`] on
/// a [`History::Checked`] history. Otherwise the caller replays them on a copy of the
/// stored document ([`judge_and_apply_from`]) and keeps that copy.
pub fn judges_applied(changes: usize, history: History) -> bool {
    changes <= 1 || (history == History::Checked && changes <= MAX_APPLIED_CHANGES)
}

/// The inspections a caller of [`judge_applied`] already holds for states of the stored
/// document, each exactly what [`inspection::read`] gave for that state; every one spares
/// the judge a read.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// The inspection as the stored document holds it now.
    pub now: Option<Inspection>,
    /// The inspection as the stored document was at these heads (sorted), typically those
    /// it had before its last accepted message: a change made concurrently with that
    /// message depends on exactly them, and is then judged against this one instead of
    /// the inspection now moved back over the message's changes.
    pub earlier: Option<(Vec<ChangeHash>, Inspection)>,
}

impl From<Option<Inspection>> for Known {
    /// Only the inspection now, if known.
    fn from(now: Option<Inspection>) -> Known {
        Known { now, earlier: None }
    }
}

/// Judges `changes` (in dependency order: each after those of its dependencies among
/// them) made by `user` that `applied` already holds: `applied` is `stored` with exactly
/// those changes added (automerge applied a sync message to a copy of the stored
/// document). The verdict is [`judge_change`]'s on each change in turn, the first refusal
/// (which change's refusal is reported may differ when one is refused by the policy and
/// a later one breaks automerge's rules for changes: both refuse the message). Returns
/// the inspection as `applied` holds it when it was read on the way.
///
/// This is how the server judges a sync message without a second copy of the document.
/// Each change is judged by reading `applied` just after it (automerge's historical reads
/// at the change's hash, only the records it touched) against the state before it: the
/// state after the previous change, or `known.now` (the inspection as `stored` holds it,
/// when the caller kept it) for a change on top of `stored`'s heads, or for a concurrent
/// one `known.earlier` when its heads are exactly the change's dependencies, otherwise
/// the inspection now moved back to them. What the caller passes only saves reads: the
/// verdicts are the same with [`Known::default`].
///
/// Historical reads are exact only while every change keeps automerge's rules for
/// changes (see [`History`]), so every change is checked for them before any is judged.
/// On an unchecked `history`, a single change not on top of the heads is judged by
/// [`judge_change`]. Several changes that [`judges_applied`] does not take (more than
/// [`MAX_APPLIED_CHANGES`], or an unchecked history) are refused: the caller replays
/// them instead, since a replay judges a document other than `applied`.
pub fn judge_applied(
    user: &User,
    stored: &Automerge,
    applied: &Automerge,
    changes: &[Change],
    known: impl Into<Known>,
    history: History,
) -> Result<Option<Inspection>, Denial> {
    let Known {
        now: mut stored_view,
        mut earlier,
    } = known.into();
    let stored_heads = stored.get_heads();
    let heads = applied.get_heads();
    if !judges_applied(changes.len(), history) {
        return Err(Denial::InvalidChange(
            "too many changes to judge in the copy holding them".to_string(),
        ));
    }
    if changes
        .iter()
        .any(|change| applied.get_change_meta_by_hash(&change.hash()).is_none())
    {
        return Err(not_applied());
    }
    if let [change] = changes {
        let on_heads = same_heads(&stored_heads, change.deps()) && heads == [change.hash()];
        if change.deps().is_empty() || (!on_heads && history == History::Unchecked) {
            judge_change(user, stored, change)?;
            return Ok(None);
        }
    }
    // A message that is one chain (each change on the one before; a tablet's answers made
    // offline) and that `applied` holds nothing beyond: past each change there are only
    // the chain's later changes. Those are then what its author had not seen, and a
    // record none of them touched again is read as it is now rather than at the change
    // (`reread_settled`).
    let chain = heads.len() == 1
        && changes.last().is_some_and(|last| heads[0] == last.hash())
        && changes
            .windows(2)
            .all(|pair| pair[1].deps() == [pair[0].hash()]);
    // Every change checked for automerge's rules before any is read at its hash: one
    // that breaks them could change what a historical read of another sees.
    let checked = changes
        .iter()
        .enumerate()
        .map(|(n, change)| {
            let later = chain.then(|| &changes[n + 1..]);
            check_structure_given(applied, change, later)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let touched_each = inspection::Touched::each(
        applied,
        changes
            .iter()
            .zip(&checked)
            .map(|(change, (_, operations))| (change, operations.as_slice())),
    );
    let settled = if chain && changes.len() > 1 {
        inspection::Touched::settled(&touched_each)
    } else {
        Vec::new()
    };
    let mut created = !stored_heads.is_empty();
    // The state just after the last change judged, and what all of them touched.
    let mut last: Option<(ChangeHash, Inspection)> = None;
    let mut touched_all = inspection::Touched::default();
    for (n, ((change, (unseen, _)), touched)) in
        changes.iter().zip(checked).zip(touched_each).enumerate()
    {
        let deps = change.deps();
        let hash = change.hash();
        let before = if deps.is_empty() {
            if created {
                return Err(already_exists());
            }
            created = true;
            None
        } else if let Some((_, after)) = last.take_if(|(previous, _)| deps == [*previous]) {
            Some(after)
        } else if same_heads(&stored_heads, deps) {
            Some(match stored_view.take() {
                Some(view) => view,
                None => inspection::read(stored)?,
            })
        } else if let Some((_, view)) = earlier.take_if(|(heads, _)| same_heads(heads, deps)) {
            // The stored document at exactly the change's dependencies, already read: the
            // same heads in a history that only grows.
            Some(view)
        } else if deps
            .iter()
            .all(|dep| stored.get_change_meta_by_hash(dep).is_some())
        {
            // What its author had not seen is counted in `applied`, which also holds the
            // message's other changes: at most more than `stored` holds.
            Some(at_dependencies(
                stored,
                change,
                stored_view.as_ref(),
                unseen,
            )?)
        } else {
            Some(inspection::read_at(applied, deps)?)
        };
        // Just after the change is `applied` itself when the change is its only head.
        let at = (heads != [hash]).then_some(std::slice::from_ref(&hash));
        let after = match (&before, at, settled.get(n)) {
            (Some(before), Some(at), Some(Some(settled))) => {
                inspection::reread_settled(applied, at, before, &touched, settled)?
            }
            (Some(before), _, _) => inspection::reread(applied, at, before, &touched)?,
            (None, Some(at), _) => inspection::read_at(applied, at)?,
            (None, None, _) => inspection::read(applied)?,
        };
        check_transition(user, before.as_ref(), &after, deps)?;
        touched_all.merge(touched);
        last = Some((hash, after));
    }
    Ok(match (last, stored_view) {
        (Some((hash, after)), _) if heads == [hash] => Some(after),
        // The inspection `stored` holds, with what the changes touched read again.
        (_, Some(view)) => Some(inspection::reread(applied, None, &view, &touched_all)?),
        _ => None,
    })
}
