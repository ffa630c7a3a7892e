//! Document sync: the connections behind `GET /sync` and the documents they serve.
//!
//! - [`hub`]: the document cache: documents in memory, one lock each, evicted when idle;
//!   [`hub::accept`] judges and persists incoming changes (guard → fork → judge → persist
//!   → swap).
//! - [`connection`]: one task per WebSocket: the protocol session, per-document sync
//!   states, fan-out of other peers' changes, token expiry and revocation.
//! - [`context`]: [`SyncContext`], the part of the server's state a connection runs on.
//! - [`relay`]: what connections hand each other: documents a peer waited for, presence.
//! - [`fanout`]: other instances' changes, on PostgreSQL.

pub mod connection;
pub mod context;
pub mod fanout;
pub mod hub;
pub mod relay;

pub use context::SyncContext;

/// The largest WebSocket message accepted, in bytes (16 MiB); larger frames close the
/// connection.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
