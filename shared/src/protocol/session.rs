//! The protocol's state machine for one connection, without IO.
//!
//! The server feeds every decoded message of a connection into a [`ServerSession`] and
//! acts on the [`Event`]s it returns; a tablet does the same with a [`ClientSession`]. The
//! handshake rules live here once: nothing but `join` before the handshake, version "1"
//! or an `error` and close, every later message from the peer that joined.

use super::doc_id::DocumentId;
use super::message::{Message, PROTOCOL_VERSION, PeerMetadata};

/// What the owner of a session must do after a message arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Send this message to the peer.
    Send(Message),
    /// The handshake completed.
    Joined {
        /// The other side's peer id.
        peer_id: String,
        /// Its metadata.
        metadata: PeerMetadata,
    },
    /// The peer sent sync data for a document (`request` or `sync`).
    Sync {
        /// The document.
        document_id: DocumentId,
        /// The automerge sync message.
        data: Vec<u8>,
        /// It came as `request`: the peer has nothing of the document.
        request: bool,
    },
    /// Presence data for a document (`ephemeral`), never stored. The server receives only
    /// what the joined peer itself sent; a tablet receives what other peers sent, relayed.
    Ephemeral {
        /// The peer that first sent it (kept through relays, as the reference does: presence
        /// tells peers apart by it).
        sender_id: String,
        /// The document.
        document_id: DocumentId,
        /// The sender's session.
        session_id: String,
        /// The sender's counter in that session.
        count: u64,
        /// The data (CBOR, as `DocHandle.broadcast` encodes it).
        data: Vec<u8>,
    },
    /// The peer has no such document.
    Unavailable {
        /// The document.
        document_id: DocumentId,
    },
    /// The peer reported an error.
    PeerError {
        /// Its message.
        message: String,
        /// The document, if it named one.
        document_id: Option<DocumentId>,
    },
    /// The peer is leaving; close the connection.
    Leave,
    /// Close the connection (any error message to send came before as `Send`).
    Close {
        /// Why, for the log.
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    AwaitingJoin,
    Open { peer_id: String },
    Closed,
}

/// The server's side of one connection.
#[derive(Debug, Clone)]
pub struct ServerSession {
    our_id: String,
    metadata: PeerMetadata,
    state: State,
}

impl ServerSession {
    /// A session for a new connection; `storage_id` is the server's storage id.
    pub fn new(our_id: impl Into<String>, storage_id: impl Into<String>) -> Self {
        ServerSession {
            our_id: our_id.into(),
            metadata: PeerMetadata {
                storage_id: Some(storage_id.into()),
                is_ephemeral: false,
            },
            state: State::AwaitingJoin,
        }
    }

    /// The peer id of the client, once joined.
    pub fn peer_id(&self) -> Option<&str> {
        match &self.state {
            State::Open { peer_id } => Some(peer_id),
            _ => None,
        }
    }

    fn fail(&mut self, message: String) -> Vec<Event> {
        let error = self.error(message.clone(), None);
        self.state = State::Closed;
        vec![Event::Send(error), Event::Close { reason: message }]
    }

