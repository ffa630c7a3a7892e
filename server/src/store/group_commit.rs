//! SQLite's group commit of document writes, on a thread of its own.
//!
//! SQLite commits one transaction at a time, and each commit writes the pages it changed
//! to the write-ahead log and waits for the disk (`synchronous = FULL`). Tablets write
//! many documents at once, one small change each, so one thread commits them in groups
//! (see [`GroupCommit`]).
//!
//! The thread calls SQLite directly (rusqlite), not through sqlx: sqlx runs each SQLite
//! connection on a worker thread of its own and hands every statement and every row to
//! it and back, two thread wake-ups per statement. A group of three writes is some ten
//! statements, and those hand-offs were a sixth of the server's CPU in the benchmark's
//! concurrent phase (issue 21, docs/BENCHMARKS.md "Session 18"). Here a group costs one
//! hand-off in and one answer per write out; the statements are prepared once and kept.
//! The metadata's upsert, the deletion of the chunks a snapshot replaces and the office's
//! rows ([`super::projection`]) are the statements PostgreSQL's writes run through sqlx,
//! bound with the same values; the chunk's number, the version and the rights check are
//! SQLite's own (write transactions run one at a time here, so they need neither
//! sequences nor row locks).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, TransactionBehavior};

use super::documents::{Author, Committed, DELETE_CHUNK, DocWrite, UPSERT_METADATA};
use super::projection::{self, Bound, Projection, Written};
use super::{BUSY_TIMEOUT, StoreError, now_ms};

/// Most writes one group commit holds: bounds how long the first waits for the last.
pub const GROUP_COMMIT_WRITES: usize = 64;

/// Most bytes of chunks one group commit holds (snapshots are the large ones).
pub const GROUP_COMMIT_BYTES: usize = 8 * 1024 * 1024;

/// How long a group waits for more writes when its first arrived within
/// [`COMMIT_DELAY_AFTER`] of the last commit (writes arriving as a stream).
pub const COMMIT_DELAY: Duration = Duration::from_millis(1);

/// See [`COMMIT_DELAY`].
pub const COMMIT_DELAY_AFTER: Duration = Duration::from_millis(2);

/// SQLite's group commit of document writes.
///
/// One thread takes every write queued while the previous group committed (at most
/// [`GROUP_COMMIT_WRITES`] and [`GROUP_COMMIT_BYTES`]), runs them in one transaction
/// taken in the [`WriterQueue`](super::WriterQueue)'s turn, commits once and answers each
/// write with its own result. A write whose statements fail is refused alone: the group
/// runs again with each write in a savepoint, the failing one is rolled back to its
/// savepoint and answered with its error, and the group's other writes still commit.
/// A failed commit answers every write of the group with the error.
///
/// The thread writes on a connection of its own, opened with the pool's database file and
/// pragmas: SQLite drops a connection's page cache whenever another connection has
/// committed since its last transaction, so a pooled connection would read the pages
/// every group writes again from the file; the thread's own keeps them.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: tokio::sync::mpsc::Sender<Job>,
    stats: Arc<GroupStats>,
}

/// How many groups the group commit has committed, and how many writes they held.
#[derive(Debug, Default)]
struct GroupStats {
    /// Groups committed (or failed).
    groups: AtomicU64,
    /// Writes they held.
    writes: AtomicU64,
}

/// What the group commit's thread is asked to do.
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

/// A [`DocWrite`] the group commit's thread owns.
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
            projection: w.projection.cloned(),
            previous: w.previous.map(|(version, p)| (version, p.clone())),
            author: w
                .author
                .map(|a: Author<'_>| (a.user_id.to_string(), a.rights_version)),
        }
    }

    fn bytes(&self) -> usize {
        self.chunk.len() + self.snapshot.as_ref().map_or(0, Vec::len)
    }
}

