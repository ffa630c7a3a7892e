//! The review workflow: a violation's status, the steps the office takes on it, and the
//! pure function that decides each step.
//!
//! ```text
//!            acknowledge          correct            waive (with a reason)
//!   open ───────────────▶ acknowledged / corrected / waived ──reopen──▶ open
//! ```
//!
//! Every step leads to its own status from any other (a corrected violation may still be
//! waived, a waived one acknowledged); a step to the status the violation already has is
//! refused, so of two people acting on one violation at once exactly one is recorded. The
//! server decides each step inside the store's write transaction, on the status read
//! there, never on a status read before it; the web app asks the wasm client which steps
//! to offer (`reviewActions`), from these same rules.

use serde::{Deserialize, Serialize};

use crate::i18n::Localized;
use crate::policy::Action;

/// Where a violation stands in the office's review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Recorded, not yet looked at (every violation starts here).
    Open,
    /// The office has seen it; the fine stands.
    Acknowledged,
    /// The fault was put right; the fine stands.
    Corrected,
    /// The fine is waived, with a reason.
    Waived,
}

impl ReviewStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [ReviewStatus; 4] = [
        ReviewStatus::Open,
        ReviewStatus::Acknowledged,
        ReviewStatus::Corrected,
        ReviewStatus::Waived,
    ];

    /// The stable code, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Acknowledged => "acknowledged",
            ReviewStatus::Corrected => "corrected",
            ReviewStatus::Waived => "waived",
        }
    }

    /// The status of a code, if it is one.
    pub fn parse(code: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// The Chinese name the office's exports show.
    pub fn name_zh(self) -> &'static str {
        self.names().0
    }

    /// The name in both languages, as the screens show it.
    pub fn name(self) -> Localized {
        let (zh, en) = self.names();
        Localized::new(zh, en)
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            ReviewStatus::Open => ("待处理", "Open"),
            ReviewStatus::Acknowledged => ("已确认", "Acknowledged"),
            ReviewStatus::Corrected => ("已整改", "Corrected"),
            ReviewStatus::Waived => ("已免罚", "Waived"),
        }
    }

    /// Whether a fine in this status is still due (every status but [`ReviewStatus::Waived`]).
    pub fn fine_stands(self) -> bool {
        self != ReviewStatus::Waived
    }
}

impl std::fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step the office takes on a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Seen; the fine stands.
    Acknowledge,
    /// Put right; the fine stands.
    Correct,
    /// The fine is waived; needs a reason.
    Waive,
    /// Back to open.
    Reopen,
}

impl ReviewAction {
    /// Every action.
    pub const ALL: [ReviewAction; 4] = [
        ReviewAction::Acknowledge,
        ReviewAction::Correct,
        ReviewAction::Waive,
        ReviewAction::Reopen,
    ];

    /// The stable code, as recorded in the trail.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Acknowledge => "acknowledge",
            ReviewAction::Correct => "correct",
            ReviewAction::Waive => "waive",
            ReviewAction::Reopen => "reopen",
        }
    }

    /// The status this step leads to.
    pub fn target(self) -> ReviewStatus {
        match self {
            ReviewAction::Acknowledge => ReviewStatus::Acknowledged,
            ReviewAction::Correct => ReviewStatus::Corrected,
            ReviewAction::Waive => ReviewStatus::Waived,
            ReviewAction::Reopen => ReviewStatus::Open,
        }
    }

    /// The policy action this step needs, which names the roles that may take it (at a site
    /// they belong to): acknowledging, correcting and reopening are [`Action::Review`],
    /// waiving is [`Action::Waive`]; both are the office admins' and the workshop, service
    /// and parts managers', not team leads' nor technicians' ([`Action::allowed_for`]).
    pub fn needs(self) -> Action {
        match self {
            ReviewAction::Waive => Action::Waive,
            ReviewAction::Acknowledge | ReviewAction::Correct | ReviewAction::Reopen => {
                Action::Review
            }
        }
    }
}

/// Why the workflow refuses a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// A waiver without a reason.
    #[error("a waiver needs a reason")]
    NeedsReason,
    /// The violation already has the status the step leads to; nothing changes.
    #[error("the violation is already {0}")]
    Already(ReviewStatus),
}