    /// Handles one message from the client.
    pub fn receive(&mut self, message: Message) -> Vec<Event> {
        match (&self.state, message) {
            (State::Closed, _) => vec![],
            (
                State::AwaitingJoin,
                Message::Join {
                    sender_id,
                    peer_metadata,
                    supported_protocol_versions,
                },
            ) => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    return self.fail(format!(
                        "unsupported protocol version(s) {supported_protocol_versions:?}; this server speaks \"{PROTOCOL_VERSION}\""
                    ));
                }
                self.state = State::Open {
                    peer_id: sender_id.clone(),
                };
                vec![
                    Event::Send(Message::Peer {
                        sender_id: self.our_id.clone(),
                        target_id: sender_id.clone(),
                        peer_metadata: self.metadata.clone(),
                        selected_protocol_version: PROTOCOL_VERSION.to_string(),
                    }),
                    Event::Joined {
                        peer_id: sender_id,
                        metadata: peer_metadata,
                    },
                ]
            }
            (State::AwaitingJoin, other) => {
                self.fail(format!("expected join, got {}", other.type_name()))
            }
            (State::Open { .. }, Message::Join { .. }) => self.fail("join sent twice".to_string()),
            (State::Open { peer_id }, message) => {
                let peer_id = peer_id.clone();
                match message {
                    Message::Request {
                        sender_id,
                        document_id,
                        data,
                        ..
                    } if sender_id == peer_id => {
                        vec![Event::Sync {
                            document_id,
                            data,
                            request: true,
                        }]
                    }
                    Message::Sync {
                        sender_id,
                        document_id,
                        data,
                        ..
                    } if sender_id == peer_id => {
                        vec![Event::Sync {
                            document_id,
                            data,
                            request: false,
                        }]
                    }
                    Message::DocUnavailable {
                        sender_id,
                        document_id,
                        ..
                    } if sender_id == peer_id => {
                        vec![Event::Unavailable { document_id }]
                    }
                    Message::Error {
                        message,
                        document_id,
                        ..
                    } => {
                        vec![Event::PeerError {
                            message,
                            document_id,
                        }]
                    }
                    Message::Leave { .. } => {
                        self.state = State::Closed;
                        vec![Event::Leave]
                    }
                    Message::Ephemeral {
                        sender_id,
                        document_id,
                        session_id,
                        count,
                        data,
                        ..
                    } if sender_id == peer_id => vec![Event::Ephemeral {
                        sender_id,
                        document_id,
                        session_id,
                        count,
                        data,
                    }],
                    // A stock client passes every ephemeral message it receives on to its
                    // other peers, so the server gets back what it relayed, under the
                    // original sender's id. The server already gave it to everyone: the
                    // echo is dropped, and no peer can speak for another.
                    Message::Ephemeral { .. } => vec![],
                    // Remote-heads gossip concerns the storages of a mesh; a star-shaped
                    // server keeps one, so it is dropped.
                    Message::RemoteSubscriptionChange { .. }
                    | Message::RemoteHeadsChanged { .. } => vec![],
                    Message::Peer { .. } => self.fail("peer is the server's message".to_string()),
                    other => vec![Event::Send(self.error(
                        format!(
                            "{} from a sender other than the joined peer",
                            other.type_name()
                        ),
                        None,
                    ))],
                }
            }
        }
    }

    /// A `sync` message to the client.
    pub fn sync(&self, document_id: DocumentId, data: Vec<u8>) -> Message {
        Message::Sync {
            sender_id: self.our_id.clone(),
            target_id: self.peer_id().unwrap_or_default().to_string(),
            document_id,
            data,
        }
    }

    /// A `doc-unavailable` message to the client.
    pub fn unavailable(&self, document_id: DocumentId) -> Message {
        Message::DocUnavailable {
            sender_id: self.our_id.clone(),
            target_id: self.peer_id().unwrap_or_default().to_string(),
            document_id,
        }
    }

    /// An `ephemeral` message relayed to the client: the original sender, session and
    /// count unchanged, the client as target (as the reference server relays them).
    pub fn ephemeral(
        &self,
        sender_id: String,
        document_id: DocumentId,
        session_id: String,
        count: u64,
        data: Vec<u8>,
    ) -> Message {
        Message::Ephemeral {
            sender_id,
            target_id: self.peer_id().unwrap_or_default().to_string(),
            document_id,
            session_id,
            count,
            data,
        }
    }

    /// An `error` message to the client, naming a document when there is one.
    pub fn error(&self, message: String, document_id: Option<DocumentId>) -> Message {
        Message::Error {
            sender_id: Some(self.our_id.clone()),
            target_id: self.peer_id().map(str::to_string),
            message,
            document_id,
        }
    }
}

/// A tablet's side of its connection to the server.
#[derive(Debug, Clone)]
pub struct ClientSession {
    our_id: String,
    metadata: PeerMetadata,
    state: State,
}