impl GroupCommit {
    /// Starts the thread that commits the writes to the SQLite database `file`, taking
    /// `turn` (the [`WriterQueue`](super::WriterQueue)'s) for each group. Its connection is
    /// opened on the first write. The thread ends on [`GroupCommit::close`], or when every
    /// handle is dropped.
    ///
    /// Errors: the thread could not be started (the system's thread limit).
    pub(super) fn start(
        file: PathBuf,
        turn: Arc<tokio::sync::Mutex<()>>,
    ) -> std::io::Result<GroupCommit> {
        let (queue, receiver) = tokio::sync::mpsc::channel(4 * GROUP_COMMIT_WRITES);
        let stats = Arc::new(GroupStats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("group-commit".to_string())
            .spawn(move || run(&file, &turn, receiver, &counted))?;
        Ok(GroupCommit { queue, stats })
    }

    /// Closes the thread's connection after the writes queued before, and stops the
    /// thread: later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.queue.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// Groups committed so far, and the writes they held.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.groups.load(Relaxed),
            self.stats.writes.load(Relaxed),
        )
    }

    /// Queues a write and waits for its group to commit.
    pub(super) async fn write(&self, w: &DocWrite<'_>) -> Result<Committed, StoreError> {
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

/// The group commit's thread: groups the queued writes and commits each group.
fn run(
    file: &std::path::Path,
    turn: &tokio::sync::Mutex<()>,
    mut receiver: tokio::sync::mpsc::Receiver<Job>,
    stats: &GroupStats,
) {
    let mut connection: Option<Connection> = None;
    let mut closing = None;
    // When the last group finished committing: a write arriving soon after it is taken as
    // one of a stream, and the group waits a little for the next ones.
    let mut last_commit: Option<Instant> = None;
    while let Some(job) = receiver.blocking_recv() {
        let first = match job {
            Job::Write(queued) => *queued,
            Job::Close(done) => {
                closing = Some(done);
                break;
            }
        };
        let mut bytes = first.write.bytes();
        let mut group = vec![first];
        let _turn = turn.blocking_lock();
        // Everything that arrived meanwhile (while the last group committed, or another
        // writer held the turn) joins this group; and when writes arrive as a stream, those
        // arriving within `COMMIT_DELAY` too.
        let mut delay = last_commit
            .is_some_and(|at| at.elapsed() < COMMIT_DELAY_AFTER)
            .then_some(COMMIT_DELAY);
        while group.len() < GROUP_COMMIT_WRITES && bytes < GROUP_COMMIT_BYTES {
            let next = match receiver.try_recv() {
                Ok(job) => job,
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => match delay.take() {
                    // Waited once, then everything that came meanwhile is taken.
                    Some(delay) => {
                        std::thread::sleep(delay);
                        continue;
                    }
                    None => break,
                },
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => break,
            };
            match next {
                Job::Write(queued) => {
                    bytes += queued.write.bytes();
                    group.push(*queued);
                }
                Job::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
        }
        stats.groups.fetch_add(1, Relaxed);
        stats.writes.fetch_add(group.len() as u64, Relaxed);
        let open = match connection.take() {
            Some(open) => Ok(open),
            None => open(file),
        };
        match open {
            Ok(mut open) => {
                if commit_group(&mut open, group) {
                    connection = Some(open);
                } else {
                    tracing::warn!(
                        "a group of document writes failed as a whole; its connection is reopened for the next"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the group commit's connection");
                fail(group, &e.to_string());
            }
        }
        last_commit = Some(Instant::now());
        if closing.is_some() {
            break;
        }
    }
    receiver.close();
    drop(connection);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Opens the thread's connection with the pool's pragmas (see `Store::open`).
///
/// Errors: SQLite cannot open the file or set a pragma; the file is not in WAL mode.
fn open(file: &std::path::Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(file)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // The pool set it already, and the file keeps it; set again all the same, since the
    // group's durability rests on it. The pragma answers with the mode now in force.
    let mode: String = connection.query_row("pragma journal_mode = wal", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::GroupCommit(format!(
            "the database is in journal mode {mode}, not WAL"
        )));
    }
    connection.pragma_update(None, "synchronous", "full")?;
    connection.pragma_update(None, "foreign_keys", "on")?;
    connection.pragma_update(None, "temp_store", "memory")?;
    Ok(connection)
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
fn commit_group(connection: &mut Connection, group: Vec<Queued>) -> bool {
    if group.len() > 1 {
        match commit_together(connection, &group) {
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
    commit_each(connection, group)
}

/// The group's writes in one transaction, none in a savepoint of its own; see
/// [`commit_group`].
fn commit_together(connection: &mut Connection, group: &[Queued]) -> Together {
    let tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Together::Broken(e.to_string()),
    };
    let mut committed = Vec::with_capacity(group.len());
    for queued in group {
        match write(&tx, &queued.write, now_ms()) {
            Ok(one) => committed.push(one),
            // SQLite rolled the whole transaction back (a full disk, an I/O error): the
            // write's own error is the cause, and the group is lost.
            Err(e) if tx.is_autocommit() => return Together::Broken(e.to_string()),
            Err(_) => {
                return match tx.rollback() {
                    Ok(()) => Together::RolledBack,
                    Err(e) => Together::Broken(e.to_string()),
                };
            }
        }
    }
    match tx.commit() {
        Ok(()) => Together::Committed(committed),
        Err(e) => Together::Broken(e.to_string()),
    }
}

/// The group's writes in one transaction, each in a savepoint of its own, so that a
/// failing write is refused alone and the others commit; see [`commit_group`].
fn commit_each(connection: &mut Connection, group: Vec<Queued>) -> bool {
    let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
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
        let now = now_ms();
        let result = if alone {
            write(&tx, &queued.write, now)
        } else {
            match tx.savepoint() {
                Err(e) => {
                    broken = Some(e.to_string());
                    Err(e.into())
                }
                Ok(savepoint) => {
                    let written = write(&savepoint, &queued.write, now);
                    let ended = match &written {
                        // SQLite rolled the whole transaction back: nothing to return to,
                        // and the write's own error is the cause.
                        Err(e) if savepoint.is_autocommit() => Err(e.to_string()),
                        Ok(_) => savepoint.commit().map_err(|e| e.to_string()),
                        // Rolled back to, and released.
                        Err(_) => savepoint.finish().map_err(|e| e.to_string()),
                    };
                    if let Err(why) = ended {
                        broken = Some(why);
                    }
                    written
                }
            }
        };
        if broken.is_none() && tx.is_autocommit() {
            broken = Some(match &result {
                Err(e) => e.to_string(),
                Ok(_) => "SQLite rolled the group's transaction back".to_string(),
            });
        }
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
        if tx.rollback().is_err() {
            healthy = false;
        }
    } else if let Err(e) = tx.commit() {
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

/// Whether the author still has the rights the change was judged with ($1 the user, $2
/// the version): SQLite's write transactions run one at a time, so nothing changes the
/// row before the commit.
const CHECK_RIGHTS: &str =
    "select 1 from users where id = $1 and rights_version = $2 and not disabled";

/// A chunk's insert, returning its number ($1 the document, $2 its kind, $3 its bytes).
const INSERT_CHUNK: &str = "insert into doc_chunks (doc_id, seq, kind, data) \
     select $1, coalesce(max(seq), 0) + 1, $2, $3 from doc_chunks where doc_id = $1 returning seq";

/// The document's new version ($1 the document): one above every version taken, in
/// commit order since write transactions run one at a time.
const TAKE_VERSION: &str = "update documents set version = (select coalesce(max(version), 0) + 1 from documents) \
     where id = $1 returning version";

/// The statements of one write, on the open transaction (or savepoint) `tx`, received at
/// `now` (ms): the author's rights, the metadata, the chunk (or the snapshot and the
/// deletion of the chunks it replaces), the office's rows and the version.
///
/// Errors: [`StoreError::RightsChanged`] when the author's rights moved; a failing
/// statement's error. The caller rolls back whatever of the write ran.
fn write(tx: &Connection, w: &OwnedDocWrite, now: i64) -> Result<Committed, StoreError> {
    if let Some((user_id, rights_version)) = &w.author {
        let holds = tx
            .prepare_cached(CHECK_RIGHTS)?
            .exists((user_id, rights_version))?;
        if !holds {
            return Err(StoreError::RightsChanged);
        }
    }
    let stored_version: i64 = tx.prepare_cached(UPSERT_METADATA)?.query_row(
        (
            &w.id,
            &w.kind,
            &w.site_id,
            &w.template_id,
            &w.created_by,
            now,
            now,
        ),
        |row| row.get(0),
    )?;
    let (kind, data) = match &w.snapshot {
        Some(snapshot) => {
            let mut delete = tx.prepare_cached(DELETE_CHUNK)?;
            for seq in &w.replaces {
                delete.execute((&w.id, seq))?;
            }
            ("snapshot", snapshot)
        }
        None => ("incremental", &w.chunk),
    };
    let seq: i64 = tx
        .prepare_cached(INSERT_CHUNK)?
        .query_row((&w.id, kind, data), |row| row.get(0))?;
    if let Some(p) = &w.projection {
        let previous = w
            .previous
            .as_ref()
            .and_then(|(version, previous)| (*version == stored_version).then_some(previous));
        write_projection(tx, &w.id, p, previous, now)?;
    }
    let version: i64 = tx
        .prepare_cached(TAKE_VERSION)?
        .query_row([&w.id], |row| row.get(0))?;
    Ok(Committed { seq, version })
}

/// The office's rows of a document, as `write_projection!` writes them through sqlx: the
/// same statements with the same values ([`Bound`]).
fn write_projection(
    tx: &Connection,
    doc_id: &str,
    p: &Projection,
    previous: Option<&Written>,
    now: i64,
) -> rusqlite::Result<()> {
    let stored: Vec<String> = match previous {
        Some(_) => Vec::new(),
        None => tx
            .prepare_cached(projection::VIOLATION_KEYS)?
            .query_map([doc_id], |row| row.get(0))?
            .collect::<Result<_, _>>()?,
    };
    let delta = p.delta_from(previous.ok_or(&stored[..]));
    if delta.inspection {
        tx.prepare_cached(projection::UPSERT_INSPECTION)?
            .execute(rusqlite::params_from_iter(p.inspection.bound(doc_id, now)))?;
    }
    if !delta.gone.is_empty() {
        let mut delete = tx.prepare_cached(projection::DELETE_VIOLATION)?;
        for key in delta.gone {
            delete.execute((doc_id, key))?;
        }
    }
    if !delta.changed.is_empty() {
        let mut upsert = tx.prepare_cached(projection::UPSERT_VIOLATION)?;
        for v in delta.changed {
            upsert.execute(rusqlite::params_from_iter(v.bound(doc_id, now)))?;
        }
    }
    Ok(())
}

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Bound::Text(v) => ToSqlOutput::from(v),
            Bound::MaybeText(v) => v.map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Bound::Int(v) => ToSqlOutput::from(v),
            Bound::MaybeInt(v) => v.map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Bound::Bool(v) => ToSqlOutput::from(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated database in a directory of its own, the store that made it, and a
    /// connection of the group commit's kind to it.
    struct Scratch {
        store: super::super::Store,
        dir: PathBuf,
        connection: Connection,
    }

    impl Scratch {
        /// Opens the database `name`, with the statements `setup` run on it (a trigger).
        async fn new(name: &str, setup: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "walkaround-group-commit-{name}-{}-{}",
                std::process::id(),
                now_ms()
            ));
            let store = super::super::Store::open(&crate::config::Database::Sqlite {
                data_dir: dir.clone(),
            })
            .await
            .expect("the store opens");
            let connection = open(&dir.join("walkaround.db")).expect("the connection opens");
            connection
                .execute_batch(setup)
                .expect("sets up the database");
            Scratch {
                store,
                dir,
                connection,
            }
        }

        /// Closes both and removes the directory.
        async fn finish(self) {
            drop(self.connection);
            self.store.close().await;
            let _ = std::fs::remove_dir_all(self.dir);
        }
    }

    /// Every statement binds its values by position, which is the `$n` of its text only
    /// when each `$n` first appears in order: SQLite numbers named parameters by first
    /// appearance. Checked on the real schema.
    #[tokio::test]
    async fn every_statement_numbers_its_parameters_in_order() {
        let scratch = Scratch::new("parameters", "").await;
        for statement in [
            CHECK_RIGHTS,
            UPSERT_METADATA,
            DELETE_CHUNK,
            INSERT_CHUNK,
            TAKE_VERSION,
            projection::VIOLATION_KEYS,
            projection::UPSERT_INSPECTION,
            projection::DELETE_VIOLATION,
            projection::UPSERT_VIOLATION,
        ] {
            let prepared = scratch.connection.prepare(statement).expect(statement);
            let count = prepared.parameter_count();
            assert!(count > 0, "{statement}");
            for n in 1..=count {
                assert_eq!(
                    prepared.parameter_name(n),
                    Some(format!("${n}").as_str()),
                    "{statement}"
                );
            }
        }
        scratch.finish().await;
    }

    type Answer = tokio::sync::oneshot::Receiver<Result<Committed, StoreError>>;

    /// A write of one chunk to a new document `id`, and where its answer arrives.
    fn queued(id: &str) -> (Queued, Answer) {
        let (done, answer) = tokio::sync::oneshot::channel();
        let write = OwnedDocWrite {
            id: id.to_string(),
            kind: "inspection".to_string(),
            site_id: None,
            template_id: None,
            created_by: None,
            chunk: b"chunk".to_vec(),
            snapshot: None,
            replaces: Vec::new(),
            projection: None,
            previous: None,
            author: None,
        };
        (Queued { write, done }, answer)
    }

    /// The group of writes to `ids` committed by `commit`: whether the connection is
    /// still trusted, each write's answer, and which of the documents are stored.
    fn commit_with(
        connection: &mut Connection,
        commit: fn(&mut Connection, Vec<Queued>) -> bool,
        ids: &[&str],
    ) -> (bool, Vec<Result<Committed, String>>, Vec<String>) {
        let (group, answers): (Vec<Queued>, Vec<Answer>) = ids.iter().map(|id| queued(id)).unzip();
        let healthy = commit(connection, group);
        let answers = answers
            .into_iter()
            .map(|mut a| {
                a.try_recv()
                    .expect("every write is answered")
                    .map_err(|e| e.to_string())
            })
            .collect();
        let mut stored = Vec::new();
        for id in ids {
            let n: i64 = connection
                .query_row(
                    "select count(*) from documents where id = $1",
                    [id],
                    |row| row.get(0),
                )
                .expect("counts");
            if n > 0 {
                stored.push(id.to_string());
            }
        }
        (healthy, answers, stored)
    }

    /// A write that makes SQLite roll back the whole transaction (as a full disk does;
    /// here a trigger's `raise(rollback)`) fails its whole group, whether the group ran
    /// together or a savepoint each, and every write is told the write's own error; none
    /// runs outside the transaction, and the connection is not trusted again.
    #[tokio::test]
    async fn a_write_that_ends_the_transaction_fails_its_group_with_its_own_error() {
        let mut scratch = Scratch::new(
            "ends",
            "create trigger ends before insert on doc_chunks when new.doc_id like 'ends%' \
             begin select raise(rollback, 'made to fail'); end",
        )
        .await;
        for (commit, ids) in [
            (
                commit_group as fn(&mut Connection, Vec<Queued>) -> bool,
                ["a1", "ends1", "b1"],
            ),
            (commit_each, ["a2", "ends2", "b2"]),
        ] {
            let (healthy, answers, stored) = commit_with(&mut scratch.connection, commit, &ids);
            assert!(!healthy, "{ids:?}");
            for answer in &answers {
                assert!(
                    matches!(answer, Err(why) if why.contains("made to fail")),
                    "{ids:?}: {answers:?}"
                );
            }
            assert!(stored.is_empty(), "{ids:?}: {stored:?}");
        }
        scratch.finish().await;
    }

    /// A write whose statement fails without ending the transaction (a trigger's
    /// `raise(abort)`) is refused alone: the group runs again a savepoint each, and the
    /// other writes commit.
    #[tokio::test]
    async fn a_write_that_fails_its_statement_is_refused_alone() {
        let mut scratch = Scratch::new(
            "alone",
            "create trigger aborts before insert on doc_chunks when new.doc_id = 'aborts' \
             begin select raise(abort, 'made to fail'); end",
        )
        .await;
        let (healthy, answers, stored) =
            commit_with(&mut scratch.connection, commit_group, &["a", "aborts", "b"]);
        assert!(healthy);
        assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
        assert!(
            matches!(&answers[1], Err(why) if why.contains("made to fail")),
            "{answers:?}"
        );
        assert_eq!(stored, ["a", "b"]);
        scratch.finish().await;
    }
}
