//! The audit log: refused changes and other decisions worth a trail.

use super::{Store, StoreError, now_ms};
use crate::with_pool;

/// One audit entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// When, ms since the epoch.
    pub at: i64,
    /// Who.
    pub user_id: Option<String>,
    /// Which document.
    pub doc_id: Option<String>,
    /// What was attempted (`sync`, `login`, …).
    pub action: String,
    /// The rule of the policy that decided (`forged_author`, …).
    pub code: String,
    /// Detail, in English.
    pub detail: String,
}

type AuditRow = (i64, Option<String>, Option<String>, String, String, String);

impl Store {
    /// Appends an entry.
    pub async fn audit(
        &self,
        user_id: Option<&str>,
        doc_id: Option<&str>,
        action: &str,
        code: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("insert into audit_log (at, user_id, doc_id, action, code, detail) values ($1, $2, $3, $4, $5, $6)")
                .bind(now_ms())
                .bind(user_id)
                .bind(doc_id)
                .bind(action)
                .bind(code)
                .bind(detail)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The newest entries about a document, newest first.
    pub async fn audit_for_doc(
        &self,
        doc_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        with_pool!(self, pool => {
            let rows: Vec<AuditRow> = sqlx::query_as(
                "select at, user_id, doc_id, action, code, detail from audit_log where doc_id = $1 order by id desc limit $2",
            )
            .bind(doc_id)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(at, user_id, doc_id, action, code, detail)| AuditEntry { at, user_id, doc_id, action, code, detail })
                .collect())
        })
    }
}
