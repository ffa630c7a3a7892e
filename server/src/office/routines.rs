//! Which scheduled routines were done on time, and which were missed.
//!
//! A daily routine is due every day at its deadline (China Standard Time) and is done by
//! an inspection of its template started that day and submitted by the deadline. A weekly
//! routine is due on its weekday and may be done any time in the seven days ending at the
//! deadline. A routine not submitted by its deadline is missed, even if it is submitted
//! later (the later submission is shown beside it).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone};
use serde::Serialize;
use shared::template::{FieldError, Template};
use shared::time::CHINA;

use crate::store::reports::{RoutineRun, RoutineSchedule};
use crate::store::{Store, StoreError};

/// What became of one occurrence of a routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutineStatus {
    /// Submitted by the deadline.
    Done,
    /// Not submitted by the deadline.
    Missed,
    /// The deadline is still ahead.
    Pending,
}

/// One occurrence of a scheduled routine.
#[derive(Debug, Clone, Serialize)]
pub struct Occurrence {
    /// The template.
    pub template_id: String,
    /// The day it is due (China Standard Time).
    pub date: NaiveDate,
    /// The deadline, ms.
    pub due_at: i64,
    /// The outcome.
    pub status: RoutineStatus,
    /// The inspection that did it (or was submitted late, or is under way).
    pub doc_id: Option<String>,
    /// When that inspection was submitted, ms.
    pub submitted_at: Option<i64>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
}

/// Midnight of `date` in China Standard Time, ms.
pub fn day_start(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| CHINA.from_local_datetime(&t).single())
        .map(|t: DateTime<_>| t.timestamp_millis())
        .unwrap_or(0)
}

/// The day (China Standard Time) of a time in ms.
pub fn date_of(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&CHINA).date_naive())
        .unwrap_or_default()
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The earliest start time of a run that can fulfil an occurrence due on a day in
/// `[from, ..)`: weekly routines look back six days.
pub fn runs_from(from: NaiveDate) -> i64 {
    day_start(from) - 6 * DAY_MS
}

/// Every occurrence of `schedule` due on the days `[from, to)`, judged against `runs` at
/// time `now` (ms).
pub fn occurrences(
    schedule: &[RoutineSchedule],
    runs: &[RoutineRun],
    from: NaiveDate,
    to: NaiveDate,
    now: i64,
) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let mut date = from;
    while date < to {
        let weekday = i64::from(date.weekday().number_from_monday());
        for s in schedule {
            if s.weekday.is_some_and(|w| w != weekday) {
                continue;
            }
            let start = day_start(date);
            let window_start = if s.weekday.is_some() {
                start - 6 * DAY_MS
            } else {
                start
            };
            let window_end = start + DAY_MS;
            let due_at = start + s.due_minute * 60_000;
            let candidates: Vec<&RoutineRun> = runs
                .iter()
                .filter(|r| {
                    r.template_id == s.template_id
                        && r.created_at >= window_start
                        && r.created_at < window_end
                })
                .collect();
            let on_time = candidates
                .iter()
                .filter(|r| r.submitted_at.is_some_and(|t| t <= due_at))
                .min_by_key(|r| r.submitted_at);
            let (status, run) = match on_time {
                Some(run) => (RoutineStatus::Done, Some(*run)),
                None => {
                    let late_or_open = candidates
                        .iter()
                        .min_by_key(|r| r.submitted_at.unwrap_or(i64::MAX))
                        .copied();
                    if now <= due_at {
                        (RoutineStatus::Pending, late_or_open)
                    } else {
                        (RoutineStatus::Missed, late_or_open)
                    }
                }
            };
            out.push(Occurrence {
                template_id: s.template_id.clone(),
                date,
                due_at,
                status,
                doc_id: run.map(|r| r.doc_id.clone()),
                submitted_at: run.and_then(|r| r.submitted_at),
                submitted_by: run.and_then(|r| r.submitted_by.clone()),
            });
        }
        date += Duration::days(1);
    }
    out
}

/// The schedule a new workshop starts from: the daily opening, lunch-break and closing
/// routines, the parts-store audit on Fridays and the front-desk review on Mondays.
pub fn default_schedule() -> Vec<RoutineSchedule> {
    use shared::builtin::{CLOSING, FRONT_DESK, LUNCH, OPENING, PARTS_AUDIT};
    let at = |t: &str, weekday: Option<i64>, h: i64, m: i64| RoutineSchedule {
        template_id: t.to_string(),
        weekday,
        due_minute: h * 60 + m,
    };
    vec![
        at(OPENING, None, 9, 0),
        at(LUNCH, None, 12, 30),
        at(CLOSING, None, 18, 30),
        at(PARTS_AUDIT, Some(5), 17, 0),
        at(FRONT_DESK, Some(1), 11, 0),
    ]
}

