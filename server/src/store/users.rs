//! Users: their login names, roles, password hashes and sites.

use std::collections::BTreeSet;

use shared::ids::{SiteId, UserId};
use shared::role::Role;

use super::{Store, StoreError, now_ms};
use crate::{with_pool, write_transaction};

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Stable id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Name shown in the app.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in and loses its sessions.
    pub disabled: bool,
    /// Sites the user belongs to.
    pub sites: BTreeSet<SiteId>,
}

type UserRow = (String, String, String, String, String, bool);

/// A user's row joined with one of its sites (none for a user without sites).
type UserSiteRow = (String, String, String, String, String, bool, Option<String>);

/// The user of its rows joined with its sites, one per site (none: no such user).
fn user_of_rows(rows: Vec<UserSiteRow>) -> Result<Option<UserRecord>, StoreError> {
    let mut row = None;
    let mut sites = Vec::with_capacity(rows.len());
    for (id, username, display_name, role, password_hash, disabled, site) in rows {
        sites.extend(site);
        row.get_or_insert((id, username, display_name, role, password_hash, disabled));
    }
    row.map(|row| user_record(row, sites)).transpose()
}

/// A user and its sites, by id: one row per site.
const USER_BY_ID: &str = "select u.id, u.username, u.display_name, u.role, u.password_hash, u.disabled, s.site_id \
     from users u left join user_sites s on s.user_id = u.id where u.id = $1 order by s.site_id";

/// [`USER_BY_ID`] with the version of the user's rights, in every row.
const USER_FOR_SYNC: &str = "select u.id, u.username, u.display_name, u.role, u.password_hash, u.disabled, s.site_id, u.rights_version \
     from users u left join user_sites s on s.user_id = u.id where u.id = $1 order by s.site_id";

/// A row of [`USER_FOR_SYNC`]: a [`UserSiteRow`] and the rights' version.
type UserRightsRow = (
    String,
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    i64,
);

/// The user of [`USER_FOR_SYNC`]'s rows, with the version of its rights.
fn rights_of_rows(rows: Vec<UserRightsRow>) -> Result<Option<SyncRights>, StoreError> {
    let version = rows.first().map(|row| row.7);
    let rows = rows
        .into_iter()
        .map(
            |(id, username, display_name, role, hash, disabled, site, _)| {
                (id, username, display_name, role, hash, disabled, site)
            },
        )
        .collect();
    Ok(user_of_rows(rows)?
        .zip(version)
        .map(|(user, version)| SyncRights { user, version }))
}

/// A user as a sync connection judges its changes with: the stored user and the version of
/// its rights (`users.rights_version`, moved on by every change to the role, the status or
/// the sites). A document write made with these rights commits only while the version is
/// still the stored one ([`crate::store::documents::Author`]).
#[derive(Debug, Clone)]
pub struct SyncRights {
    /// The user as stored.
    pub user: UserRecord,
    /// The version of its rights.
    pub version: i64,
}

/// SQLite's reads of a user's rights for sync connections ([`Store::user_for_sync`]) on a
/// connection of their own (opened with the pool's options on first use, and again after a
/// failure; closed for good by [`Store::close`]).
///
/// A sync connection reads its user's rights when it opens a document or asks for one,
/// every revocation check, and whenever a write finds them changed. A pooled connection
/// costs each read more than the query's own round trip to the connection's worker thread:
/// sqlx pings a connection on every return to the pool, in a task of its own (issue 21).
/// The sync connections' reads queue for this one connection, each one indexed lookup;
/// the HTTP layer's user reads stay on the pool, which reads in parallel.
#[derive(Clone, Debug)]
pub struct UserReader {
    options: std::sync::Arc<sqlx::sqlite::SqliteConnectOptions>,
    connection: std::sync::Arc<tokio::sync::Mutex<Reader>>,
}

/// The reader's connection, if open, or closed for good.
#[derive(Debug, Default)]
enum Reader {
    /// Not open yet, or dropped after a failure: opened on the next read.
    #[default]
    Idle,
    Open(sqlx::SqliteConnection),
    /// After [`Store::close`]: reads fail with [`StoreError::Closed`].
    Closed,
}

