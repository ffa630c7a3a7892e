//! The inspection as an automerge document.
//!
//! One inspection is one automerge document. Its layout is specified in
//! `docs/INSPECTION-DOCUMENT.md`; this module is the reference reader ([`read`]) and
//! writer ([`write`]). The essential choices:
//!
//! - What must never change after creation (the template copy, the site's areas, the site)
//!   is stored as single scalar values, so any attempt to change them is one visible write.
//! - Every answer is a *record* (a map holding the value, note, photos, author and time)
//!   written whole under its answer key, never edited in place. Two tablets that answer the
//!   same item concurrently therefore leave two records under one key: automerge keeps both
//!   as a conflict, and the reader returns both instead of silently picking one.
//! - Submission stores the heads the submitter saw, so every reader can tell which answers
//!   were made without knowledge of the submission (late answers, shown as amendments).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AreaId, IdError, InspectionId, ItemId, SiteId, UserId};
use crate::site::Area;
use crate::template::{ItemKind, Template};

pub mod read;
pub mod write;

pub use read::{ReadError, Touched, read, read_at, reread, reread_settled};
pub use write::{EditError, NewInspection};

/// The value of the root `schema` key of every inspection document.
pub const SCHEMA: &str = "walkaround/inspection";
/// The layout version this code reads and writes (root key `layout`).
pub const LAYOUT_VERSION: u64 = 1;

/// Keys of the document, as specified in `docs/INSPECTION-DOCUMENT.md`.
pub mod keys {
    /// Root: always [`super::SCHEMA`].
    pub const SCHEMA: &str = "schema";
    /// Root: the layout version, an unsigned integer.
    pub const LAYOUT: &str = "layout";
    /// Root: the inspection id.
    pub const ID: &str = "id";
    /// Root: the site id.
    pub const SITE: &str = "site";
    /// Root: the template copy, JSON text.
    pub const TEMPLATE: &str = "template";
    /// Root: the site's areas at creation, JSON text.
    pub const AREAS: &str = "areas";
    /// Root: who created the inspection.
    pub const CREATED_BY: &str = "created_by";
    /// Root: when, a timestamp.
    pub const CREATED_AT: &str = "created_at";
    /// Root: map from bay id to occupancy record.
    pub const OCCUPIED: &str = "occupied";
    /// Root: map from answer key to answer record.
    pub const ANSWERS: &str = "answers";
    /// Root: the submission record, absent until submitted.
    pub const SUBMITTED: &str = "submitted";
    /// Root: the reviewer's record, absent until reviewed.
    pub const REVIEW: &str = "review";
    /// Record: the answer or occupancy value.
    pub const VALUE: &str = "value";
    /// Record: a note, text.
    pub const NOTE: &str = "note";
    /// Record: list of photo references (sha256 hex).
    pub const PHOTOS: &str = "photos";
    /// Record: the author's user id.
    pub const BY: &str = "by";
    /// Answer record, optional: the device that wrote it (the tablet's peer id), so two
    /// tablets of one user can be told apart (issue 20, item 11).
    pub const DEVICE: &str = "device";
    /// Record: the time, a timestamp.
    pub const AT: &str = "at";
    /// Submission record: the heads the submitter saw, hex change hashes.
    pub const HEADS: &str = "heads";
    /// Review record: the reviewer's comment.
    pub const COMMENT: &str = "comment";

    /// Every root key a valid inspection may hold.
    pub const ROOT: [&str; 12] = [
        SCHEMA, LAYOUT, ID, SITE, TEMPLATE, AREAS, CREATED_BY, CREATED_AT, OCCUPIED, ANSWERS,
        SUBMITTED, REVIEW,
    ];
}

/// Where an answer belongs: an item, and for repeated items the area.
///
/// Written in the document (and in JSON) as `item` or `item@area`; `@` can never occur in
/// an id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AnswerKey {
    /// The template item.
    pub item: ItemId,
    /// The bay, room or entrance, for items that repeat.
    pub area: Option<AreaId>,
}

impl TryFrom<String> for AnswerKey {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<AnswerKey> for String {
    fn from(k: AnswerKey) -> String {
        k.to_string()
    }
}

impl AnswerKey {
    /// The key of an item asked once.
    pub fn once(item: ItemId) -> Self {
        Self { item, area: None }
    }

    /// The key of a repeated item for one area.
    pub fn at(item: ItemId, area: AreaId) -> Self {
        Self {
            item,
            area: Some(area),
        }
    }

    /// Parses `item` or `item@area`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s.split_once('@') {
            None => Ok(Self::once(ItemId::parse(s)?)),
            Some((item, area)) => Ok(Self::at(ItemId::parse(item)?, AreaId::parse(area)?)),
        }
    }
}

