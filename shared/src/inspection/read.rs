//! Reading an inspection document into an [`Inspection`].
//!
//! The reader is strict about the fields that make a document an inspection at all (and
//! fails with a [`ReadError`] when they are missing) and forgiving about individual
//! records: a malformed answer is skipped and reported as a [`Problem`], so one bad value
//! cannot hide every other answer. The permission policy refuses any change that adds a
//! problem, so on the server problems can only come from documents written before a rule
//! existed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use automerge::iter::{Keys, MapRange};
use automerge::{
    Automerge, AutomergeError, Change, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc,
    ScalarValue, Value,
};
use chrono::{DateTime, Utc};

use super::{
    Answer, AnswerKey, AnswerValue, Inspection, LAYOUT_VERSION, Occupancy, PhotoRef, Problem,
    Review, SCHEMA, Submission, keys,
};
use crate::ids::{AreaId, InspectionId, SiteId, UserId};
use crate::site::{Area, AreaKind};
use crate::template::{ItemKind, Template};

/// Why a document cannot be read as an inspection at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The root `schema` is missing or is not [`SCHEMA`].
    #[error("the document is not a Walkaround inspection")]
    NotAnInspection,
    /// The layout version is one this code does not know.
    #[error("inspection layout version {0} is not supported (this build reads {LAYOUT_VERSION})")]
    UnsupportedLayout(u64),
    /// A required root field is missing.
    #[error("the inspection has no `{0}`")]
    Missing(&'static str),
    /// A root field holds something other than what the layout says.
    #[error("the inspection's `{field}` is invalid: {message}")]
    Invalid {
        /// The root key.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> ReadError {
    ReadError::Invalid {
        field,
        message: message.into(),
    }
}

/// Reads the document as an inspection.
pub fn read(doc: &Automerge) -> Result<Inspection, ReadError> {
    read_doc(Doc { doc, at: None })
}

/// Reads the document as an inspection as it was at `heads`, with automerge's historical
/// reads: the cost is a read, not a replay of the history. Every hash in `heads` must be a
/// change of `doc`.
///
/// Historical reads go by vector clock (for each actor, the operations up to the counter
/// of its latest change among the ancestors of `heads`). That is exactly the document at
/// `heads` (what [`read`] gives for `Automerge::fork_at(heads)`) only while every change of
/// `doc` keeps automerge's own rules for changes (see `policy::check_history`); a
/// document that breaks them can be read wrong. Callers judging changes use it only on a
/// history checked for those rules.
pub fn read_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<Inspection, ReadError> {
    read_doc(Doc {
        doc,
        at: Some(heads),
    })
}

/// What some changes touched in an inspection document: either only whole records (answers
/// and bay marks, by their key under `answers` and `occupied`) or anything else
/// ("everything": a root key, a submission, a review, an object this cannot place).
///
/// Found from the changes' own operations and the place of each object they write in
/// (automerge's `parents`, which is where the object was created and does not depend on
/// what is visible), so it costs the size of the changes, not of the document. `doc` must
/// hold the changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    everything: bool,
    answers: BTreeSet<String>,
    occupied: BTreeSet<String>,
}

