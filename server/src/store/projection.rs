//! The office's relational view of inspections and violations.
//!
//! Every accepted change recomputes the inspection's violations with the shared rules and
//! rewrites these rows in the same transaction as the change itself, so the office's SQL
//! never disagrees with the documents. A violation's review status is kept across
//! recomputations: the row is updated in place, never deleted and re-inserted, unless the
//! violation is gone from the document. The office reads these rows back through
//! [`super::violations`].

use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::inspection::Inspection;
use shared::rules::{FineDue, Violation};

/// The rows derived from one inspection document.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The inspection row.
    pub inspection: InspectionRow,
    /// One row per violation.
    pub violations: Vec<ViolationRow>,
}

/// The `inspections` row.
#[derive(Debug, Clone, PartialEq, Hash, Serialize)]
pub struct InspectionRow {
    /// Site.
    pub site_id: String,
    /// Template id.
    pub template_id: String,
    /// Template version.
    pub template_version: i64,
    /// Creator.
    pub created_by: String,
    /// Created, ms.
    pub created_at: i64,
    /// Submitter.
    pub submitted_by: Option<String>,
    /// Submitted, ms.
    pub submitted_at: Option<i64>,
    /// Unresolved conflicts.
    pub conflicts: i64,
    /// Violations found.
    pub violations: i64,
    /// Their fines, yuan.
    pub fine_yuan: i64,
}

/// A violation's row in `violations`: what the rules found, as the projection writes it
/// on every accepted change and the office's list reads it back
/// ([`ListedViolation`](super::violations::ListedViolation)).
#[derive(Debug, Clone, PartialEq, Hash, Serialize, sqlx::FromRow)]
pub struct ViolationRow {
    /// The answer key (`item` or `item@area`).
    pub answer_key: String,
    /// Site.
    pub site_id: String,
    /// Rule.
    pub rule_id: String,
    /// Template.
    pub template_id: String,
    /// Item.
    pub item_id: String,
    /// Area.
    pub area_id: Option<String>,
    /// Responsible role.
    pub responsible_role: String,
    /// Occurrences.
    pub occurrences: i64,
    /// `none`, `yuan`, `dismissal_review`, `replace_tool`.
    pub fine_type: String,
    /// Yuan.
    pub fine_yuan: i64,
    /// Conflicting answers.
    pub conflict: bool,
    /// Recorded after submission.
    pub after_submission: bool,
    /// When recorded, ms: as written, the tablet's time; as listed, the tablet's time, or
    /// the server's receive time where the tablet's clock was ahead (see
    /// [`ListedViolation::clock_ahead_ms`](super::violations::ListedViolation::clock_ahead_ms)).
    pub recorded_at: i64,
    /// Who recorded the failing answer.
    pub recorded_by: String,
    /// The evidence.
    #[sqlx(try_from = "String")]
    pub evidence: Evidence,
}

/// A violation's evidence (the failing answers: who, when, note, photos) as the JSON text
/// its row stores. It is sent as that JSON (`null` if the text is not JSON).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evidence(String);

impl Evidence {
    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The evidence as JSON; `null` if the stored text is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl From<String> for Evidence {
    fn from(text: String) -> Self {
        Evidence(text)
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
    }
}

impl Projection {
    /// The rows for an inspection and its violations.
    pub fn new(inspection: &Inspection, violations: &[Violation]) -> Projection {
        let fine_yuan: u64 = shared::rules::total_yuan(violations);
        Projection {
            inspection: InspectionRow {
                site_id: inspection.site.to_string(),
                template_id: inspection.template.id.to_string(),
                template_version: i64::from(inspection.template.version),
                created_by: inspection.created_by.to_string(),
                created_at: inspection.created_at.timestamp_millis(),
                submitted_by: inspection.submitted.as_ref().map(|s| s.by.to_string()),
                submitted_at: inspection
                    .submitted
                    .as_ref()
                    .map(|s| s.at.timestamp_millis()),
                conflicts: inspection.conflicts().len() as i64,
                violations: violations.len() as i64,
                fine_yuan: i64::try_from(fine_yuan).unwrap_or(i64::MAX),
            },
            violations: violations.iter().map(violation_row).collect(),
        }
    }
}

/// A row's fingerprint: the SHA-256 of its fields as std's `Hash` feeds them (a
/// prefix-free encoding: strings end with a marker, options and enums start with their
/// variant), so two different rows have different fingerprints.
type Fingerprint = [u8; 32];

/// Feeds what `Hash` writes into SHA-256.
struct Sha(Sha256);

impl std::hash::Hasher for Sha {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Not used: the fingerprint is the whole digest ([`fingerprint`]).
    fn finish(&self) -> u64 {
        0
    }
}

fn fingerprint(row: &impl std::hash::Hash) -> Fingerprint {
    let mut sha = Sha(Sha256::new());
    row.hash(&mut sha);
    sha.0.finalize().into()
}

/// What a write of a [`Projection`] left in the database, as much as the next write needs
/// to write only the rows that differ ([`Projection::delta`]): the fingerprint of each row
/// and the answer key of each violation (a row that is gone is deleted by its key). The
/// server keeps one per document in memory: about 40 bytes per row, where the rows
/// themselves are hundreds (a violation's evidence holds its notes).
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    inspection: Fingerprint,
    violations: Vec<(String, Fingerprint)>,
}

