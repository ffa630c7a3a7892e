//! `/api/v1/routines`: a site's routine schedule (`GET`, and `PUT` for the office) and
//! which routines were done, missed or are pending (`GET /api/v1/routines/status`). The
//! schedule's checks and the deadlines are `office::routines`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ids::SiteId;
use shared::policy::{self, Action};

use super::query::{SiteQuery, one_site};
use crate::auth::AuthUser;
use crate::http::error::{ApiJson, AppError};
use crate::office::routines::{self, RoutineStatus};
use crate::state::AppState;
use crate::store::reports::RoutineSchedule;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/routines", get(schedule).put(set_schedule))
        .route("/api/v1/routines/status", get(status))
}

async fn schedule(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<SiteQuery>,
) -> Result<Json<Value>, AppError> {
    let site = one_site(&auth, q.site.as_deref())?;
    let schedule = state.store.routine_schedule(&site).await?;
    Ok(Json(json!({ "site": site, "schedule": schedule })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    schedule: Vec<RoutineSchedule>,
}

async fn set_schedule(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<SiteQuery>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<Value>, AppError> {
    let site = one_site(&auth, q.site.as_deref())?;
    let site_id = SiteId::parse(site.clone()).map_err(|e| {
        AppError::BadRequest(e.to_string())
            .because("unknown_site")
            .with("site", site.as_str())
    })?;
    policy::authorize(&auth.user, Action::ManageUsers, Some(&site_id))?;
    let templates = super::templates::current_templates(&state).await?;
    let errors = routines::schedule_errors(&templates, &body.schedule);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    state
        .store
        .set_routine_schedule(&site, &body.schedule)
        .await?;
    let schedule = state.store.routine_schedule(&site).await?;
    Ok(Json(json!({ "site": site, "schedule": schedule })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    site: Option<String>,
    /// First day (`YYYY-MM-DD`, China Standard Time); six days before `to` if omitted.
    from: Option<String>,
    /// Last day, inclusive; today if omitted.
    to: Option<String>,
}

async fn status(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Value>, AppError> {
    let site = one_site(&auth, q.site.as_deref())?;
    let day = |field: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            AppError::BadRequest(format!("{field} must be a YYYY-MM-DD date"))
                .because("bad_date")
                .with("field", field)
        })
    };
    let last = match q.to.as_deref() {
        Some(s) => day("to", s)?,
        None => routines::date_of(crate::store::now_ms()),
    };
    let first = match q.from.as_deref() {
        Some(s) => day("from", s)?,
        None => last - Duration::days(6),
    };
    if first > last || (last - first).num_days() > 92 {
        return Err(AppError::BadRequest(
            "from must be on or before to, at most 93 days apart".to_string(),
        )
        .because("bad_date_range")
        .with("max_days", 93));
    }
    let occurrences =
        routines::site_occurrences(&state.store, &site, first, last + Duration::days(1)).await?;
    let missed = occurrences
        .iter()
        .filter(|o| o.status == RoutineStatus::Missed)
        .count();
    Ok(Json(
        json!({ "site": site, "from": first, "to": last, "missed": missed, "occurrences": occurrences }),
    ))
}
