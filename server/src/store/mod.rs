//! The database, behind one interface for SQLite and PostgreSQL.
//!
//! Queries are written with sqlx's runtime-checked functions rather than its compile-time
//! macros: the macros check against one database kind at build time, and this store
//! serves two. Each dialect has its own migrations folder; both are embedded in the binary.
//! A statement whose shape depends on its input (optional filters, `in` lists) is built
//! with sqlx's `QueryBuilder` by a function generic over the database, so it too is written
//! once; every value is bound, never written into the text.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::QueryBuilder;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::Database;

pub mod audit;
pub mod blobs;
pub mod documents;
pub mod group_commit;
pub mod projection;
pub mod reports;
pub mod reviews;
pub mod sessions;
pub mod settings;
pub mod sites;
pub mod templates;
pub mod users;
pub mod violations;

/// Runs `$body` with `$pool` bound to the pool of whichever database the store holds.
///
/// Most queries are the same text in both dialects (`$1` placeholders work in SQLite
/// too); the macro writes the two typed branches so each query is written once.
#[macro_export]
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool, _) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction and commits it: the one way the store writes
/// more than one statement at once.
///
/// ```ignore
/// write_transaction!(self, tx => {
///     sqlx::query("delete from t where id = $1").bind(id).execute(&mut *tx).await?;
///     rows_deleted // the value; the macro commits, then evaluates to `Ok(rows_deleted)`
/// })
/// ```
///
/// It waits for the writer's turn ([`Store::begin_write`]), begins the transaction with the
/// statement that turn names (`BEGIN IMMEDIATE` on SQLite, which takes the write lock up
/// front instead of failing with "database is locked" when a deferred transaction that
/// has read wants to write; `BEGIN` on PostgreSQL), binds it to `$tx` in `$body` (a
/// `sqlx::Transaction` of the store's dialect, used as `&mut *tx`), commits after `$body`
/// and evaluates to `Ok(value)` of `$body`'s value, a `Result<_, StoreError>`, so it is
/// usually the last expression of a store method.
///
/// Errors: `?` in `$body`, as a failing `BEGIN` or `COMMIT`, returns the error from the
/// enclosing function (which returns `Result<_, StoreError>`). A `?` or an early `return`
/// in `$body` drops the transaction uncommitted, and sqlx rolls it back: a refusal decided
/// inside returns early and writes nothing. The writer's turn is held until the enclosing
/// function returns. Like [`with_pool!`], `$body` is written once and compiled
/// for each dialect.
#[macro_export]
macro_rules! write_transaction {
    ($store:expr, $tx:ident => $body:block) => {{
        let store: &$crate::store::Store = $store;
        let (begin, _turn) = store.begin_write().await;
        $crate::with_pool!(store, pool => {
            let mut $tx = pool.begin_with(begin).await?;
            let value = $body;
            $tx.commit().await?;
            Ok(value)
        })
    }};
}

/// Appends `(p1, p2, …)` to `query`: one bound placeholder per value, for an `in` list
/// whose length is known only at run time. The values are bound, never written into the
/// text. `values` must not be empty (`in ()` is not SQL); callers return early then.
pub fn push_in_list<DB>(query: &mut QueryBuilder<DB>, values: &[String])
where
    DB: sqlx::Database,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query.push("(");
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value.as_str());
    }
    query.push(")");
}

/// How long a SQLite connection waits for the database's write lock when another process
/// holds it (a backup) before failing with "database is locked": every connection's busy
/// timeout, the pool's and the group commit's.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds since the Unix epoch, the time format of every table.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// SQLite's write transactions, taken one at a time in the order they asked, and the
/// group commit of document writes; and, beside them, the connection the sync
/// connections' rights reads take ([`users::UserReader`]).
///
/// SQLite has one write lock per database. Left to itself, each connection that wants it
/// sleeps and retries (its busy handler) with growing pauses, in no order, so under load a
/// writer can lose the race for longer than the busy timeout and fail with "database is
/// locked" although the lock was free many times meanwhile. Queueing the write
/// transactions in the process, first come first served, means a writer waits only for
/// the writers ahead of it, and the busy timeout is left for other processes (a backup).
/// Document writes, the hot path, queue for [`group_commit::GroupCommit`], which takes the
/// same turn for each group.
#[derive(Clone, Debug)]
pub struct WriterQueue {
    turn: Arc<tokio::sync::Mutex<()>>,
    docs: group_commit::GroupCommit,
    users: users::UserReader,
}

impl WriterQueue {
    fn start(pool: &SqlitePool) -> Result<WriterQueue, StoreError> {
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let options = pool.connect_options();
        Ok(WriterQueue {
            docs: group_commit::GroupCommit::start(options.get_filename().to_owned(), turn.clone())
                .map_err(StoreError::Thread)?,
            users: users::UserReader::new(options),
            turn,
        })
    }
}

