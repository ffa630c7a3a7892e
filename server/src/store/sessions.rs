//! Sessions: refresh tokens (stored by hash, rotated within a login) and failed logins.

use super::{Store, StoreError, now_ms};
use crate::{with_pool, write_transaction};

/// What presenting a refresh token decided ([`Store::rotate_refresh`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// No token has that hash.
    Unknown,
    /// The token has expired.
    Expired,
    /// A rotated or revoked token came back outside the grace window, or its login has
    /// ended: the whole login is revoked.
    Reused,
    /// The successor was stored in the token's login; the token was live and is now
    /// rotated, or `grace` is true: it had been rotated within the grace window.
    Issued {
        /// The token's owner.
        user_id: String,
        /// The login.
        family: String,
        /// Whether this answered a token already rotated (a retry or a parallel refresh).
        grace: bool,
    },
}

/// A refresh token as stored (by hash).
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// Its owner.
    pub user_id: String,
    /// The login it descends from.
    pub family: String,
    /// Expiry, ms.
    pub expires_at: i64,
    /// When it was revoked or rotated, ms.
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Stores a new refresh token by its hash.
    pub async fn insert_refresh(
        &self,
        token_hash: &str,
        user_id: &str,
        family: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("insert into refresh_tokens (token_hash, user_id, family, created_at, expires_at) values ($1, $2, $3, $4, $5)")
                .bind(token_hash)
                .bind(user_id)
                .bind(family)
                .bind(now_ms())
                .bind(expires_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The refresh token with this hash.
    pub async fn refresh_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let row: Option<(String, String, i64, Option<i64>)> = with_pool!(self, pool => {
            sqlx::query_as("select user_id, family, expires_at, revoked_at from refresh_tokens where token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(
            row.map(|(user_id, family, expires_at, revoked_at)| RefreshRecord {
                user_id,
                family,
                expires_at,
                revoked_at,
            }),
        )
    }

    /// Rotates a refresh token: decides, in one transaction on the token's row (locked
    /// `for update` on PostgreSQL; SQLite's writers run one at a time), whether it is live,
    /// just rotated (within `grace_ms` of `now`, while its login still holds a live
    /// token) or reused, and for the first two stores `successor_hash` in its login.
    ///
    /// Two refreshes with one token at once therefore both get a successor: the second
    /// waits for the first's row lock and finds the token rotated an instant ago.
    pub async fn rotate_refresh(
        &self,
        token_hash: &str,
        successor_hash: &str,
        successor_expires_at: i64,
        now: i64,
        grace_ms: i64,
    ) -> Result<Rotation, StoreError> {
        write_transaction!(self, tx => {
            // Only the static lock clause is interpolated; every value is bound.
            let select = sqlx::AssertSqlSafe(format!(
                "select user_id, family, expires_at, revoked_at from refresh_tokens where token_hash = $1{}",
                self.row_lock()
            ));
            let row: Option<(String, String, i64, Option<i64>)> = sqlx::query_as(select)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((user_id, family, expires_at, revoked_at)) = row else {
                return Ok(Rotation::Unknown);
            };
            if expires_at <= now {
                return Ok(Rotation::Expired);
            }
            // `Some(grace)`: the token may have a successor; `None`: the login ends (committed).
            let grace = match revoked_at {
                None => {
                    sqlx::query("update refresh_tokens set revoked_at = $1 where token_hash = $2 and revoked_at is null")
                        .bind(now)
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await?;
                    Some(false)
                }
                Some(at) if at >= now - grace_ms => {
                    let live: i64 = sqlx::query_scalar(
                        "select count(*) from refresh_tokens where family = $1 and revoked_at is null and expires_at > $2",
                    )
                    .bind(&family)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    if live == 0 {
                        // Logged out or disabled: the login is over, whatever the time.
                        return Ok(Rotation::Reused);
                    }
                    Some(true)
                }
                Some(_) => {
                    // A rotated token back after the window: someone else may hold its
                    // successor. End the whole login.
                    sqlx::query("update refresh_tokens set revoked_at = $1 where family = $2 and revoked_at is null")
                        .bind(now)
                        .bind(&family)
                        .execute(&mut *tx)
                        .await?;
                    None
                }
            };
            match grace {
                None => Rotation::Reused,
                Some(grace) => {
                    sqlx::query("insert into refresh_tokens (token_hash, user_id, family, created_at, expires_at) values ($1, $2, $3, $4, $5)")
                        .bind(successor_hash)
                        .bind(&user_id)
                        .bind(&family)
                        .bind(now)
                        .bind(successor_expires_at)
                        .execute(&mut *tx)
                        .await?;
                    Rotation::Issued { user_id, family, grace }
                }
            }
        })
    }

    /// Revokes every token of a login (logout, or reuse of a rotated token).
    pub async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("update refresh_tokens set revoked_at = $1 where family = $2 and revoked_at is null")
                .bind(now_ms())
                .bind(family)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Whether a login still has a live refresh token (access tokens of a revoked login
    /// stop working on open connections).
    pub async fn family_active(&self, family: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let n: i64 = sqlx::query_scalar("select count(*) from refresh_tokens where family = $1 and revoked_at is null and expires_at > $2")
                .bind(family)
                .bind(now_ms())
                .fetch_one(pool)
                .await?;
            Ok(n > 0)
        })
    }

    /// Records one failed login against each subject (`user:NAME`, `addr:IP`).
    pub async fn record_login_failure(&self, subjects: &[String]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            for subject in subjects {
                sqlx::query("insert into login_failures (subject, at) values ($1, $2)")
                    .bind(subject)
                    .bind(now_ms())
                    .execute(pool)
                    .await?;
            }
            Ok(())
        })
    }

    /// Failed logins of a subject since `since` (ms).
    pub async fn login_failures_since(&self, subject: &str, since: i64) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("select count(*) from login_failures where subject = $1 and at >= $2")
                .bind(subject)
                .bind(since)
                .fetch_one(pool)
                .await?)
        })
    }

    /// Forgets a subject's failures after a successful login, and old failures of anyone.
    pub async fn clear_login_failures(
        &self,
        subject: &str,
        older_than: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("delete from login_failures where subject = $1 or at < $2")
                .bind(subject)
                .bind(older_than)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
