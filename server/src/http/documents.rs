//! `GET /api/v1/documents` (discovery for tablets) and `GET /api/v1/violations` (the
//! office's list).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::policy::{self, Action};
use shared::time::CHINA;

use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;
use crate::store::projection::{COUNT_LIMIT, ViolationFilter};

/// The largest page either list returns.
pub const MAX_PAGE: i64 = 500;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/documents", get(documents))
        .route("/api/v1/violations", get(violations))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsQuery {
    since: Option<i64>,
    limit: Option<i64>,
}

fn page(limit: Option<i64>, default: i64) -> Result<i64, AppError> {
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

async fn documents(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<DocumentsQuery>,
) -> Result<Json<Value>, AppError> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(AppError::BadRequest(
            "since must be 0 or a cursor returned earlier".to_string(),
        )
        .because("bad_cursor"));
    }
    let limit = page(q.limit, MAX_PAGE)?;
    let sites = readable_sites(&auth, None)?;
    let docs = state.store.docs_since(&sites, since, limit).await?;
    let cursor = docs.last().map_or(since, |d| d.version);
    let documents: Vec<Value> = docs
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "url": format!("automerge:{}", d.id),
                "kind": d.kind,
                "site": d.site_id,
                "template": d.template_id,
                "created_by": d.created_by,
                "created_at": d.created_at,
                "updated_at": d.updated_at,
            })
        })
        .collect();
    let more = documents.len() as i64 == limit;
    Ok(Json(
        json!({ "documents": documents, "cursor": cursor, "more": more }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ViolationsQuery {
    site: Option<String>,
    from: Option<String>,
    to: Option<String>,
    rule: Option<String>,
    status: Option<String>,
    area: Option<String>,
    role: Option<String>,
    person: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    /// The CSV export's header row: `codes` for English codes, Chinese otherwise (the list
    /// ignores it).
    pub(super) headers: Option<String>,
}

/// Parses an RFC 3339 time or a `YYYY-MM-DD` date (midnight, China Standard Time) to ms.
pub(super) fn parse_time(field: &str, s: &str) -> Result<i64, AppError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(CHINA).single())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{field} must be an RFC 3339 time or a YYYY-MM-DD date"
            ))
            .because("bad_time")
            .with("field", field)
        })
}

const STATUSES: [&str; 4] = ["open", "acknowledged", "corrected", "waived"];

/// The office's violation filter from a query, checked: every bad value is a 400 naming
/// its parameter, and another site is a 403.
pub(super) fn violation_filter(
    auth: &AuthUser,
    q: ViolationsQuery,
    default_limit: i64,
) -> Result<ViolationFilter, AppError> {
    let sites = readable_sites(auth, q.site.as_deref())?;
    let from = q
        .from
        .as_deref()
        .map(|s| parse_time("from", s))
        .transpose()?;
    let to = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?;
    if let Some(rule) = &q.rule {
        let unknown = |message: String| {
            AppError::BadRequest(message)
                .because("unknown_rule")
                .with("rule", rule.as_str())
        };
        let id = shared::ids::RuleId::parse(rule.clone()).map_err(|e| unknown(e.to_string()))?;
        if shared::catalog::find(&id).is_none() {
            return Err(unknown(format!("{rule} is not a rule of the regulation")));
        }
    }
    if q.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(
            AppError::BadRequest(format!("status must be one of {}", STATUSES.join(", ")))
                .because("unknown_status")
                .with("status", q.status.unwrap_or_default()),
        );
    }
    if q.role
        .as_deref()
        .is_some_and(|r| shared::role::Role::parse(r).is_none())
    {
        return Err(AppError::BadRequest(format!(
            "role must be one of {}",
            shared::role::Role::ALL.map(|r| r.as_str()).join(", ")
        ))
        .because("unknown_role")
        .with("role", q.role.unwrap_or_default()));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(
            AppError::BadRequest("offset must be 0 or more".to_string()).because("bad_offset")
        );
    }
    Ok(ViolationFilter {
        sites,
        from,
        to,
        rule: q.rule,
        status: q.status,
        area: q.area.filter(|a| !a.is_empty()),
        role: q.role,
        person: q.person,
        limit: page(q.limit, default_limit)?,
        offset,
    })
}

async fn violations(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<ViolationsQuery>,
) -> Result<Json<Value>, AppError> {
    let filter = violation_filter(&auth, q, 50)?;
    let (rows, counted) = state.store.violations(&filter).await?;
    let exact = counted <= COUNT_LIMIT;
    Ok(Json(json!({
        "violations": rows,
        "total": counted.min(COUNT_LIMIT),
        "total_exact": exact,
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_dates_in_china_standard_time() {
        assert_eq!(
            parse_time("from", "2026-11-27T00:00:00Z").ok(),
            Some(1_795_737_600_000)
        );
        // Midnight in Beijing is 16:00 UTC the day before.
        assert_eq!(
            parse_time("from", "2026-11-27").ok(),
            Some(1_795_737_600_000 - 8 * 3_600_000)
        );
        let err = parse_time("to", "27/11/2026").expect_err("refused");
        assert!(err.to_string().contains("to must be"));
    }
}
