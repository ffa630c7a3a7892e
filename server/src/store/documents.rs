//! Automerge documents: metadata, stored bytes (a snapshot plus incremental chunks), and
//! the sync states of peers that have a storage id.

use std::sync::Arc;

use sqlx::QueryBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};

use super::projection::{Projection, Written};
use super::{Store, StoreError, now_ms, push_in_list};
use crate::{with_pool, write_transaction};

/// What the server knows about a document without loading it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocMeta {
    /// The bs58check document id.
    pub id: String,
    /// `inspection` for now.
    pub kind: String,
    /// The site it belongs to.
    pub site_id: Option<String>,
    /// The template of an inspection.
    pub template_id: Option<String>,
    /// Who created it.
    pub created_by: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Last accepted change, ms.
    pub updated_at: i64,
    /// Server-wide version of the last accepted change: the discovery cursor.
    pub version: i64,
}

/// One inspection as the office's rows record it: what a tablet lists of the inspections
/// it does not hold (`GET /api/v1/inspections`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InspectionRow {
    /// The document id.
    pub doc_id: String,
    /// Its site.
    pub site_id: String,
    /// Its template.
    pub template_id: String,
    /// Who started it.
    pub created_by: String,
    /// Started, ms (as recorded on receipt: never ahead of the server's clock).
    pub created_at: i64,
    /// Submitted, ms, if it is.
    pub submitted_at: Option<i64>,
    /// Its violations.
    pub violations: i64,
    /// Their fines, yuan.
    pub fine_yuan: i64,
}

type MetaRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
);

fn meta(
    (id, kind, site_id, template_id, created_by, created_at, updated_at, version): MetaRow,
) -> DocMeta {
    DocMeta {
        id,
        kind,
        site_id,
        template_id,
        created_by,
        created_at,
        updated_at,
        version,
    }
}

/// One accepted write to a document, committed atomically.
#[derive(Debug)]
pub struct DocWrite<'a> {
    /// The document.
    pub id: &'a str,
    /// Its metadata, for a document written the first time.
    pub kind: &'a str,
    /// Its site.
    pub site_id: Option<&'a str>,
    /// Its template.
    pub template_id: Option<&'a str>,
    /// Its creator.
    pub created_by: Option<&'a str>,
    /// The new changes, as one incremental chunk.
    pub chunk: &'a [u8],
    /// When set, the whole document compacted: replaces the chunks in `replaces`.
    pub snapshot: Option<&'a [u8]>,
    /// The chunks the snapshot holds (and so replaces). Only these are deleted: another
    /// instance may have appended a chunk the snapshot does not hold.
    pub replaces: &'a [i64],
    /// Who wrote it, for other instances' change notifications.
    pub origin: &'a str,
    /// The office's rows for the document after the write.
    pub projection: Option<&'a Projection>,
    /// What this instance last wrote of the document: the version its write took and what
    /// its projection's rows were ([`Projection::written`]). When the document is still at
    /// that version (no one wrote it since), only the rows that differ are written.
    pub previous: Option<(i64, &'a Written)>,
    /// Whose change this is and with which rights it was judged: the write commits only if
    /// they are still the stored ones, and fails with [`StoreError::RightsChanged`]
    /// otherwise. `None` for a write no user made (the demo's seeding).
    pub author: Option<Author<'a>>,
}

/// The author of a document write and the version of the rights its change was judged with
/// (`users.rights_version`, read with [`Store::user_for_sync`]). The write decides inside
/// its own transaction that the author still exists, is enabled and has those rights: a
/// demotion, a disabling or a change of sites that commits before the write makes it fail,
/// and one that commits after it comes after the change in every reader's view.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    /// The user's id.
    pub user_id: &'a str,
    /// The version of the rights the change was judged with.
    pub rights_version: i64,
}

/// What a committed [`DocWrite`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The stored chunk's number.
    pub seq: i64,
    /// The document's new version (the discovery cursor).
    pub version: i64,
}