impl ClientSession {
    /// A session that will join as `our_id`.
    pub fn new(our_id: impl Into<String>, storage_id: Option<String>) -> Self {
        ClientSession {
            our_id: our_id.into(),
            metadata: PeerMetadata {
                storage_id,
                is_ephemeral: false,
            },
            state: State::AwaitingJoin,
        }
    }

    /// The first message to send.
    pub fn join(&self) -> Message {
        Message::Join {
            sender_id: self.our_id.clone(),
            peer_metadata: self.metadata.clone(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.to_string()],
        }
    }

    /// The tablet's own peer id (the `senderId` of everything it sends).
    pub fn peer_id(&self) -> &str {
        &self.our_id
    }

    /// An `ephemeral` message (presence data for a document) from this tablet.
    /// `session_id` is chosen once per session of the app and `count` grows with every
    /// message in it: receivers drop what does not grow.
    pub fn ephemeral(
        &self,
        document_id: DocumentId,
        session_id: String,
        count: u64,
        data: Vec<u8>,
    ) -> Message {
        Message::Ephemeral {
            sender_id: self.our_id.clone(),
            target_id: self.server_id().unwrap_or_default().to_string(),
            document_id,
            session_id,
            count,
            data,
        }
    }

    /// The server's peer id, once joined.
    pub fn server_id(&self) -> Option<&str> {
        match &self.state {
            State::Open { peer_id } => Some(peer_id),
            _ => None,
        }
    }