impl UserReader {
    /// A reader that opens its connection with `options` when first used.
    pub(super) fn new(options: std::sync::Arc<sqlx::sqlite::SqliteConnectOptions>) -> UserReader {
        UserReader {
            options,
            connection: Default::default(),
        }
    }

    /// The user with this id. A connection that fails is dropped and opened again on the
    /// next read.
    async fn user_for_sync(&self, id: &str) -> Result<Option<SyncRights>, StoreError> {
        let mut reader = self.connection.lock().await;
        if let Reader::Idle = *reader {
            *reader = Reader::Open(sqlx::ConnectOptions::connect(&*self.options).await?);
        }
        let Reader::Open(open) = &mut *reader else {
            return Err(StoreError::Closed);
        };
        match sqlx::query_as(USER_FOR_SYNC).bind(id).fetch_all(open).await {
            Ok(rows) => rights_of_rows(rows),
            Err(e) => {
                *reader = Reader::Idle;
                Err(e.into())
            }
        }
    }

    /// Closes the connection, if open; later reads fail with [`StoreError::Closed`].
    pub(super) async fn close(&self) {
        let mut reader = self.connection.lock().await;
        if let Reader::Open(open) = std::mem::replace(&mut *reader, Reader::Closed) {
            let _ = sqlx::Connection::close(open).await;
        }
    }
}

