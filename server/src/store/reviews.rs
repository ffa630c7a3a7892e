//! Reviews of violations: the status on the violation row and the trail behind it.

use serde::Serialize;

use super::{Store, StoreError, now_ms};
use crate::{with_pool, write_transaction};

/// One review decision.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReviewRecord {
    /// When, ms.
    pub at: i64,
    /// Who.
    pub user_id: String,
    /// `acknowledge`, `correct`, `waive` or `reopen`.
    pub action: String,
    /// Why (required for a waiver).
    pub reason: String,
    /// The status before.
    pub status_before: String,
    /// The status after.
    pub status_after: String,
}

/// What a review changed.
#[derive(Debug, Clone)]
pub enum ReviewOutcome<E> {
    /// No such violation.
    NotFound,
    /// The decision refused the step on the status read; nothing was written.
    Refused(E),
    /// Recorded; the new status.
    Done(String),
}

impl Store {
    /// The site and status of a violation.
    pub async fn violation_site_and_status(
        &self,
        doc_id: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as("select site_id, status from violations where doc_id = $1 and answer_key = $2")
                .bind(doc_id)
                .bind(key)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Sets a violation's status as `decide` says and records the step, in one transaction.
    ///
    /// `decide` gets the status read inside that transaction, on the row locked for it
    /// (`for update` on PostgreSQL; SQLite's writers run one at a time), and returns the
    /// status after the step or why it is refused; the update is conditional on the status
    /// read. So of several steps to one status at once exactly one is recorded; `decide`
    /// refuses the others ([`ReviewOutcome::Refused`]) and they write nothing.
    pub async fn review_violation<E>(
        &self,
        doc_id: &str,
        key: &str,
        user: &str,
        action: &str,
        reason: &str,
        decide: impl Fn(&str) -> Result<&'static str, E>,
    ) -> Result<ReviewOutcome<E>, StoreError> {
        write_transaction!(self, tx => {
            // Only the static lock clause is interpolated; every value is bound.
            let select = sqlx::AssertSqlSafe(format!(
                "select status from violations where doc_id = $1 and answer_key = $2{}",
                self.row_lock()
            ));
            let before: Option<String> = sqlx::query_scalar(select)
                .bind(doc_id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(before) = before else { return Ok(ReviewOutcome::NotFound) };
            let status_after = match decide(&before) {
                Ok(after) => after,
                Err(refused) => return Ok(ReviewOutcome::Refused(refused)),
            };
            let updated = sqlx::query(
                "update violations set status = $1 where doc_id = $2 and answer_key = $3 and status = $4",
            )
            .bind(status_after)
            .bind(doc_id)
            .bind(key)
            .bind(&before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                // Unreachable while the row is locked; kept so that the write never
                // depends on a status it did not see. Decided as if the step had landed.
                return Ok(match decide(status_after) {
                    Err(refused) => ReviewOutcome::Refused(refused),
                    Ok(_) => ReviewOutcome::NotFound,
                });
            }
            sqlx::query(
                "insert into violation_reviews (doc_id, answer_key, at, user_id, action, reason, status_before, status_after) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(doc_id)
            .bind(key)
            .bind(now_ms())
            .bind(user)
            .bind(action)
            .bind(reason)
            .bind(&before)
            .bind(status_after)
            .execute(&mut *tx)
            .await?;
            ReviewOutcome::Done(status_after.to_string())
        })
    }

    /// The review trail of a violation, oldest first.
    pub async fn reviews(&self, doc_id: &str, key: &str) -> Result<Vec<ReviewRecord>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as(
                "select at, user_id, action, reason, status_before, status_after from violation_reviews \
                 where doc_id = $1 and answer_key = $2 order by id",
            )
            .bind(doc_id)
            .bind(key)
            .fetch_all(pool)
            .await?)
        })
    }
}
