//! Walkaround's sync server.
//!
//! - [`cli`]: the command line (`walkaround serve …`), validated into a [`config::Config`].
//! - [`startup`]: binds the listener, opens the store, runs the server until a signal.
//! - [`store`]: the database behind one interface, SQLite by default, PostgreSQL on request.
//! - [`http`]: the routes, and the one place where errors become status codes.
//! - [`office`]: the office's work on violations: the review workflow, assignment, the
//!   monthly report and the scheduled routines.
//! - [`state`]: the one `Clone` state every handler shares.

pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod office;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;

/// The allocator of every program built on this library (with the default feature
/// `mimalloc`): the server and the test binaries that run it.
///
/// glibc's malloc kept what a long-running server frees: measured with `scale-bench`,
/// 5,000 documents left memory and the process stayed at the same RSS (329 MiB); with
/// mimalloc it fell to 127 MiB, and after 100,000 documents from 1,334 to 140 MiB
/// (docs/BENCHMARKS.md). It is built without transparent huge pages (`no_thp`), which
/// raised the RSS of a small server by about 10 MiB.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
