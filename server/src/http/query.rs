//! What several routes read from a query string alike: the page size, and the sites a
//! caller may read.

use serde::Deserialize;
use shared::policy::{self, Action};

use crate::auth::AuthUser;
use crate::http::error::AppError;

/// The largest page a list returns.
pub const MAX_PAGE: i64 = 500;

/// A page size: `default` if none is asked for, else 1 to [`MAX_PAGE`].
pub(super) fn page(limit: Option<i64>, default: i64) -> Result<i64, AppError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(
            AppError::BadRequest(format!("limit must be between 1 and {MAX_PAGE}"))
                .because("bad_limit")
                .with("max", MAX_PAGE),
        ),
    }
}

/// The sites the caller may read, narrowed to `site` if given.
pub(super) fn readable_sites(auth: &AuthUser, site: Option<&str>) -> Result<Vec<String>, AppError> {
    match site {
        None => Ok(auth.user.sites.iter().map(ToString::to_string).collect()),
        Some(s) => {
            let id = shared::ids::SiteId::parse(s).map_err(|e| {
                AppError::BadRequest(e.to_string())
                    .because("unknown_site")
                    .with("site", s)
            })?;
            policy::authorize(&auth.user, Action::Read, Some(&id))?;
            Ok(vec![s.to_string()])
        }
    }
}

/// `?site=`: one site, or every site of the caller.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteQuery {
    pub(super) site: Option<String>,
}

/// The one site a request names, which the caller must belong to; a caller of one site
/// may leave it out.
pub(super) fn one_site(auth: &AuthUser, site: Option<&str>) -> Result<String, AppError> {
    let site = match site {
        Some(s) => s.to_string(),
        None => match auth.user.sites.iter().next() {
            Some(s) if auth.user.sites.len() == 1 => s.to_string(),
            _ => {
                return Err(
                    AppError::BadRequest("site is required".to_string()).because("site_required")
                );
            }
        },
    };
    readable_sites(auth, Some(&site))?;
    Ok(site)
}