impl fmt::Display for AnswerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.area {
            None => write!(f, "{}", self.item),
            Some(area) => write!(f, "{}@{}", self.item, area),
        }
    }
}

/// A reference to a photo (or a signature image) in the content-addressed blob store:
/// the lowercase hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhotoRef(String);

impl PhotoRef {
    /// Validates a lowercase hex SHA-256.
    pub fn parse(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s))
        } else {
            Err(format!("{s:?} is not a lowercase hex SHA-256"))
        }
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhotoRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl From<PhotoRef> for String {
    fn from(p: PhotoRef) -> String {
        p.0
    }
}

/// What an inspector answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum AnswerValue {
    /// Pass/fail item: passed.
    Pass,
    /// Pass/fail item: failed.
    Fail,
    /// Pass/fail item: does not apply here.
    NotApplicable,
    /// Count item.
    Count(u32),
    /// Number item.
    Number(f64),
    /// Text item.
    Text(String),
    /// Photo item: the photos are in the record's photo list.
    Photo,
    /// Signature item: the signature image's reference.
    Signature(PhotoRef),
}

impl AnswerValue {
    /// Whether this value is a valid answer to an item of `kind`.
    pub fn fits(&self, kind: &ItemKind) -> bool {
        matches!(
            (self, kind),
            (
                AnswerValue::Pass | AnswerValue::Fail | AnswerValue::NotApplicable,
                ItemKind::PassFail
            ) | (AnswerValue::Count(_), ItemKind::Count { .. })
                | (AnswerValue::Text(_), ItemKind::Text)
                | (AnswerValue::Photo, ItemKind::Photo)
                | (AnswerValue::Signature(_), ItemKind::Signature)
        ) || matches!((self, kind), (AnswerValue::Number(n), ItemKind::Number { .. }) if n.is_finite())
    }

    /// How many occurrences of a violation this answer is for an item of `kind` (0: none).
    pub fn occurrences(&self, kind: &ItemKind) -> u32 {
        match (self, kind) {
            (AnswerValue::Fail, ItemKind::PassFail) => 1,
            (AnswerValue::Count(n), ItemKind::Count { max }) => n.saturating_sub(*max),
            (AnswerValue::Number(x), ItemKind::Number { min, max, .. }) => {
                u32::from(x < min || x > max)
            }
            _ => 0,
        }
    }
}

/// One answer record, as read from the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The automerge object id of the record: identifies this write among conflicting ones.
    pub obj: String,
    /// The value.
    pub value: AnswerValue,
    /// The inspector's note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Photos attached to the answer.
    #[serde(default)]
    pub photos: Vec<PhotoRef>,
    /// Who answered.
    pub by: UserId,
    /// The device that wrote the record, when its writer said (the tablet's peer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// When, by the answering tablet's clock.
    pub at: DateTime<Utc>,
    /// Written without knowledge of the submission: an amendment after submission.
    #[serde(default)]
    pub late: bool,
}

/// One occupancy record for a bay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupancy {
    /// The automerge object id of the record.
    pub obj: String,
    /// Whether a car under repair stands in the bay.
    pub occupied: bool,
    /// Who recorded it.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The submission record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Who submitted.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
    /// The heads of the document the submitter saw, hex change hashes, sorted.
    pub heads: Vec<String>,
}

/// The reviewer's record on a submitted inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer.
    pub by: UserId,
    /// When.
    pub at: DateTime<Utc>,
    /// The reviewer's comment.
    pub comment: String,
}

/// Something in the document that does not follow the layout; the reader skips it and
/// reports it here, so one bad record cannot hide the rest of the inspection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// The document path of the bad value, such as `answers/c1-visitors`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// An inspection as read from its document: every field typed, every conflict kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    /// Its id.
    pub id: InspectionId,
    /// The site it belongs to.
    pub site: SiteId,
    /// The template version it started with (shared: every read of a document started from
    /// the same template text gets the same parse).
    pub template: std::sync::Arc<Template>,
    /// The site's bays, rooms and entrances when it started (shared, like the template,
    /// by every read of a document started with the same areas).
    pub areas: std::sync::Arc<[Area]>,
    /// Who started it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Occupancy records per bay; more than one means a conflict.
    pub occupied: std::collections::BTreeMap<AreaId, Vec<Occupancy>>,
    /// Answer records per key; more than one means a conflict.
    pub answers: std::collections::BTreeMap<AnswerKey, Vec<Answer>>,
    /// The submission, once submitted: of concurrent submissions (two tablets submitting
    /// offline), the earliest by its time, then submitter and heads.
    pub submitted: Option<Submission>,
    /// The other concurrent submissions, earliest first; empty unless two tablets
    /// submitted without seeing each other. Shown as duplicates; nothing of them is lost.
    #[serde(default)]
    pub duplicate_submissions: Vec<Submission>,
    /// The review, once reviewed.
    pub review: Option<Review>,
    /// Values that do not follow the layout, skipped.
    pub problems: Vec<Problem>,
}

