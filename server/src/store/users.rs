//! Sites, users, refresh tokens and failed logins.

use std::collections::BTreeSet;

use shared::i18n::Localized;
use shared::ids::{AreaId, SiteId, UserId};
use shared::role::Role;
use shared::site::{Area, AreaKind, Site};

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

fn kind_str(kind: AreaKind) -> &'static str {
    match kind {
        AreaKind::Bay => "bay",
        AreaKind::Room => "room",
        AreaKind::Entrance => "entrance",
    }
}

fn parse_kind(s: &str) -> Result<AreaKind, StoreError> {
    match s {
        "bay" => Ok(AreaKind::Bay),
        "room" => Ok(AreaKind::Room),
        "entrance" => Ok(AreaKind::Entrance),
        other => Err(StoreError::Corrupt(format!("unknown area kind {other:?}"))),
    }
}

type UserRow = (String, String, String, String, String, bool);

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
    /// Adds a site with its areas, in one transaction.
    pub async fn add_site(&self, site: &Site) -> Result<(), StoreError> {
        write_transaction!(self, tx => {
            sqlx::query("insert into sites (id, name) values ($1, $2)")
                .bind(site.id.as_str())
                .bind(&site.name)
                .execute(&mut *tx)
                .await?;
            for (position, area) in site.areas.iter().enumerate() {
                sqlx::query("insert into areas (site_id, id, kind, name_zh, name_en, key_room, position) values ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(site.id.as_str())
                    .bind(area.id.as_str())
                    .bind(kind_str(area.kind))
                    .bind(&area.name.zh)
                    .bind(&area.name.en)
                    .bind(area.key_room)
                    .bind(position as i64)
                    .execute(&mut *tx)
                    .await?;
            }
        })
    }

    /// A site with its areas.
    pub async fn site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        with_pool!(self, pool => {
            let name: Option<String> = sqlx::query_scalar("select name from sites where id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            let Some(name) = name else { return Ok(None) };
            let rows: Vec<(String, String, String, String, bool)> = sqlx::query_as(
                "select id, kind, name_zh, name_en, key_room from areas where site_id = $1 order by position, id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?;
            let areas = rows
                .into_iter()
                .map(|(aid, kind, zh, en, key_room)| {
                    Ok(Area {
                        id: AreaId::parse(aid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        kind: parse_kind(&kind)?,
                        name: Localized::new(zh, en),
                        key_room,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Some(Site { id: id.clone(), name, areas }))
        })
    }

    /// Ids of every site.
    pub async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("select id from sites order by id").fetch_all(pool).await?
        });
        ids.into_iter()
            .map(|s| SiteId::parse(s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

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
        let sql = match column {
            "username" => {
                "select id, username, display_name, role, password_hash, disabled from users where username = $1"
            }
            _ => {
                "select id, username, display_name, role, password_hash, disabled from users where id = $1"
            }
        };
        let (row, sites): (Option<UserRow>, Vec<String>) = with_pool!(self, pool => {
            let row: Option<UserRow> = sqlx::query_as(sql).bind(value).fetch_optional(pool).await?;
            let sites: Vec<String> = match &row {
                Some(r) => sqlx::query_scalar("select site_id from user_sites where user_id = $1 order by site_id")
                    .bind(&r.0)
                    .fetch_all(pool)
                    .await?,
                None => Vec::new(),
            };
            (row, sites)
        });
        row.map(|row| user_record(row, sites)).transpose()
    }

    /// The user with this login name.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("username", username).await
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id", id).await
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

impl Store {
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
