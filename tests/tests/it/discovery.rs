//! Discovery (`GET /api/v1/documents?since=CURSOR`) under concurrent writers: a poller that
//! pages with the cursor while many documents are committed at once sees every one of them,
//! on SQLite and on PostgreSQL. With `scope=device` it lists only a floor device's window
//! (bounded sync); `GET /api/v1/inspections` pages through the rest, newest first.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use server::store::documents::DocWrite;
use walkaround_tests::tablet::random_doc_id;
use walkaround_tests::{ApiClient, Db, spawn};

walkaround_tests::on_both_databases!(
    a_poller_paging_with_the_cursor_misses_no_document_committed_concurrently,
    a_write_held_up_before_commit_is_not_skipped_by_a_later_one,
    a_device_is_listed_its_window_and_pages_through_the_rest,
);

const WRITERS: usize = 16;
const DOCS_EACH: usize = 40;

fn doc_write<'a>(id: &'a str, chunk: &'a str) -> DocWrite<'a> {
    DocWrite {
        id,
        kind: "inspection",
        site_id: Some("demo-site"),
        template_id: Some("workshop-walkaround"),
        created_by: Some("wang"),
        chunk: chunk.as_bytes(),
        snapshot: None,
        replaces: &[],
        origin: "test",
        projection: None,
        previous: None,
        author: None,
    }
}

/// Every page from `since` on: the ids listed and the last cursor.
async fn poll_all(user: &ApiClient, mut since: i64) -> (Vec<String>, i64) {
    let mut all = Vec::new();
    loop {
        let (ids, next, more) = poll(user, since).await;
        all.extend(ids);
        since = next;
        if !more {
            return (all, since);
        }
    }
}

