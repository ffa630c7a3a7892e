//! Walkaround's domain, shared by the sync server and the tablet client.
//!
//! Everything here is pure: no IO, no clock, no randomness drawn behind the caller's back.
//! The same code therefore runs on the server (which validates every incoming change with
//! it) and in WebAssembly on the tablet (which checks a change before sending it), and the
//! two can never disagree about what a set of answers means.
//!
//! - [`ids`], [`role`], [`i18n`], [`site`]: the vocabulary.
//! - [`catalog`]: the regulation, rule by rule, with owners and fines.
//! - [`template`] and [`builtin`]: checklists as data, and the six built-in ones.
//! - [`inspection`]: the inspection as an automerge document, read and written.
//! - [`rules`]: answers → violations → fines.
//! - [`policy`]: who may do what, and the judge of every incoming change.
//! - [`protocol`]: the automerge-repo wire protocol and its per-connection state machine.
//! - [`chunk_guard`]: the check of untrusted automerge bytes before automerge parses them.
//! - [`time`]: the workshop's clock, China Standard Time.

pub mod builtin;
pub mod catalog;
pub mod chunk_guard;
pub mod i18n;
pub mod ids;
pub mod inspection;
pub mod policy;
pub mod protocol;
pub mod review;
pub mod role;
pub mod rules;
pub mod site;
pub mod template;
pub mod time;
