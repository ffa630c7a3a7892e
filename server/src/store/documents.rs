//! Automerge documents: metadata, stored bytes (a snapshot plus incremental chunks), and
//! the sync states of peers that have a storage id.

use sqlx::QueryBuilder;

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

/// A document's metadata upsert, returning the version it had ($1–$7; a new row gets 0).
/// Both dialects.
pub(super) const UPSERT_METADATA: &str = "insert into documents (id, kind, site_id, template_id, created_by, created_at, updated_at, version) \
     values ($1, $2, $3, $4, $5, $6, $7, 0) \
     on conflict (id) do update set updated_at = excluded.updated_at returning version";

/// A chunk a snapshot replaces ($1 the document, $2 its number). Both dialects.
pub(super) const DELETE_CHUNK: &str = "delete from doc_chunks where doc_id = $1 and seq = $2";

/// Whether a write's [`Author`] still has the rights its change was judged with ($1 the
/// user, $2 the version): a row if so. The user's row stays locked `for share` until the
/// commit, so a change to the rights waits for the write.
const PG_CHECK_RIGHTS: &str =
    "select id from users where id = $1 and rights_version = $2 and not disabled for share";

/// A chunk's insert, returning its number ($1 the document, $2 its kind, $3 its bytes).
const PG_INSERT_CHUNK: &str = "insert into doc_chunks (doc_id, seq, kind, data) \
     values ($1, nextval('doc_chunk_seq'), $2, $3) returning seq";

/// The document's new version ($1 the document), taken under [`VERSION_LOCK`].
const PG_TAKE_VERSION: &str =
    "update documents set version = nextval('document_versions') where id = $1 returning version";

/// The statements of one [`DocWrite`] on PostgreSQL, on the open transaction `tx`,
/// received at `now` (ms); SQLite's are in [`super::group_commit`].
///
/// The author's rights are checked first, the metadata upserted (returning the version
/// the document had, which says whether anyone wrote it since `previous`; the row stays
/// locked until the commit), the chunk (or snapshot) written and the office's rows; the
/// version is taken last, under the transaction-scoped advisory lock [`VERSION_LOCK`], and
/// the other instances notified.
///
/// Errors: [`StoreError::RightsChanged`] when the author's rights moved; a failing
/// statement's error. The caller rolls the transaction back.
async fn write_postgres(
    tx: &mut sqlx::PgConnection,
    w: &DocWrite<'_>,
    now: i64,
) -> Result<Committed, StoreError> {
    if let Some(author) = w.author {
        let holds: Option<String> = sqlx::query_scalar(PG_CHECK_RIGHTS)
            .bind(author.user_id)
            .bind(author.rights_version)
            .fetch_optional(&mut *tx)
            .await?;
        if holds.is_none() {
            return Err(StoreError::RightsChanged);
        }
    }
    let stored_version: i64 = sqlx::query_scalar(UPSERT_METADATA)
        .bind(w.id)
        .bind(w.kind)
        .bind(w.site_id)
        .bind(w.template_id)
        .bind(w.created_by)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let (kind, data) = match w.snapshot {
        Some(snapshot) => {
            for seq in w.replaces {
                sqlx::query(DELETE_CHUNK)
                    .bind(w.id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
            ("snapshot", snapshot)
        }
        None => ("incremental", w.chunk),
    };
    let seq: i64 = sqlx::query_scalar(PG_INSERT_CHUNK)
        .bind(w.id)
        .bind(kind)
        .bind(data)
        .fetch_one(&mut *tx)
        .await?;
    if let Some(p) = w.projection {
        let previous = w
            .previous
            .and_then(|(version, previous)| (version == stored_version).then_some(previous));
        crate::write_projection!(tx, w.id, p, previous, now);
    }
    // Nothing after this point waits on another writer's rows, so the lock is held for
    // two short statements and the commit.
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(VERSION_LOCK)
        .execute(&mut *tx)
        .await?;
    let version: i64 = sqlx::query_scalar(PG_TAKE_VERSION)
        .bind(w.id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(format!("{} {}", w.origin, w.id))
        .execute(&mut *tx)
        .await?;
    Ok(Committed { seq, version })
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
    /// the write transaction holds the database's write lock throughout (`BEGIN IMMEDIATE`);
    /// on PostgreSQL it is
    /// taken last, just before the commit, under the transaction-scoped
    /// advisory lock [`VERSION_LOCK`], which PostgreSQL releases only once the commit is
    /// visible. So a reader that sees version `v` also sees every version below it, and a
    /// poller paging with `since` never moves past a write still to commit.
    ///
    /// On SQLite, writes that arrive while another group commits are committed together
    /// (group commit, [`GroupCommit`](super::group_commit::GroupCommit)): in one transaction,
    /// with a savepoint each when one of them fails, so one
    /// write's failure is its own and the others still commit. Every write returns only
    /// once its transaction has committed. PostgreSQL commits concurrent transactions
    /// together by itself.
    pub async fn write_doc(&self, w: &DocWrite<'_>) -> Result<Committed, StoreError> {
        match self {
            Store::Sqlite(_, queue) => queue.docs.write(w).await,
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let committed = write_postgres(&mut tx, w, now_ms()).await?;
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