/// The PostgreSQL channel on which instances announce accepted changes
/// (payload: `<peer id> <document id>`).
pub const CHANGES_CHANNEL: &str = "walkaround_changes";

/// The PostgreSQL advisory lock (transaction-scoped) under which a write takes its document
/// version, so versions are taken in commit order across every instance ("walkvers").
pub const VERSION_LOCK: i64 = 0x7761_6c6b_7665_7273;

const META_COLUMNS: &str =
    "id, kind, site_id, template_id, created_by, created_at, updated_at, version";

/// The SQL of a document write that differs between the dialects.
struct DocSql {
    /// Taken just before the version, if any (PostgreSQL's advisory lock).
    lock_version: Option<&'static str>,
    /// Takes the document's new version.
    take_version: &'static str,
    /// Inserts a chunk, returning its number.
    insert_chunk: &'static str,
    /// Tells other instances (PostgreSQL).
    notify: Option<&'static str>,
    /// Whether a write's [`Author`] still has the rights its change was judged with ($1 the
    /// user, $2 the version): a row if so. On PostgreSQL the user's row stays locked
    /// `for share` until the commit, so a change to the rights waits for the write.
    check_rights: &'static str,
    /// The metadata's upsert, the chunk's insert and the version's update in one query,
    /// for a write without a snapshot where the version may be taken first (SQLite, whose
    /// write transactions run one at a time): one round trip to the connection's worker
    /// thread instead of three. Its rows: the version before the write, the chunk's
    /// number, the new version.
    batched: Option<Batched>,
}

/// [`DocSql::batched`], without and with the check of the author's rights.
struct Batched {
    /// For a write without an [`Author`].
    plain: &'static str,
    /// For a write with one: the check of its rights first ($10 the user, $11 the version),
    /// whose row is 1 if they hold and 0 if not. The write's statements run either way;
    /// on 0 the write fails and its caller rolls them back.
    checked: &'static str,
}

/// A document's metadata upsert, returning the version it had ($1–$7; a new row gets 0).
macro_rules! upsert_metadata {
    () => {
        "insert into documents (id, kind, site_id, template_id, created_by, created_at, updated_at, version) \
         values ($1, $2, $3, $4, $5, $6, $7, 0) \
         on conflict (id) do update set updated_at = excluded.updated_at returning version"
    };
}

/// SQLite's version update ($1 the document), returning the new version.
macro_rules! sqlite_take_version {
    () => {
        "update documents set version = (select coalesce(max(version), 0) + 1 from documents) \
         where id = $1 returning version"
    };
}

/// The three statements of a SQLite write with the parameters numbered as one list: $1–$7
/// the metadata, $8 and $9 the chunk's kind and bytes.
macro_rules! sqlite_batch {
    () => {
        concat!(
            upsert_metadata!(),
            "; insert into doc_chunks (doc_id, seq, kind, data) \
             select $1, coalesce(max(seq), 0) + 1, $8, $9 from doc_chunks where doc_id = $1 returning seq; ",
            sqlite_take_version!(),
        )
    };
}

const SQLITE: DocSql = DocSql {
    lock_version: None,
    take_version: sqlite_take_version!(),
    insert_chunk: "insert into doc_chunks (doc_id, seq, kind, data) \
                   select $1, coalesce(max(seq), 0) + 1, $2, $3 from doc_chunks where doc_id = $1 returning seq",
    notify: None,
    // SQLite's write transactions run one at a time: nothing changes the row before the
    // commit.
    check_rights: "select id from users where id = $1 and rights_version = $2 and not disabled",
    batched: Some(Batched {
        plain: sqlite_batch!(),
        checked: concat!(
            "select exists (select 1 from users where id = $10 and rights_version = $11 and not disabled); ",
            sqlite_batch!(),
        ),
    }),
};