/// What turns an inspection back into an earlier one that differs from it only in some
/// records (answers, bay marks) and in its problems: those records as they were (or their
/// absence), and the earlier problems. [`Inspection::undo_to`] makes one and
/// [`Inspection::undone`] applies it; between two states one accepted answer apart it
/// holds one record, which is why the server keeps it beside a document's inspection
/// instead of a second inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    answers: Vec<(AnswerKey, Option<Vec<Answer>>)>,
    occupied: Vec<(AreaId, Option<Vec<Occupancy>>)>,
    problems: Vec<Problem>,
}

/// The keys whose values differ between `now` and `earlier`, with their values in
/// `earlier` (`None`: absent there).
fn differing<K: Ord + Clone, V: PartialEq + Clone>(
    now: &std::collections::BTreeMap<K, V>,
    earlier: &std::collections::BTreeMap<K, V>,
) -> Vec<(K, Option<V>)> {
    let mut out: Vec<(K, Option<V>)> = earlier
        .iter()
        .filter(|(key, value)| now.get(key) != Some(value))
        .map(|(key, value)| (key.clone(), Some(value.clone())))
        .collect();
    out.extend(
        now.keys()
            .filter(|key| !earlier.contains_key(key))
            .map(|key| (key.clone(), None)),
    );
    out
}

/// Puts back into `map` what [`differing`] found.
fn put_back<K: Ord + Clone, V: Clone>(
    map: &mut std::collections::BTreeMap<K, V>,
    changes: &[(K, Option<V>)],
) {
    for (key, value) in changes {
        match value {
            Some(value) => map.insert(key.clone(), value.clone()),
            None => map.remove(key),
        };
    }
}

impl Inspection {
    /// What turns this inspection back into `earlier` ([`Inspection::undone`]), if the
    /// two differ only in records and problems; `None` if anything else differs (its id,
    /// site, template, areas, creation, submission or review).
    pub fn undo_to(&self, earlier: &Inspection) -> Option<Undo> {
        // Every field named, so that a new one has to be decided here.
        let Inspection {
            id,
            site,
            template,
            areas,
            created_by,
            created_at,
            occupied,
            answers,
            submitted,
            duplicate_submissions,
            review,
            problems: _,
        } = self;
        let same = *id == earlier.id
            && *site == earlier.site
            && (std::sync::Arc::ptr_eq(template, &earlier.template)
                || *template == earlier.template)
            && (std::sync::Arc::ptr_eq(areas, &earlier.areas) || *areas == earlier.areas)
            && *created_by == earlier.created_by
            && *created_at == earlier.created_at
            && *submitted == earlier.submitted
            && *duplicate_submissions == earlier.duplicate_submissions
            && *review == earlier.review;
        same.then(|| Undo {
            answers: differing(answers, &earlier.answers),
            occupied: differing(occupied, &earlier.occupied),
            problems: earlier.problems.clone(),
        })
    }

    /// This inspection with `undo` applied: exactly the `earlier` inspection of the
    /// [`Inspection::undo_to`] that made it from this one.
    pub fn undone(&self, undo: &Undo) -> Inspection {
        let mut earlier = self.clone();
        put_back(&mut earlier.answers, &undo.answers);
        put_back(&mut earlier.occupied, &undo.occupied);
        earlier.problems = undo.problems.clone();
        earlier
    }

    /// Whether a bay is marked occupied; a conflict counts as occupied, so the items for
    /// occupied bays are asked rather than skipped.
    pub fn is_occupied(&self, bay: &AreaId) -> bool {
        self.occupied
            .get(bay)
            .is_some_and(|records| records.iter().any(|r| r.occupied))
    }

    /// Bays whose occupancy records disagree, in the order of the site's areas: tablets
    /// that marked the bay concurrently, one occupied and one empty, and nobody has picked
    /// one since. Concurrent records that say the same thing are not a disagreement. Shown
    /// like an answer conflict and resolved the same way: a new record replaces them all.
    pub fn occupancy_disagreements(&self) -> Vec<&AreaId> {
        self.areas
            .iter()
            .filter(|area| {
                self.occupied.get(&area.id).is_some_and(|records| {
                    records.iter().any(|r| r.occupied) && records.iter().any(|r| !r.occupied)
                })
            })
            .map(|area| &area.id)
            .collect()
    }

    /// Every answer key the inspection asks for, in template order.
    pub fn expected_keys(&self) -> Vec<AnswerKey> {
        use crate::template::Repeat;
        let mut keys = Vec::new();
        for item in &self.template.items {
            match item.repeat.area_kind() {
                None => keys.push(AnswerKey::once(item.id.clone())),
                Some(kind) => {
                    for area in self.areas.iter().filter(|a| a.kind == kind) {
                        if item.repeat == Repeat::PerOccupiedBay && !self.is_occupied(&area.id) {
                            continue;
                        }
                        keys.push(AnswerKey::at(item.id.clone(), area.id.clone()));
                    }
                }
            }
        }
        keys
    }