/// A writer's turn: the write transaction may begin while it is held. Dropped after the
/// transaction commits or rolls back.
pub type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// Why the store could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The database refused a connection or a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// SQLite refused a statement of the group commit, which calls it directly
    /// ([`group_commit`]).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The group commit's thread could not be started.
    #[error("cannot start the group commit's thread: {0}")]
    Thread(std::io::Error),
    /// The group commit's thread has stopped (the store is closing): nothing was written.
    #[error("the store is closed")]
    Closed,
    /// A group of document writes failed to commit: none of them was written.
    #[error("the group commit failed: {0}")]
    GroupCommit(String),
    /// A document write's author no longer has the rights the change was judged with (their
    /// role, status or sites changed, or they are gone): nothing was written. Judge the
    /// change again with the rights as stored now.
    #[error("the author's rights changed since the change was judged")]
    RightsChanged,
    /// Stored bytes could not be read back (a document, a sync state).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation (a duplicate id or name).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// The database connection pool, of either kind.
#[derive(Clone, Debug)]
pub enum Store {
    /// The embedded default, with its queue of writers.
    Sqlite(SqlitePool, WriterQueue),
    /// Production and multi-instance.
    Postgres(PgPool),
}

impl Store {
    /// Opens the database (creating the SQLite file if needed) and applies migrations.
    pub async fn open(database: &Database) -> Result<Store, StoreError> {
        let store = match database {
            Database::Sqlite { data_dir } => {
                std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let options = SqliteConnectOptions::from_str("sqlite:")?
                    .filename(data_dir.join("walkaround.db"))
                    .create_if_missing(true)
                    // WAL lets the office read while tablets write; FULL makes every
                    // acknowledged commit survive a power cut.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    // Statement journals and the group commit's savepoints kept in
                    // memory, not in temporary files (issue 21: 3 % of the cold upload).
                    .pragma("temp_store", "memory")
                    .busy_timeout(BUSY_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    // A connection to a local file does not go stale: no `ping` before
                    // each use (one round trip to its worker thread; issue 21).
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
                let queue = WriterQueue::start(&pool)?;
                Store::Sqlite(pool, queue)
            }
            Database::Postgres { url } => {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?;
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                Store::Postgres(pool)
            }
        };
        Ok(store)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool, _) => sqlx::query("select 1").execute(pool).await.map(drop)?,
            Store::Postgres(pool) => sqlx::query("select 1").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// Waits for a write transaction's turn and says how it starts.
    ///
    /// On SQLite the turn comes from the [`WriterQueue`], and the statement is
    /// `BEGIN IMMEDIATE`: the default deferred transaction reads first and fails with
    /// "database is locked" when it then needs to write while another process writes, where
    /// `BEGIN IMMEDIATE` takes the write lock up front and waits for it. PostgreSQL locks
    /// rows, not the database, so its writers need no queue.
    pub async fn begin_write(&self) -> (&'static str, WriteTurn) {
        match self {
            Store::Sqlite(_, queue) => (
                "BEGIN IMMEDIATE",
                Some(queue.turn.clone().lock_owned().await),
            ),
            Store::Postgres(_) => ("BEGIN", None),
        }
    }

    /// What a `select` inside a write transaction appends to lock the rows it reads until
    /// the transaction ends: `for update` on PostgreSQL, so that a concurrent writer of the
    /// same row waits and then reads the committed value. SQLite needs nothing: its write
    /// transactions begin with `BEGIN IMMEDIATE` and run one at a time.
    pub fn row_lock(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "",
            Store::Postgres(_) => " for update",
        }
    }

    /// The database kind, for logs and health output.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// How many of this binary's migrations are not applied (0 when the schema is current;
    /// migrations newer than the binary, applied by a newer instance, do not count).
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let (migrator, applied): (sqlx::migrate::Migrator, Vec<i64>) = match self {
            Store::Sqlite(pool, _) => (
                sqlx::migrate!("./migrations/sqlite"),
                sqlx::query_scalar("select version from _sqlx_migrations where success")
                    .fetch_all(pool)
                    .await?,
            ),
            Store::Postgres(pool) => (
                sqlx::migrate!("./migrations/postgres"),
                sqlx::query_scalar("select version from _sqlx_migrations where success")
                    .fetch_all(pool)
                    .await?,
            ),
        };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// The pool's size and idle connections, for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Store::Sqlite(pool, _) => (pool.size(), pool.num_idle()),
            Store::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }

    /// SQLite's group commits so far and the document writes they held
    /// ([`group_commit::GroupCommit`]); `(0, 0)` on PostgreSQL, which has none.
    pub fn group_commits(&self) -> (u64, u64) {
        match self {
            Store::Sqlite(_, queue) => queue.docs.stats(),
            Store::Postgres(_) => (0, 0),
        }
    }

    /// Closes the pool, waiting for connections in use (on SQLite, after the group
    /// commit's own connection, once the writes queued before have committed).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool, queue) => {
                queue.docs.close().await;
                queue.users.close().await;
                pool.close().await
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }
}
