//! `/api/v1/reports…`: the monthly report (`GET /api/v1/reports/monthly`) and its CSV
//! (`GET /api/v1/reports/monthly.csv`), and the weekly trend (`GET /api/v1/reports/trend`).
//! What they add up is `office::report`; this module reads the month and the weeks asked
//! for and writes the response.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::export::{Cell, csv_response, header_row};
use super::query::readable_sites;
use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::office::report::{self, MonthlyReport, Tally, Trend, rule_title};
use crate::office::routines;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/monthly", get(monthly))
        .route("/api/v1/reports/monthly.csv", get(monthly_csv))
        .route("/api/v1/reports/trend", get(trend))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    site: Option<String>,
    /// `YYYY-MM`; the current month (China Standard Time) if omitted.
    month: Option<String>,
    /// The CSV's header row: `codes` for English codes, Chinese otherwise.
    headers: Option<String>,
}

/// The monthly report export's columns: code header, Chinese header.
const MONTHLY_COLUMNS: [(&str, &str); 11] = [
    ("month", "月份"),
    ("user_id", "责任人账号"),
    ("name", "责任人"),
    ("rule", "条款"),
    ("rule_title", "条款名称"),
    ("violations", "违规数"),
    ("fine_yuan", "应罚金额（元）"),
    ("waived", "免罚数"),
    ("waived_yuan", "免罚金额（元）"),
    ("dismissal_reviews", "开除审查"),
    ("tools_to_replace", "照价赔偿"),
];

/// The first day of a `YYYY-MM` month and of the next.
fn month_bounds(month: Option<&str>) -> Result<(NaiveDate, NaiveDate), AppError> {
    let first = match month {
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| {
            AppError::BadRequest("month must be YYYY-MM".to_string())
                .because("bad_month")
                .with("month", m)
        })?,
        None => {
            let today = routines::date_of(crate::store::now_ms());
            today.with_day(1).unwrap_or(today)
        }
    };
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| {
        AppError::BadRequest("month out of range".to_string()).because("month_out_of_range")
    })?;
    Ok((first, next))
}

async fn monthly_report(
    state: &AppState,
    auth: &AuthUser,
    q: MonthQuery,
) -> Result<MonthlyReport, AppError> {
    let sites = readable_sites(auth, q.site.as_deref())?;
    let (first, next) = month_bounds(q.month.as_deref())?;
    Ok(report::monthly(&state.store, sites, first, next).await?)
}

async fn monthly(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<MonthQuery>,
) -> Result<Json<MonthlyReport>, AppError> {
    Ok(Json(monthly_report(&state, &auth, q).await?))
}

async fn monthly_csv(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let header = header_row(q.headers.as_deref(), &MONTHLY_COLUMNS)?;
    let report = monthly_report(&state, &auth, q).await?;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let line = |user: &str, name: &str, rule: &str, t: &Tally| {
        vec![
            report.month.as_str().into(),
            user.into(),
            name.into(),
            rule.into(),
            rule_title(rule).into(),
            t.violations.into(),
            t.fine_yuan.into(),
            t.waived.into(),
            t.waived_yuan.into(),
            t.dismissal_reviews.into(),
            t.tools_to_replace.into(),
        ]
    };
    for p in &report.people {
        let user = p.user_id.as_deref().unwrap_or("");
        let name = p.display_name.as_deref().unwrap_or("(未指定)");
        for (rule, t) in &p.by_rule {
            rows.push(line(user, name, rule, t));
        }
        rows.push(line(user, name, "", &p.tally));
    }
    rows.push(line("", "合计", "", &report.total));
    csv_response(&format!("report-{}.csv", report.month), &header, rows)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendQuery {
    site: Option<String>,
    /// How many weeks, ending with the current one (1–52, default 12).
    weeks: Option<i64>,
}

async fn trend(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<TrendQuery>,
) -> Result<Json<Trend>, AppError> {
    let sites = readable_sites(&auth, q.site.as_deref())?;
    let weeks = q
        .weeks
        .unwrap_or(12)
        .try_into()
        .ok()
        .filter(|w| (1..=52).contains(w))
        .ok_or_else(|| {
            AppError::BadRequest("weeks must be between 1 and 52".to_string())
                .because("weeks_out_of_range")
                .with("min", 1)
                .with("max", 52)
        })?;
    Ok(Json(report::trend(&state.store, &sites, weeks).await?))
}
