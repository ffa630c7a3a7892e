//! The office's reports: the monthly fines per person and per rule with the routines
//! missed that month, and the weekly trend of violations by rule and by area.
//!
//! The store groups and counts in SQL; what is added up here is what the office reads:
//! a waived fine counts as waived, not as due, and dismissal reviews and tools to replace
//! are counted apart from yuan.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};

use super::ReviewStatus;
use super::routines::{self, day_start};
use crate::store::reports::{FineGroup, WeekCount};
use crate::store::{Store, StoreError};

/// The Chinese title of a rule of the regulation (empty for an unknown id).
pub fn rule_title(rule: &str) -> String {
    shared::ids::RuleId::parse(rule.to_string())
        .ok()
        .and_then(|id| shared::catalog::find(&id))
        .map(|r| r.title.zh.clone())
        .unwrap_or_default()
}

/// Fines and counts of one person or one rule in a month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Violations recorded.
    pub violations: i64,
    /// Fines due in yuan (waived ones excluded).
    pub fine_yuan: i64,
    /// Violations whose fine was waived.
    pub waived: i64,
    /// Yuan waived.
    pub waived_yuan: i64,
    /// Violations that call for a dismissal review.
    pub dismissal_reviews: i64,
    /// Violations that call for replacing a tool.
    pub tools_to_replace: i64,
}

impl Tally {
    /// Adds one group of violations.
    pub fn add(&mut self, g: &FineGroup) {
        self.violations += g.count;
        if g.status == ReviewStatus::Waived.as_str() {
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

/// One person's line of the monthly report (`user_id` `None`: nobody assigned yet).
#[derive(Debug, Serialize)]
pub struct PersonLine {
    /// The person.
    pub user_id: Option<String>,
    /// Their display name.
    pub display_name: Option<String>,
    /// Their month.
    #[serde(flatten)]
    pub tally: Tally,
    /// Their month, rule by rule.
    pub by_rule: BTreeMap<String, Tally>,
}

/// The monthly report, as `GET /api/v1/reports/monthly` sends it.
#[derive(Debug, Serialize)]
pub struct MonthlyReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The sites it covers.
    pub sites: Vec<String>,
    /// The month's first instant, ms.
    pub from: i64,
    /// The next month's first instant, ms.
    pub to: i64,
    /// People, the largest fines first.
    pub people: Vec<PersonLine>,
    /// Rules: `{rule_id, title, tally}`.
    pub rules: Vec<Value>,
    /// The whole month.
    pub total: Tally,
    /// Routines missed: `{site, template_id, missed}`.
    pub routines: Vec<Value>,
}

/// The report of `sites` for the month from `first` to `next` (the next month's first day),
/// with the routines missed up to today.
pub async fn monthly(
    store: &Store,
    sites: Vec<String>,
    first: NaiveDate,
    next: NaiveDate,
) -> Result<MonthlyReport, StoreError> {
    let (from, to) = (day_start(first), day_start(next));
    let groups = store.fine_groups(&sites, from, to).await?;
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
        for (template, count) in routines::missed_routines(store, site, first, until).await? {
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

/// Violations per week, by rule and by area, as `GET /api/v1/reports/trend` sends them
/// (fields in the order the response has always had them: alphabetical).
#[derive(Debug, Serialize)]
pub struct Trend {
    /// Per area, one count per week.
    pub by_area: BTreeMap<String, Vec<i64>>,
    /// Per rule, one count per week.
    pub by_rule: BTreeMap<String, Vec<i64>>,
    /// Each week's Monday, `YYYY-MM-DD`, oldest first.
    pub weeks: Vec<String>,
}

/// The last `weeks` weeks of `sites` (Monday to Sunday, China Standard Time), ending with
/// the current one.
pub async fn trend(store: &Store, sites: &[String], weeks: u16) -> Result<Trend, StoreError> {
    let weeks = i64::from(weeks);
    let today = routines::date_of(crate::store::now_ms());
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = this_monday - Duration::weeks(weeks - 1);
    let (from, to) = (
        day_start(first),
        day_start(this_monday + Duration::weeks(1)),
    );
    let series = |counts: Vec<WeekCount>| {
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
    let by_rule = series(store.weekly_counts(sites, from, to, false).await?);
    let by_area = series(store.weekly_counts(sites, from, to, true).await?);
    Ok(Trend {
        by_area,
        by_rule,
        weeks: (0..weeks)
            .map(|w| (first + Duration::weeks(w)).to_string())
            .collect(),
    })
}
