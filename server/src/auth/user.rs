//! The authenticated user: an access token checked all the way to the database.
//!
//! The HTTP extractor (`http/extract.rs`) and the sync upgrade (`http/sync.rs`) both call
//! [`authenticate`]; the sync connection keeps the [`AuthUser`] it was opened with and
//! re-reads the user while it runs.

use std::collections::BTreeSet;

use shared::policy::User;

use super::{AuthError, Claims, Keys};
use crate::store::Store;
use crate::store::users::UserRecord;

/// A request made with a valid access token of an enabled user whose login is live.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user, as the policy sees them.
    pub user: User,
    /// The stored record.
    pub record: UserRecord,
    /// The token's claims.
    pub claims: Claims,
}

/// Checks a raw access token all the way: signature and claims, then the user and login
/// in the database (so disabling a user or logging out takes effect at once).
pub async fn authenticate(keys: &Keys, store: &Store, token: &str) -> Result<AuthUser, AuthError> {
    let claims = keys.verify(token)?;
    let record = store
        .user_by_id(&claims.sub)
        .await?
        .ok_or(AuthError::Revoked)?;
    if record.disabled || !store.family_active(&claims.sid).await? {
        return Err(AuthError::Revoked);
    }
    let user = User {
        id: record.id.clone(),
        role: record.role,
        sites: record.sites.iter().cloned().collect::<BTreeSet<_>>(),
    };
    Ok(AuthUser {
        user,
        record,
        claims,
    })
}