const POSTGRES: DocSql = DocSql {
    lock_version: Some("select pg_advisory_xact_lock($1)"),
    take_version: "update documents set version = nextval('document_versions') where id = $1 returning version",
    insert_chunk: "insert into doc_chunks (doc_id, seq, kind, data) values ($1, nextval('doc_chunk_seq'), $2, $3) returning seq",
    notify: Some("select pg_notify('walkaround_changes', $1)"), // CHANGES_CHANNEL
    check_rights: "select id from users where id = $1 and rights_version = $2 and not disabled for share",
    batched: None,
};

/// The statements of one [`DocWrite`] `$w`, run on the open transaction (or savepoint)
/// `$tx` with the dialect's [`DocSql`] `$sql`, received at `$now` (ms). Evaluates to the
/// [`Committed`] it took; `?` returns the first failing statement's error.
macro_rules! doc_statements {
    ($tx:ident, $w:expr, $sql:expr, $now:expr) => {{
        let w: &DocWrite<'_> = $w;
        let sql: &DocSql = &$sql;
        let now: i64 = $now;
        // The metadata's upsert takes $1–$7 whether alone or at the head of the batch.
        let metadata = |statement| {
            sqlx::query_scalar(statement)
                .bind(w.id)
                .bind(w.kind)
                .bind(w.site_id)
                .bind(w.template_id)
                .bind(w.created_by)
                .bind(now)
                .bind(now)
        };
        // A new document's row starts at version 0 (never listed: cursors start at 0 and
        // list what is above) and gets its version at the end of the transaction, or, where
        // write transactions run one at a time, in the same round trip as the upsert
        // (`DocSql::batched`). The version before this write says whether anyone wrote the
        // document since `previous`; on PostgreSQL the row stays locked until the commit.
        // The author's rights are checked first (in the batch, its first statement). A
        // write that finds them changed returns `RightsChanged`, and its caller rolls back
        // whatever of it ran, as for any failing write.
        let (stored_version, seq, taken): (i64, i64, Option<i64>) =
            if let (Some(batched), None) = (&sql.batched, w.snapshot) {
                // The batch has no place for a version lock or a notification.
                debug_assert!(sql.lock_version.is_none() && sql.notify.is_none());
                let statement = match w.author {
                    None => batched.plain,
                    Some(_) => batched.checked,
                };
                let query = metadata(statement).bind("incremental").bind(w.chunk);
                let rows: Vec<i64> = match w.author {
                    None => query.fetch_all(&mut *$tx).await?,
                    Some(author) => {
                        query
                            .bind(author.user_id)
                            .bind(author.rights_version)
                            .fetch_all(&mut *$tx)
                            .await?
                    }
                };
                let (stored_version, seq, version) = match (w.author, &rows[..]) {
                    (None, &[stored_version, seq, version]) => (stored_version, seq, version),
                    (Some(_), &[1, stored_version, seq, version]) => (stored_version, seq, version),
                    (Some(_), &[0, ..]) => Err(StoreError::RightsChanged)?,
                    _ => Err(StoreError::Corrupt(format!(
                        "writing document {}: {} rows where {} were expected",
                        w.id,
                        rows.len(),
                        if w.author.is_some() { 4 } else { 3 },
                    )))?,
                };
                (stored_version, seq, Some(version))
            } else {
                if let Some(author) = w.author {
                    let holds: Option<String> = sqlx::query_scalar(sql.check_rights)
                        .bind(author.user_id)
                        .bind(author.rights_version)
                        .fetch_optional(&mut *$tx)
                        .await?;
                    if holds.is_none() {
                        Err(StoreError::RightsChanged)?
                    }
                }
                let stored_version: i64 = metadata(upsert_metadata!()).fetch_one(&mut *$tx).await?;
                if w.snapshot.is_some() {
                    for seq in w.replaces {
                        sqlx::query("delete from doc_chunks where doc_id = $1 and seq = $2")
                            .bind(w.id)
                            .bind(seq)
                            .execute(&mut *$tx)
                            .await?;
                    }
                }
                let (kind, data) = match w.snapshot {
                    Some(snapshot) => ("snapshot", snapshot),
                    None => ("incremental", w.chunk),
                };
                let seq: i64 = sqlx::query_scalar(sql.insert_chunk)
                    .bind(w.id)
                    .bind(kind)
                    .bind(data)
                    .fetch_one(&mut *$tx)
                    .await?;
                (stored_version, seq, None)
            };
        if let Some(p) = w.projection {
            let previous = w
                .previous
                .and_then(|(version, previous)| (version == stored_version).then_some(previous));
            crate::write_projection!($tx, w.id, p, previous, now);
        }
        let version = match taken {
            Some(version) => version,
            None => {
                // Nothing after this point waits on another writer's rows, so the lock is
                // held for two short statements and the commit.
                if let Some(lock) = sql.lock_version {
                    sqlx::query(lock)
                        .bind(VERSION_LOCK)
                        .execute(&mut *$tx)
                        .await?;
                }
                let version: i64 = sqlx::query_scalar(sql.take_version)
                    .bind(w.id)
                    .fetch_one(&mut *$tx)
                    .await?;
                if let Some(notify) = sql.notify {
                    sqlx::query(notify)
                        .bind(format!("{} {}", w.origin, w.id))
                        .execute(&mut *$tx)
                        .await?;
                }
                version
            }
        };
        Committed { seq, version }
    }};
}

