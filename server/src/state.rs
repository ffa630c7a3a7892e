//! The state every handler shares.

use crate::store::Store;

/// Cheap to clone: the store holds a connection pool.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
}
