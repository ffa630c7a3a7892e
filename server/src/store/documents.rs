//! Automerge documents: metadata, stored bytes (a snapshot plus incremental chunks), and
//! the sync states of peers that have a storage id.

use sqlx::QueryBuilder;

use super::projection::Projection;
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
}

/// The PostgreSQL channel on which instances announce accepted changes
/// (payload: `<peer id> <document id>`).
pub const CHANGES_CHANNEL: &str = "walkaround_changes";

/// The PostgreSQL advisory lock (transaction-scoped) under which a write takes its document
/// version, so versions are taken in commit order across every instance ("walkvers").
pub const VERSION_LOCK: i64 = 0x7761_6c6b_7665_7273;

const META_COLUMNS: &str =
    "id, kind, site_id, template_id, created_by, created_at, updated_at, version";

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
    /// Returns the number of the chunk written. On PostgreSQL the commit also notifies
    /// every instance listening on [`CHANGES_CHANNEL`].
    ///
    /// The document's `version` (the discovery cursor) is taken last, just before the
    /// commit, and in commit order: on SQLite the write transaction holds the database's
    /// write lock throughout; on PostgreSQL it is taken under the transaction-scoped
    /// advisory lock [`VERSION_LOCK`], which PostgreSQL releases only once the commit is
    /// visible. So a reader that sees version `v` also sees every version below it, and a
    /// poller paging with `since` never moves past a write still to commit.
    pub async fn write_doc(&self, w: &DocWrite<'_>) -> Result<i64, StoreError> {
        let (lock_version, take_version, insert_chunk, notify) = match self {
            Store::Sqlite(..) => (
                None,
                "update documents set version = (select coalesce(max(version), 0) + 1 from documents) \
                 where id = $1 returning version",
                "insert into doc_chunks (doc_id, seq, kind, data) \
                 select $1, coalesce(max(seq), 0) + 1, $2, $3 from doc_chunks where doc_id = $1 returning seq",
                None,
            ),
            Store::Postgres(_) => (
                Some("select pg_advisory_xact_lock($1)"),
                "update documents set version = nextval('document_versions') where id = $1 returning version",
                "insert into doc_chunks (doc_id, seq, kind, data) values ($1, nextval('doc_chunk_seq'), $2, $3) returning seq",
                Some("select pg_notify('walkaround_changes', $1)"), // CHANGES_CHANNEL
            ),
        };
        let now = now_ms();
        write_transaction!(self, tx => {
            // A new document's row starts at version 0 (never listed: cursors start at 0
            // and list what is above) and gets its version at the end of the transaction.
            sqlx::query(
                "insert into documents (id, kind, site_id, template_id, created_by, created_at, updated_at, version) \
                 values ($1, $2, $3, $4, $5, $6, $7, 0) \
                 on conflict (id) do update set updated_at = excluded.updated_at",
            )
            .bind(w.id)
            .bind(w.kind)
            .bind(w.site_id)
            .bind(w.template_id)
            .bind(w.created_by)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if w.snapshot.is_some() {
                for seq in w.replaces {
                    sqlx::query("delete from doc_chunks where doc_id = $1 and seq = $2")
                        .bind(w.id)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let (kind, data) = match w.snapshot {
                Some(snapshot) => ("snapshot", snapshot),
                None => ("incremental", w.chunk),
            };
            let seq: i64 = sqlx::query_scalar(insert_chunk)
                .bind(w.id)
                .bind(kind)
                .bind(data)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(p) = w.projection {
                crate::write_projection!(tx, w.id, p, now);
            }
            // Nothing after this point waits on another writer's rows, so the lock is held
            // for two short statements and the commit.
            if let Some(lock) = lock_version {
                sqlx::query(lock).bind(VERSION_LOCK).execute(&mut *tx).await?;
            }
            let _version: i64 = sqlx::query_scalar(take_version)
                .bind(w.id)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(notify) = notify {
                sqlx::query(notify)
                    .bind(format!("{} {}", w.origin, w.id))
                    .execute(&mut *tx)
                    .await?;
            }
            seq
        })
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
