//! The office's review of a violation: the workflow's rules are `shared::review` (the web
//! app offers the steps they allow); this takes a step, deciding it inside the store's
//! write transaction on the status read there ([`review`]), never on a status read before
//! it, and records it in the trail.

use shared::policy::{self, User};
pub use shared::review::{ReviewAction, ReviewError, ReviewStatus, transition};

use super::{OfficeError, visible_violation};
use crate::store::Store;
use crate::store::reviews::ReviewOutcome;

/// A status as stored: a code the database holds that names no status is corruption.
pub fn stored(code: &str) -> Result<ReviewStatus, OfficeError> {
    ReviewStatus::parse(code)
        .ok_or_else(|| OfficeError::Corrupt(format!("unknown review status {code:?}")))
}

/// Takes `action` on the violation `key` of document `doc` as `user`, and records it in the
/// trail: the violation must be visible to them (else [`OfficeError::NoSuchViolation`]),
/// the policy must allow the step at its site, and [`transition`] decides it inside the
/// write transaction, on the status read there. The new status.
pub async fn review(
    store: &Store,
    user: &User,
    doc: &str,
    key: &str,
    action: ReviewAction,
    reason: &str,
) -> Result<ReviewStatus, OfficeError> {
    let (site, _) = visible_violation(store, user, doc, key).await?;
    policy::authorize(user, action.needs(), Some(&site))?;
    let reason = reason.trim();
    let decide = |before: &str| -> Result<&'static str, OfficeError> {
        let before = stored(before)?;
        Ok(transition(before, action, reason)?.as_str())
    };
    match store
        .review_violation(doc, key, user.id.as_str(), action.as_str(), reason, decide)
        .await?
    {
        ReviewOutcome::NotFound => Err(OfficeError::NoSuchViolation),
        ReviewOutcome::Refused(e) => Err(e),
        ReviewOutcome::Done(after) => stored(&after),
    }
}
