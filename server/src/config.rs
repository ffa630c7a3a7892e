//! The server's configuration, validated once at the edge.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        }
    }
}