/// A user from its row and its sites' ids.
fn user_record(row: UserRow, sites: Vec<String>) -> Result<UserRecord, StoreError> {
    let (id, username, display_name, role, password_hash, disabled) = row;
    let corrupt = |e: String| StoreError::Corrupt(e);
    Ok(UserRecord {
        id: UserId::parse(id).map_err(|e| corrupt(e.to_string()))?,
        username,
        display_name,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role {role:?}")))?,
        password_hash,
        disabled,
        sites: sites
            .into_iter()
            .map(|s| SiteId::parse(s).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<_, _>>()?,
    })
}

impl Store {
    /// Adds a user belonging to `sites`.
    pub async fn add_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        write_transaction!(self, tx => {
            sqlx::query("insert into users (id, username, display_name, role, password_hash, disabled, created_at) values ($1, $2, $3, $4, $5, $6, $7)")
                .bind(user.id.as_str())
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(user.disabled)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            for site in &user.sites {
                sqlx::query("insert into user_sites (user_id, site_id) values ($1, $2)")
                    .bind(user.id.as_str())
                    .bind(site.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        })
    }

    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        // One statement: the user's row once per site (or once, with no site).
        let sql = match column {
            "username" => {
                "select u.id, u.username, u.display_name, u.role, u.password_hash, u.disabled, s.site_id \
                 from users u left join user_sites s on s.user_id = u.id where u.username = $1 order by s.site_id"
            }
            _ => USER_BY_ID,
        };
        let rows: Vec<UserSiteRow> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(value).fetch_all(pool).await?
        });
        user_of_rows(rows)
    }

    /// The user with this login name.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("username", username).await
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id", id).await
    }

    /// The user with this id and the version of its rights, read again for a sync
    /// connection (when it opens or asks for a document, each revocation check, and when a
    /// write finds the rights changed). On SQLite it is read on [`UserReader`]'s
    /// connection; on PostgreSQL from the pool.
    pub async fn user_for_sync(&self, id: &str) -> Result<Option<SyncRights>, StoreError> {
        match self {
            Store::Sqlite(_, queue) => queue.users.user_for_sync(id).await,
            Store::Postgres(pool) => {
                let rows = sqlx::query_as(USER_FOR_SYNC)
                    .bind(id)
                    .fetch_all(pool)
                    .await?;
                rights_of_rows(rows)
            }
        }
    }

    /// How many users exist (zero on a fresh data directory).
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("select count(*) from users").fetch_one(pool).await?)
        })
    }

    /// Disables or enables a user; disabling revokes every refresh token at once.
    pub async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        write_transaction!(self, tx => {
            let changed = sqlx::query("update users set disabled = $1 where id = $2")
                .bind(disabled)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if disabled {
                sqlx::query("update refresh_tokens set revoked_at = $1 where user_id = $2 and revoked_at is null")
                    .bind(now_ms())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            changed > 0
        })
    }

    /// Every user belonging to at least one of `sites`, by user name.
    pub async fn users_of_sites(&self, sites: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("select distinct user_id from user_sites order by user_id").fetch_all(pool).await?
        });
        let mut users = Vec::new();
        for id in ids {
            let Some(user) = self.user_by_id(&id).await? else {
                continue;
            };
            if user
                .sites
                .iter()
                .any(|s| sites.iter().any(|t| t == s.as_str()))
            {
                users.push(user);
            }
        }
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    /// Changes a user in one transaction: reads the user with its row locked (`for update`
    /// on PostgreSQL; SQLite's writers run one at a time), lets `edit` decide on what it
    /// read (whether the caller may, and what changes) and writes the result, with the
    /// password hash if one is given. `Ok(Ok(None))` is no such user; `Ok(Err(e))` is
    /// `edit`'s refusal, and nothing is written.
    ///
    /// Deciding on the user as read inside the transaction means two edits at once cannot
    /// undo each other (a rename and a change of role both land), and a permission is
    /// judged on the user's sites as they are when the write happens.
    pub async fn edit_user<E>(
        &self,
        id: &str,
        password_hash: Option<&str>,
        edit: impl FnOnce(&mut UserRecord) -> Result<(), E>,
    ) -> Result<Result<Option<UserRecord>, E>, StoreError> {
        write_transaction!(self, tx => {
            // Only the static lock clause is interpolated; every value is bound.
            let select = sqlx::AssertSqlSafe(format!(
                "select id, username, display_name, role, password_hash, disabled from users where id = $1{}",
                self.row_lock()
            ));
            let row: Option<UserRow> = sqlx::query_as(select).bind(id).fetch_optional(&mut *tx).await?;
            let Some(row) = row else { return Ok(Ok(None)) };
            let sites: Vec<String> = sqlx::query_scalar("select site_id from user_sites where user_id = $1 order by site_id")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let mut user = user_record(row, sites)?;
            if let Err(refusal) = edit(&mut user) {
                return Ok(Err(refusal));
            }
            sqlx::query("update users set display_name = $1, role = $2 where id = $3")
                .bind(&user.display_name)
                .bind(user.role.as_str())
                .bind(user.id.as_str())
                .execute(&mut *tx)
                .await?;
            if let Some(hash) = password_hash {
                sqlx::query("update users set password_hash = $1 where id = $2")
                    .bind(hash)
                    .bind(user.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("delete from user_sites where user_id = $1").bind(user.id.as_str()).execute(&mut *tx).await?;
            for site in &user.sites {
                sqlx::query("insert into user_sites (user_id, site_id) values ($1, $2)")
                    .bind(user.id.as_str())
                    .bind(site.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(Some(user))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Database;

    /// The sync connections' reads see a change to the user at once, and fail once the
    /// store is closed rather than opening a connection no one closes.
    #[tokio::test]
    async fn rights_read_for_sync_are_current_and_end_with_the_store() {
        let dir =
            std::env::temp_dir().join(format!("walkaround-user-reader-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&Database::Sqlite {
            data_dir: dir.clone(),
        })
        .await
        .expect("opens a temporary store");
        let user = UserRecord {
            id: UserId::parse("wang").expect("valid"),
            username: "wang".to_string(),
            display_name: "王".to_string(),
            role: Role::WorkshopManager,
            password_hash: "unused".to_string(),
            disabled: false,
            sites: BTreeSet::new(),
        };
        assert!(store.user_for_sync("wang").await.expect("reads").is_none());
        store.add_user(&user).await.expect("adds");
        let read = store.user_for_sync("wang").await.expect("reads");
        assert_eq!(read.as_ref().map(|r| r.user.disabled), Some(false));
        let first = read.map(|r| r.version);
        store
            .set_user_disabled("wang", true)
            .await
            .expect("disables");
        let read = store.user_for_sync("wang").await.expect("reads");
        assert_eq!(read.as_ref().map(|r| r.user.disabled), Some(true));
        assert_ne!(
            read.map(|r| r.version),
            first,
            "disabling moves the rights on"
        );
        store.close().await;
        assert!(matches!(
            store.user_for_sync("wang").await,
            Err(StoreError::Closed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
