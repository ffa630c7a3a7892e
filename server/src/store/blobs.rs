//! Content-addressed blobs (photos, signatures), per site.

use sqlx::QueryBuilder;

use super::{Store, StoreError, now_ms, push_in_list};
use crate::with_pool;

/// A stored blob.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The MIME type stored with it. Not trusted for serving: rows written before uploads
    /// were judged by their bytes hold whatever type the uploader claimed.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl Store {
    /// Stores a blob for a site; false if that site already had it (nothing is written).
    pub async fn put_blob(
        &self,
        sha256: &str,
        site: &str,
        content_type: &str,
        data: &[u8],
        by: &str,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n = sqlx::query(
                "insert into blobs (sha256, site_id, content_type, size, data, created_by, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7) on conflict (sha256, site_id) do nothing",
            )
            .bind(sha256)
            .bind(site)
            .bind(content_type)
            .bind(data.len() as i64)
            .bind(data)
            .bind(by)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }

    /// The blob, if one of `sites` has it.
    pub async fn blob(&self, sha256: &str, sites: &[String]) -> Result<Option<Blob>, StoreError> {
        if sites.is_empty() {
            return Ok(None);
        }
        let row: Option<(String, Vec<u8>)> = with_pool!(self, pool => {
            let mut query = QueryBuilder::new("select content_type, data from blobs where sha256 = ");
            query.push_bind(sha256).push(" and site_id in ");
            push_in_list(&mut query, sites);
            query.push(" limit 1");
            query.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(content_type, data)| Blob { content_type, data }))
    }
}
