//! Writing an inspection document: creation, answers, occupancy, submission, review.
//!
//! Each function makes exactly one automerge change, stamped with the given time and a
//! short message, and checks first what the permission policy would check after: a
//! tablet that uses these functions never produces a change the server must refuse,
//! except where it could not know better (a submission it has not seen yet).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, Utc};

use super::{AnswerKey, AnswerValue, LAYOUT_VERSION, PhotoRef, ReadError, SCHEMA, keys, read};
use crate::ids::{AreaId, InspectionId, SiteId, UserId};
use crate::site::{Area, AreaKind};
use crate::template::{FieldError, Template};

/// Why an edit was not made. Nothing is written when an edit fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The document is not a readable inspection.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The template given for a new inspection is invalid.
    #[error("the template is invalid: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidTemplate(Vec<FieldError>),
    /// The answer key does not fit the template and the site's areas.
    #[error("{0}")]
    BadKey(String),
    /// The value does not fit the item's kind.
    #[error("{key}: the value does not fit the item's kind")]
    WrongKind {
        /// The answer key.
        key: AnswerKey,
    },
    /// The area is not a bay of the site.
    #[error("{0} is not a bay of this site")]
    NotABay(AreaId),
    /// The inspection is already submitted.
    #[error("the inspection is already submitted")]
    Submitted,
    /// A review needs a submitted inspection.
    #[error("only a submitted inspection can be reviewed")]
    NotSubmitted,
    /// The inspection cannot be submitted yet.
    #[error("the inspection cannot be submitted: {}", .0.join("; "))]
    Incomplete(Vec<String>),
    /// automerge refused the write (a bug, reported rather than panicking).
    #[error("the document could not be written: {0}")]
    Automerge(String),
}

impl From<automerge::AutomergeError> for EditError {
    fn from(e: automerge::AutomergeError) -> Self {
        EditError::Automerge(e.to_string())
    }
}

/// Everything a new inspection starts with.
#[derive(Debug, Clone)]
pub struct NewInspection {
    /// Its id (the document id on the sync server).
    pub id: InspectionId,
    /// The site.
    pub site: SiteId,
    /// The template version to copy in.
    pub template: Template,
    /// The site's areas, copied in.
    pub areas: Vec<Area>,
    /// Who starts it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn options(message: &str, at: DateTime<Utc>) -> CommitOptions {
    CommitOptions::default()
        .with_message(message)
        .with_time(at.timestamp_millis())
}

fn committed(hash: Option<ChangeHash>) -> Result<ChangeHash, EditError> {
    hash.ok_or_else(|| EditError::Automerge("the edit produced no change".to_string()))
}

/// Creates the document of a new inspection, in one change by `actor`.
pub fn create(new: &NewInspection, actor: ActorId) -> Result<Automerge, EditError> {
    new.template
        .validate()
        .map_err(EditError::InvalidTemplate)?;
    let template =
        serde_json::to_string(&new.template).map_err(|e| EditError::Automerge(e.to_string()))?;
    let areas =
        serde_json::to_string(&new.areas).map_err(|e| EditError::Automerge(e.to_string()))?;
    let mut doc = Automerge::new().with_actor(actor);
    let mut tx = doc.transaction();
    tx.put(ROOT, keys::SCHEMA, SCHEMA)?;
    tx.put(ROOT, keys::LAYOUT, ScalarValue::Uint(LAYOUT_VERSION))?;
    tx.put(ROOT, keys::ID, new.id.as_str())?;
    tx.put(ROOT, keys::SITE, new.site.as_str())?;
    tx.put(ROOT, keys::TEMPLATE, template)?;
    tx.put(ROOT, keys::AREAS, areas)?;
    tx.put(ROOT, keys::CREATED_BY, new.created_by.as_str())?;
    tx.put(
        ROOT,
        keys::CREATED_AT,
        ScalarValue::Timestamp(new.created_at.timestamp_millis()),
    )?;
    tx.put_object(ROOT, keys::ANSWERS, ObjType::Map)?;
    tx.put_object(ROOT, keys::OCCUPIED, ObjType::Map)?;
    committed(
        tx.commit_with(options("create inspection", new.created_at))
            .0,
    )?;
    Ok(doc)
}

fn map_obj(doc: &Automerge, key: &str) -> Result<automerge::ObjId, EditError> {
    match doc.get(ROOT, key)? {
        Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
        _ => Err(EditError::Read(ReadError::Missing(match key {
            keys::ANSWERS => keys::ANSWERS,
            _ => keys::OCCUPIED,
        }))),
    }
}

/// Records an answer, replacing (and so resolving) whatever the writer saw under the key.
pub fn answer(
    doc: &mut Automerge,
    by: &UserId,
    at: DateTime<Utc>,
    key: &AnswerKey,
    value: &AnswerValue,
    note: Option<&str>,
    photos: &[PhotoRef],
) -> Result<ChangeHash, EditError> {
    answer_from(doc, by, None, at, key, value, note, photos)
}

