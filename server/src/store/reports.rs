//! The office's reports: fines per person and per rule, weekly trends, routine schedules
//! and the inspections that fulfil them, and who answers for a violation.

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;

use super::{Store, StoreError, now_ms, push_in_list};
use crate::{with_pool, write_transaction};

/// One group of violations in a period: a person (or nobody yet), a rule, a review status
/// and a kind of fine.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FineGroup {
    /// The person who answers for them; `None` while nobody is assigned.
    pub user_id: Option<String>,
    /// Their display name.
    pub display_name: Option<String>,
    /// The rule.
    pub rule_id: String,
    /// The review status.
    pub status: String,
    /// `none`, `yuan`, `dismissal_review` or `replace_tool`.
    pub fine_type: String,
    /// How many violations.
    pub count: i64,
    /// Their fines in yuan (before any waiver).
    pub yuan: i64,
}

/// Violations per week and per rule or area.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WeekCount {
    /// Weeks since the start of the period (0 is the first).
    pub week: i64,
    /// The rule id or area id.
    pub key: Option<String>,
    /// How many violations.
    pub count: i64,
}

/// A routine that must be submitted by a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RoutineSchedule {
    /// The template.
    pub template_id: String,
    /// `None`: every day; 1 (Monday) to 7 (Sunday): once a week on that day.
    pub weekday: Option<i64>,
    /// The deadline, minutes after midnight China Standard Time.
    pub due_minute: i64,
}

/// An inspection of a routine template, as the routine check needs it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RoutineRun {
    /// The document.
    pub doc_id: String,
    /// The template.
    pub template_id: String,
    /// Started, ms.
    pub created_at: i64,
    /// Who started it.
    pub created_by: String,
    /// Submitted, ms.
    pub submitted_at: Option<i64>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
}

/// What an assignment found.
#[derive(Debug, Clone)]
pub enum AssignOutcome {
    /// No such violation.
    NotFound,
    /// The violation was already assigned to that person (or to nobody); nothing written.
    Already,
    /// Recorded.
    Done,
}

/// One assignment of a violation to a person.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AssignmentRecord {
    /// When, ms.
    pub at: i64,
    /// Who assigned.
    pub user_id: String,
    /// The person before.
    pub before_user: Option<String>,
    /// The person after.
    pub after_user: Option<String>,
}

impl Store {
    /// Violations of `sites` recorded in `[from, to)`, grouped by person, rule, status and
    /// kind of fine.
    pub async fn fine_groups(
        &self,
        sites: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<FineGroup>, StoreError> {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "select v.responsible_user as user_id, u.display_name, v.rule_id, v.status, v.fine_type, \
                 count(*) as count, cast(coalesce(sum(v.fine_yuan), 0) as bigint) as yuan \
                 from violations v left join users u on u.id = v.responsible_user \
                 where v.site_id in ",
            );
            push_in_list(&mut query, sites);
            query
                .push(" and v.recorded_at >= ")
                .push_bind(from)
                .push(" and v.recorded_at < ")
                .push_bind(to)
                .push(
                    " group by v.responsible_user, u.display_name, v.rule_id, v.status, v.fine_type \
                     order by v.responsible_user, v.rule_id",
                );
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Violations of `sites` per week from `from` (a week's start) to `to`, by rule
    /// (`by_area` false) or by area.
    pub async fn weekly_counts(
        &self,
        sites: &[String],
        from: i64,
        to: i64,
        by_area: bool,
    ) -> Result<Vec<WeekCount>, StoreError> {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let column = if by_area { "v.area_id" } else { "v.rule_id" };
        with_pool!(self, pool => {
            // Integer division buckets the times into weeks in both dialects. The week is
            // grouped by its position in the select list: written again, its bound start
            // would be another parameter, and PostgreSQL would not see the same expression.
            let mut query = QueryBuilder::new("select (v.recorded_at - ");
            query
                .push_bind(from)
                .push(") / 604800000 as week, ")
                .push(column)
                .push(" as key, count(*) as count from violations v where v.site_id in ");
            push_in_list(&mut query, sites);
            query
                .push(" and v.recorded_at >= ")
                .push_bind(from)
                .push(" and v.recorded_at < ")
                .push_bind(to)
                .push(" group by 1, 2 order by 1, 2");
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    /// A site's routine schedule.
    pub async fn routine_schedule(&self, site: &str) -> Result<Vec<RoutineSchedule>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as(
                "select template_id, weekday, due_minute from routine_schedules where site_id = $1 \
                 order by weekday is not null, due_minute, template_id",
            )
            .bind(site)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Replaces a site's routine schedule.
    pub async fn set_routine_schedule(
        &self,
        site: &str,
        schedule: &[RoutineSchedule],
    ) -> Result<(), StoreError> {
        write_transaction!(self, tx => {
            sqlx::query("delete from routine_schedules where site_id = $1")
                .bind(site)
                .execute(&mut *tx)
                .await?;
            for s in schedule {
                sqlx::query(
                    "insert into routine_schedules (site_id, template_id, weekday, due_minute) values ($1, $2, $3, $4)",
                )
                .bind(site)
                .bind(&s.template_id)
                .bind(s.weekday)
                .bind(s.due_minute)
                .execute(&mut *tx)
                .await?;
            }
        })
    }

    /// Inspections of `templates` at `site` started in `[from, to)`.
    pub async fn routine_runs(
        &self,
        site: &str,
        templates: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<RoutineRun>, StoreError> {
        if templates.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "select doc_id, template_id, created_at, created_by, submitted_at, submitted_by \
                 from inspections where site_id = ",
            );
            query
                .push_bind(site)
                .push(" and created_at >= ")
                .push_bind(from)
                .push(" and created_at < ")
                .push_bind(to)
                .push(" and template_id in ");
            push_in_list(&mut query, templates);
            query.push(" order by created_at");
            Ok(query.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Assigns a violation to a person (or to nobody) and records it, in one transaction.
    /// Whether it is already theirs is decided in that transaction on the locked row, so of
    /// several identical assignments at once exactly one is recorded.
    pub async fn assign_violation(
        &self,
        doc_id: &str,
        key: &str,
        by: &str,
        person: Option<&str>,
    ) -> Result<AssignOutcome, StoreError> {
        write_transaction!(self, tx => {
            // Only the static lock clause is interpolated; every value is bound.
            let select = sqlx::AssertSqlSafe(format!(
                "select responsible_user from violations where doc_id = $1 and answer_key = $2{}",
                self.row_lock()
            ));
            let before: Option<(Option<String>,)> = sqlx::query_as(select)
                .bind(doc_id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((before,)) = before else { return Ok(AssignOutcome::NotFound) };
            if before.as_deref() == person {
                return Ok(AssignOutcome::Already);
            }
            sqlx::query("update violations set responsible_user = $1 where doc_id = $2 and answer_key = $3")
                .bind(person)
                .bind(doc_id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "insert into violation_assignments (doc_id, answer_key, at, user_id, before_user, after_user) \
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(doc_id)
            .bind(key)
            .bind(now_ms())
            .bind(by)
            .bind(before)
            .bind(person)
            .execute(&mut *tx)
            .await?;
            AssignOutcome::Done
        })
    }

    /// The assignment trail of a violation, oldest first.
    pub async fn assignments(
        &self,
        doc_id: &str,
        key: &str,
    ) -> Result<Vec<AssignmentRecord>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as(
                "select at, user_id, before_user, after_user from violation_assignments \
                 where doc_id = $1 and answer_key = $2 order by id",
            )
            .bind(doc_id)
            .bind(key)
            .fetch_all(pool)
            .await?)
        })
    }
}
