//! Fan-out between instances on one PostgreSQL database.
//!
//! Every accepted change is committed together with a `pg_notify` on
//! [`CHANGES_CHANNEL`](crate::store::documents::CHANGES_CHANNEL) naming the instance and the
//! document. Each instance listens; on a notification from another instance it reloads the
//! document's new chunks into its copy in memory, which offers them to its own peers. After
//! the listening connection drops (notifications may have been missed), every document in
//! memory is refreshed. SQLite serves one instance, so it needs none of this.

use std::sync::Arc;
use std::time::Duration;

use shared::protocol::DocumentId;
use sqlx::postgres::{PgListener, PgPool};

use super::hub::Hub;
use crate::store::documents::CHANGES_CHANNEL;

/// Listens for other instances' changes until the task is aborted.
pub async fn listen(pool: PgPool, hub: Arc<Hub>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances' changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for other instances' changes; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything may have changed while nobody listened.
        if let Err(e) = hub.refresh_all().await {
            tracing::warn!(error = %e, "cannot refresh documents");
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let Some((origin, doc)) = notification.payload().split_once(' ') else {
                        continue;
                    };
                    if origin == hub.peer_id() {
                        continue;
                    }
                    let Ok(id) = DocumentId::parse(doc) else {
                        continue;
                    };
                    if let Err(e) = hub.refresh(&id).await {
                        tracing::warn!(error = %e, doc, "cannot refresh a document changed elsewhere");
                    }
                }
                // The connection dropped and will be re-established by the next call;
                // notifications sent meanwhile are lost, so catch up from the store.
                Ok(None) => {
                    if let Err(e) = hub.refresh_all().await {
                        tracing::warn!(error = %e, "cannot refresh documents");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the change listener; reconnecting");
                    break;
                }
            }
        }
    }
}
