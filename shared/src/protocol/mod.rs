//! The automerge-repo network protocol, version "1", without IO.
//!
//! - [`doc_id`]: document ids (bs58check of 16 bytes) and `automerge:` URLs.
//! - [`message`]: the messages and their CBOR encoding.
//! - [`session`]: the per-connection state machine for the server and for tablets.
//!
//! `docs/PROTOCOL.md` says what we implement and what we add.

pub mod doc_id;
pub mod message;
pub mod session;

pub use doc_id::{DocumentId, DocumentIdError};
pub use message::{DecodeError, Message, PROTOCOL_VERSION, PeerMetadata, decode, encode};
pub use session::{ClientSession, Event, ServerSession};
