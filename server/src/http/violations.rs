//! `/api/v1/violations…`: the office's list (`GET /api/v1/violations`) and its CSV
//! (`GET /api/v1/violations.csv`), and one violation's review (`POST …/{doc}/{key}/review`),
//! trail (`GET …/{doc}/{key}/reviews`) and the person who answers for it
//! (`PUT …/{doc}/{key}/responsible`). The workflow itself is `office::review` and
//! `office::assignment`; this module reads requests and writes responses.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::time::CHINA;

use super::export::{Cell, beijing_time, csv_response, fine_type_zh, header_row, status_zh};
use super::query::{page, readable_sites};
use crate::auth::AuthUser;
use crate::http::error::{ApiJson, AppError};
use crate::office::report::rule_title;
use crate::office::{self, ReviewAction, ReviewStatus};
use crate::state::AppState;
use crate::store::violations::{COUNT_LIMIT, ViolationFilter};

/// The most rows one CSV export of violations holds.
pub const MAX_CSV_ROWS: i64 = 100_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/violations", get(list))
        .route("/api/v1/violations.csv", get(list_csv))
        .route("/api/v1/violations/{doc}/{key}/review", post(review))
        .route("/api/v1/violations/{doc}/{key}/reviews", get(trail))
        .route("/api/v1/violations/{doc}/{key}/responsible", put(assign))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViolationsQuery {
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
    headers: Option<String>,
}

/// Parses an RFC 3339 time or a `YYYY-MM-DD` date (midnight, China Standard Time) to ms.
fn parse_time(field: &str, s: &str) -> Result<i64, AppError> {
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

/// The office's violation filter from a query, checked: every bad value is a 400 naming
/// its parameter, and another site is a 403.
fn violation_filter(
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
    if q.status
        .as_deref()
        .is_some_and(|s| ReviewStatus::parse(s).is_none())
    {
        let statuses = ReviewStatus::ALL.map(ReviewStatus::as_str);
        return Err(
            AppError::BadRequest(format!("status must be one of {}", statuses.join(", ")))
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

async fn list(
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

/// The violations export's columns: code header, Chinese header. The first sixteen are
/// the export's columns as they always were; the names come after them, so that a reader
/// of the old columns by position still reads the same cells.
const VIOLATION_COLUMNS: [(&str, &str); 20] = [
    ("recorded_at", "记录时间"),
    ("site", "门店"),
    ("rule", "条款"),
    ("rule_title", "条款名称"),
    ("area", "区域"),
    ("item", "检查项"),
    ("responsible_role", "责任岗位代码"),
    ("responsible_user", "责任人账号"),
    ("responsible_name", "责任人"),
    ("occurrences", "次数"),
    ("fine_type", "罚款类型代码"),
    ("fine_yuan", "罚款金额（元）"),
    ("status", "状态代码"),
    ("recorded_by", "记录人账号"),
    ("note", "备注"),
    ("inspection", "所属检查"),
    ("responsible_role_name", "责任岗位"),
    ("fine_type_name", "罚款类型"),
    ("status_name", "状态"),
    ("recorded_by_name", "记录人"),
];

async fn list_csv(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(mut q): Query<ViolationsQuery>,
) -> Result<Response, AppError> {
    let header = header_row(q.headers.take().as_deref(), &VIOLATION_COLUMNS)?;
    let mut filter = violation_filter(&auth, q, 50)?;
    filter.limit = MAX_CSV_ROWS;
    filter.offset = 0;
    let (rows, _) = state.store.violations(&filter).await?;
    let names: BTreeMap<String, String> = state
        .store
        .users_of_sites(&filter.sites)
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name))
        .collect();
    let mut out: Vec<Vec<Cell>> = Vec::with_capacity(rows.len());
    for listed in rows {
        let r = listed.row;
        let note = r
            .evidence
            .json()
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|x| x.get("note").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .unwrap_or_default();
        let role_name = shared::role::Role::parse(&r.responsible_role)
            .map(|role| role.name().zh)
            .unwrap_or_else(|| r.responsible_role.clone());
        let fine_type_name = fine_type_zh(&r.fine_type).to_string();
        let status_name = status_zh(&listed.status).to_string();
        let recorder_name = names
            .get(&r.recorded_by)
            .cloned()
            .unwrap_or_else(|| r.recorded_by.clone());
        out.push(vec![
            beijing_time(r.recorded_at).into(),
            r.site_id.into(),
            r.rule_id.clone().into(),
            rule_title(&r.rule_id).into(),
            r.area_id.unwrap_or_default().into(),
            r.item_id.into(),
            r.responsible_role.into(),
            listed.responsible_user.unwrap_or_default().into(),
            listed.responsible_name.unwrap_or_default().into(),
            r.occurrences.into(),
            r.fine_type.into(),
            r.fine_yuan.into(),
            listed.status.into(),
            r.recorded_by.into(),
            note.into(),
            listed.doc_id.into(),
            role_name.into(),
            fine_type_name.into(),
            status_name.into(),
            recorder_name.into(),
        ]);
    }
    csv_response("violations.csv", &header, out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    action: ReviewAction,
    #[serde(default)]
    reason: String,
}

async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<Value>, AppError> {
    let status = office::review::review(
        &state.store,
        &auth.user,
        &doc,
        &key,
        body.action,
        &body.reason,
    )
    .await?;
    Ok(Json(
        json!({ "doc_id": doc, "answer_key": key, "status": status }),
    ))
}

async fn trail(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let (_, status) = office::visible_violation(&state.store, &auth.user, &doc, &key).await?;
    let reviews = state.store.reviews(&doc, &key).await?;
    let assignments = state.store.assignments(&doc, &key).await?;
    Ok(Json(
        json!({ "status": status, "reviews": reviews, "assignments": assignments }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    user_id: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<Value>, AppError> {
    let person = body.user_id.filter(|u| !u.is_empty());
    office::assignment::assign(&state.store, &auth.user, &doc, &key, person.clone()).await?;
    Ok(Json(
        json!({ "doc_id": doc, "answer_key": key, "responsible_user": person }),
    ))
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