/// Most writes one group commit holds: bounds how long the first waits for the last.
pub const GROUP_COMMIT_WRITES: usize = 64;

/// Most bytes of chunks one group commit holds (snapshots are the large ones).
pub const GROUP_COMMIT_BYTES: usize = 8 * 1024 * 1024;

/// How long a group waits for more writes when its first arrived within
/// [`COMMIT_DELAY_AFTER`] of the last commit (writes arriving as a stream).
pub const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

/// See [`COMMIT_DELAY`].
pub const COMMIT_DELAY_AFTER: std::time::Duration = std::time::Duration::from_millis(2);

/// SQLite's group commit of document writes.
///
/// SQLite commits one transaction at a time, and each commit writes the pages it changed
/// to the write-ahead log and waits for the disk (`synchronous = FULL`). Tablets write
/// many documents at once, one small change each, so one task commits them in groups:
/// it takes every write queued while the previous group committed (at most
/// [`GROUP_COMMIT_WRITES`] and [`GROUP_COMMIT_BYTES`]), runs them in one transaction
/// taken in the [`WriterQueue`](super::WriterQueue)'s turn, commits once and answers each
/// write with its own result. A write whose statements fail is refused alone: the group
/// runs again with each write in a savepoint, the failing one is rolled back to its
/// savepoint and answered with its error, and the group's other writes still commit.
/// A failed commit answers every write of the group with the error.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: tokio::sync::mpsc::Sender<Job>,
    stats: Arc<GroupStats>,
}

/// How many groups the group commit has committed, and how many writes they held.
#[derive(Debug, Default)]
pub struct GroupStats {
    /// Groups committed (or failed).
    pub groups: std::sync::atomic::AtomicU64,
    /// Writes they held.
    pub writes: std::sync::atomic::AtomicU64,
}

