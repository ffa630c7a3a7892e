//! Walkaround's sync server.
//!
//! - [`cli`]: the command line (`walkaround serve …`), validated into a [`config::Config`].
//! - [`startup`]: binds the listener, opens the store, runs the server until a signal.
//! - [`store`]: the database behind one interface, SQLite by default, PostgreSQL on request.
//! - [`http`]: the routes, and the one place where errors become status codes.
//! - [`routines`]: which scheduled routines were done on time and which were missed.
//! - [`state`]: the one `Clone` state every handler shares.

pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod http;
pub mod metrics;
pub mod routines;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
