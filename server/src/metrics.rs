//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The server's metrics. Gauges that are cheap to read at scrape time (documents in memory,
/// the database pool) are set just before rendering.
pub struct Metrics {
    registry: Registry,
    /// Open sync connections.
    pub connections: Gauge,
    /// Changes accepted and stored.
    pub changes_applied: Counter,
    /// Sync messages refused by the policy.
    pub changes_rejected: Counter,
    /// Seconds from receiving a sync message to having its answer ready (validation and
    /// commit included).
    pub sync_latency: Histogram,
    /// Frames a connection had to wait for under the per-connection rate limit.
    pub throttled: Counter,
    /// Sync messages judged again because their sender's rights had moved since the
    /// connection last read them (a write or a refusal found the version changed).
    pub rights_rejudged: Counter,
    /// Documents dropped from memory after going unused.
    pub documents_evicted: Counter,
    documents_in_memory: Gauge,
    documents_known: Gauge,
    db_pool_size: Gauge,
    db_pool_idle: Gauge,
    db_group_commits: Counter,
    db_group_commit_writes: Counter,
    /// Held while the scrape-time values are set, so two scrapes at once do not both add
    /// the same increase to a counter.
    scrape: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("walkaround");
        let connections = Gauge::default();
        let changes_applied = Counter::default();
        let changes_rejected = Counter::default();
        // 0.5 ms to ~4 s.
        let sync_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let throttled = Counter::default();
        let rights_rejudged = Counter::default();
        let documents_evicted = Counter::default();
        let documents_in_memory = Gauge::default();
        let documents_known = Gauge::default();
        let db_pool_size = Gauge::default();
        let db_pool_idle = Gauge::default();
        let db_group_commits = Counter::default();
        let db_group_commit_writes = Counter::default();
        registry.register(
            "sync_connections",
            "Open sync WebSocket connections",
            connections.clone(),
        );
        registry.register(
            "changes_applied",
            "Automerge changes accepted and stored",
            changes_applied.clone(),
        );
        registry.register(
            "changes_rejected",
            "Sync messages refused by the permission policy",
            changes_rejected.clone(),
        );
        registry.register(
            "sync_latency_seconds",
            "Time from receiving a sync message to having its answer ready",
            sync_latency.clone(),
        );
        registry.register(
            "sync_frames_throttled",
            "Frames delayed by the per-connection rate limit",
            throttled.clone(),
        );
        registry.register(
            "sync_rights_rejudged",
            "Sync messages judged again because the sender's rights changed meanwhile",
            rights_rejudged.clone(),
        );
        registry.register(
            "documents_in_memory",
            "Documents loaded in memory",
            documents_in_memory.clone(),
        );
        registry.register(
            "documents_known",
            "Documents with an entry in memory (loaded, or evicted while peers subscribe)",
            documents_known.clone(),
        );
        registry.register(
            "documents_evicted",
            "Documents dropped from memory after going unused",
            documents_evicted.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections",
            db_pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database pool connections",
            db_pool_idle.clone(),
        );
        registry.register(
            "db_group_commits",
            "SQLite transactions that committed a group of document writes",
            db_group_commits.clone(),
        );
        registry.register(
            "db_group_commit_writes",
            "Document writes committed in SQLite's group commits",
            db_group_commit_writes.clone(),
        );
        Metrics {
            registry,
            connections,
            changes_applied,
            changes_rejected,
            sync_latency,
            throttled,
            rights_rejudged,
            documents_evicted,
            documents_in_memory,
            documents_known,
            db_pool_size,
            db_pool_idle,
            db_group_commits,
            db_group_commit_writes,
            scrape: std::sync::Mutex::new(()),
        }
    }

    /// The text exposition, with the scrape-time values set: documents (in memory, known),
    /// the pool (size, idle) and the store's group commits (groups, writes).
    pub fn render(
        &self,
        documents: (usize, usize),
        pool: (u32, usize),
        group_commits: (u64, u64),
    ) -> String {
        let (in_memory, known) = documents;
        let (pool_size, pool_idle) = pool;
        let (groups, writes) = group_commits;
        let _scrape = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The store's totals only grow: the counters are moved up to them.
        self.db_group_commits
            .inc_by(groups.saturating_sub(self.db_group_commits.get()));
        self.db_group_commit_writes
            .inc_by(writes.saturating_sub(self.db_group_commit_writes.get()));
        self.documents_in_memory.set(in_memory as i64);
        self.documents_known.set(known as i64);
        self.db_pool_size.set(i64::from(pool_size));
        self.db_pool_idle.set(pool_idle as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