    /// Keys answered differently by concurrent writers and not yet resolved.
    pub fn conflicts(&self) -> Vec<&AnswerKey> {
        self.answers
            .iter()
            .filter(|(_, records)| records.len() > 1)
            .map(|(key, _)| key)
            .collect()
    }

    /// What stands between this inspection and its submission; empty when it may be
    /// submitted. Each is `key: reason`, a short English reason after the answer key, or
    /// after `occupied@<bay>` for a bay whose occupancy disagrees (listed first: which
    /// items a bay asks for depends on it). [`Inspection::submission_blockers`] gives the
    /// same list typed, for screens that say it in the user's language.
    pub fn submission_problems(&self) -> Vec<String> {
        self.submission_blockers()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// What stands between this inspection and its submission, typed: the answer key (or
    /// `occupied@<bay>`) and why, in the order of [`Inspection::submission_problems`].
    pub fn submission_blockers(&self) -> Vec<SubmissionBlocker> {
        let mut problems: Vec<SubmissionBlocker> = self
            .occupancy_disagreements()
            .into_iter()
            .map(|bay| SubmissionBlocker {
                key: format!("{}@{bay}", keys::OCCUPIED),
                reason: BlockReason::OccupancyDisagrees,
            })
            .collect();
        let mut block = |key: &AnswerKey, reason| {
            problems.push(SubmissionBlocker {
                key: key.to_string(),
                reason,
            })
        };
        for key in self.expected_keys() {
            let Some(item) = self.template.item(&key.item) else {
                continue;
            };
            match self.answers.get(&key).map(Vec::as_slice) {
                None | Some([]) => {
                    if item.required {
                        block(&key, BlockReason::NotAnswered);
                    }
                }
                Some([answer]) => {
                    if answer.value.occurrences(&item.kind) > 0 {
                        let blank = answer.note.as_deref().is_none_or(|n| n.trim().is_empty());
                        if item.note_required_on_fail && blank {
                            block(&key, BlockReason::NoteRequired);
                        }
                        if item.photo_required_on_fail && answer.photos.is_empty() {
                            block(&key, BlockReason::PhotoRequired);
                        }
                    }
                }
                Some(_) => block(&key, BlockReason::ConflictingAnswers),
            }
        }
        problems
    }
}

/// One thing that stands between an inspection and its submission
/// ([`Inspection::submission_blockers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionBlocker {
    /// The answer key, or `occupied@<bay>` for a bay's occupancy.
    pub key: String,
    /// Why.
    pub reason: BlockReason,
}

/// Why an inspection cannot be submitted yet, as a stable code (`snake_case` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// A required item has no answer.
    NotAnswered,
    /// A failed answer needs a note and has none.
    NoteRequired,
    /// A failed answer needs a photo and has none.
    PhotoRequired,
    /// Two tablets answered the item differently; one must be kept.
    ConflictingAnswers,
    /// Two tablets marked the bay differently; one must be kept.
    OccupancyDisagrees,
}

impl std::fmt::Display for SubmissionBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = match self.reason {
            BlockReason::NotAnswered => "not answered",
            BlockReason::NoteRequired => "a failed answer needs a note",
            BlockReason::PhotoRequired => "a failed answer needs a photo",
            BlockReason::ConflictingAnswers => "conflicting answers, pick one",
            BlockReason::OccupancyDisagrees => "occupancy disagrees, pick one",
        };
        write!(f, "{}: {reason}", self.key)
    }
}

impl Inspection {
    /// The template item an answer key refers to, if the key is valid for this inspection:
    /// the item exists, and the key names an area exactly when the item repeats, of the
    /// kind it repeats over.
    pub fn item_for(&self, key: &AnswerKey) -> Result<&crate::template::Item, String> {
        let item = self
            .template
            .item(&key.item)
            .ok_or_else(|| format!("{key}: the template has no item {}", key.item))?;
        match (item.repeat.area_kind(), &key.area) {
            (None, None) => Ok(item),
            (None, Some(_)) => Err(format!(
                "{key}: item {} is asked once, not per area",
                item.id
            )),
            (Some(_), None) => Err(format!("{key}: item {} is asked per area", item.id)),
            (Some(kind), Some(area)) => match self.areas.iter().find(|a| &a.id == area) {
                Some(a) if a.kind == kind => Ok(item),
                Some(_) => Err(format!(
                    "{key}: area {area} is not of the kind item {} repeats over",
                    item.id
                )),
                None => Err(format!("{key}: the site has no area {area}")),
            },
        }
    }
}
