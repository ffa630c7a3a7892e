//! Server-wide settings shared by every instance (the token signing key).

use super::{Store, StoreError};
use crate::with_pool;

impl Store {
    /// The value of `key`, inserting `make()` first if there is none. Several instances
    /// starting at once agree on one value: the first insert wins and all read it back.
    pub async fn setting_or_insert(
        &self,
        key: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let candidate = make();
        with_pool!(self, pool => {
            sqlx::query("insert into settings (key, value) values ($1, $2) on conflict (key) do nothing")
                .bind(key)
                .bind(&candidate)
                .execute(pool)
                .await?;
            let value: String = sqlx::query_scalar("select value from settings where key = $1")
                .bind(key)
                .fetch_one(pool)
                .await?;
            Ok(value)
        })
    }
}