/// What the group commit's task is asked to do.
#[derive(Debug)]
enum Job {
    /// Commit a write with the next group.
    Write(Box<Queued>),
    /// Close the connection and stop; answered once closed.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// A write waiting for its group, with the channel its result goes back on.
#[derive(Debug)]
struct Queued {
    write: OwnedDocWrite,
    done: tokio::sync::oneshot::Sender<Result<Committed, StoreError>>,
}

/// A [`DocWrite`] the group commit's task owns.
#[derive(Debug)]
struct OwnedDocWrite {
    id: String,
    kind: String,
    site_id: Option<String>,
    template_id: Option<String>,
    created_by: Option<String>,
    chunk: Vec<u8>,
    snapshot: Option<Vec<u8>>,
    replaces: Vec<i64>,
    origin: String,
    projection: Option<Projection>,
    previous: Option<(i64, Written)>,
    author: Option<(String, i64)>,
}

impl OwnedDocWrite {
    fn of(w: &DocWrite<'_>) -> OwnedDocWrite {
        OwnedDocWrite {
            id: w.id.to_string(),
            kind: w.kind.to_string(),
            site_id: w.site_id.map(str::to_string),
            template_id: w.template_id.map(str::to_string),
            created_by: w.created_by.map(str::to_string),
            chunk: w.chunk.to_vec(),
            snapshot: w.snapshot.map(<[u8]>::to_vec),
            replaces: w.replaces.to_vec(),
            origin: w.origin.to_string(),
            projection: w.projection.cloned(),
            previous: w.previous.map(|(version, p)| (version, p.clone())),
            author: w.author.map(|a| (a.user_id.to_string(), a.rights_version)),
        }
    }

    fn as_write(&self) -> DocWrite<'_> {
        DocWrite {
            id: &self.id,
            kind: &self.kind,
            site_id: self.site_id.as_deref(),
            template_id: self.template_id.as_deref(),
            created_by: self.created_by.as_deref(),
            chunk: &self.chunk,
            snapshot: self.snapshot.as_deref(),
            replaces: &self.replaces,
            origin: &self.origin,
            projection: self.projection.as_ref(),
            previous: self.previous.as_ref().map(|(version, p)| (*version, p)),
            author: self
                .author
                .as_ref()
                .map(|(user_id, rights_version)| Author {
                    user_id,
                    rights_version: *rights_version,
                }),
        }
    }

    fn bytes(&self) -> usize {
        self.chunk.len() + self.snapshot.as_ref().map_or(0, Vec::len)
    }
}

impl GroupCommit {
    /// Starts the task that commits the writes to `pool`'s database, taking `turn` (the
    /// [`WriterQueue`](super::WriterQueue)'s) for each group. The task writes on a
    /// connection of its own, opened with the pool's options: SQLite drops a connection's
    /// page cache whenever another connection has committed since its last transaction,
    /// so a pooled connection would read the pages every group writes again from the
    /// file; the task's own keeps them. The task ends on [`GroupCommit::close`], or when
    /// every handle is dropped.
    pub(super) fn start(pool: &SqlitePool, turn: Arc<tokio::sync::Mutex<()>>) -> GroupCommit {
        let (queue, receiver) = tokio::sync::mpsc::channel(4 * GROUP_COMMIT_WRITES);
        let stats = Arc::new(GroupStats::default());
        let options = pool.connect_options();
        tokio::spawn(run_group_commit(options, turn, receiver, stats.clone()));
        GroupCommit { queue, stats }
    }

    /// Closes the task's connection after the writes queued before, and stops the task:
    /// later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.queue.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// Groups committed so far, and the writes they held.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.groups.load(Relaxed),
            self.stats.writes.load(Relaxed),
        )
    }

    /// Queues a write and waits for its group to commit.
    async fn write(&self, w: &DocWrite<'_>) -> Result<Committed, StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let queued = Queued {
            write: OwnedDocWrite::of(w),
            done,
        };
        if self.queue.send(Job::Write(Box::new(queued))).await.is_err() {
            return Err(StoreError::Closed);
        }
        result.await.unwrap_or(Err(StoreError::Closed))
    }
}

