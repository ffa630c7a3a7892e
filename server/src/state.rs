//! The state every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRef;
use tokio::sync::watch;

use crate::auth::Keys;
use crate::config::SyncLimits;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::sync::SyncContext;
use crate::sync::hub::Hub;

/// Cheap to clone: everything inside is a pool or an `Arc`.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Token keys.
    pub keys: Arc<Keys>,
    /// Documents in memory and their subscribers.
    pub hub: Arc<Hub>,
    /// This process's peer id on the sync protocol.
    pub peer_id: Arc<str>,
    /// The server's storage id (stable across restarts, shared by instances).
    pub storage_id: Arc<str>,
    /// Metrics for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Becomes `true` when the server shuts down; sync connections then close cleanly.
    pub shutdown: Arc<watch::Sender<bool>>,
    /// Limits on sync connections.
    pub limits: SyncLimits,
    /// Open sync connections per user on this instance.
    pub connections: Arc<Mutex<HashMap<String, usize>>>,
    /// Days of submitted history a floor device keeps (`--device-days`; bounded sync,
    /// `shared::policy::device_keeps`).
    pub device_days: u32,
}

/// A sync connection gets only what it runs on (`State<SyncContext>` in `http/sync.rs`).
impl FromRef<AppState> for SyncContext {
    fn from_ref(state: &AppState) -> SyncContext {
        SyncContext {
            store: state.store.clone(),
            hub: state.hub.clone(),
            peer_id: state.peer_id.clone(),
            storage_id: state.storage_id.clone(),
            limits: state.limits,
            metrics: state.metrics.clone(),
            shutdown: state.shutdown.subscribe(),
        }
    }
}