/// One page of discovery: the ids it lists, the next cursor, and whether more follow.
async fn poll(user: &ApiClient, since: i64) -> (Vec<String>, i64, bool) {
    let (_, body) = user
        .get(&format!("/api/v1/documents?since={since}&limit=7"))
        .await;
    let ids = body["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_string))
        .collect();
    (
        ids,
        body["cursor"].as_i64().expect("cursor"),
        body["more"].as_bool().expect("more"),
    )
}

async fn a_poller_paging_with_the_cursor_misses_no_document_committed_concurrently(db: Db) {
    let app = Arc::new(spawn(db).await);
    let wang = app.as_user("wang").await;
    let done = Arc::new(AtomicBool::new(false));

    // Every writer creates documents one after another: versions are taken by many
    // transactions at once.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            let mut created = Vec::new();
            for n in 0..DOCS_EACH {
                let id = random_doc_id().to_string();
                let chunk = format!("writer {w} document {n}");
                let write = doc_write(&id, &chunk);
                app.state.store.write_doc(&write).await.expect("writes");
                created.push(id);
            }
            created
        }));
    }

    // The poller pages as a tablet does, as fast as it can, until the writers are done
    // and one more full pass has found nothing new.
    let poller = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                loop {
                    let (ids, next, more) = poll(&wang, cursor).await;
                    assert!(next >= cursor, "the cursor never goes back");
                    seen.extend(ids);
                    cursor = next;
                    if !more {
                        break;
                    }
                }
                if finished {
                    return seen;
                }
            }
        })
    };

    let mut created = Vec::new();
    for w in writers {
        created.extend(w.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let seen = poller.await.expect("poller");
    let missed: Vec<&String> = created.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missed.is_empty(),
        "the poller skipped {} of {} documents: {missed:?}",
        missed.len(),
        created.len()
    );
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

/// The deterministic form of the race above: a write to document X is held up inside its
/// transaction (another transaction holds X's row; on SQLite, the database's write lock)
/// while a write to Y commits and a poller moves its cursor past Y. When X commits, the
/// poller must still find it.
async fn a_write_held_up_before_commit_is_not_skipped_by_a_later_one(db: Db) {
    let app = Arc::new(spawn(db).await);
    let wang = app.as_user("wang").await;
    let x = random_doc_id().to_string();
    let y = random_doc_id().to_string();
    app.state
        .store
        .write_doc(&doc_write(&x, "x, first"))
        .await
        .expect("writes x");
    let (first, cursor) = poll_all(&wang, 0).await;
    assert!(first.contains(&x));

    // Hold X (or, on SQLite, every write) from a transaction of our own.
    let hold = "update documents set updated_at = updated_at where id = $1";
    let holder: tokio::task::JoinHandle<()> = match &app.state.store {
        server::store::Store::Postgres(pool) => {
            let mut tx = pool.begin().await.expect("begins");
            sqlx::query(hold)
                .bind(&x)
                .execute(&mut *tx)
                .await
                .expect("holds x");
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(800)).await;
                tx.commit().await.expect("commits");
            })
        }
        server::store::Store::Sqlite(pool, _) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begins");
            sqlx::query(hold)
                .bind(&x)
                .execute(&mut *tx)
                .await
                .expect("holds x");
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(800)).await;
                tx.commit().await.expect("commits");
            })
        }
    };
    let held_write = {
        let app = app.clone();
        let x = x.clone();
        tokio::spawn(async move {
            app.state
                .store
                .write_doc(&doc_write(&x, "x, second"))
                .await
                .expect("writes x again");
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let later_write = {
        let app = app.clone();
        let y = y.clone();
        tokio::spawn(async move {
            app.state
                .store
                .write_doc(&doc_write(&y, "y"))
                .await
                .expect("writes y");
        })
    };
    // The poller moves on while X is held (on PostgreSQL it finds Y meanwhile).
    let mut cursor = cursor;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let (ids, next) = poll_all(&wang, cursor).await;
        seen.extend(ids);
        cursor = next;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    holder.await.expect("holder");
    held_write.await.expect("held write");
    later_write.await.expect("later write");
    let (ids, _) = poll_all(&wang, cursor).await;
    seen.extend(ids);
    assert!(seen.contains(&y), "Y is found");
    assert!(
        seen.contains(&x),
        "X's second write, committed after Y, is found by a poller already past Y"
    );
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

/// Every page of `path` (a discovery listing) from cursor 0: the ids listed, and the last
/// page's body.
async fn list_all(user: &ApiClient, path: &str) -> (HashSet<String>, serde_json::Value) {
    let mut ids = HashSet::new();
    let mut since = 0;
    loop {
        let (status, body) = user.get(&format!("{path}&since={since}")).await;
        assert_eq!(status, 200, "{body}");
        for d in body["documents"].as_array().expect("documents") {
            ids.insert(d["id"].as_str().expect("id").to_string());
        }
        since = body["cursor"].as_i64().expect("cursor");
        if !body["more"].as_bool().expect("more") {
            return (ids, body);
        }
    }
}

async fn a_device_is_listed_its_window_and_pages_through_the_rest(db: Db) {
    let app = spawn(db).await;
    let now = chrono::Utc::now();
    server::demo::seed_history(&app.state.store, now)
        .await
        .expect("seeds six weeks of history");
    let wang = app.as_user("wang").await;
    let (all, _) = list_all(&wang, "/api/v1/documents?limit=100").await;
    let (kept, last) = list_all(&wang, "/api/v1/documents?limit=100&scope=device").await;
    assert_eq!(last["device_days"], shared::policy::DEVICE_DAYS);

    // Every inspection of the site, newest first, 50 a page, none twice.
    let mut rows = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            None => "/api/v1/inspections?site=demo-site".to_string(),
            Some(b) => format!("/api/v1/inspections?site=demo-site&before={b}"),
        };
        let (status, body) = wang.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let page = body["inspections"].as_array().expect("inspections").clone();
        assert!(page.len() <= 50);
        rows.extend(page);
        match body["next"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    let listed: HashSet<String> = rows
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(listed.len(), rows.len(), "no inspection twice");
    assert_eq!(listed, all, "every inspection, once");
    let starts: Vec<i64> = rows
        .iter()
        .map(|r| r["created_at"].as_i64().expect("created_at"))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // The window: exactly the inspections not submitted or started since its start.
    let start =
        shared::policy::device_window_start(now, shared::policy::DEVICE_DAYS).timestamp_millis();
    let expected: HashSet<String> = rows
        .iter()
        .filter(|r| r["submitted_at"].is_null() || r["created_at"].as_i64() >= Some(start))
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(kept, expected, "the device's window");
    assert!(
        !kept.is_empty() && kept.len() * 3 < all.len(),
        "a week of six: {} of {}",
        kept.len(),
        all.len()
    );

    // `scope=older`: exactly those started before the window, newest first.
    let (status, body) = wang.get("/api/v1/inspections?scope=older&limit=500").await;
    assert_eq!(status, 200, "{body}");
    let older: Vec<String> = body["inspections"]
        .as_array()
        .expect("inspections")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    let expected_older: Vec<String> = rows
        .iter()
        .filter(|r| r["created_at"].as_i64() < Some(start))
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(older, expected_older, "older than the window, in order");

    // Nonsense is refused with a reason, not a panic or an empty list.
    for (path, reason) in [
        ("/api/v1/inspections?before=yesterday", "bad_cursor"),
        ("/api/v1/inspections?before=1.", "bad_cursor"),
        ("/api/v1/inspections?before=-5.x", "bad_cursor"),
        ("/api/v1/inspections?before=1.x.y", "bad_cursor"),
        ("/api/v1/inspections?before=12.x&limit=0", "bad_limit"),
        ("/api/v1/inspections?site=elsewhere", "not_member_of_site"),
    ] {
        let (status, body) = wang.get(path).await;
        assert!(status == 400 || status == 403, "{path}: {status} {body}");
        assert!(body.to_string().contains(reason), "{path}: {body}");
    }
    for path in [
        "/api/v1/documents?scope=everything",
        "/api/v1/inspections?scope=newer",
    ] {
        let (status, _) = wang.get(path).await;
        assert_eq!(status, 400, "{path}: an unknown scope");
    }
    app.stop().await;
}