    /// Handles one message from the server.
    pub fn receive(&mut self, message: Message) -> Vec<Event> {
        match (&self.state, message) {
            (State::Closed, _) => vec![],
            (
                State::AwaitingJoin,
                Message::Peer {
                    sender_id,
                    peer_metadata,
                    selected_protocol_version,
                    ..
                },
            ) => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    self.state = State::Closed;
                    return vec![Event::Close {
                        reason: format!("server selected protocol {selected_protocol_version:?}"),
                    }];
                }
                self.state = State::Open {
                    peer_id: sender_id.clone(),
                };
                vec![Event::Joined {
                    peer_id: sender_id,
                    metadata: peer_metadata,
                }]
            }
            (
                _,
                Message::Error {
                    message,
                    document_id,
                    ..
                },
            ) => {
                vec![Event::PeerError {
                    message,
                    document_id,
                }]
            }
            (
                State::Open { .. },
                Message::Sync {
                    document_id, data, ..
                },
            ) => {
                vec![Event::Sync {
                    document_id,
                    data,
                    request: false,
                }]
            }
            (
                State::Open { .. },
                Message::Request {
                    document_id, data, ..
                },
            ) => {
                vec![Event::Sync {
                    document_id,
                    data,
                    request: true,
                }]
            }
            (
                State::Open { .. },
                Message::Ephemeral {
                    sender_id,
                    document_id,
                    session_id,
                    count,
                    data,
                    ..
                },
            ) => {
                vec![Event::Ephemeral {
                    sender_id,
                    document_id,
                    session_id,
                    count,
                    data,
                }]
            }
            (State::Open { .. }, Message::DocUnavailable { document_id, .. }) => {
                vec![Event::Unavailable { document_id }]
            }
            (State::Open { .. }, Message::Leave { .. }) => {
                self.state = State::Closed;
                vec![Event::Leave]
            }
            (State::Open { .. }, _) => vec![],
            (State::AwaitingJoin, other) => {
                self.state = State::Closed;
                vec![Event::Close {
                    reason: format!("expected peer, got {}", other.type_name()),
                }]
            }
        }
    }

    /// A `sync` (or, when the tablet has nothing of the document, `request`) message.
    pub fn sync(&self, document_id: DocumentId, data: Vec<u8>, request: bool) -> Message {
        let sender_id = self.our_id.clone();
        let target_id = self.server_id().unwrap_or_default().to_string();
        if request {
            Message::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
        } else {
            Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> DocumentId {
        DocumentId::from_bytes([7; 16])
    }

    #[test]
    fn a_client_and_a_server_complete_the_handshake_and_exchange_sync() {
        let mut server = ServerSession::new("server", "store-1");
        let mut client = ClientSession::new("tablet", Some("tab-store".into()));
        let events = server.receive(client.join());
        let Event::Send(peer) = &events[0] else {
            panic!("sends peer")
        };
        assert!(
            matches!(&events[1], Event::Joined { peer_id, metadata } if peer_id == "tablet" && metadata.storage_id.as_deref() == Some("tab-store"))
        );
        assert!(matches!(
            client.receive(peer.clone())[0],
            Event::Joined { .. }
        ));
        assert_eq!(client.server_id(), Some("server"));
        let events = server.receive(client.sync(doc(), vec![1], true));
        assert_eq!(
            events,
            vec![Event::Sync {
                document_id: doc(),
                data: vec![1],
                request: true
            }]
        );
        let reply = server.sync(doc(), vec![2]);
        assert_eq!(
            client.receive(reply),
            vec![Event::Sync {
                document_id: doc(),
                data: vec![2],
                request: false
            }]
        );
    }

    #[test]
    fn anything_before_join_is_an_error_and_closes() {
        let mut server = ServerSession::new("server", "s");
        let events = server.receive(Message::Sync {
            sender_id: "x".into(),
            target_id: "server".into(),
            document_id: doc(),
            data: vec![],
        });
        assert!(
            matches!(&events[0], Event::Send(Message::Error { message, .. }) if message.contains("expected join"))
        );
        assert!(matches!(events[1], Event::Close { .. }));
        assert!(
            server
                .receive(ClientSession::new("x", None).join())
                .is_empty(),
            "a closed session stays closed"
        );
    }

    #[test]
    fn an_unsupported_protocol_version_is_refused() {
        let mut server = ServerSession::new("server", "s");
        let events = server.receive(Message::Join {
            sender_id: "x".into(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: vec!["2".into()],
        });
        assert!(
            matches!(&events[0], Event::Send(Message::Error { message, .. }) if message.contains("unsupported"))
        );
        assert!(matches!(events[1], Event::Close { .. }));
    }

    #[test]
    fn ephemeral_messages_of_the_joined_peer_pass_and_echoes_are_dropped() {
        let mut server = ServerSession::new("server", "s");
        let mut client = ClientSession::new("tablet", None);
        let events = server.receive(client.join());
        let Event::Send(peer) = &events[0] else {
            panic!("sends peer")
        };
        client.receive(peer.clone());
        let own = client.ephemeral(doc(), "session-1".into(), 3, vec![0xa0]);
        assert_eq!(
            server.receive(own),
            vec![Event::Ephemeral {
                sender_id: "tablet".into(),
                document_id: doc(),
                session_id: "session-1".into(),
                count: 3,
                data: vec![0xa0],
            }]
        );
        // What a stock client passes back: another peer's message, relayed to it before.
        let echo = Message::Ephemeral {
            sender_id: "other-tablet".into(),
            target_id: "server".into(),
            document_id: doc(),
            session_id: "session-9".into(),
            count: 1,
            data: vec![0xa0],
        };
        assert!(server.receive(echo).is_empty());
        assert_eq!(
            server.peer_id(),
            Some("tablet"),
            "the connection stays open"
        );
        // Relayed to the tablet with the original sender, session and count.
        let relayed =
            server.ephemeral("other-tablet".into(), doc(), "session-9".into(), 1, vec![1]);
        assert_eq!(
            client.receive(relayed),
            vec![Event::Ephemeral {
                sender_id: "other-tablet".into(),
                document_id: doc(),
                session_id: "session-9".into(),
                count: 1,
                data: vec![1],
            }]
        );
    }

    #[test]
    fn a_message_from_another_sender_is_refused_without_closing() {
        let mut server = ServerSession::new("server", "s");
        server.receive(ClientSession::new("tablet", None).join());
        let events = server.receive(Message::Sync {
            sender_id: "intruder".into(),
            target_id: "server".into(),
            document_id: doc(),
            data: vec![],
        });
        assert!(matches!(&events[0], Event::Send(Message::Error { .. })));
        assert_eq!(server.peer_id(), Some("tablet"));
    }
}