/// What a write must change in the stored rows of a document to turn the rows of one
/// projection into another's ([`Projection::delta`]).
#[derive(Debug, PartialEq)]
pub struct Delta<'a> {
    /// Whether the `inspections` row differs.
    pub inspection: bool,
    /// The answer keys of violations that are gone.
    pub gone: Vec<&'a str>,
    /// The violation rows that are new or differ.
    pub changed: Vec<&'a ViolationRow>,
}

impl Projection {
    /// The rows that differ between `previous` (the rows as last written) and `self`.
    ///
    /// Writing an unchanged violation row again is a no-op (its upsert keeps the time
    /// first judged and sets every other column to what it holds), so writing only the
    /// delta leaves the same violation rows as writing everything, provided the stored
    /// rows are `previous`'s. The one difference: an unchanged inspection row is not
    /// written, so its `updated_at` is when the row last changed, not the last accepted
    /// change (nothing reads it; the document's own `updated_at` is that).
    pub fn delta<'a>(&'a self, previous: &'a Written) -> Delta<'a> {
        let violations: Vec<(&ViolationRow, Fingerprint)> = self
            .violations
            .iter()
            .map(|row| (row, fingerprint(row)))
            .collect();
        Delta {
            inspection: fingerprint(&self.inspection) != previous.inspection,
            gone: previous
                .violations
                .iter()
                .filter(|(key, _)| !violations.iter().any(|(new, _)| new.answer_key == *key))
                .map(|(key, _)| key.as_str())
                .collect(),
            changed: violations
                .into_iter()
                .filter(|(new, print)| {
                    !previous
                        .violations
                        .iter()
                        .any(|(key, old)| *key == new.answer_key && old == print)
                })
                .map(|(new, _)| new)
                .collect(),
        }
    }

    /// What writing these rows leaves, for the next write's [`Projection::delta`].
    pub fn written(&self) -> Written {
        Written {
            inspection: fingerprint(&self.inspection),
            violations: self
                .violations
                .iter()
                .map(|row| (row.answer_key.clone(), fingerprint(row)))
                .collect(),
        }
    }
}

fn violation_row(v: &Violation) -> ViolationRow {
    let (fine_type, fine_yuan) = match v.fine {
        FineDue::None => ("none", 0),
        FineDue::Yuan { amount } => ("yuan", i64::try_from(amount).unwrap_or(i64::MAX)),
        FineDue::DismissalReview => ("dismissal_review", 0),
        FineDue::ReplaceTool => ("replace_tool", 0),
    };
    ViolationRow {
        answer_key: v.key.to_string(),
        site_id: v.site.to_string(),
        rule_id: v.rule.to_string(),
        template_id: v.template.to_string(),
        item_id: v.item.to_string(),
        area_id: v.area.as_ref().map(|a| a.id.to_string()),
        responsible_role: v.responsible.as_str().to_string(),
        occurrences: i64::from(v.occurrences),
        fine_type: fine_type.to_string(),
        fine_yuan,
        conflict: v.conflict,
        after_submission: v.after_submission,
        recorded_at: v.recorded_at.timestamp_millis(),
        recorded_by: v
            .evidence
            .first()
            .map(|e| e.by.to_string())
            .unwrap_or_default(),
        evidence: Evidence(serde_json::to_string(&v.evidence).unwrap_or_else(|_| "[]".to_string())),
    }
}

