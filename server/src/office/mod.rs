//! The office's work on violations, as types and functions the HTTP edge calls: the review
//! workflow ([`review`]), who answers for a violation ([`assignment`]), the monthly report
//! and the weekly trend ([`report`]), and the scheduled routines ([`routines`]).
//!
//! Nothing here knows HTTP: a refusal is an [`OfficeError`], which `http/error.rs` turns
//! into a status code and a stable reason. Who may take each step is the shared policy's
//! (`shared::policy`), as on the tablet.

pub mod assignment;
pub mod report;
pub mod review;
pub mod routines;

use shared::ids::SiteId;
use shared::policy::{Denial, User};
use shared::template::FieldError;

use crate::store::{Store, StoreError};

pub use review::{ReviewAction, ReviewError, ReviewStatus};

/// Why the office's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    /// No such violation, or one of a site the caller does not belong to.
    #[error("no such violation")]
    NoSuchViolation,
    /// The shared policy refuses the step to the caller's role or at that site.
    #[error(transparent)]
    Denied(#[from] Denial),
    /// The review workflow refuses the step.
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// The violation is already assigned to that person (`None`: already unassigned).
    #[error("the violation is already assigned as asked")]
    AlreadyAssigned(Option<String>),
    /// Fields of the request at fault (an unknown person, a bad schedule).
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A stored value is not what the office's types allow.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The site and review status of a violation, if `user` may see it; another site's
/// violation is reported as missing, like any other id the caller may not see.
pub async fn visible_violation(
    store: &Store,
    user: &User,
    doc: &str,
    key: &str,
) -> Result<(SiteId, ReviewStatus), OfficeError> {
    let (site, status) = store
        .violation_site_and_status(doc, key)
        .await?
        .ok_or(OfficeError::NoSuchViolation)?;
    let site = SiteId::parse(site).map_err(|e| OfficeError::Corrupt(e.to_string()))?;
    if !user.belongs_to(&site) {
        return Err(OfficeError::NoSuchViolation);
    }
    Ok((site, review::stored(&status)?))
}
