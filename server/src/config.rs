//! The server's configuration, validated once at the edge.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded default: `walkaround.db` inside the data directory.
    Sqlite {
        /// The data directory, created on first run.
        data_dir: PathBuf,
    },
    /// A PostgreSQL database, for production and several instances.
    Postgres {
        /// A `postgres://` URL.
        url: String,
    },
}

/// Everything `walkaround serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The store.
    pub database: Database,
    /// Data directory (SQLite file, and later blobs), also with PostgreSQL.
    pub data_dir: PathBuf,
    /// Limits on sync connections.
    pub limits: SyncLimits,
    /// How many documents stay in memory.
    pub memory: DocumentMemory,
    /// Days of submitted history a floor device keeps besides what is not yet submitted
    /// (`shared::policy::device_keeps`; default `shared::policy::DEVICE_DAYS`).
    pub device_days: u32,
}

/// How long documents stay in memory. A document is loaded when a peer syncs it and
/// dropped again when unused, so memory follows the documents in use, not the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentMemory {
    /// A document unused for this long is dropped from memory.
    pub idle_after: Duration,
    /// At most this many documents stay in memory; beyond it the least recently used go
    /// first, even if not idle yet.
    pub max_resident: usize,
    /// How often the server looks for documents to drop.
    pub sweep_every: Duration,
}

impl Default for DocumentMemory {
    fn default() -> Self {
        DocumentMemory {
            idle_after: Duration::from_secs(60),
            max_resident: 10_000,
            sweep_every: Duration::from_secs(15),
        }
    }
}

impl DocumentMemory {
    /// Drops documents idle for `idle_after`, keeping at most `max_resident`, sweeping
    /// four times per idle period (at least every second, at most every 15 seconds).
    pub fn new(idle_after: Duration, max_resident: usize) -> DocumentMemory {
        DocumentMemory {
            idle_after,
            max_resident,
            sweep_every: (idle_after / 4).clamp(Duration::from_secs(1), Duration::from_secs(15)),
        }
    }
}

/// Limits that keep one abusive or broken peer from costing the others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncLimits {
    /// Frames one connection may send per second, sustained; beyond it the server stops
    /// reading from that connection until the rate falls (the peer is slowed, not cut).
    pub frames_per_second: f64,
    /// Frames one connection may send at once above the sustained rate.
    pub frame_burst: f64,
    /// Open sync connections per user on one instance.
    pub connections_per_user: usize,
    /// How long one write to a peer may take; a peer that does not read for that long is
    /// disconnected, so its unread data cannot pile up.
    pub write_timeout: Duration,
    /// How often the server pings each peer; a peer silent for two intervals (a dead
    /// network path) is disconnected.
    pub ping_interval: Duration,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            frames_per_second: 200.0,
            frame_burst: 1000.0,
            connections_per_user: 20,
            write_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// The configuration tests use: SQLite in `data_dir`, a free port on loopback.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: Database::Sqlite {
                data_dir: data_dir.clone(),
            },
            data_dir,
            limits: SyncLimits::default(),
            memory: DocumentMemory::default(),
            device_days: shared::policy::DEVICE_DAYS,
        }
    }
}