/// How far ahead of the server's clock a tablet's time may be and still be believed: 5
/// minutes. Tablets set their clocks from the network, and honest drift is seconds to a
/// minute or two; a tablet whose time is further ahead has a wrong clock (a day ahead, a
/// wrong time zone), and its times would put a routine done tomorrow or a fine in next
/// month. Times in the past are believed whatever their age: offline work is normal.
pub const CLOCK_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// A tablet's time `claimed` (ms) as the server records it when it receives it at `now`
/// (ms): the time itself, or `now` when it is more than [`CLOCK_TOLERANCE_MS`] ahead.
pub fn received_time(claimed: i64, now: i64) -> i64 {
    if clock_ahead(claimed, now).is_some() {
        now
    } else {
        claimed
    }
}

/// How far (ms) the tablet's clock was ahead when a time `claimed` was received at `now`,
/// if more than the tolerance; `None` when the time is believed.
pub fn clock_ahead(claimed: i64, now: i64) -> Option<i64> {
    let ahead = claimed.saturating_sub(now);
    (ahead > CLOCK_TOLERANCE_MS).then_some(ahead)
}

/// The stored violations' answer keys of a document ($1).
pub const VIOLATION_KEYS: &str = "select answer_key from violations where doc_id = $1";

/// The `inspections` row's upsert, bound with [`InspectionRow::bound`] ($1–$15). A
/// submission whose claimed time is unchanged keeps the time and clock offset judged when
/// it was first received, so recomputing never moves them.
pub const UPSERT_INSPECTION: &str = "insert into inspections (doc_id, site_id, template_id, template_version, created_by, created_at, \
     submitted_by, submitted_at, conflicts, violations, fine_yuan, updated_at, \
     created_clock_ahead_ms, submitted_claimed_at, submitted_clock_ahead_ms) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     on conflict (doc_id) do update set submitted_by = excluded.submitted_by, \
     submitted_at = case when inspections.submitted_claimed_at = excluded.submitted_claimed_at \
     then inspections.submitted_at else excluded.submitted_at end, \
     submitted_clock_ahead_ms = case when inspections.submitted_claimed_at = excluded.submitted_claimed_at \
     then inspections.submitted_clock_ahead_ms else excluded.submitted_clock_ahead_ms end, \
     submitted_claimed_at = excluded.submitted_claimed_at, conflicts = excluded.conflicts, \
     violations = excluded.violations, fine_yuan = excluded.fine_yuan, updated_at = excluded.updated_at";

/// A violation row's delete ($1 the document, $2 the answer key).
pub const DELETE_VIOLATION: &str = "delete from violations where doc_id = $1 and answer_key = $2";

/// A violation row's upsert, bound with [`ViolationRow::bound`] ($1–$18; $3 and $8 again
/// for the responsible user: the one enabled user of the role at the site, if there is
/// exactly one). A violation whose claimed time is unchanged keeps the time and clock
/// offset judged when it was first received; its review status is never touched.
pub const UPSERT_VIOLATION: &str = "insert into violations (doc_id, answer_key, site_id, rule_id, template_id, item_id, area_id, \
     responsible_role, occurrences, fine_type, fine_yuan, conflict, after_submission, recorded_at, \
     recorded_by, evidence, recorded_claimed_at, clock_ahead_ms, responsible_user) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     (select min(u.id) from users u join user_sites s on s.user_id = u.id \
     where s.site_id = $3 and u.role = $8 and not u.disabled having count(*) = 1)) \
     on conflict (doc_id, answer_key) do update set rule_id = excluded.rule_id, \
     occurrences = excluded.occurrences, fine_type = excluded.fine_type, fine_yuan = excluded.fine_yuan, \
     conflict = excluded.conflict, after_submission = excluded.after_submission, \
     recorded_at = case when violations.recorded_claimed_at = excluded.recorded_claimed_at \
     then violations.recorded_at else excluded.recorded_at end, \
     clock_ahead_ms = case when violations.recorded_claimed_at = excluded.recorded_claimed_at \
     then violations.clock_ahead_ms else excluded.clock_ahead_ms end, \
     recorded_claimed_at = excluded.recorded_claimed_at, \
     recorded_by = excluded.recorded_by, evidence = excluded.evidence";

