//! The soak: many simulated tablets over many sites for a long time against the real
//! server process, with random disconnects and offline bursts. At the end every tablet
//! must hold the server's heads, no edit may be lost, and the server's memory must not
//! have grown after warm-up. The CI test runs a short version; `soak` (a bin) the
//! documented one.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::Automerge;
use server::config::Database;
use server::store::users::UserRecord;
use shared::ids::{SiteId, UserId};
use shared::inspection::AnswerValue;
use shared::protocol::DocumentId;
use shared::role::Role;

use crate::process::{ServerProcess, rss_kib, status_kib};
use crate::tablet::Tablet;
use crate::{ANSWER_KEYS, Db, Dice, PASSWORD, demo_areas, spawn, stored_in};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct SoakConfig {
    /// Simulated tablets.
    pub tablets: usize,
    /// Sites they are spread over.
    pub sites: usize,
    /// How long.
    pub duration: Duration,
    /// The store.
    pub db: Db,
    /// Changes after which an inspection is finished and its tablets move on to a new
    /// one, as a workshop's walkarounds end: a tablet's own inspection after this many of
    /// its answers, a site's shared walkaround once it holds this many changes. Without
    /// it every document would grow for the whole run, and memory with it.
    pub changes_per_inspection: usize,
    /// How long to wait at the end, with every tablet gone, for idle documents to leave
    /// memory before the last memory reading (the server's idle time plus a sweep);
    /// `None` skips that reading.
    pub settle: Option<Duration>,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Answers written on tablets.
    pub edits: usize,
    /// Syncs timed (from sending to the server's acknowledgement).
    pub syncs: usize,
    /// Their median, ms.
    pub p50_ms: f64,
    /// Their 99th percentile, ms.
    pub p99_ms: f64,
    /// Disconnects (offline bursts) the tablets went through.
    pub disconnects: usize,
    /// Documents whose tablet heads differ from the stored heads at the end.
    pub diverged: usize,
    /// Edits missing from the store at the end.
    pub lost: usize,
    /// Connection attempts that failed and were retried (a busy server answering the
    /// handshake late).
    pub failed_connects: usize,
    /// Server RSS after warm-up, KiB: once every tablet has finished its first inspection,
    /// so that the documents in use have turned over once and caches, pools and buffers
    /// have met the whole workload (or at half the run, if that comes first).
    pub rss_warm_kib: u64,
    /// When that was, seconds after the start of the load.
    pub warm_secs: u64,
    /// Server RSS when the load stops, before the final catch-up, KiB.
    pub rss_load_end_kib: u64,
    /// Server RSS at the end, after every tablet reconnected and caught up, KiB.
    pub rss_end_kib: u64,
    /// Server RSS sampled through the run (seconds since the start, KiB, documents in
    /// memory), twenty samples, so that growth can be told apart from a spike at the moment
    /// of measuring, and memory held by documents from memory held by anything else.
    pub rss_series_kib: Vec<(u64, u64, u64)>,
    /// Server RSS once every tablet has gone and idle documents have left memory, KiB: what
    /// a long run left behind.
    pub rss_idle_kib: u64,
    /// Of that, the heap and stacks (`RssAnon`), KiB; the rest is mapped files and shared
    /// memory.
    pub rss_idle_anon_kib: u64,
    /// Documents in memory at that point.
    pub documents_in_memory_idle: u64,
    /// Documents in all (every inspection the tablets started).
    pub documents: usize,
    /// Rounds of syncing every tablet at the end until no replica differed from the store
    /// (at most five).
    pub catch_up_rounds: usize,
}

/// The server's count of documents in memory (0 if it cannot be read).
async fn documents_in_memory(address: &str) -> u64 {
    crate::scrape_metric(address, "walkaround_documents_in_memory")
        .await
        .unwrap_or(0.0) as u64
}

fn sorted(mut heads: Vec<automerge::ChangeHash>) -> Vec<automerge::ChangeHash> {
    heads.sort();
    heads
}

/// How many changes a document holds, counted as it grows: each update copies only the
/// changes since the last one. Copying every change of a large document on each action
/// would make the soak's own bookkeeping compete with the server for the cores.
#[derive(Default)]
struct ChangeCount {
    heads: Vec<automerge::ChangeHash>,
    count: usize,
}

