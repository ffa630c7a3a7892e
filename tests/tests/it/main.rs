//! The integration tests, as one test binary with a module per area: one link instead of
//! one per file, which on a 2-core machine saves minutes a build ("Delete Cargo Integration
//! Tests", matklad). Run one area or one test by name filter:
//!
//! ```sh
//! cargo test -p walkaround-tests --test it -- sync::
//! cargo test -p walkaround-tests --test it e2e::the_tablet_app_works_offline
//! ```
//!
//! `tests/tests/limits.rs` is a test binary of its own: it measures its process's resident
//! memory per idle connection, which the other tests of a shared binary would disturb.

mod api;
mod auth;
mod backup;
mod bays;
mod blobs;
mod browser_security;
mod clock;
mod cluster;
mod crash;
mod discovery;
mod e2e;
mod exports;
mod headers;
mod interop;
mod json_bodies;
mod live_rights;
mod matrix;
mod memory;
mod office;
mod operations;
mod races;
mod reasons;
mod relay;
mod reviews;
mod soak;
mod store_writes;
mod sync;
mod templates;
mod tidy;
mod unauthorized;
mod users;