async fn run_group_commit(
    options: Arc<SqliteConnectOptions>,
    turn: Arc<tokio::sync::Mutex<()>>,
    mut receiver: tokio::sync::mpsc::Receiver<Job>,
    stats: Arc<GroupStats>,
) {
    let mut connection: Option<SqliteConnection> = None;
    let mut closing = None;
    // When the last group finished committing: a write arriving soon after it is taken as
    // one of a stream, and the group waits a little for the next ones.
    let mut last_commit = tokio::time::Instant::now() - COMMIT_DELAY_AFTER;
    while let Some(job) = receiver.recv().await {
        let first = match job {
            Job::Write(queued) => *queued,
            Job::Close(done) => {
                closing = Some(done);
                break;
            }
        };
        let mut bytes = first.write.bytes();
        let mut group = vec![first];
        let _turn = turn.lock().await;
        // Everything that arrived meanwhile (while the last group committed, or another
        // writer held the turn) joins this group; and when writes arrive as a stream, those
        // arriving within `COMMIT_DELAY` too.
        let deadline = (last_commit.elapsed() < COMMIT_DELAY_AFTER)
            .then(|| tokio::time::Instant::now() + COMMIT_DELAY);
        while group.len() < GROUP_COMMIT_WRITES && bytes < GROUP_COMMIT_BYTES {
            let next = match (receiver.try_recv(), deadline) {
                (Ok(job), _) => Some(job),
                (Err(_), Some(deadline)) => tokio::time::timeout_at(deadline, receiver.recv())
                    .await
                    .ok()
                    .flatten(),
                (Err(_), None) => None,
            };
            match next {
                Some(Job::Write(queued)) => {
                    bytes += queued.write.bytes();
                    group.push(*queued);
                }
                Some(Job::Close(done)) => {
                    closing = Some(done);
                    break;
                }
                None => break,
            }
        }
        stats
            .groups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stats
            .writes
            .fetch_add(group.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let open = match connection.take() {
            Some(open) => Ok(open),
            None => sqlx::ConnectOptions::connect(&*options).await,
        };
        match open {
            Ok(mut open) => {
                if commit_group(&mut open, group).await {
                    connection = Some(open);
                }
            }
            Err(e) => fail(group, &e.to_string()),
        }
        last_commit = tokio::time::Instant::now();
        if closing.is_some() {
            break;
        }
    }
    receiver.close();
    if let Some(open) = connection {
        let _ = sqlx::Connection::close(open).await;
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Answers every write of a group with the error that stopped it.
fn fail(group: Vec<Queued>, message: &str) {
    for queued in group {
        let _ = queued
            .done
            .send(Err(StoreError::GroupCommit(message.to_string())));
    }
}

/// How a group's writes went when run together, without a savepoint each.
enum Together {
    /// Every write ran and the transaction committed: each write's result.
    Committed(Vec<Committed>),
    /// A write failed; the transaction was rolled back and nothing of the group is stored.
    RolledBack,
    /// The transaction could not begin, be rolled back or commit: every write fails with
    /// this, and the connection is not trusted again.
    Broken(String),
}

/// Runs a group's writes in one transaction on `connection` and answers each. False if
/// the transaction could not begin or commit: the connection is then not trusted again.
///
/// The writes first run one after the other with no savepoint of their own, since a write
/// almost never fails: two statements fewer per write. If one does fail, the transaction
/// is rolled back and the group runs again with a savepoint per write
/// ([`commit_each`]), so that only the failing write is refused.
async fn commit_group(connection: &mut SqliteConnection, group: Vec<Queued>) -> bool {
    if group.len() > 1 {
        match commit_together(connection, &group).await {
            Together::Committed(committed) => {
                for (queued, committed) in group.into_iter().zip(committed) {
                    let _ = queued.done.send(Ok(committed));
                }
                return true;
            }
            Together::RolledBack => {}
            Together::Broken(why) => {
                fail(group, &why);
                return false;
            }
        }
    }
    commit_each(connection, group).await
}

/// The group's writes in one transaction, none in a savepoint of its own; see
/// [`commit_group`].
async fn commit_together(connection: &mut SqliteConnection, group: &[Queued]) -> Together {
    let mut tx = match sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return Together::Broken(e.to_string()),
    };
    let mut committed = Vec::with_capacity(group.len());
    for queued in group {
        let w = queued.write.as_write();
        let now = now_ms();
        let written: Result<Committed, StoreError> =
            async { Ok(doc_statements!(tx, &w, SQLITE, now)) }.await;
        match written {
            Ok(one) => committed.push(one),
            Err(_) => {
                return match tx.rollback().await {
                    Ok(()) => Together::RolledBack,
                    Err(e) => Together::Broken(e.to_string()),
                };
            }
        }
    }
    match tx.commit().await {
        Ok(()) => Together::Committed(committed),
        Err(e) => Together::Broken(e.to_string()),
    }
}

/// The group's writes in one transaction, each in a savepoint of its own, so that a
/// failing write is refused alone and the others commit; see [`commit_group`].
async fn commit_each(connection: &mut SqliteConnection, group: Vec<Queued>) -> bool {
    let mut tx = match sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            fail(group, &e.to_string());
            return false;
        }
    };
    let alone = group.len() == 1;
    let mut results = Vec::with_capacity(group.len());
    // Set when the group's transaction is gone: some failures make SQLite roll back the
    // whole transaction (a full disk, an I/O error), leaving no savepoint to return to.
    // The writes after it must not run (each savepoint would then be a transaction of its
    // own, committed behind the group's back), and those before it are lost too.
    let mut broken: Option<String> = None;
    for queued in &group {
        if let Some(why) = &broken {
            results.push(Err(StoreError::GroupCommit(why.clone())));
            continue;
        }
        let w = queued.write.as_write();
        let now = now_ms();
        let result: Result<Committed, StoreError> = if alone {
            async { Ok(doc_statements!(tx, &w, SQLITE, now)) }.await
        } else {
            match sqlx::Connection::begin(&mut *tx).await {
                Err(e) => {
                    broken = Some(e.to_string());
                    Err(e.into())
                }
                Ok(mut savepoint) => {
                    let written: Result<Committed, StoreError> =
                        async { Ok(doc_statements!(savepoint, &w, SQLITE, now)) }.await;
                    let ended = match written {
                        Ok(_) => savepoint.commit().await,
                        Err(_) => savepoint.rollback().await,
                    };
                    if let Err(e) = ended {
                        broken = Some(e.to_string());
                    }
                    written
                }
            }
        };
        results.push(result);
    }
    let mut healthy = true;
    if let Some(why) = broken {
        healthy = false;
        for result in &mut results {
            if result.is_ok() {
                *result = Err(StoreError::GroupCommit(why.clone()));
            }
        }
        // Whatever is left of the transaction rolls back when it is dropped.
        drop(tx);
    } else if alone && results.iter().any(Result::is_err) {
        if tx.rollback().await.is_err() {
            healthy = false;
        }
    } else if let Err(e) = tx.commit().await {
        healthy = false;
        let message = e.to_string();
        for result in &mut results {
            if result.is_ok() {
                *result = Err(StoreError::GroupCommit(message.clone()));
            }
        }
    }
    for (queued, result) in group.into_iter().zip(results) {
        // The writer may have gone (its connection closed): the write stands, unanswered.
        let _ = queued.done.send(result);
    }
    healthy
}

