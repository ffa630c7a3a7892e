//! What a sync connection needs of the server, and nothing more: [`SyncContext`].

use std::sync::Arc;

use tokio::sync::watch;

use super::hub::Hub;
use crate::config::SyncLimits;
use crate::metrics::Metrics;
use crate::store::Store;

/// The part of the server's state a [`Connection`](super::connection::Connection) runs
/// on: the documents, the store, its protocol identity, its limits, its metrics and the
/// shutdown signal. Not the token keys (the token was checked at the upgrade; only its
/// expiry matters afterwards) nor the table of connection slots (the upgrade holds the
/// slot). The HTTP layer takes it from `AppState` through axum's `FromRef` (`state.rs`);
/// a test builds one over a temporary store.
///
/// Cheap to clone: everything inside is a pool, an `Arc` or a small copy.
#[derive(Clone)]
pub struct SyncContext {
    /// The database: users re-read per message, sync states, the audit log.
    pub store: Store,
    /// Documents in memory and their subscribers.
    pub hub: Arc<Hub>,
    /// This process's peer id on the sync protocol.
    pub peer_id: Arc<str>,
    /// The server's storage id (stable across restarts, shared by instances).
    pub storage_id: Arc<str>,
    /// Limits on sync connections: throttle, write timeout, ping interval.
    pub limits: SyncLimits,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Becomes `true` when the server shuts down; connections then close cleanly.
    pub shutdown: watch::Receiver<bool>,
}
