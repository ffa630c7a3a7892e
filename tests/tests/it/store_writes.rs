//! How documents are written: the office's rows as a delta (a write that knows the rows it
//! wrote last changes only those that differ, and the rows are those a full write leaves,
//! also when another writer, another instance, wrote the document in between), and
//! SQLite's group commit (writes that queue while one commits are committed together,
//! and one write's failure is its own).

use server::store::documents::{Author, Committed, DocWrite};
use server::store::projection::{Evidence, InspectionRow, Projection, ViolationRow, Written};
use walkaround_tests::tablet::random_doc_id;
use walkaround_tests::{Db, spawn};

walkaround_tests::on_both_databases!(
    a_delta_write_leaves_the_rows_of_a_full_write,
    a_write_after_another_writer_writes_every_row,
    a_write_judged_on_rights_that_changed_stores_nothing,
);

#[tokio::test]
async fn writes_queued_together_commit_together_and_one_failure_is_its_own() {
    let app = spawn(Db::Sqlite).await;
    let store = &app.state.store;
    // A write to this document fails inside the database, as a full disk or a constraint
    // would: its statements abort, the others of its group do not.
    let pool = sqlite_pool(store);
    let poisoned = "poisoned-document".to_string();
    fail_chunks_of(pool, &poisoned, "abort").await;
    let (groups_before, writes_before) = store.group_commits();

    let ids: Vec<String> = (0..30).map(|_| random_doc_id().to_string()).collect();
    let p = projection(vec![row("a", 1, "x")]);
    let all: Vec<String> = ids.iter().cloned().chain([poisoned.clone()]).collect();
    let mut versions = Vec::new();
    for (id, result) in all.iter().zip(queued_together(store, &all, &p).await) {
        if *id == poisoned {
            assert!(result.is_err(), "the poisoned write fails");
        } else {
            versions.push(result.expect("the others commit").version);
        }
    }
    let (groups, writes) = store.group_commits();
    assert_eq!(
        writes - writes_before,
        31,
        "every write went through the group commit"
    );
    assert!(
        groups - groups_before <= 2,
        "the queued writes committed together ({} groups)",
        groups - groups_before
    );
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 30, "each write took its own version");

    for id in &ids {
        let chunk: Vec<u8> = sqlx::query_scalar("select data from doc_chunks where doc_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("the chunk is stored");
        assert_eq!(chunk, id.as_bytes());
        assert_eq!(stored(&app, id).await, expected(&p));
    }
    let left: i64 = sqlx::query_scalar(
        "select (select count(*) from documents where id = $1) \
         + (select count(*) from violations where doc_id = $1) \
         + (select count(*) from inspections where doc_id = $1)",
    )
    .bind(&poisoned)
    .fetch_one(pool)
    .await
    .expect("counts");
    assert_eq!(left, 0, "nothing of the failed write is stored");

    // Alone in its group, it fails the same way, and the next write still commits.
    let alone = |id: String| {
        let store = store.clone();
        let p = p.clone();
        async move { store.write_doc(&doc_write(&id, b"alone", &p, None)).await }
    };
    assert!(alone(poisoned.clone()).await.is_err());
    let next = random_doc_id().to_string();
    alone(next.clone()).await.expect("the next write commits");
    assert_eq!(stored(&app, &next).await, expected(&p));
}

/// A document write of the test's site and template.
/// The SQLite pool of `store`.
fn sqlite_pool(store: &server::store::Store) -> &sqlx::SqlitePool {
    let server::store::Store::Sqlite(pool, _) = store else {
        panic!("a SQLite store");
    };
    pool
}

/// Makes every chunk SQLite is asked to store for the document `doc_id` fail inside the
/// database with `raise(how, …)`: `abort` ends the statement, `rollback` the whole
/// transaction.
async fn fail_chunks_of(pool: &sqlx::SqlitePool, doc_id: &str, how: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create trigger fail_{how} before insert on doc_chunks when new.doc_id = '{doc_id}' \
         begin select raise({how}, 'made to fail'); end"
    )))
    .execute(pool)
    .await
    .expect("creates the trigger");
}

