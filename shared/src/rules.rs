//! Answers → violations → fines.
//!
//! [`evaluate`] is a pure, deterministic function of an [`Inspection`]: the same document
//! gives the same violations, in the same order, on every replica. The server projects them
//! into tables for the office; the tablet shows them live.
//!
//! A conflict (two answers written concurrently to one item) that contains a failing
//! answer is a violation until someone resolves it: the worst answer sets the occurrences,
//! every conflicting answer is kept as evidence, and the violation is marked `conflict`.
//! Letting the passing answer win instead would let the later tablet erase an observed
//! failure without having seen it, which is the one outcome the office cannot detect.
//!
//! Answers to an item asked only for occupied bays count only while their bay is
//! occupied ([`Inspection::is_occupied`]: a disagreement counts as occupied). Marking the
//! bay empty again keeps the answers in the document but takes their violations away, on
//! the tablet, in the server's projection and so in the office alike; marking it occupied
//! again brings them back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Fine;
use crate::i18n::Localized;
use crate::ids::{InspectionId, ItemId, RuleId, SiteId, TemplateId, UserId};
use crate::inspection::{AnswerKey, AnswerValue, Inspection, PhotoRef};
use crate::role::Role;
use crate::site::Area;
use crate::template::Repeat;

/// What a violation costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FineDue {
    /// The rule carries no fine.
    None,
    /// Occurrences × the rule's amount, in yuan.
    Yuan {
        /// The amount.
        amount: u64,
    },
    /// Flagged for a dismissal review; no amount.
    DismissalReview,
    /// The borrower pays for or replaces the lost tool; no amount known here.
    ReplaceTool,
}

impl FineDue {
    /// The amount in yuan, zero when the consequence is not money.
    pub fn yuan(self) -> u64 {
        match self {
            FineDue::Yuan { amount } => amount,
            _ => 0,
        }
    }
}

/// One answer offered as evidence of a violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Who recorded it.
    pub by: UserId,
    /// The device that wrote it, when known (the tablet's peer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// What they answered.
    pub value: AnswerValue,
    /// Their note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Their photos.
    #[serde(default)]
    pub photos: Vec<PhotoRef>,
    /// Recorded without knowledge of the submission.
    #[serde(default)]
    pub late: bool,
}

/// A broken rule, found by one item (for one area) of one inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The inspection it was found in.
    pub inspection: InspectionId,
    /// The answer key: unique within the inspection, so `(inspection, key)` identifies it.
    pub key: AnswerKey,
    /// The rule broken.
    pub rule: RuleId,
    /// The site.
    pub site: SiteId,
    /// The template and version that asked.
    pub template: TemplateId,
    /// The template version.
    pub template_version: u32,
    /// The item that observed it.
    pub item: ItemId,
    /// The item's text.
    pub item_text: Localized,
    /// The bay, room or entrance, for repeated items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
    /// The role that answers for it.
    pub responsible: Role,
    /// How many times the rule was broken.
    pub occurrences: u32,
    /// What it costs.
    pub fine: FineDue,
    /// The failing answer first, then any answers it conflicts with.
    pub evidence: Vec<Evidence>,
    /// Answers conflict and nobody has resolved them yet.
    pub conflict: bool,
    /// The failing answer was recorded without knowledge of the submission.
    pub after_submission: bool,
    /// When the failing answer was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The fine for `occurrences` of an item carrying `fine`.
pub fn fine_due(fine: Fine, occurrences: u32) -> FineDue {
    match fine {
        Fine::None => FineDue::None,
        Fine::PerOccurrence { yuan } => FineDue::Yuan {
            amount: u64::from(yuan) * u64::from(occurrences),
        },
        Fine::DismissalReview => FineDue::DismissalReview,
        Fine::ReplaceTool => FineDue::ReplaceTool,
    }
}

/// Every violation the inspection's answers show, ordered by answer key.
pub fn evaluate(inspection: &Inspection) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (key, answers) in &inspection.answers {
        let Ok(item) = inspection.item_for(key) else {
            continue;
        };
        // An occupied-bay item's answers count only while the bay is occupied: marked
        // empty again, they stay in the document (and count again if it is marked occupied
        // again), but an empty bay has no car to cover.
        if item.repeat == Repeat::PerOccupiedBay
            && key
                .area
                .as_ref()
                .is_some_and(|bay| !inspection.is_occupied(bay))
        {
            continue;
        }
        // The worst answer decides; ties go to the earliest, then to the record id, so
        // every replica picks the same one.
        let worst = answers
            .iter()
            .map(|a| (a.value.occurrences(&item.kind), a))
            .filter(|(n, _)| *n > 0)
            .max_by(|(n1, a1), (n2, a2)| {
                n1.cmp(n2).then(a2.at.cmp(&a1.at)).then(a2.obj.cmp(&a1.obj))
            });
        let Some((occurrences, failing)) = worst else {
            continue;
        };
        let mut evidence: Vec<&crate::inspection::Answer> = vec![failing];
        let mut others: Vec<_> = answers.iter().filter(|a| a.obj != failing.obj).collect();
        others.sort_by(|a, b| a.at.cmp(&b.at).then(a.obj.cmp(&b.obj)));
        evidence.extend(others);
        violations.push(Violation {
            inspection: inspection.id.clone(),
            key: key.clone(),
            rule: item.rule.clone(),
            site: inspection.site.clone(),
            template: inspection.template.id.clone(),
            template_version: inspection.template.version,
            item: item.id.clone(),
            item_text: item.text.clone(),
            area: key
                .area
                .as_ref()
                .and_then(|id| inspection.areas.iter().find(|a| &a.id == id).cloned()),
            responsible: item.responsible,
            occurrences,
            fine: fine_due(item.fine, occurrences),
            evidence: evidence
                .into_iter()
                .map(|a| Evidence {
                    by: a.by.clone(),
                    device: a.device.clone(),
                    at: a.at,
                    value: a.value.clone(),
                    note: a.note.clone(),
                    photos: a.photos.clone(),
                    late: a.late,
                })
                .collect(),
            conflict: answers.len() > 1,
            after_submission: failing.late,
            recorded_at: failing.at,
        });
    }
    violations
}

/// The sum of the money fines, in yuan.
pub fn total_yuan(violations: &[Violation]) -> u64 {
    violations.iter().map(|v| v.fine.yuan()).sum()
}
