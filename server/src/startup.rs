//! Building and running the server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::auth::{self, Keys};
use crate::config::Config;
use crate::http;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::sync::hub::Hub;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(String),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listener could not be bound or failed.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
}

/// How long a shutdown waits for sync connections to close.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    memory: crate::config::DocumentMemory,
}

/// Periodically drops unused documents from memory.
fn spawn_eviction(
    state: &AppState,
    memory: crate::config::DocumentMemory,
) -> tokio::task::JoinHandle<()> {
    let hub = state.hub.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(memory.sweep_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let evicted = hub.evict(memory.idle_after, memory.max_resident);
            metrics.documents_evicted.inc_by(evicted as u64);
        }
    })
}

/// Starts listening for other instances' changes, where the store is shared.
fn spawn_fanout(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    match &state.store {
        Store::Postgres(pool) => Some(tokio::spawn(crate::sync::fanout::listen(
            pool.clone(),
            state.hub.clone(),
        ))),
        Store::Sqlite(..) => None,
    }
}

impl Application {
    /// Opens the store (applying migrations) and binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        let store = Store::open(&config.database).await?;
        let mut state = app_state(store, config.limits).await?;
        state.device_days = config.device_days;
        let memory = config.memory;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    address: config.listen,
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: config.listen,
                source,
            })?;
        Ok(Application {
            listener,
            address,
            state,
            memory,
        })
    }

    /// The store, for setup before serving (the demo data).
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The shared state (tests use it to reach the store and hub).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes open requests and closes the store.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let store = self.state.store.clone();
        let fanout = spawn_fanout(&self.state);
        let eviction = spawn_eviction(&self.state, self.memory);
        let shutdown = self.state.shutdown.clone();
        let metrics = self.state.metrics.clone();
        // On the signal, ask every sync connection to close (they save their peers' sync
        // states), wait for them up to DRAIN_TIMEOUT, then let axum finish HTTP requests.
        let stop = async move {
            stop.await;
            shutdown.send_replace(true);
            let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
            while metrics.connections.get() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        let app = http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        // Sync messages are small and each one is waited for: without TCP_NODELAY, Nagle's
        // algorithm holds a message back until the peer acknowledges the previous one,
        // which a peer delaying its acknowledgements answers after 40 ms (seen as a 37 ms
        // median fan-out latency in the side-by-side benchmark).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY on a connection: {e}");
            }
        });
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .map_err(|source| StartupError::Listen {
                address: self.address,
                source,
            });
        if let Some(task) = fanout {
            task.abort();
        }
        eviction.abort();
        store.close().await;
        result
    }
}

/// The shared state: the signing key and storage id come from the database, so every
/// instance on one database agrees on them; the peer id is this process's own.
pub async fn app_state(
    store: Store,
    limits: crate::config::SyncLimits,
) -> Result<AppState, StartupError> {
    let random = || auth::random_token().map_err(|e| StartupError::Config(e.to_string()));
    let secret_candidate = random()?;
    let secret = store
        .setting_or_insert("jwt_secret", || secret_candidate)
        .await?;
    let storage_candidate = random()?;
    let storage_id = store
        .setting_or_insert("storage_id", || storage_candidate[..32].to_string())
        .await?;
    let peer_id = format!("walkaround-{}", &random()?[..12]);
    Ok(AppState {
        keys: Arc::new(Keys::new(secret.as_bytes())),
        hub: Arc::new(Hub::new(store.clone(), peer_id.clone())),
        store,
        peer_id: peer_id.into(),
        storage_id: storage_id.into(),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        shutdown: Arc::new(tokio::sync::watch::channel(false).0),
        limits,
        connections: Arc::default(),
        device_days: shared::policy::DEVICE_DAYS,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