/// The occurrences of `site`'s routines on the days `[from, to)`, as of now.
pub async fn site_occurrences(
    store: &Store,
    site: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Occurrence>, StoreError> {
    let schedule = store.routine_schedule(site).await?;
    let templates: Vec<String> = schedule.iter().map(|s| s.template_id.clone()).collect();
    let runs = store
        .routine_runs(site, &templates, runs_from(from), day_start(to))
        .await?;
    Ok(occurrences(
        &schedule,
        &runs,
        from,
        to,
        crate::store::now_ms(),
    ))
}

/// How many occurrences of each scheduled template were missed at `site` on `[from, to)`,
/// by template id (every scheduled template, missed or not).
pub async fn missed_routines(
    store: &Store,
    site: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, usize)>, StoreError> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in site_occurrences(store, site, from, to).await? {
        let missed = counts.entry(o.template_id).or_default();
        if o.status == RoutineStatus::Missed {
            *missed += 1;
        }
    }
    Ok(counts.into_iter().collect())
}

/// What is wrong with a schedule, field by field (`schedule[i].name`): templates that do
/// not exist or are scheduled twice, weekdays outside 1–7, deadlines outside the day.
pub fn schedule_errors(templates: &[Template], schedule: &[RoutineSchedule]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, s) in schedule.iter().enumerate() {
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
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str, created: i64, submitted: Option<i64>) -> RoutineRun {
        RoutineRun {
            doc_id: format!("doc-{created}"),
            template_id: t.to_string(),
            created_at: created,
            created_by: "li".to_string(),
            submitted_at: submitted,
            submitted_by: submitted.map(|_| "li".to_string()),
        }
    }

    #[test]
    fn a_daily_routine_is_done_missed_or_pending_by_its_deadline() {
        let schedule = vec![RoutineSchedule {
            template_id: "closing-routine".into(),
            weekday: None,
            due_minute: 18 * 60 + 30,
        }];
        let d1 = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let d = |day: i64, h: i64, m: i64| day_start(d1) + day * DAY_MS + (h * 60 + m) * 60_000;
        let runs = vec![
            run("closing-routine", d(0, 18, 0), Some(d(0, 18, 20))), // on time
            run("closing-routine", d(1, 18, 0), Some(d(1, 19, 0))),  // late
            // day 2: nothing at all; day 3: started, not submitted yet
            run("closing-routine", d(3, 17, 0), None),
        ];
        let now = d(3, 12, 0);
        let all = occurrences(&schedule, &runs, d1, d1 + Duration::days(4), now);
        let statuses: Vec<_> = all.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            [
                RoutineStatus::Done,
                RoutineStatus::Missed,
                RoutineStatus::Missed,
                RoutineStatus::Pending
            ]
        );
        assert_eq!(
            all[1].submitted_at,
            Some(d(1, 19, 0)),
            "the late submission is shown"
        );
        assert_eq!(all[2].doc_id, None);
        assert_eq!(
            all[3].doc_id.as_deref(),
            Some(format!("doc-{}", d(3, 17, 0)).as_str())
        );
    }

    #[test]
    fn a_weekly_routine_is_due_on_its_weekday_and_may_be_done_earlier_that_week() {
        let schedule = vec![RoutineSchedule {
            template_id: "parts-store-audit".into(),
            weekday: Some(5),
            due_minute: 17 * 60,
        }];
        // Monday 2026-11-23 .. Sunday 2026-11-29: only Friday the 27th is due.
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let wednesday = day_start(monday) + 2 * DAY_MS + 10 * 3_600_000;
        let runs = vec![run(
            "parts-store-audit",
            wednesday,
            Some(wednesday + 3_600_000),
        )];
        let all = occurrences(
            &schedule,
            &runs,
            monday,
            monday + Duration::days(7),
            i64::MAX,
        );
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].date,
            NaiveDate::from_ymd_opt(2026, 11, 27).expect("date")
        );
        assert_eq!(all[0].status, RoutineStatus::Done);
    }

    #[test]
    fn days_are_china_standard_time() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
        assert_eq!(day_start(d), 1_795_737_600_000 - 8 * 3_600_000);
        assert_eq!(date_of(day_start(d)), d);
        assert_eq!(date_of(day_start(d) - 1), d - Duration::days(1));
    }
}