/// A value bound to one of the projection's statements, in the order of their `$n`: the
/// one list of values both the sqlx statements (PostgreSQL) and SQLite's group commit
/// bind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound<'a> {
    /// Text.
    Text(&'a str),
    /// Text or null.
    MaybeText(Option<&'a str>),
    /// An integer.
    Int(i64),
    /// An integer or null.
    MaybeInt(Option<i64>),
    /// A boolean.
    Bool(bool),
}

impl InspectionRow {
    /// The values of [`UPSERT_INSPECTION`] for document `doc_id` received at `now` (ms):
    /// tablet times too far ahead are recorded as `now` ([`received_time`]).
    pub fn bound<'a>(&'a self, doc_id: &'a str, now: i64) -> [Bound<'a>; 15] {
        [
            Bound::Text(doc_id),
            Bound::Text(&self.site_id),
            Bound::Text(&self.template_id),
            Bound::Int(self.template_version),
            Bound::Text(&self.created_by),
            Bound::Int(received_time(self.created_at, now)),
            Bound::MaybeText(self.submitted_by.as_deref()),
            Bound::MaybeInt(self.submitted_at.map(|t| received_time(t, now))),
            Bound::Int(self.conflicts),
            Bound::Int(self.violations),
            Bound::Int(self.fine_yuan),
            Bound::Int(now),
            Bound::MaybeInt(clock_ahead(self.created_at, now)),
            Bound::MaybeInt(self.submitted_at),
            Bound::MaybeInt(self.submitted_at.and_then(|t| clock_ahead(t, now))),
        ]
    }
}

impl ViolationRow {
    /// The values of [`UPSERT_VIOLATION`] for document `doc_id` received at `now` (ms):
    /// a recorded time too far ahead is recorded as `now` ([`received_time`]).
    pub fn bound<'a>(&'a self, doc_id: &'a str, now: i64) -> [Bound<'a>; 18] {
        [
            Bound::Text(doc_id),
            Bound::Text(&self.answer_key),
            Bound::Text(&self.site_id),
            Bound::Text(&self.rule_id),
            Bound::Text(&self.template_id),
            Bound::Text(&self.item_id),
            Bound::MaybeText(self.area_id.as_deref()),
            Bound::Text(&self.responsible_role),
            Bound::Int(self.occurrences),
            Bound::Text(&self.fine_type),
            Bound::Int(self.fine_yuan),
            Bound::Bool(self.conflict),
            Bound::Bool(self.after_submission),
            Bound::Int(received_time(self.recorded_at, now)),
            Bound::Text(&self.recorded_by),
            Bound::Text(self.evidence.as_str()),
            Bound::Int(self.recorded_at),
            Bound::MaybeInt(clock_ahead(self.recorded_at, now)),
        ]
    }
}

impl Projection {
    /// The rows a write must change, given `previous`, the rows as last written, if known
    /// (then [`Projection::delta`]), or the answer keys of the violations stored now
    /// (then every row is written and the violations no longer found are deleted).
    pub fn delta_from<'a>(&'a self, previous: Result<&'a Written, &'a [String]>) -> Delta<'a> {
        match previous {
            Ok(previous) => self.delta(previous),
            Err(stored) => Delta {
                inspection: true,
                gone: stored
                    .iter()
                    .filter(|k| !self.violations.iter().any(|v| &v.answer_key == *k))
                    .map(String::as_str)
                    .collect(),
                changed: self.violations.iter().collect(),
            },
        }
    }
}