impl ChangeCount {
    fn update(&mut self, doc: &Automerge) -> usize {
        self.count += doc.get_changes(&self.heads).len();
        self.heads = doc.get_heads();
        self.count
    }
}

/// Reconnects as the app does: on failure, wait and try again (counted).
async fn reconnect(tablet: &mut Tablet, address: &str, failed: &mut usize) {
    let mut wait = Duration::from_millis(500);
    while let Err(e) = tablet.try_connect_to(address).await {
        *failed += 1;
        eprintln!("{}: {e}; retrying", tablet.user);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

/// Runs the soak against the server binary `exe`.
pub async fn soak(exe: &Path, config: SoakConfig) -> SoakReport {
    let mut seeded = spawn(config.db).await;
    let hash = server::auth::hash_password(PASSWORD).expect("hashes");
    for s in 0..config.sites {
        let site = SiteId::parse(format!("soak-{s}")).expect("valid");
        seeded
            .state
            .store
            .add_site(&shared::site::Site {
                id: site.clone(),
                name: format!("门店 {s}"),
                areas: demo_areas(),
            })
            .await
            .expect("adds a site");
        seeded
            .state
            .store
            .add_user(&UserRecord {
                id: UserId::parse(format!("m-{s}")).expect("valid"),
                username: format!("m-{s}"),
                display_name: format!("经理 {s}"),
                role: Role::WorkshopManager,
                password_hash: hash.clone(),
                disabled: false,
                sites: BTreeSet::from([site]),
            })
            .await
            .expect("adds a user");
    }
    seeded.shutdown().await;
    let database = seeded.database.clone();
    let url = match &database {
        Database::Postgres { url } => Some(url.clone()),
        Database::Sqlite { .. } => None,
    };
    let server = ServerProcess::start(exe, seeded.data_dir.clone(), url, false).await;
    let address = server.address.to_string();
    let pid = server.pid().expect("running");

    // Each site has one walkaround every tablet of the site works on, and each tablet
    // its own inspection too. The site's first tablet starts the shared one, and its next
    // one when it is finished; the others find it in `current` (the app finds it in the
    // site's list of inspections).
    let mut current: Vec<Option<DocumentId>> = vec![None; config.sites];
    let mut tablets = Vec::new();
    for n in 0..config.tablets {
        let s = n % config.sites;
        let mut tablet = Tablet::login_at(&address, &format!("m-{s}"), PASSWORD).await;
        // Each device has its own storage id, so the server keeps a sync state per device.
        tablet.storage = format!("storage-m-{s}-{n}");
        tablet.connect_to(&address).await;
        let site = format!("soak-{s}");
        let shared = match current[s] {
            None => {
                let id = tablet.create("workshop-walkaround", &site, demo_areas());
                assert!(tablet.sync_until_acked(Duration::from_secs(30)).await);
                current[s] = Some(id);
                id
            }
            Some(id) => {
                tablet.want(id);
                assert!(tablet.sync_until_acked(Duration::from_secs(30)).await);
                id
            }
        };
        let own = tablet.create("workshop-walkaround", &site, demo_areas());
        tablets.push((tablet, shared, own));
    }
    let current: Arc<Mutex<Vec<Option<DocumentId>>>> = Arc::new(Mutex::new(current));

    let started = Instant::now();
    let deadline = started + config.duration;
    let turned_over = Arc::new(AtomicUsize::new(0));
    let warm = Arc::clone(&turned_over);
    let rss_probe = tokio::spawn(async move {
        let latest = started + config.duration / 2;
        while warm.load(Ordering::Relaxed) < config.tablets && Instant::now() < latest {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (started.elapsed().as_secs(), rss_kib(pid))
    });
    let sampled = address.clone();
    let rss_sampler = tokio::spawn(async move {
        let every = config.duration / 20;
        let mut series = Vec::new();
        let mut at = started;
        while at < deadline {
            at += every;
            tokio::time::sleep_until(at.into()).await;
            let resident = documents_in_memory(&sampled).await;
            series.push((started.elapsed().as_secs(), rss_kib(pid), resident));
        }
        series
    });
    let tasks: Vec<_> = tablets
        .into_iter()
        .enumerate()
        .map(|(n, (mut tablet, mut shared, mut own))| {
            let address = address.clone();
            let current = Arc::clone(&current);
            let turned_over = Arc::clone(&turned_over);
            let s = n % config.sites;
            let site = format!("soak-{s}");
            let lead = n < config.sites;
            tokio::spawn(async move {
                let mut dice = Dice(0x5eed ^ n as u64);
                let mut latencies = Vec::new();
                let mut failed_connects = 0usize;
                // Replicas of the inspections this tablet finished with, to check at the
                // end that the store holds every change they have.
                let mut finished: Vec<(DocumentId, Automerge)> = Vec::new();
                let mut own_answers = 0usize;
                let mut turned = false;
                let mut shared_changes = ChangeCount::default();
                let mut acked = true;
                // Access tokens live 15 minutes; the app refreshes before they expire and
                // reconnects with the new one.
                let mut token_at = Instant::now();
                let (mut edits, mut disconnects) = (0usize, 0usize);
                while Instant::now() < deadline {
                    if token_at.elapsed() > Duration::from_secs(600) {
                        tablet.refresh_at(&address).await;
                        reconnect(&mut tablet, &address, &mut failed_connects).await;
                        token_at = Instant::now();
                    }
                    // A tablet moves on from an inspection only once the server has
                    // acknowledged everything it wrote there.
                    if acked {
                        let site_current = current.lock().ok().and_then(|c| c[s]);
                        if lead {
                            if site_current != Some(shared) {
                                // Its new walkaround is on the server now: publish it.
                                if let Ok(mut c) = current.lock() {
                                    c[s] = Some(shared);
                                }
                            } else if tablet.docs.get(&shared).is_some_and(|(doc, _)| {
                                shared_changes.update(doc) >= config.changes_per_inspection
                            }) {
                                finished.extend(tablet.forget(&shared).map(|doc| (shared, doc)));
                                shared = tablet.create("workshop-walkaround", &site, demo_areas());
                                shared_changes = ChangeCount::default();
                            }
                        } else if let Some(next) = site_current.filter(|next| *next != shared) {
                            finished.extend(tablet.forget(&shared).map(|doc| (shared, doc)));
                            tablet.want(next);
                            shared = next;
                        }
                        if own_answers >= config.changes_per_inspection {
                            finished.extend(tablet.forget(&own).map(|doc| (own, doc)));
                            own = tablet.create("workshop-walkaround", &site, demo_areas());
                            if !turned {
                                turned = true;
                                turned_over.fetch_add(1, Ordering::Relaxed);
                            }
                            own_answers = 0;
                        }
                    }
                    // The site's walkaround is answered once the tablet has fetched it.
                    let shared_ready = tablet
                        .docs
                        .get(&shared)
                        .is_some_and(|(doc, _)| !doc.get_heads().is_empty());
                    let id = if shared_ready && dice.roll(2) == 0 {
                        shared
                    } else {
                        own
                    };
                    let roll = dice.roll(100);
                    let written = if roll < 10 {
                        // An offline burst: the Wi-Fi drops, work goes on, it comes back.
                        tablet.disconnect().await;
                        disconnects += 1;
                        let burst = 1 + dice.roll(4) as usize;
                        for _ in 0..burst {
                            let key = ANSWER_KEYS[dice.roll(ANSWER_KEYS.len() as u64) as usize];
                            tablet.answer(&id, key, AnswerValue::Pass, None);
                        }
                        tokio::time::sleep(Duration::from_millis(500 + dice.roll(2500))).await;
                        reconnect(&mut tablet, &address, &mut failed_connects).await;
                        burst
                    } else {
                        let key = ANSWER_KEYS[dice.roll(ANSWER_KEYS.len() as u64) as usize];
                        let value = if dice.roll(5) == 0 {
                            AnswerValue::Fail
                        } else {
                            AnswerValue::Pass
                        };
                        tablet.answer(&id, key, value, Some("soak"));
                        1
                    };
                    edits += written;
                    if id == own {
                        own_answers += written;
                    }
                    let t = Instant::now();
                    acked = tablet.sync_until_acked(Duration::from_secs(30)).await;
                    if acked {
                        latencies.push(t.elapsed());
                    } else {
                        // The connection dropped (or the server took over 30 s): the app
                        // reconnects and its next sync carries the edit.
                        reconnect(&mut tablet, &address, &mut failed_connects).await;
                    }
                    tokio::time::sleep(Duration::from_millis(300 + dice.roll(1700))).await;
                }
                (
                    tablet,
                    finished,
                    latencies,
                    edits,
                    disconnects,
                    failed_connects,
                )
            })
        })
        .collect();
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.expect("a tablet task"));
    }
    let rss_load_end_kib = rss_kib(pid);
    let (warm_secs, rss_warm_kib) = rss_probe.await.unwrap_or((0, 0));
    let rss_series_kib = rss_sampler.await.unwrap_or_default();

    // The end: everyone catches up, then everything is compared with the store.
    let mut latencies = Vec::new();
    let (mut edits, mut disconnects, mut failed_connects) = (0, 0, 0);
    let mut tablets = Vec::new();
    let mut finished_replicas = Vec::new();
    for (tablet, replicas, l, e, d, f) in finished {
        finished_replicas.extend(replicas);
        latencies.extend(l);
        edits += e;
        disconnects += d;
        failed_connects += f;
        tablets.push(tablet);
    }
    // As the app does when the workshop goes quiet: every tablet comes back online on a
    // fresh connection (a tablet's last connection may have died in its last burst) and
    // sends what it holds until the server acknowledges it, retrying as the app retries.
    for tablet in tablets.iter_mut() {
        reconnect(tablet, &address, &mut failed_connects).await;
        for _ in 0..3 {
            if tablet.sync_until_acked(Duration::from_secs(30)).await {
                break;
            }
            reconnect(tablet, &address, &mut failed_connects).await;
        }
    }
    // Then everyone pulls what the others wrote, until every replica holds the stored
    // heads; the rounds it took are reported.
    let mut catch_up_rounds = 0;
    let mut diverged = 0;
    for _ in 0..5 {
        catch_up_rounds += 1;
        for tablet in tablets.iter_mut() {
            tablet.sync().await;
        }
        diverged = 0;
        for tablet in &tablets {
            for (id, (doc, _)) in &tablet.docs {
                if sorted(doc.get_heads()) != sorted(stored_in(&database, id).await.get_heads()) {
                    diverged += 1;
                }
            }
        }
        if diverged == 0 {
            break;
        }
    }
    let rss_end_kib = rss_kib(pid);
    // No change any replica holds may be missing from the store: those of the current
    // inspections, and those of every inspection a tablet finished with (other tablets
    // may have added to a shared one after this one moved on, so only loss counts there).
    let mut lost = 0;
    let mut documents = BTreeSet::new();
    let replicas = tablets
        .iter()
        .flat_map(|t| t.docs.iter().map(|(id, (doc, _))| (id, doc)))
        .chain(finished_replicas.iter().map(|(id, doc)| (id, doc)));
    for (id, doc) in replicas {
        documents.insert(*id);
        let stored = stored_in(&database, id).await;
        lost += doc
            .get_changes(&[])
            .iter()
            .filter(|c| stored.get_change_meta_by_hash(&c.hash()).is_none())
            .count();
    }
    // Everyone leaves; once documents have been idle for the idle time and a sweep has
    // run, what stays in memory is what the run left behind.
    let (mut rss_idle_kib, mut rss_idle_anon_kib, mut documents_in_memory_idle) = (0, 0, 0);
    if let Some(settle) = config.settle {
        for tablet in tablets.iter_mut() {
            tablet.disconnect().await;
        }
        tokio::time::sleep(settle).await;
        documents_in_memory_idle = documents_in_memory(&address).await;
        rss_idle_kib = rss_kib(pid);
        rss_idle_anon_kib = status_kib(pid, "RssAnon");
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let report = SoakReport {
        edits,
        syncs: latencies.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        disconnects,
        failed_connects,
        diverged,
        lost,
        rss_warm_kib,
        warm_secs,
        rss_load_end_kib,
        rss_end_kib,
        rss_series_kib,
        rss_idle_kib,
        rss_idle_anon_kib,
        documents_in_memory_idle,
        documents: documents.len(),
        catch_up_rounds,
    };
    drop(server);
    seeded.stop().await;
    report
}