/// The steps `user` may take on a violation in `status` at `site`, in
/// [`ReviewAction::ALL`]'s order: those the policy allows them there
/// ([`ReviewAction::needs`]) that lead somewhere else ([`transition`] refuses a step to the
/// status the violation has). What the office's screen offers; the server decides again.
pub fn offered(
    user: &crate::policy::User,
    site: &crate::ids::SiteId,
    status: ReviewStatus,
) -> Vec<ReviewAction> {
    ReviewAction::ALL
        .into_iter()
        .filter(|a| a.target() != status)
        .filter(|a| crate::policy::authorize(user, a.needs(), Some(site)).is_ok())
        .collect()
}

/// The status after taking `action` on a violation in `status`, with `reason` (trimmed
/// by the caller; only a waiver needs one).
pub fn transition(
    status: ReviewStatus,
    action: ReviewAction,
    reason: &str,
) -> Result<ReviewStatus, ReviewError> {
    if action == ReviewAction::Waive && reason.trim().is_empty() {
        return Err(ReviewError::NeedsReason);
    }
    let after = action.target();
    if after == status {
        return Err(ReviewError::Already(status));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::ReviewAction::*;
    use super::ReviewStatus::*;
    use super::*;

    #[test]
    fn every_step_leads_to_its_status_from_any_other_and_is_refused_from_its_own() {
        // (status, action, what follows), every status × action, with a reason given.
        let table = [
            (Open, Acknowledge, Ok(Acknowledged)),
            (Open, Correct, Ok(Corrected)),
            (Open, Waive, Ok(Waived)),
            (Open, Reopen, Err(ReviewError::Already(Open))),
            (
                Acknowledged,
                Acknowledge,
                Err(ReviewError::Already(Acknowledged)),
            ),
            (Acknowledged, Correct, Ok(Corrected)),
            (Acknowledged, Waive, Ok(Waived)),
            (Acknowledged, Reopen, Ok(Open)),
            (Corrected, Acknowledge, Ok(Acknowledged)),
            (Corrected, Correct, Err(ReviewError::Already(Corrected))),
            (Corrected, Waive, Ok(Waived)),
            (Corrected, Reopen, Ok(Open)),
            (Waived, Acknowledge, Ok(Acknowledged)),
            (Waived, Correct, Ok(Corrected)),
            (Waived, Waive, Err(ReviewError::Already(Waived))),
            (Waived, Reopen, Ok(Open)),
        ];
        assert_eq!(
            table.len(),
            ReviewStatus::ALL.len() * ReviewAction::ALL.len()
        );
        for (status, action, expected) in table {
            assert_eq!(
                transition(status, action, "paid in cash"),
                expected,
                "{status} {action:?}"
            );
        }
    }

    #[test]
    fn a_waiver_needs_a_reason_from_every_status_and_no_other_step_does() {
        for status in ReviewStatus::ALL {
            for reason in ["", "   "] {
                assert_eq!(
                    transition(status, Waive, reason),
                    Err(ReviewError::NeedsReason),
                    "{status}"
                );
            }
            for action in [Acknowledge, Correct, Reopen] {
                let expected = if action.target() == status {
                    Err(ReviewError::Already(status))
                } else {
                    Ok(action.target())
                };
                assert_eq!(
                    transition(status, action, ""),
                    expected,
                    "{status} {action:?}"
                );
            }
        }
    }

    #[test]
    fn only_a_waiver_needs_the_waive_permission() {
        for action in ReviewAction::ALL {
            let expected = if action == Waive {
                Action::Waive
            } else {
                Action::Review
            };
            assert_eq!(action.needs(), expected, "{action:?}");
        }
    }

    #[test]
    fn codes_are_the_stored_and_sent_ones() {
        for status in ReviewStatus::ALL {
            assert_eq!(ReviewStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::from(status.as_str()))
            );
        }
        for action in ReviewAction::ALL {
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::from(action.as_str()))
            );
        }
        assert_eq!(ReviewStatus::parse("closed"), None);
    }
}