/// Binds `$values` (an iterator of [`Bound`]) to the sqlx query `$query`, in order.
#[macro_export]
macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        use $crate::store::projection::Bound;
        let mut query = $query;
        for value in $values {
            query = match value {
                Bound::Text(v) => query.bind(v),
                Bound::MaybeText(v) => query.bind(v),
                Bound::Int(v) => query.bind(v),
                Bound::MaybeInt(v) => query.bind(v),
                Bound::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Writes a [`Projection`] inside an open sqlx transaction `$tx` (either dialect),
/// received at `$now` (ms): tablet times too far ahead are recorded as `$now`
/// ([`received_time`]). A submission or violation whose claimed time is unchanged keeps
/// the time and clock offset judged when it was first received, so recomputing never
/// moves them. (SQLite's group commit writes the same statements with the same values
/// through its own connection: `super::group_commit`.)
///
/// `$previous` (`Option<&Written>`) is the projection the stored rows hold, when the
/// caller knows it (it wrote them, and no one has written the document since): then only
/// the [`Projection::delta`] is written. Without it, the stored violations are read and
/// every row is written.
#[macro_export]
macro_rules! write_projection {
    ($tx:ident, $doc_id:expr, $p:expr, $previous:expr, $now:expr) => {{
        use $crate::store::projection;
        let p: &projection::Projection = $p;
        let previous: Option<&projection::Written> = $previous;
        let doc_id: &str = $doc_id;
        let now: i64 = $now;
        let stored: Vec<String> = match previous {
            Some(_) => Vec::new(),
            None => {
                sqlx::query_scalar(projection::VIOLATION_KEYS)
                    .bind(doc_id)
                    .fetch_all(&mut *$tx)
                    .await?
            }
        };
        let delta = p.delta_from(previous.ok_or(&stored[..]));
        if delta.inspection {
            $crate::bind_all!(
                sqlx::query(projection::UPSERT_INSPECTION),
                p.inspection.bound(doc_id, now)
            )
            .execute(&mut *$tx)
            .await?;
        }
        for key in delta.gone {
            sqlx::query(projection::DELETE_VIOLATION)
                .bind(doc_id)
                .bind(key)
                .execute(&mut *$tx)
                .await?;
        }
        for v in delta.changed {
            $crate::bind_all!(
                sqlx::query(projection::UPSERT_VIOLATION),
                v.bound(doc_id, now)
            )
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, occurrences: i64) -> ViolationRow {
        ViolationRow {
            answer_key: key.to_string(),
            site_id: "s".to_string(),
            rule_id: "R1".to_string(),
            template_id: "t".to_string(),
            item_id: key.to_string(),
            area_id: None,
            responsible_role: "team_lead".to_string(),
            occurrences,
            fine_type: "yuan".to_string(),
            fine_yuan: 50,
            conflict: false,
            after_submission: false,
            recorded_at: 1,
            recorded_by: "u".to_string(),
            evidence: Evidence::from("[]".to_string()),
        }
    }

    fn projection(violations: Vec<ViolationRow>) -> Projection {
        Projection {
            inspection: InspectionRow {
                site_id: "s".to_string(),
                template_id: "t".to_string(),
                template_version: 1,
                created_by: "u".to_string(),
                created_at: 1,
                submitted_by: None,
                submitted_at: None,
                conflicts: 0,
                violations: violations.len() as i64,
                fine_yuan: 50 * violations.len() as i64,
            },
            violations,
        }
    }

    #[test]
    fn an_unchanged_projection_writes_nothing() {
        let p = projection(vec![row("a", 1), row("b", 1)]);
        let written = p.written();
        let delta = p.delta(&written);
        assert!(!delta.inspection);
        assert!(delta.gone.is_empty());
        assert!(delta.changed.is_empty());
    }

    #[test]
    fn the_delta_names_new_changed_and_gone_rows_only() {
        let before = projection(vec![row("a", 1), row("b", 1), row("c", 1)]);
        let after = projection(vec![row("a", 1), row("b", 2), row("d", 1)]);
        let written = before.written();
        let delta = after.delta(&written);
        assert!(!delta.inspection, "same count and fines");
        assert_eq!(delta.gone, vec!["c"]);
        let changed: Vec<&str> = delta
            .changed
            .iter()
            .map(|r| r.answer_key.as_str())
            .collect();
        assert_eq!(changed, vec!["b", "d"]);
    }

    #[test]
    fn a_changed_inspection_row_is_written() {
        let before = projection(vec![row("a", 1)]);
        let mut after = before.clone();
        after.inspection.conflicts = 1;
        assert!(after.delta(&before.written()).inspection);
        let mut evidence = before.clone();
        evidence.violations[0].evidence = Evidence::from("[{\"note\":\"x\"}]".to_string());
        assert_eq!(evidence.delta(&before.written()).changed.len(), 1);
    }
}