/// `answer`, naming the device that writes it (`keys::DEVICE`: a tablet's peer id), so
/// that two tablets of one user are told apart in conflicts and evidence.
#[allow(clippy::too_many_arguments)]
pub fn answer_from(
    doc: &mut Automerge,
    by: &UserId,
    device: Option<&str>,
    at: DateTime<Utc>,
    key: &AnswerKey,
    value: &AnswerValue,
    note: Option<&str>,
    photos: &[PhotoRef],
) -> Result<ChangeHash, EditError> {
    let inspection = read(doc)?;
    if inspection.submitted.is_some() {
        return Err(EditError::Submitted);
    }
    let item = inspection.item_for(key).map_err(EditError::BadKey)?;
    let photo_without_photos = matches!(value, AnswerValue::Photo) && photos.is_empty();
    if !value.fits(&item.kind) || photo_without_photos {
        return Err(EditError::WrongKind { key: key.clone() });
    }
    let answers = map_obj(doc, keys::ANSWERS)?;
    let mut tx = doc.transaction();
    let record = tx.put_object(&answers, key.to_string(), ObjType::Map)?;
    match value {
        AnswerValue::Pass => tx.put(&record, keys::VALUE, "pass")?,
        AnswerValue::Fail => tx.put(&record, keys::VALUE, "fail")?,
        AnswerValue::NotApplicable => tx.put(&record, keys::VALUE, "not_applicable")?,
        AnswerValue::Count(n) => tx.put(&record, keys::VALUE, ScalarValue::Uint(u64::from(*n)))?,
        AnswerValue::Number(x) => tx.put(&record, keys::VALUE, ScalarValue::F64(*x))?,
        AnswerValue::Text(s) => tx.put(&record, keys::VALUE, s.as_str())?,
        AnswerValue::Photo => tx.put(&record, keys::VALUE, ScalarValue::Null)?,
        AnswerValue::Signature(p) => tx.put(&record, keys::VALUE, p.as_str())?,
    }
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        tx.put(&record, keys::NOTE, note)?;
    }
    let list = tx.put_object(&record, keys::PHOTOS, ObjType::List)?;
    for (i, photo) in photos.iter().enumerate() {
        tx.insert(&list, i, photo.as_str())?;
    }
    tx.put(&record, keys::BY, by.as_str())?;
    if let Some(device) = device.filter(|d| !d.is_empty()) {
        tx.put(&record, keys::DEVICE, device)?;
    }
    tx.put(
        &record,
        keys::AT,
        ScalarValue::Timestamp(at.timestamp_millis()),
    )?;
    committed(tx.commit_with(options(&format!("answer {key}"), at)).0)
}

/// Marks a bay as occupied by a car under repair, or as empty.
pub fn set_occupied(
    doc: &mut Automerge,
    by: &UserId,
    at: DateTime<Utc>,
    bay: &AreaId,
    occupied: bool,
) -> Result<ChangeHash, EditError> {
    let inspection = read(doc)?;
    if inspection.submitted.is_some() {
        return Err(EditError::Submitted);
    }
    if !inspection
        .areas
        .iter()
        .any(|a| &a.id == bay && a.kind == AreaKind::Bay)
    {
        return Err(EditError::NotABay(bay.clone()));
    }
    let map = map_obj(doc, keys::OCCUPIED)?;
    let mut tx = doc.transaction();
    let record = tx.put_object(&map, bay.as_str(), ObjType::Map)?;
    tx.put(&record, keys::VALUE, occupied)?;
    tx.put(&record, keys::BY, by.as_str())?;
    tx.put(
        &record,
        keys::AT,
        ScalarValue::Timestamp(at.timestamp_millis()),
    )?;
    committed(tx.commit_with(options(&format!("occupancy {bay}"), at)).0)
}

/// Submits the inspection, recording the heads the submitter saw.
pub fn submit(
    doc: &mut Automerge,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<ChangeHash, EditError> {
    let inspection = read(doc)?;
    if inspection.submitted.is_some() {
        return Err(EditError::Submitted);
    }
    let problems = inspection.submission_problems();
    if !problems.is_empty() {
        return Err(EditError::Incomplete(problems));
    }
    let mut heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
    heads.sort();
    let mut tx = doc.transaction();
    let record = tx.put_object(ROOT, keys::SUBMITTED, ObjType::Map)?;
    let list = tx.put_object(&record, keys::HEADS, ObjType::List)?;
    for (i, head) in heads.iter().enumerate() {
        tx.insert(&list, i, head.as_str())?;
    }
    tx.put(&record, keys::BY, by.as_str())?;
    tx.put(
        &record,
        keys::AT,
        ScalarValue::Timestamp(at.timestamp_millis()),
    )?;
    committed(tx.commit_with(options("submit", at)).0)
}

/// Writes the reviewer's comment on a submitted inspection.
pub fn review(
    doc: &mut Automerge,
    by: &UserId,
    at: DateTime<Utc>,
    comment: &str,
) -> Result<ChangeHash, EditError> {
    let inspection = read(doc)?;
    if inspection.submitted.is_none() {
        return Err(EditError::NotSubmitted);
    }
    let mut tx = doc.transaction();
    let record = tx.put_object(ROOT, keys::REVIEW, ObjType::Map)?;
    tx.put(&record, keys::COMMENT, comment)?;
    tx.put(&record, keys::BY, by.as_str())?;
    tx.put(
        &record,
        keys::AT,
        ScalarValue::Timestamp(at.timestamp_millis()),
    )?;
    committed(tx.commit_with(options("review", at)).0)
}
