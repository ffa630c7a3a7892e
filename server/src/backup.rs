//! Backups and restores of either store.
//!
//! SQLite: `VACUUM INTO` writes a consistent copy of the live database (readers and writers
//! carry on); a restore checks the copy and puts it in place of a data directory's
//! database, which must not be in use. PostgreSQL: `pg_dump --format=custom` and
//! `pg_restore`, the tools that come with it.

use std::path::Path;
use std::process::Command;

use crate::config::Database;
use crate::store::{Store, StoreError};

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// pg_dump or pg_restore failed.
    #[error("{tool} failed: {message}")]
    Tool {
        /// Which tool.
        tool: &'static str,
        /// What it said.
        message: String,
    },
    /// The file is not a usable Walkaround backup, or the target is not empty.
    #[error("{0}")]
    Refused(String),
}

fn run(tool: &'static str, args: &[&str]) -> Result<(), BackupError> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| BackupError::Tool {
            tool,
            message: format!("cannot start: {e}"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool {
            tool,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Writes a backup of the store to `out` (which must not exist yet).
pub async fn backup(database: &Database, out: &Path) -> Result<(), BackupError> {
    if out.exists() {
        return Err(BackupError::Refused(format!(
            "{} already exists",
            out.display()
        )));
    }
    let path = out
        .to_str()
        .ok_or_else(|| BackupError::Io("the backup path must be UTF-8".to_string()))?;
    match database {
        Database::Sqlite { .. } => {
            let store = Store::open(database).await?;
            sqlx::query("vacuum into $1")
                .bind(path)
                .execute(sqlite_pool(&store)?)
                .await
                .map_err(StoreError::from)?;
            store.close().await;
            Ok(())
        }
        Database::Postgres { url } => run(
            "pg_dump",
            &["--format=custom", "--no-owner", "--file", path, url],
        ),
    }
}

/// Restores a backup made by [`backup`] into `database`, which must be empty: a data
/// directory without a database, or a freshly created PostgreSQL database.
pub async fn restore(database: &Database, from: &Path) -> Result<(), BackupError> {
    if !from.is_file() {
        return Err(BackupError::Refused(format!(
            "{} is not a file",
            from.display()
        )));
    }
    match database {
        Database::Sqlite { data_dir } => {
            let target = data_dir.join("walkaround.db");
            if target.exists() {
                return Err(BackupError::Refused(format!(
                    "{} exists; stop the server and move it away before restoring",
                    target.display()
                )));
            }
            // Check the copy before it replaces anything.
            let check_dir = std::env::temp_dir()
                .join(format!("walkaround-restore-check-{}", std::process::id()));
            let check = Database::Sqlite {
                data_dir: check_dir.clone(),
            };
            std::fs::create_dir_all(&check_dir).map_err(|e| BackupError::Io(e.to_string()))?;
            std::fs::copy(from, check_dir.join("walkaround.db"))
                .map_err(|e| BackupError::Io(e.to_string()))?;
            let verdict = verify_sqlite(&check).await;
            let _ = std::fs::remove_dir_all(&check_dir);
            verdict?;
            std::fs::create_dir_all(data_dir).map_err(|e| BackupError::Io(e.to_string()))?;
            std::fs::copy(from, &target).map_err(|e| BackupError::Io(e.to_string()))?;
            Ok(())
        }
        Database::Postgres { url } => {
            let from = from
                .to_str()
                .ok_or_else(|| BackupError::Io("the backup path must be UTF-8".to_string()))?;
            run(
                "pg_restore",
                &["--no-owner", "--exit-on-error", "--dbname", url, from],
            )
        }
    }
}

async fn verify_sqlite(database: &Database) -> Result<(), BackupError> {
    let store = Store::open(database)
        .await
        .map_err(|e| BackupError::Refused(format!("not a usable backup: {e}")))?;
    let integrity: String = sqlx::query_scalar("pragma integrity_check")
        .fetch_one(sqlite_pool(&store)?)
        .await
        .map_err(StoreError::from)?;
    store.close().await;
    if integrity == "ok" {
        Ok(())
    } else {
        Err(BackupError::Refused(format!(
            "the backup fails its integrity check: {integrity}"
        )))
    }
}

fn sqlite_pool(store: &Store) -> Result<&sqlx::SqlitePool, BackupError> {
    match store {
        Store::Sqlite(pool, _) => Ok(pool),
        Store::Postgres(_) => Err(BackupError::Refused("not a SQLite store".to_string())),
    }
}