impl Store {
    /// The document's metadata, if the server has it.
    pub async fn doc_meta(&self, id: &str) -> Result<Option<DocMeta>, StoreError> {
        let row: Option<MetaRow> = with_pool!(self, pool => {
            sqlx::query_as("select id, kind, site_id, template_id, created_by, created_at, updated_at, version from documents where id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(meta))
    }

    /// The stored chunks of a document, in order (snapshot first).
    pub async fn doc_chunks(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .doc_chunks_numbered(id)
            .await?
            .into_iter()
            .map(|(_, data)| data)
            .collect())
    }

    /// The stored chunks of a document with their numbers, in order.
    pub async fn doc_chunks_numbered(&self, id: &str) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as("select seq, data from doc_chunks where doc_id = $1 order by seq")
                .bind(id)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Commits an accepted write: the chunk (or snapshot), the metadata, the projection.
    /// Returns the number of the chunk written and the document's new version. On
    /// PostgreSQL the commit also notifies every instance listening on [`CHANGES_CHANNEL`].
    ///
    /// The document's `version` (the discovery cursor) is taken in commit order: on SQLite
    /// the write transaction holds the database's write lock throughout (a write without a
    /// snapshot takes it in its first round trip, `DocSql::batched`); on PostgreSQL it is
    /// taken last, just before the commit, under the transaction-scoped
    /// advisory lock [`VERSION_LOCK`], which PostgreSQL releases only once the commit is
    /// visible. So a reader that sees version `v` also sees every version below it, and a
    /// poller paging with `since` never moves past a write still to commit.
    ///
    /// On SQLite, writes that arrive while another group commits are committed together
    /// (group commit, [`GroupCommit`]): each in a savepoint of one transaction, so one
    /// write's failure is its own and the others still commit. Every write returns only
    /// once its transaction has committed. PostgreSQL commits concurrent transactions
    /// together by itself.
    pub async fn write_doc(&self, w: &DocWrite<'_>) -> Result<Committed, StoreError> {
        match self {
            Store::Sqlite(_, queue) => queue.docs.write(w).await,
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let committed = doc_statements!(tx, w, POSTGRES, now_ms());
                tx.commit().await?;
                Ok(committed)
            }
        }
    }

    /// Documents of `sites` changed after version `since`, oldest change first. With
    /// `window_start` (ms), only what a floor device keeps (`shared::policy::device_keeps`):
    /// an inspection submitted and started before it is left out, by the times recorded on
    /// receipt.
    pub async fn docs_since(
        &self,
        sites: &[String],
        since: i64,
        limit: i64,
        window_start: Option<i64>,
    ) -> Result<Vec<DocMeta>, StoreError> {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<MetaRow> = with_pool!(self, pool => {
            let mut query = QueryBuilder::new("select ");
            query
                .push(META_COLUMNS)
                .push(" from documents where version > ")
                .push_bind(since)
                .push(" and site_id in ");
            push_in_list(&mut query, sites);
            if let Some(start) = window_start {
                query
                    .push(
                        " and not exists (select 1 from inspections i where i.doc_id = documents.id \
                         and i.submitted_at is not null and i.created_at < ",
                    )
                    .push_bind(start)
                    .push(")");
            }
            query.push(" order by version limit ").push_bind(limit);
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(meta).collect())
    }

    /// Inspections of `sites`, newest start first, strictly before `before` (start ms,
    /// document id) when given: keyset pages that neither skip nor repeat a row when
    /// two share a start time.
    pub async fn inspections_before(
        &self,
        sites: &[String],
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<InspectionRow>, StoreError> {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<InspectionRow> = with_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "select doc_id, site_id, template_id, created_by, created_at, submitted_at, \
                 violations, fine_yuan from inspections where site_id in ",
            );
            push_in_list(&mut query, sites);
            if let Some((at, id)) = before {
                query
                    .push(" and (created_at < ")
                    .push_bind(at)
                    .push(" or (created_at = ")
                    .push_bind(at)
                    .push(" and doc_id < ")
                    .push_bind(id.to_string())
                    .push("))");
            }
            query
                .push(" order by created_at desc, doc_id desc limit ")
                .push_bind(limit);
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The stored sync state of a peer storage for a document.
    pub async fn sync_state(
        &self,
        doc_id: &str,
        storage_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("select state from sync_states where doc_id = $1 and storage_id = $2")
                .bind(doc_id)
                .bind(storage_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Stores the sync states of one peer for many documents in one transaction: a peer
    /// that disconnects costs one write, not one per document it touched.
    pub async fn put_sync_states(
        &self,
        storage_id: &str,
        states: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        write_transaction!(self, tx => {
            let now = now_ms();
            for (doc_id, state) in states {
                sqlx::query(
                    "insert into sync_states (doc_id, storage_id, state, updated_at) values ($1, $2, $3, $4) \
                     on conflict (doc_id, storage_id) do update set state = excluded.state, updated_at = excluded.updated_at",
                )
                .bind(doc_id)
                .bind(storage_id)
                .bind(state)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        })
    }
}
