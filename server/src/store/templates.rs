//! Templates saved by the office, versioned.

use super::{Store, StoreError, now_ms};
use crate::with_pool;

impl Store {
    /// The latest saved version of every template id: (id, version, JSON body).
    pub async fn latest_templates(&self) -> Result<Vec<(String, i64, String)>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as(
                "select t.id, t.version, t.body from templates t \
                 where t.version = (select max(version) from templates u where u.id = t.id) order by t.id",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Saves a version; false if that version of that id exists (someone saved first).
    pub async fn save_template(
        &self,
        id: &str,
        version: i64,
        body: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(
                "insert into templates (id, version, body, created_by, created_at) values ($1, $2, $3, $4, $5) \
                 on conflict (id, version) do nothing",
            )
            .bind(id)
            .bind(version)
            .bind(body)
            .bind(by)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }
}
