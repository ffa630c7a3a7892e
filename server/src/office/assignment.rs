//! Who answers for a violation: the office assigns it to a person of its site, or to
//! nobody, and every change is kept in a trail beside the review trail.

use shared::policy::{self, Action, User};
use shared::template::FieldError;

use super::{OfficeError, visible_violation};
use crate::store::Store;
use crate::store::reports::AssignOutcome;

/// Assigns the violation `key` of document `doc` to `person` (`None`: to nobody) as
/// `user`, who needs [`Action::Review`] at its site; `person` must be a user of that site.
/// Whether it is already theirs is decided inside the write transaction, so of several
/// identical assignments at once exactly one is recorded
/// ([`OfficeError::AlreadyAssigned`] for the others).
pub async fn assign(
    store: &Store,
    user: &User,
    doc: &str,
    key: &str,
    person: Option<String>,
) -> Result<(), OfficeError> {
    let (site, _) = visible_violation(store, user, doc, key).await?;
    policy::authorize(user, Action::Review, Some(&site))?;
    if let Some(person) = &person {
        let known = store
            .user_by_id(person)
            .await?
            .is_some_and(|u| u.sites.contains(&site));
        if !known {
            return Err(OfficeError::Invalid(vec![
                FieldError::new(
                    "user_id",
                    "not_user_of_site",
                    format!("{person} is not a user of site {site}"),
                )
                .with("user", person.as_str())
                .with("site", site.as_str()),
            ]));
        }
    }
    match store
        .assign_violation(doc, key, user.id.as_str(), person.as_deref())
        .await?
    {
        AssignOutcome::NotFound => Err(OfficeError::NoSuchViolation),
        AssignOutcome::Already => Err(OfficeError::AlreadyAssigned(person)),
        AssignOutcome::Done => Ok(()),
    }
}