fn doc_write<'a>(
    id: &'a str,
    chunk: &'a [u8],
    projection: &'a Projection,
    previous: Option<(i64, &'a Written)>,
) -> DocWrite<'a> {
    DocWrite {
        id,
        kind: "inspection",
        site_id: Some("demo-site"),
        template_id: Some("workshop-walkaround"),
        created_by: Some("wang"),
        chunk,
        snapshot: None,
        replaces: &[],
        origin: "test",
        projection: Some(projection),
        previous,
        author: None,
    }
}

/// The version of wang's rights as stored now.
async fn wangs_rights(store: &server::store::Store) -> i64 {
    store
        .user_for_sync("wang")
        .await
        .expect("reads")
        .expect("wang exists")
        .version
}

/// `w` as a change of wang's, judged with his rights at `rights_version`.
fn by_wang(w: DocWrite<'_>, rights_version: i64) -> DocWrite<'_> {
    DocWrite {
        author: Some(Author {
            user_id: "wang",
            rights_version,
        }),
        ..w
    }
}

/// Writes one document per id while another writer holds the turn, queued in this order,
/// so that they commit as one group; their results, in the same order.
async fn queued_together(
    store: &server::store::Store,
    ids: &[String],
    p: &Projection,
) -> Vec<Result<Committed, server::store::StoreError>> {
    let turn = store.begin_write().await;
    let mut writes = Vec::new();
    for id in ids {
        let store = store.clone();
        let id = id.clone();
        let p = p.clone();
        writes.push(tokio::spawn(async move {
            store
                .write_doc(&doc_write(&id, id.as_bytes(), &p, None))
                .await
        }));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(turn);
    let mut results = Vec::new();
    for write in writes {
        results.push(write.await.expect("the write's task"));
    }
    results
}

fn row(key: &str, occurrences: i64, note: &str) -> ViolationRow {
    ViolationRow {
        answer_key: key.to_string(),
        site_id: "demo-site".to_string(),
        rule_id: "R-test".to_string(),
        template_id: "workshop-walkaround".to_string(),
        item_id: key.to_string(),
        area_id: None,
        responsible_role: "team_lead".to_string(),
        occurrences,
        fine_type: "yuan".to_string(),
        fine_yuan: 50,
        conflict: false,
        after_submission: false,
        recorded_at: 1_700_000_000_000,
        recorded_by: "wang".to_string(),
        evidence: Evidence::from(format!("[{{\"note\":\"{note}\"}}]")),
    }
}

fn projection(violations: Vec<ViolationRow>) -> Projection {
    Projection {
        inspection: InspectionRow {
            site_id: "demo-site".to_string(),
            template_id: "workshop-walkaround".to_string(),
            template_version: 1,
            created_by: "wang".to_string(),
            created_at: 1_700_000_000_000,
            submitted_by: None,
            submitted_at: None,
            conflicts: 0,
            violations: violations.len() as i64,
            fine_yuan: 50 * violations.len() as i64,
        },
        violations,
    }
}

async fn write(
    app: &walkaround_tests::TestApp,
    id: &str,
    p: &Projection,
    previous: Option<(i64, &Projection)>,
) -> Committed {
    let written = previous.map(|(version, p)| (version, p.written()));
    let previous = written.as_ref().map(|(version, w)| (*version, w));
    app.state
        .store
        .write_doc(&doc_write(id, b"chunk", p, previous))
        .await
        .expect("writes")
}

/// The stored violation rows of `id`: key, occurrences and evidence, by key; and the
/// inspection row's violation count.
async fn stored(app: &walkaround_tests::TestApp, id: &str) -> (Vec<(String, i64, String)>, i64) {
    server::with_pool!(&app.state.store, pool => {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "select answer_key, occurrences, evidence from violations where doc_id = $1 order by answer_key",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .expect("reads violations");
        let count: i64 = sqlx::query_scalar("select violations from inspections where doc_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("reads the inspection");
        (rows, count)
    })
}

fn expected(p: &Projection) -> (Vec<(String, i64, String)>, i64) {
    let mut rows: Vec<(String, i64, String)> = p
        .violations
        .iter()
        .map(|v| {
            (
                v.answer_key.clone(),
                v.occurrences,
                v.evidence.as_str().to_string(),
            )
        })
        .collect();
    rows.sort();
    (rows, p.inspection.violations)
}

async fn a_delta_write_leaves_the_rows_of_a_full_write(db: Db) {
    let app = spawn(db).await;
    let id = random_doc_id().to_string();
    let first = projection(vec![row("a", 1, "x"), row("b", 1, "x"), row("c", 1, "x")]);
    let committed = write(&app, &id, &first, None).await;
    assert_eq!(stored(&app, &id).await, expected(&first));

    // One row gone, one changed, one new, one as it was.
    let second = projection(vec![row("a", 1, "x"), row("b", 2, "y"), row("d", 1, "x")]);
    let committed = write(&app, &id, &second, Some((committed.version, &first))).await;
    assert_eq!(stored(&app, &id).await, expected(&second));

    // Nothing changed: the rows stay.
    let committed = write(&app, &id, &second, Some((committed.version, &second))).await;
    assert_eq!(stored(&app, &id).await, expected(&second));

    let none = projection(Vec::new());
    write(&app, &id, &none, Some((committed.version, &second))).await;
    assert_eq!(stored(&app, &id).await, expected(&none));
}

async fn a_write_after_another_writer_writes_every_row(db: Db) {
    let app = spawn(db).await;
    let id = random_doc_id().to_string();
    let ours = projection(vec![row("a", 1, "x"), row("b", 1, "x")]);
    let committed = write(&app, &id, &ours, None).await;

    // Another instance, which had not seen our write, wrote its own rows.
    let theirs = projection(vec![row("c", 1, "z")]);
    write(&app, &id, &theirs, None).await;
    assert_eq!(stored(&app, &id).await, expected(&theirs));

    // Our next write computes the same rows as our last: the stored ones are not those, so
    // every row is written, not the (empty) delta.
    write(&app, &id, &ours, Some((committed.version, &ours))).await;
    assert_eq!(stored(&app, &id).await, expected(&ours));
}

/// A document write commits only while its author still has the rights (their version)
/// its change was judged with (issue 21), with or without a snapshot, and a write that
/// finds them changed stores nothing.
async fn a_write_judged_on_rights_that_changed_stores_nothing(db: Db) {
    let app = spawn(db).await;
    let store = &app.state.store;
    let p = projection(vec![row("a", 1, "x")]);
    let judged = wangs_rights(store).await;
    let first = random_doc_id().to_string();
    store
        .write_doc(&by_wang(doc_write(&first, b"chunk", &p, None), judged))
        .await
        .expect("the rights hold: it commits");

    // The office moves wang to another site meanwhile.
    store
        .edit_user("wang", None, |user| {
            user.sites = std::collections::BTreeSet::from([
                shared::ids::SiteId::parse("site-b").expect("valid")
            ]);
            Ok::<(), ()>(())
        })
        .await
        .expect("stores")
        .expect("edits")
        .expect("wang exists");
    let moved = wangs_rights(store).await;
    assert_ne!(moved, judged, "a change of sites moves the rights on");
    let second = random_doc_id().to_string();
    for snapshot in [None, Some(&b"snapshot"[..])] {
        let result = store
            .write_doc(&DocWrite {
                snapshot,
                ..by_wang(doc_write(&second, b"chunk", &p, None), judged)
            })
            .await;
        assert!(
            matches!(result, Err(server::store::StoreError::RightsChanged)),
            "{result:?}"
        );
    }
    let left: i64 = server::with_pool!(store, pool => {
        sqlx::query_scalar(
            "select (select count(*) from documents where id = $1) \
             + (select count(*) from doc_chunks where doc_id = $1) \
             + (select count(*) from violations where doc_id = $1) \
             + (select count(*) from inspections where doc_id = $1)",
        )
        .bind(&second)
        .fetch_one(pool)
        .await
        .expect("counts")
    });
    assert_eq!(left, 0, "nothing of the refused write is stored");
    store
        .write_doc(&by_wang(doc_write(&second, b"chunk", &p, None), moved))
        .await
        .expect("judged again with the rights as stored: it commits");

    // Disabled, with the version read after: the write still fails.
    store
        .set_user_disabled("wang", true)
        .await
        .expect("disables");
    let disabled = wangs_rights(store).await;
    let result = store
        .write_doc(&by_wang(doc_write(&first, b"more", &p, None), disabled))
        .await;
    assert!(
        matches!(result, Err(server::store::StoreError::RightsChanged)),
        "{result:?}"
    );
    app.stop().await;
}

/// In a group of writes committed together, the one whose author's rights moved fails
/// alone and the others commit (SQLite's group commit runs the group again with a
/// savepoint per write).
#[tokio::test]
async fn a_write_on_moved_rights_in_a_group_fails_alone() {
    let app = spawn(Db::Sqlite).await;
    let store = &app.state.store;
    let judged = wangs_rights(store).await;
    store
        .edit_user("wang", None, |user| {
            user.role = shared::role::Role::Technician;
            Ok::<(), ()>(())
        })
        .await
        .expect("stores")
        .expect("edits")
        .expect("wang exists");
    let now = wangs_rights(store).await;
    assert_ne!(now, judged, "a change of role moves the rights on");

    let p = projection(vec![row("a", 1, "x")]);
    let ids: Vec<String> = (0..5).map(|_| random_doc_id().to_string()).collect();
    let turn = store.begin_write().await;
    let mut writes = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (store, id, p) = (store.clone(), id.clone(), p.clone());
        // The third was judged before the change of role.
        let version = if i == 2 { judged } else { now };
        writes.push(tokio::spawn(async move {
            store
                .write_doc(&by_wang(doc_write(&id, id.as_bytes(), &p, None), version))
                .await
        }));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (groups_before, _) = store.group_commits();
    drop(turn);
    for (i, write) in writes.into_iter().enumerate() {
        let result = write.await.expect("the write's task");
        if i == 2 {
            assert!(
                matches!(result, Err(server::store::StoreError::RightsChanged)),
                "{result:?}"
            );
            assert!(
                server::with_pool!(store, pool => {
                    sqlx::query_scalar::<_, i64>("select count(*) from documents where id = $1")
                        .bind(&ids[i])
                        .fetch_one(pool)
                        .await
                        .expect("counts")
                }) == 0,
                "nothing of it is stored"
            );
        } else {
            result.expect("the others commit");
            assert_eq!(stored(&app, &ids[i]).await, expected(&p));
        }
    }
    let (groups, _) = store.group_commits();
    assert_eq!(groups - groups_before, 1, "the five were one group");
}

#[tokio::test]
async fn a_write_after_the_store_closed_fails_with_an_error() {
    let app = spawn(Db::Sqlite).await;
    let id = random_doc_id().to_string();
    let p = projection(Vec::new());
    write(&app, &id, &p, None).await;
    app.state.store.close().await;
    let result = app
        .state
        .store
        .write_doc(&doc_write(&id, b"late", &p, None))
        .await;
    assert!(
        matches!(result, Err(server::store::StoreError::Closed)),
        "{result:?}"
    );
}

/// A failure that makes SQLite roll back the whole transaction (as a full disk or an I/O
/// error does; here a trigger's `raise(rollback)`) costs its whole group: every write of
/// it is answered with an error and none is stored, the writes after it included (they
/// must not run outside the group's transaction), and the next group commits.
#[tokio::test]
async fn a_failure_that_ends_the_transaction_fails_the_whole_group_and_stores_nothing() {
    let app = spawn(Db::Sqlite).await;
    let store = &app.state.store;
    let pool = sqlite_pool(store);
    fail_chunks_of(pool, "ends-the-transaction", "rollback").await;
    let mut ids: Vec<String> = (0..6).map(|_| random_doc_id().to_string()).collect();
    ids.insert(3, "ends-the-transaction".to_string());
    let p = projection(vec![row("a", 1, "x")]);
    for (id, result) in ids.iter().zip(queued_together(store, &ids, &p).await) {
        assert!(result.is_err(), "{id}: {result:?}");
        let stored: i64 = sqlx::query_scalar(
            "select (select count(*) from documents where id = $1) \
             + (select count(*) from doc_chunks where doc_id = $1)",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("counts");
        assert_eq!(stored, 0, "{id}: nothing of it is stored");
    }
    let next = random_doc_id().to_string();
    write(&app, &next, &p, None).await;
    assert_eq!(stored(&app, &next).await, expected(&p));
}