impl Touched {
    /// What `changes`, all of them held by `doc`, touched.
    pub fn by<'c>(doc: &Automerge, changes: impl IntoIterator<Item = &'c Change>) -> Touched {
        let mut touched = Touched::default();
        // Where each object written in is, found once per object.
        let mut places = Places::new();
        for change in changes {
            if !touched.add(doc, &mut places, change, &change.decode().operations) {
                break;
            }
        }
        touched
    }

    /// What one change touched, from its operations already decoded
    /// (`change.decode().operations`); `doc` must hold the change.
    pub fn by_operations(
        doc: &Automerge,
        change: &Change,
        operations: &[automerge::legacy::Op],
    ) -> Touched {
        let mut touched = Touched::default();
        touched.add(doc, &mut Places::new(), change, operations);
        touched
    }

    /// What each of several changes touched, from their operations already decoded
    /// (`change.decode().operations`), in order; `doc` must hold them all. The same as
    /// [`Touched::by_operations`] for each, with each object's place found once for all of
    /// them (the map of answers, which every answer writes in, once per message).
    pub fn each<'o>(
        doc: &Automerge,
        changes: impl IntoIterator<Item = (&'o Change, &'o [automerge::legacy::Op])>,
    ) -> Vec<Touched> {
        let mut places = Places::new();
        changes
            .into_iter()
            .map(|(change, operations)| {
                let mut touched = Touched::default();
                touched.add(doc, &mut places, change, operations);
                touched
            })
            .collect()
    }

    /// For each of `chain` (what each change of a chain touched, the first change's first),
    /// the records it touched that no change after it touched again: those are the same
    /// just after it as after the last, when the document holds nothing beyond the chain's
    /// last change (see [`reread_settled`]). `None` for a change that touched more than
    /// records, or one after which another did.
    pub fn settled(chain: &[Touched]) -> Vec<Option<Touched>> {
        // The keys of `own` that are not in `later`.
        let not_in = |own: &BTreeSet<String>, later: &BTreeSet<String>| {
            own.difference(later).cloned().collect()
        };
        // What the changes after the one at hand touched.
        let mut later = Touched::default();
        let mut settled: Vec<Option<Touched>> = chain
            .iter()
            .rev()
            .map(|touched| {
                let own = (!later.everything && !touched.everything).then(|| Touched {
                    everything: false,
                    answers: not_in(&touched.answers, &later.answers),
                    occupied: not_in(&touched.occupied, &later.occupied),
                });
                later.merge(touched.clone());
                own
            })
            .collect();
        settled.reverse();
        settled
    }

    /// Adds what `other` touched (the records either touched).
    pub fn merge(&mut self, other: Touched) {
        self.everything |= other.everything;
        self.answers.extend(other.answers);
        self.occupied.extend(other.occupied);
    }

    /// Adds what `operations` touched; false once that is everything.
    fn add(
        &mut self,
        doc: &Automerge,
        places: &mut Places,
        change: &Change,
        operations: &[automerge::legacy::Op],
    ) -> bool {
        use automerge::legacy::{Key, ObjectId, OpId, OpType};
        let touched = self;
        let start = change.start_op().get();
        let actor = change.actor_id();
        {
            for (i, op) in (0u64..).zip(operations) {
                let place = match &op.obj {
                    ObjectId::Root => None,
                    ObjectId::Id(id) => places
                        .entry(id.clone())
                        .or_insert_with(|| place_of(doc, id))
                        .clone(),
                };
                // An object this operation makes under a key of a map is where that key is
                // (what `place_of` would find walking its parents, known here already).
                if let (OpType::Make(_), Key::Map(key), false) = (&op.action, &op.key, op.insert) {
                    let made = made_place(&op.obj, place.as_ref(), key);
                    places.insert(OpId(start + i, actor.clone()), made);
                }
                let record = match (place, &op.key) {
                    (Some(Place::Record(container, key, _)), _) => Some((container, key)),
                    (Some(Place::Container(container)), automerge::legacy::Key::Map(key)) => {
                        Some((container, key.to_string()))
                    }
                    _ => None,
                };
                // automerge applies a change's predecessors wherever they are in the
                // objects the change writes in, not only under the key of the operation
                // naming them: each must be a record of the same key (what a new record
                // replaces), or the change may overwrite or delete another record.
                let record = record.filter(|(container, key)| {
                    op.pred.iter().all(|pred| {
                        matches!(
                            places.entry(pred.clone()).or_insert_with(|| place_of(doc, pred)),
                            Some(Place::Record(c, k, _)) if c == container && k == key
                        )
                    })
                });
                match record {
                    Some((container, key)) if container == keys::ANSWERS => {
                        touched.answers.insert(key);
                    }
                    Some((_, key)) => {
                        touched.occupied.insert(key);
                    }
                    None => {
                        touched.everything = true;
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// How deep an object of the layout lies below the root (see [`place_of`]).
const MAX_DEPTH: usize = 3;

/// Where an object of an inspection document is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// The map of records itself (`answers` or `occupied`).
    Container(&'static str),
    /// Within the record under this key of that map, this deep below the root (2 for the
    /// record itself, at most [`MAX_DEPTH`]).
    Record(&'static str, String, usize),
}

/// The place of each object met so far, by its id.
type Places = HashMap<automerge::legacy::OpId, Option<Place>>;

/// Where an object made under the map key `key` of `obj` is, `obj` being at `parent`:
/// what [`place_of`] finds for it (an object's parent is where the operation making it
/// put it), without walking its parents.
fn made_place(
    obj: &automerge::legacy::ObjectId,
    parent: Option<&Place>,
    key: &str,
) -> Option<Place> {
    match (obj, parent) {
        (automerge::legacy::ObjectId::Root, _) => [keys::ANSWERS, keys::OCCUPIED]
            .into_iter()
            .find(|c| *c == key)
            .map(Place::Container),
        (_, Some(Place::Container(container))) => {
            Some(Place::Record(container, key.to_string(), 2))
        }
        (_, Some(Place::Record(container, record, depth))) => {
            (*depth < MAX_DEPTH).then(|| Place::Record(container, record.clone(), depth + 1))
        }
        (_, None) => None,
    }
}

/// Where the object `id` is, if it is a record map or within a record; `None` for anything
/// else (a submission, a review, an object not in the document).
fn place_of(doc: &Automerge, id: &automerge::legacy::OpId) -> Option<Place> {
    let obj = doc.import_obj(&format!("{}@{}", id.0, id.1)).ok()?;
    // The layout nests at most three deep (a record's list of photos: the record, the
    // map of records, the root); anything deeper is not a place the reader reads, and is
    // not walked (a long chain of objects would cost its length for each of them).
    let mut path = Vec::with_capacity(MAX_DEPTH);
    for parent in doc.parents(&obj).ok()? {
        if path.len() == MAX_DEPTH {
            return None;
        }
        path.push((parent.obj, parent.prop));
    }
    path.reverse();
    let container = match path.first() {
        Some((parent, Prop::Map(root_key))) if *parent == ROOT => [keys::ANSWERS, keys::OCCUPIED]
            .into_iter()
            .find(|c| c == root_key)?,
        _ => return None,
    };
    let depth = path.len();
    if depth == 1 {
        return Some(Place::Container(container));
    }
    match path.swap_remove(1).1 {
        Prop::Map(key) => Some(Place::Record(container, key, depth)),
        Prop::Seq(_) => None,
    }
}

/// `base`, the inspection as [`read`] (or [`read_at`]) gives it for some state of `doc`,
/// moved to the state at `at` (`None`: the document now) when `touched` is everything the
/// changes between the two states touched: only the records named are read again. It is
/// exactly what [`read`]/[`read_at`] would give for `at`; when `touched` is more than
/// records, or `base` is submitted (a submission decides which answers are late, and
/// changes after it are rare), the whole inspection is read.
pub fn reread(
    doc: &Automerge,
    at: Option<&[ChangeHash]>,
    base: &Inspection,
    touched: &Touched,
) -> Result<Inspection, ReadError> {
    reread_records(Doc { doc, at }, base, touched, None)
}

/// [`reread`] at `at`, where `settled` (of [`Touched::settled`]) names the touched records
/// that nothing beyond `at` touched: those are read as `doc` holds them now, the same
/// state read without automerge's historical reads (each of which works out the clock of
/// `at` again). `settled` must be exactly that: `None` from [`Touched::settled`] (more
/// than records touched later) is not given here, and every change `doc` holds beyond
/// `at`'s history must be among those it was computed over; the result is then exactly
/// [`reread`]'s.
pub fn reread_settled(
    doc: &Automerge,
    at: &[ChangeHash],
    base: &Inspection,
    touched: &Touched,
    settled: &Touched,
) -> Result<Inspection, ReadError> {
    let now = Doc { doc, at: None };
    reread_records(
        Doc { doc, at: Some(at) },
        base,
        touched,
        Some((now, settled)),
    )
}

/// [`reread`] and [`reread_settled`]: `settled`, when given, is the document as it is now
/// and the touched records to read from it.
fn reread_records(
    doc: Doc<'_>,
    base: &Inspection,
    touched: &Touched,
    settled: Option<(Doc<'_>, &Touched)>,
) -> Result<Inspection, ReadError> {
    // A root key outside the layout is reported under its own name, which may be a
    // record's path: only a whole read keeps the two apart.
    if touched.everything
        || base.submitted.is_some()
        || !base.duplicate_submissions.is_empty()
        || base.problems.iter().any(|p| p.message == NOT_A_ROOT_KEY)
    {
        return read_doc(doc);
    }
    let mut inspection = base.clone();
    let mut problems = std::mem::take(&mut inspection.problems);
    // Nothing later touched the root (that is more than records), so its maps of records
    // are the same objects now.
    let root = settled.map_or(doc, |(now, _)| now);
    // Where a record is read from: now if nothing later touched it.
    let record = |settled_keys: fn(&Touched) -> &BTreeSet<String>, raw: &String| match settled {
        Some((now, settled)) if settled_keys(settled).contains(raw) => now,
        _ => doc,
    };
    if !touched.answers.is_empty() {
        let mut scratch = Vec::new();
        let Some(answers) = root_map(root, keys::ANSWERS, &mut scratch) else {
            return read_doc(doc);
        };
        for raw in &touched.answers {
            let path = format!("{}/{raw}", keys::ANSWERS);
            problems.retain(|p| p.path != path);
            if let Ok(key) = AnswerKey::parse(raw) {
                inspection.answers.remove(&key);
            }
            let from = record(|t| &t.answers, raw);
            read_answer_key(from, &answers, raw, &mut inspection, None, &mut problems);
        }
    }
    if !touched.occupied.is_empty() {
        let mut scratch = Vec::new();
        let Some(occupied) = root_map(root, keys::OCCUPIED, &mut scratch) else {
            return read_doc(doc);
        };
        for raw in &touched.occupied {
            let path = format!("{}/{raw}", keys::OCCUPIED);
            problems.retain(|p| p.path != path);
            if let Ok(bay) = AreaId::parse(raw.as_str()) {
                inspection.occupied.remove(&bay);
            }
            let from = record(|t| &t.occupied, raw);
            read_occupied_key(from, &occupied, raw, &mut inspection, &mut problems);
        }
    }
    problems.sort();
    inspection.problems = problems;
    Ok(inspection)
}

/// The problem a root key outside the layout is reported with (its path is the key, which
/// may look like a record's path: `answers/x`).
const NOT_A_ROOT_KEY: &str = "is not a key of the inspection layout";

/// The document as it is read: as it is now, or as it was at some heads.
#[derive(Clone, Copy)]
struct Doc<'a> {
    doc: &'a Automerge,
    at: Option<&'a [ChangeHash]>,
}

impl<'a> Doc<'a> {
    fn keys<O: AsRef<ObjId>>(self, obj: O) -> Keys<'a> {
        match self.at {
            None => self.doc.keys(obj),
            Some(heads) => self.doc.keys_at(obj, heads),
        }
    }

    fn get<O: AsRef<ObjId>, P: Into<Prop>>(
        self,
        obj: O,
        prop: P,
    ) -> Result<Option<(Value<'a>, ObjId)>, AutomergeError> {
        match self.at {
            None => self.doc.get(obj, prop),
            Some(heads) => self.doc.get_at(obj, prop, heads),
        }
    }

    fn get_all<O: AsRef<ObjId>, P: Into<Prop>>(
        self,
        obj: O,
        prop: P,
    ) -> Result<Vec<(Value<'a>, ObjId)>, AutomergeError> {
        match self.at {
            None => self.doc.get_all(obj, prop),
            Some(heads) => self.doc.get_all_at(obj, prop, heads),
        }
    }

    fn map_range<O: AsRef<ObjId>>(self, obj: O) -> MapRange<'a> {
        match self.at {
            None => self.doc.map_range(obj, ..),
            Some(heads) => self.doc.map_range_at(obj, .., heads),
        }
    }

    fn length<O: AsRef<ObjId>>(self, obj: O) -> usize {
        match self.at {
            None => self.doc.length(obj),
            Some(heads) => self.doc.length_at(obj, heads),
        }
    }

    /// Whether every one of `hashes` is a change of the document as read: a change of the
    /// document, and for a view at some heads one of their ancestors (or one of them), as
    /// a copy made by `fork_at` would hold it.
    fn holds(self, hashes: &[ChangeHash]) -> bool {
        if !hashes
            .iter()
            .all(|h| self.doc.get_change_meta_by_hash(h).is_some())
        {
            return false;
        }
        match self.at {
            None => true,
            Some(heads) => {
                // What `get_changes_meta` lists is what is *not* an ancestor of `heads`.
                let later: BTreeSet<ChangeHash> = self
                    .doc
                    .get_changes_meta(heads)
                    .into_iter()
                    .map(|c| c.hash)
                    .collect();
                hashes.iter().all(|h| !later.contains(h))
            }
        }
    }
}

fn read_doc(doc: Doc<'_>) -> Result<Inspection, ReadError> {
    match root_scalar(doc, keys::SCHEMA) {
        Some(ScalarValue::Str(s)) if s.as_str() == SCHEMA => {}
        _ => return Err(ReadError::NotAnInspection),
    }
    // Writers store `uint`; any whole number is accepted (see `whole_number`).
    let layout = match root_scalar(doc, keys::LAYOUT) {
        Some(v) => whole_number(&v)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| invalid(keys::LAYOUT, "not a non-negative integer"))?,
        None => return Err(ReadError::Missing(keys::LAYOUT)),
    };
    if layout != LAYOUT_VERSION {
        return Err(ReadError::UnsupportedLayout(layout));
    }
    let id = InspectionId::parse(root_str(doc, keys::ID)?)
        .map_err(|e| invalid(keys::ID, e.to_string()))?;
    let site = SiteId::parse(root_str(doc, keys::SITE)?)
        .map_err(|e| invalid(keys::SITE, e.to_string()))?;
    let template = parse_template(&root_str(doc, keys::TEMPLATE)?)
        .map_err(|e| invalid(keys::TEMPLATE, e.to_string()))?;
    let areas = parse_areas(&root_str(doc, keys::AREAS)?)
        .map_err(|e| invalid(keys::AREAS, e.to_string()))?;
    let created_by = UserId::parse(root_str(doc, keys::CREATED_BY)?)
        .map_err(|e| invalid(keys::CREATED_BY, e.to_string()))?;
    let created_at = match root_scalar(doc, keys::CREATED_AT) {
        None => return Err(ReadError::Missing(keys::CREATED_AT)),
        Some(v) => time(&v).ok_or_else(|| invalid(keys::CREATED_AT, "not a timestamp"))?,
    };

    let mut inspection = Inspection {
        id,
        site,
        template,
        areas,
        created_by,
        created_at,
        occupied: BTreeMap::new(),
        answers: BTreeMap::new(),
        submitted: None,
        duplicate_submissions: Vec::new(),
        review: None,
        problems: Vec::new(),
    };
    let mut problems = Vec::new();

    for key in doc.keys(ROOT) {
        if !keys::ROOT.contains(&key.as_str()) {
            problems.push(problem(&key, NOT_A_ROOT_KEY));
        }
    }

    // Two tablets that submitted offline leave two submissions in conflict. The earliest
    // counts (for `submitted_at`, routines, reports, and which answers were late); the
    // others are kept as duplicates, to be shown, not dropped by automerge's tie-break.
    let mut submissions = read_submissions(doc, &mut problems);
    let submitted = (!submissions.is_empty()).then(|| submissions.remove(0));
    inspection.duplicate_submissions = submissions;
    let submitted_heads = submitted.as_ref().and_then(|s| heads_in_doc(doc, &s.heads));
    if submitted.is_some() && submitted_heads.is_none() {
        problems.push(problem(
            keys::SUBMITTED,
            "heads are not all in the document",
        ));
    }

    if let Some(answers) = root_map(doc, keys::ANSWERS, &mut problems) {
        for raw in doc.keys(&answers) {
            read_answer_key(
                doc,
                &answers,
                &raw,
                &mut inspection,
                submitted_heads.as_deref(),
                &mut problems,
            );
        }
    }

    if let Some(occupied) = root_map(doc, keys::OCCUPIED, &mut problems) {
        for raw in doc.keys(&occupied) {
            read_occupied_key(doc, &occupied, &raw, &mut inspection, &mut problems);
        }
    }

    if let Some(obj) = root_map(doc, keys::REVIEW, &mut problems) {
        match read_review(doc, &obj) {
            Ok(r) => inspection.review = Some(r),
            Err(message) => problems.push(problem(keys::REVIEW, &message)),
        }
    }

    inspection.submitted = submitted;
    problems.sort();
    inspection.problems = problems;
    Ok(inspection)
}

/// Reads the answer records under `raw` in `answers` into `inspection` (nothing when the
/// key holds nothing), problems into `problems`. `submitted_heads`: the heads of the
/// submission that counts, to tell late records.
fn read_answer_key(
    doc: Doc<'_>,
    answers: &ObjId,
    raw: &str,
    inspection: &mut Inspection,
    submitted_heads: Option<&[ChangeHash]>,
    problems: &mut Vec<Problem>,
) {
    let values = doc.get_all(answers, raw).unwrap_or_default();
    if values.is_empty() {
        return;
    }
    let path = format!("{}/{raw}", keys::ANSWERS);
    let key = match AnswerKey::parse(raw) {
        Ok(k) => k,
        Err(e) => {
            problems.push(problem(&path, &e.to_string()));
            return;
        }
    };
    let kind = match inspection.item_for(&key) {
        Ok(item) => item.kind.clone(),
        Err(message) => {
            problems.push(problem(&path, &message));
            return;
        }
    };
    // Records present when the submitter submitted; any other record is late.
    let on_time: Option<BTreeSet<String>> = submitted_heads.map(|heads| {
        doc.doc
            .get_all_at(answers, raw, heads)
            .map(|all| all.into_iter().map(|(_, id)| id.to_string()).collect())
            .unwrap_or_default()
    });
    let mut records = Vec::new();
    for (value, obj) in values {
        match read_answer(doc, value, &obj, &kind) {
            Ok(mut answer) => {
                answer.late = on_time
                    .as_ref()
                    .is_some_and(|ids| !ids.contains(&answer.obj));
                records.push(answer);
            }
            Err(message) => problems.push(problem(&path, &message)),
        }
    }
    if !records.is_empty() {
        inspection.answers.insert(key, agreed(records));
    }
}

/// Reads the bay marks under `raw` in `occupied` into `inspection` (nothing when the key
/// holds nothing), problems into `problems`.
fn read_occupied_key(
    doc: Doc<'_>,
    occupied: &ObjId,
    raw: &str,
    inspection: &mut Inspection,
    problems: &mut Vec<Problem>,
) {
    let values = doc.get_all(occupied, raw).unwrap_or_default();
    if values.is_empty() {
        return;
    }
    let path = format!("{}/{raw}", keys::OCCUPIED);
    let bay = match AreaId::parse(raw) {
        Ok(id)
            if inspection
                .areas
                .iter()
                .any(|a| a.id == id && a.kind == AreaKind::Bay) =>
        {
            id
        }
        _ => {
            problems.push(problem(&path, "is not a bay of the site"));
            return;
        }
    };
    let mut records = Vec::new();
    for (value, obj) in values {
        match read_occupancy(doc, value, &obj) {
            Ok(r) => records.push(r),
            Err(message) => problems.push(problem(&path, &message)),
        }
    }
    if !records.is_empty() {
        inspection.occupied.insert(bay, records);
    }
}

/// How many parsed templates, and parsed lists of areas, each thread keeps (see
/// [`parsed`]).
const KEPT_PARSES: usize = 16;

/// Values parsed from JSON text, by that text, most recently used first.
type Kept<T> = RefCell<VecDeque<(String, Arc<T>)>>;

thread_local! {
    static TEMPLATES: Kept<Template> = const { RefCell::new(VecDeque::new()) };
    static AREAS: Kept<[Area]> = const { RefCell::new(VecDeque::new()) };
}

/// A value an inspection stores as JSON text, parsed once per text and shared: every read
/// of an inspection needs its template and its site's areas, the texts are the same for
/// every change of a document and for every document started from the same template
/// version at the same site, parsing the template cost more than the rest of the read, and
/// the server keeps one read inspection per document in memory (the areas of a site are a
/// few KB of each).
fn parsed<T: ?Sized>(
    kept: &'static std::thread::LocalKey<Kept<T>>,
    text: &str,
    parse: impl FnOnce(&str) -> Result<Arc<T>, serde_json::Error>,
) -> Result<Arc<T>, serde_json::Error> {
    kept.with(|kept| {
        let mut kept = kept.borrow_mut();
        if let Some(i) = kept.iter().position(|(t, _)| t == text)
            && let Some(entry) = kept.remove(i)
        {
            let value = Arc::clone(&entry.1);
            kept.push_front(entry);
            return Ok(value);
        }
        let value = parse(text)?;
        kept.push_front((text.to_string(), Arc::clone(&value)));
        kept.truncate(KEPT_PARSES);
        Ok(value)
    })
}

fn parse_template(text: &str) -> Result<Arc<Template>, serde_json::Error> {
    parsed(&TEMPLATES, text, |text| {
        serde_json::from_str(text).map(Arc::new)
    })
}

fn parse_areas(text: &str) -> Result<Arc<[Area]>, serde_json::Error> {
    parsed(&AREAS, text, |text| {
        serde_json::from_str::<Vec<Area>>(text).map(Arc::from)
    })
}

fn problem(path: &str, message: &str) -> Problem {
    Problem {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn root_scalar(doc: Doc<'_>, key: &str) -> Option<ScalarValue> {
    scalar(doc, &ROOT, key)
}

fn scalar(doc: Doc<'_>, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    }
}

fn root_str(doc: Doc<'_>, key: &'static str) -> Result<String, ReadError> {
    match root_scalar(doc, key) {
        Some(ScalarValue::Str(s)) => Ok(s.to_string()),
        Some(_) => Err(invalid(key, "not a string")),
        None => Err(ReadError::Missing(key)),
    }
}

/// The map object under a root key, if there is one; anything else there is a problem.
fn root_map(doc: Doc<'_>, key: &str, problems: &mut Vec<Problem>) -> Option<ObjId> {
    match doc.get(ROOT, key) {
        Ok(Some((Value::Object(ObjType::Map), obj))) => Some(obj),
        Ok(None) => None,
        _ => {
            problems.push(problem(key, "is not a map"));
            None
        }
    }
}

/// A whole number as real automerge implementations write it: `int`, `uint`, or an `f64`
/// that holds a whole number. JavaScript has one number type, and automerge-js stores a
/// number as `int` or `f64` depending on its value and how it was computed (`0` from some
/// expressions, `-0`, `1e3` all arrive as `f64`), so a reader that takes only `int`/`uint`
/// refuses honest stock clients. `f64`s beyond ±2⁵³ are not exact and are refused.
pub(crate) fn whole_number(v: &ScalarValue) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match v {
        ScalarValue::Int(n) => Some(*n),
        ScalarValue::Uint(n) => i64::try_from(*n).ok(),
        ScalarValue::F64(x) if x.is_finite() && x.fract() == 0.0 && x.abs() <= EXACT => {
            // In range and whole, so the conversion is exact (and `-0.0` is 0).
            Some(*x as i64)
        }
        _ => None,
    }
}

/// A time: automerge's `timestamp`, or milliseconds since the epoch as a whole number.
fn time(v: &ScalarValue) -> Option<DateTime<Utc>> {
    let ms = match v {
        ScalarValue::Timestamp(ms) => *ms,
        other => whole_number(other)?,
    };
    DateTime::from_timestamp_millis(ms)
}

fn record_obj(value: Value<'_>) -> Result<(), String> {
    match value {
        Value::Object(ObjType::Map) => Ok(()),
        _ => Err("is not a record (map)".to_string()),
    }
}

/// The fields of one record object, read in one pass: in automerge 0.12 each lookup by key
/// scans the document's operation columns, so a record read field by field cost one scan
/// per field (most of the server's time when judging a change, by profile).
struct Fields(Vec<(String, Value<'static>, ObjId)>);

impl Fields {
    fn read(doc: Doc<'_>, obj: &ObjId) -> Fields {
        Fields(
            doc.map_range(obj)
                .map(|item| {
                    let id = item.id();
                    (item.key.into_owned(), item.value.into_value(), id)
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<(&Value<'static>, &ObjId)> {
        self.0
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, value, id)| (value, id))
    }

    fn scalar(&self, key: &str) -> Option<ScalarValue> {
        match self.get(key) {
            Some((Value::Scalar(s), _)) => Some(s.clone().into_owned()),
            _ => None,
        }
    }

    /// A list of strings under `key` (absent = empty).
    fn str_list(&self, doc: Doc<'_>, key: &str) -> Result<Vec<String>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some((Value::Object(ObjType::List), list)) => (0..doc.length(list))
                .map(|i| match doc.get(list, i) {
                    Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                        ScalarValue::Str(s) => Ok(s.to_string()),
                        _ => Err(format!("`{key}` holds a value that is not a string")),
                    },
                    _ => Err(format!("`{key}` holds a value that is not a string")),
                })
                .collect(),
            Some(_) => Err(format!("`{key}` is not a list")),
        }
    }
}

fn record_by(fields: &Fields) -> Result<UserId, String> {
    match fields.scalar(keys::BY) {
        Some(ScalarValue::Str(s)) => UserId::parse(s.as_str()).map_err(|e| e.to_string()),
        _ => Err("has no `by`".to_string()),
    }
}

fn record_at(fields: &Fields) -> Result<DateTime<Utc>, String> {
    fields
        .scalar(keys::AT)
        .as_ref()
        .and_then(time)
        .ok_or_else(|| "has no valid `at` timestamp".to_string())
}

fn read_answer(
    doc: Doc<'_>,
    value: Value<'_>,
    obj: &ObjId,
    kind: &ItemKind,
) -> Result<Answer, String> {
    record_obj(value)?;
    let fields = Fields::read(doc, obj);
    let photos = fields
        .str_list(doc, keys::PHOTOS)?
        .into_iter()
        .map(PhotoRef::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let raw = fields.scalar(keys::VALUE);
    let value = decode_value(raw.as_ref(), kind, !photos.is_empty())?;
    let note = match fields.scalar(keys::NOTE) {
        None => None,
        Some(ScalarValue::Str(s)) => Some(s.to_string()),
        Some(_) => return Err("`note` is not a string".to_string()),
    };
    let device = match fields.scalar(keys::DEVICE) {
        None => None,
        Some(ScalarValue::Str(s)) => Some(s.to_string()),
        Some(_) => return Err("`device` is not a string".to_string()),
    };
    Ok(Answer {
        obj: obj.to_string(),
        value,
        note,
        photos,
        by: record_by(&fields)?,
        device,
        at: record_at(&fields)?,
        late: false,
    })
}

/// Decodes a stored value according to the item's kind (see the layout document).
pub(crate) fn decode_value(
    raw: Option<&ScalarValue>,
    kind: &ItemKind,
    has_photos: bool,
) -> Result<AnswerValue, String> {
    if let (ItemKind::Count { .. }, Some(n)) = (kind, raw.and_then(whole_number)) {
        return match u32::try_from(n) {
            Ok(n) => Ok(AnswerValue::Count(n)),
            Err(_) if n < 0 => Err("count must be 0 or more".to_string()),
            Err(_) => Err("count is too large".to_string()),
        };
    }
    let value = match (kind, raw) {
        (ItemKind::PassFail, Some(ScalarValue::Str(s))) => match s.as_str() {
            "pass" => AnswerValue::Pass,
            "fail" => AnswerValue::Fail,
            "not_applicable" => AnswerValue::NotApplicable,
            other => return Err(format!("{other:?} is not pass, fail or not_applicable")),
        },
        (ItemKind::Number { .. }, Some(ScalarValue::F64(x))) if x.is_finite() => {
            AnswerValue::Number(*x)
        }
        (ItemKind::Number { .. }, Some(ScalarValue::Int(n))) => AnswerValue::Number(*n as f64),
        (ItemKind::Number { .. }, Some(ScalarValue::Uint(n))) => AnswerValue::Number(*n as f64),
        (ItemKind::Text, Some(ScalarValue::Str(s))) => AnswerValue::Text(s.to_string()),
        (ItemKind::Photo, None | Some(ScalarValue::Null)) if has_photos => AnswerValue::Photo,
        (ItemKind::Photo, _) => return Err("a photo answer needs at least one photo".to_string()),
        (ItemKind::Signature, Some(ScalarValue::Str(s))) => {
            AnswerValue::Signature(PhotoRef::parse(s.as_str())?)
        }
        (_, None) => return Err("has no `value`".to_string()),
        (_, Some(_)) => return Err("`value` does not fit the item's kind".to_string()),
    };
    Ok(value)
}

fn read_occupancy(doc: Doc<'_>, value: Value<'_>, obj: &ObjId) -> Result<Occupancy, String> {
    record_obj(value)?;
    let fields = Fields::read(doc, obj);
    let occupied = match fields.scalar(keys::VALUE) {
        Some(ScalarValue::Boolean(b)) => b,
        _ => return Err("`value` is not a boolean".to_string()),
    };
    Ok(Occupancy {
        obj: obj.to_string(),
        occupied,
        by: record_by(&fields)?,
        at: record_at(&fields)?,
    })
}

/// Every submission record under `submitted` (more than one only after concurrent
/// submissions), earliest first; ties by submitter and heads, so every reader agrees.
fn read_submissions(doc: Doc<'_>, problems: &mut Vec<Problem>) -> Vec<Submission> {
    let values = match doc.get_all(ROOT, keys::SUBMITTED) {
        Ok(values) => values,
        Err(e) => {
            problems.push(problem(keys::SUBMITTED, &e.to_string()));
            return Vec::new();
        }
    };
    let mut submissions = Vec::new();
    for (value, obj) in values {
        match value {
            Value::Object(ObjType::Map) => match read_submission(doc, &obj) {
                Ok(s) => submissions.push(s),
                Err(message) => problems.push(problem(keys::SUBMITTED, &message)),
            },
            _ => problems.push(problem(keys::SUBMITTED, "is not a map")),
        }
    }
    submissions.sort_by(|a, b| (a.at, &a.by, &a.heads).cmp(&(b.at, &b.by, &b.heads)));
    submissions
}

fn read_submission(doc: Doc<'_>, obj: &ObjId) -> Result<Submission, String> {
    let fields = Fields::read(doc, obj);
    let mut heads = fields.str_list(doc, keys::HEADS)?;
    for h in &heads {
        h.parse::<ChangeHash>()
            .map_err(|_| format!("{h:?} is not a change hash"))?;
    }
    heads.sort();
    Ok(Submission {
        by: record_by(&fields)?,
        at: record_at(&fields)?,
        heads,
    })
}

fn read_review(doc: Doc<'_>, obj: &ObjId) -> Result<Review, String> {
    let fields = Fields::read(doc, obj);
    let comment = match fields.scalar(keys::COMMENT) {
        Some(ScalarValue::Str(s)) => s.to_string(),
        _ => return Err("`comment` is not a string".to_string()),
    };
    Ok(Review {
        by: record_by(&fields)?,
        at: record_at(&fields)?,
        comment,
    })
}

/// The submission heads as change hashes, if every one of them is in the document (as
/// read: at some heads, among their ancestors).
fn heads_in_doc(doc: Doc<'_>, heads: &[String]) -> Option<Vec<ChangeHash>> {
    if heads.is_empty() {
        return None;
    }
    let hashes: Vec<ChangeHash> = heads
        .iter()
        .map(|h| h.parse::<ChangeHash>().ok())
        .collect::<Option<_>>()?;
    doc.holds(&hashes).then_some(hashes)
}

/// Concurrent records of one answer that say the same thing (value, note and photos, by
/// whoever) are one answer, not a conflict: two tablets that both passed an item offline
/// agree. The record kept is the earliest of those on time (not late), then by time and
/// object id, so every replica keeps the same one. Records that differ are all kept: a
/// conflict someone must resolve.
fn agreed(mut records: Vec<super::Answer>) -> Vec<super::Answer> {
    if records.len() < 2 {
        return records;
    }
    let same = |a: &super::Answer, b: &super::Answer| {
        let mut pa = a.photos.clone();
        let mut pb = b.photos.clone();
        pa.sort();
        pb.sort();
        a.value == b.value
            && a.note.as_deref().unwrap_or("") == b.note.as_deref().unwrap_or("")
            && pa == pb
    };
    if !records.iter().all(|r| same(r, &records[0])) {
        return records;
    }
    records.sort_by(|a, b| {
        a.late
            .cmp(&b.late)
            .then(a.at.cmp(&b.at))
            .then(a.obj.cmp(&b.obj))
    });
    records.truncate(1);
    records
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ObjType, ROOT, ScalarValue};

    use super::{keys, made_place, place_of};

    /// The place of an object made under a map key, known from the operation making it, is
    /// the one its parents give: the maps of records, records and what is in them down to
    /// the layout's depth, nothing deeper, nothing outside the maps of records; parents
    /// made in the same change or an earlier one.
    #[test]
    fn an_object_made_under_a_map_key_is_placed_as_its_parents_place_it() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let answers = tx
            .put_object(ROOT, keys::ANSWERS, ObjType::Map)
            .expect("puts");
        let record = tx
            .put_object(&answers, "c1-visitors", ObjType::Map)
            .expect("puts");
        let photos = tx
            .put_object(&record, keys::PHOTOS, ObjType::List)
            .expect("puts");
        tx.insert_object(&photos, 0, ObjType::Map).expect("inserts");
        let inner = tx.put_object(&record, "inner", ObjType::Map).expect("puts");
        let extra = tx.put_object(ROOT, "extra", ObjType::Map).expect("puts");
        tx.commit();
        // Objects made in a later change, in objects of the first.
        let mut tx = doc.transaction();
        tx.put_object(&inner, "deeper", ObjType::Map).expect("puts");
        let other = tx
            .put_object(&answers, "c9-masking", ObjType::Map)
            .expect("puts");
        tx.put(&other, keys::VALUE, ScalarValue::Str("pass".into()))
            .expect("puts");
        let occupied = tx
            .put_object(ROOT, keys::OCCUPIED, ObjType::Map)
            .expect("puts");
        let bay = tx
            .put_object(&occupied, "bay-1", ObjType::Map)
            .expect("puts");
        tx.put_object(&bay, "list", ObjType::List).expect("puts");
        tx.put_object(&extra, "answers", ObjType::Map)
            .expect("puts");
        tx.commit();

        let mut made = 0;
        let mut placed = 0;
        for change in doc.get_changes(&[]) {
            let start = change.start_op().get();
            for (i, op) in (0u64..).zip(change.decode().operations) {
                let (automerge::legacy::OpType::Make(_), automerge::legacy::Key::Map(key)) =
                    (&op.action, &op.key)
                else {
                    continue;
                };
                let parent = match &op.obj {
                    automerge::legacy::ObjectId::Root => None,
                    automerge::legacy::ObjectId::Id(id) => place_of(&doc, id),
                };
                let id = automerge::legacy::OpId(start + i, change.actor_id().clone());
                let expected = place_of(&doc, &id);
                assert_eq!(made_place(&op.obj, parent.as_ref(), key), expected, "{key}");
                made += 1;
                placed += usize::from(expected.is_some());
            }
        }
        // answers, occupied, extra, extra/answers; the two records, the bay, photos,
        // inner, the bay's list; inner/deeper.
        assert_eq!((made, placed), (11, 8));
    }
}
