//! The messages of the automerge-repo network protocol, version "1", and their CBOR form.
//!
//! Each WebSocket binary frame carries one CBOR map. Decoding goes through a generic CBOR
//! value first, so every malformed input (not CBOR, not a map, a missing or mistyped
//! field, an unknown type) becomes a [`DecodeError`] that names what is wrong, never a
//! panic. Encoding writes byte strings as plain CBOR byte strings, as the reference does.

use std::collections::BTreeMap;

use ciborium::value::Value;

use super::doc_id::DocumentId;

/// The only protocol version spoken.
pub const PROTOCOL_VERSION: &str = "1";

/// A peer's self-description, sent in `join` and `peer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    /// The peer's storage id, if it stores documents (then sync states are kept for it).
    pub storage_id: Option<String>,
    /// An ephemeral peer keeps nothing.
    pub is_ephemeral: bool,
}

/// Heads seen on one storage, in `remote-heads-changed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHeads {
    /// Hex change hashes.
    pub heads: Vec<String>,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// client → server: the first message.
    Join {
        /// The client's peer id.
        sender_id: String,
        /// The client's metadata.
        peer_metadata: PeerMetadata,
        /// Versions the client speaks; missing means `["1"]`.
        supported_protocol_versions: Vec<String>,
    },
    /// server → client: the answer to `join`.
    Peer {
        /// The server's peer id.
        sender_id: String,
        /// The client's peer id.
        target_id: String,
        /// The server's metadata.
        peer_metadata: PeerMetadata,
        /// Always [`PROTOCOL_VERSION`].
        selected_protocol_version: String,
    },
    /// "I have nothing of this document; send it if you have it."
    Request {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The document.
        document_id: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// An automerge sync message for a document.
    Sync {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The document.
        document_id: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// The sender has no such document (or may not show it).
    DocUnavailable {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The document.
        document_id: DocumentId,
    },
    /// Presence data; relayed, never stored.
    Ephemeral {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The document.
        document_id: DocumentId,
        /// The sender's session.
        session_id: String,
        /// A counter per session.
        count: u64,
        /// Opaque data.
        data: Vec<u8>,
    },
    /// Subscribe to or unsubscribe from heads of other storages.
    RemoteSubscriptionChange {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Storage ids to add.
        add: Vec<String>,
        /// Storage ids to remove.
        remove: Vec<String>,
    },
    /// Heads seen on other storages.
    RemoteHeadsChanged {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The document.
        document_id: DocumentId,
        /// Storage id → heads.
        new_heads: BTreeMap<String, RemoteHeads>,
    },
    /// A protocol error.
    Error {
        /// Sender, when known.
        sender_id: Option<String>,
        /// Receiver, when known.
        target_id: Option<String>,
        /// What went wrong.
        message: String,
        /// The document concerned, when there is one (our addition; stock peers ignore it).
        document_id: Option<DocumentId>,
    },
    /// The peer is going.
    Leave {
        /// Sender.
        sender_id: String,
    },
}

impl Message {
    /// The `type` field of this message.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Request { .. } => "request",
            Message::Sync { .. } => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Message::RemoteHeadsChanged { .. } => "remote-heads-changed",
            Message::Error { .. } => "error",
            Message::Leave { .. } => "leave",
        }
    }
}

/// Why bytes are not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not CBOR at all.
    #[error("not valid CBOR: {0}")]
    Cbor(String),
    /// CBOR, but not a map.
    #[error("a message must be a CBOR map")]
    NotAMap,
    /// A required field is missing.
    #[error("{message_type} message has no `{field}`")]
    Missing {
        /// The message type, or `message` before the type is known.
        message_type: String,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong CBOR type.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The `type` is not one of the protocol's.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The document id is not valid.
    #[error("invalid documentId: {0}")]
    DocumentId(String),
}

struct Fields {
    message_type: String,
    map: Vec<(Value, Value)>,
}

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    fn missing(&self, field: &'static str) -> DecodeError {
        DecodeError::Missing {
            message_type: self.message_type.clone(),
            field,
        }
    }

    fn text(&self, field: &'static str) -> Result<String, DecodeError> {
        match self.get(field) {
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(_) => Err(DecodeError::WrongType {
                field,
                expected: "a text string",
            }),
            None => Err(self.missing(field)),
        }
    }

    fn opt_text(&self, field: &'static str) -> Result<Option<String>, DecodeError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s.clone())),
            Some(_) => Err(DecodeError::WrongType {
                field,
                expected: "a text string",
            }),
        }
    }

    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self.get(field) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            // Tagged typed arrays (tag 64: Uint8Array) from encoders that tag them.
            Some(Value::Tag(64, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(DecodeError::WrongType {
                    field,
                    expected: "a byte string",
                }),
            },
            Some(_) => Err(DecodeError::WrongType {
                field,
                expected: "a byte string",
            }),
            None => Err(self.missing(field)),
        }
    }

    fn uint(&self, field: &'static str) -> Result<u64, DecodeError> {
        match self.get(field) {
            Some(Value::Integer(i)) => u64::try_from(*i).map_err(|_| DecodeError::WrongType {
                field,
                expected: "a non-negative integer",
            }),
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 && *f < 2f64.powi(53) => {
                Ok(*f as u64)
            }
            Some(_) => Err(DecodeError::WrongType {
                field,
                expected: "a non-negative integer",
            }),
            None => Err(self.missing(field)),
        }
    }

    fn doc_id(&self) -> Result<DocumentId, DecodeError> {
        let s = self.text("documentId")?;
        DocumentId::parse(&s).map_err(|e| DecodeError::DocumentId(e.to_string()))
    }

    fn text_list(&self, field: &'static str) -> Result<Option<Vec<String>>, DecodeError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Text(s) => Ok(s.clone()),
                    _ => Err(DecodeError::WrongType {
                        field,
                        expected: "a list of text strings",
                    }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(DecodeError::WrongType {
                field,
                expected: "a list of text strings",
            }),
        }
    }

    fn metadata(&self) -> Result<PeerMetadata, DecodeError> {
        let field = "peerMetadata";
        let map = match self.get(field) {
            None | Some(Value::Null) => return Ok(PeerMetadata::default()),
            Some(Value::Map(m)) => m,
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field,
                    expected: "a map",
                });
            }
        };
        let get = |k: &str| {
            map.iter()
                .find(|(key, _)| matches!(key, Value::Text(t) if t == k))
                .map(|(_, v)| v)
        };
        let storage_id = match get("storageId") {
            None | Some(Value::Null) => None,
            Some(Value::Text(s)) => Some(s.clone()),
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "peerMetadata.storageId",
                    expected: "a text string",
                });
            }
        };
        let is_ephemeral = match get("isEphemeral") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "peerMetadata.isEphemeral",
                    expected: "a boolean",
                });
            }
        };
        Ok(PeerMetadata {
            storage_id,
            is_ephemeral,
        })
    }
}

/// Decodes one frame.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let value: Value =
        ciborium::de::from_reader(bytes).map_err(|e| DecodeError::Cbor(e.to_string()))?;
    let Value::Map(map) = value else {
        return Err(DecodeError::NotAMap);
    };
    let mut fields = Fields {
        message_type: "message".to_string(),
        map,
    };
    let message_type = fields.text("type")?;
    fields.message_type = message_type.clone();
    let f = &fields;
    let message = match message_type.as_str() {
        "join" => Message::Join {
            sender_id: f.text("senderId")?,
            peer_metadata: f.metadata()?,
            supported_protocol_versions: f
                .text_list("supportedProtocolVersions")?
                .unwrap_or_else(|| vec![PROTOCOL_VERSION.to_string()]),
        },
        "peer" => Message::Peer {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            peer_metadata: f.metadata()?,
            selected_protocol_version: f.text("selectedProtocolVersion")?,
        },
        "request" => Message::Request {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            document_id: f.doc_id()?,
            data: f.bytes("data")?,
        },
        "sync" => Message::Sync {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            document_id: f.doc_id()?,
            data: f.bytes("data")?,
        },
        "doc-unavailable" => Message::DocUnavailable {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            document_id: f.doc_id()?,
        },
        "ephemeral" => Message::Ephemeral {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            document_id: f.doc_id()?,
            session_id: f.text("sessionId")?,
            count: f.uint("count")?,
            data: f.bytes("data")?,
        },
        "remote-subscription-change" => Message::RemoteSubscriptionChange {
            sender_id: f.text("senderId")?,
            target_id: f.text("targetId")?,
            add: f.text_list("add")?.unwrap_or_default(),
            remove: f.text_list("remove")?.unwrap_or_default(),
        },
        "remote-heads-changed" => {
            let field = "newHeads";
            let mut new_heads = BTreeMap::new();
            match f.get(field) {
                Some(Value::Map(entries)) => {
                    for (k, v) in entries {
                        let (Value::Text(storage), Value::Map(inner)) = (k, v) else {
                            return Err(DecodeError::WrongType {
                                field,
                                expected: "a map of storage id to heads",
                            });
                        };
                        let inner = Fields {
                            message_type: message_type.clone(),
                            map: inner.clone(),
                        };
                        new_heads.insert(
                            storage.clone(),
                            RemoteHeads {
                                heads: inner.text_list("heads")?.unwrap_or_default(),
                                timestamp: inner.uint("timestamp")?,
                            },
                        );
                    }
                }
                Some(_) => {
                    return Err(DecodeError::WrongType {
                        field,
                        expected: "a map of storage id to heads",
                    });
                }
                None => return Err(f.missing(field)),
            }
            Message::RemoteHeadsChanged {
                sender_id: f.text("senderId")?,
                target_id: f.text("targetId")?,
                document_id: f.doc_id()?,
                new_heads,
            }
        }
        "error" => Message::Error {
            sender_id: f.opt_text("senderId")?,
            target_id: f.opt_text("targetId")?,
            message: f.text("message")?,
            document_id: match f.opt_text("documentId")? {
                Some(s) => Some(
                    DocumentId::parse(&s).map_err(|e| DecodeError::DocumentId(e.to_string()))?,
                ),
                None => None,
            },
        },
        "leave" => Message::Leave {
            sender_id: f.text("senderId")?,
        },
        other => return Err(DecodeError::UnknownType(other.to_string())),
    };
    Ok(message)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn metadata(m: &PeerMetadata) -> Value {
    let mut entries = Vec::new();
    if let Some(id) = &m.storage_id {
        entries.push((text("storageId"), text(id)));
    }
    entries.push((text("isEphemeral"), Value::Bool(m.is_ephemeral)));
    Value::Map(entries)
}

/// Encodes one message as a CBOR map.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut m: Vec<(Value, Value)> = vec![(text("type"), text(message.type_name()))];
    let mut put = |k: &str, v: Value| m.push((text(k), v));
    match message {
        Message::Join {
            sender_id,
            peer_metadata,
            supported_protocol_versions,
        } => {
            put("senderId", text(sender_id));
            put("peerMetadata", metadata(peer_metadata));
            put(
                "supportedProtocolVersions",
                Value::Array(
                    supported_protocol_versions
                        .iter()
                        .map(|v| text(v))
                        .collect(),
                ),
            );
        }
        Message::Peer {
            sender_id,
            target_id,
            peer_metadata,
            selected_protocol_version,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("peerMetadata", metadata(peer_metadata));
            put("selectedProtocolVersion", text(selected_protocol_version));
        }
        Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        }
        | Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(&document_id.to_string()));
            put("data", Value::Bytes(data.clone()));
        }
        Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(&document_id.to_string()));
        }
        Message::Ephemeral {
            sender_id,
            target_id,
            document_id,
            session_id,
            count,
            data,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(&document_id.to_string()));
            put("sessionId", text(session_id));
            put("count", Value::Integer((*count).into()));
            put("data", Value::Bytes(data.clone()));
        }
        Message::RemoteSubscriptionChange {
            sender_id,
            target_id,
            add,
            remove,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("add", Value::Array(add.iter().map(|s| text(s)).collect()));
            put(
                "remove",
                Value::Array(remove.iter().map(|s| text(s)).collect()),
            );
        }
        Message::RemoteHeadsChanged {
            sender_id,
            target_id,
            document_id,
            new_heads,
        } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(&document_id.to_string()));
            let heads = new_heads
                .iter()
                .map(|(storage, h)| {
                    (
                        text(storage),
                        Value::Map(vec![
                            (
                                text("heads"),
                                Value::Array(h.heads.iter().map(|s| text(s)).collect()),
                            ),
                            (text("timestamp"), Value::Integer(h.timestamp.into())),
                        ]),
                    )
                })
                .collect();
            put("newHeads", Value::Map(heads));
        }
        Message::Error {
            sender_id,
            target_id,
            message,
            document_id,
        } => {
            if let Some(s) = sender_id {
                put("senderId", text(s));
            }
            if let Some(t) = target_id {
                put("targetId", text(t));
            }
            put("message", text(message));
            if let Some(d) = document_id {
                put("documentId", text(&d.to_string()));
            }
        }
        Message::Leave { sender_id } => put("senderId", text(sender_id)),
    }
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; an error here would be a bug in ciborium.
    ciborium::ser::into_writer(&Value::Map(m), &mut out).unwrap_or_default();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> DocumentId {
        DocumentId::parse("3kXEfxVKivNfLdGyESB61Q87pqST").expect("valid")
    }

    #[test]
    fn every_message_round_trips() {
        let s = || "a".to_string();
        let t = || "b".to_string();
        let messages = vec![
            Message::Join {
                sender_id: s(),
                peer_metadata: PeerMetadata {
                    storage_id: Some("st".into()),
                    is_ephemeral: false,
                },
                supported_protocol_versions: vec!["1".into()],
            },
            Message::Peer {
                sender_id: s(),
                target_id: t(),
                peer_metadata: PeerMetadata {
                    storage_id: Some("st".into()),
                    is_ephemeral: false,
                },
                selected_protocol_version: "1".into(),
            },
            Message::Request {
                sender_id: s(),
                target_id: t(),
                document_id: doc(),
                data: vec![1, 2],
            },
            Message::Sync {
                sender_id: s(),
                target_id: t(),
                document_id: doc(),
                data: vec![3],
            },
            Message::DocUnavailable {
                sender_id: s(),
                target_id: t(),
                document_id: doc(),
            },
            Message::Ephemeral {
                sender_id: s(),
                target_id: t(),
                document_id: doc(),
                session_id: "x".into(),
                count: 7,
                data: vec![9],
            },
            Message::RemoteSubscriptionChange {
                sender_id: s(),
                target_id: t(),
                add: vec!["x".into()],
                remove: vec![],
            },
            Message::RemoteHeadsChanged {
                sender_id: s(),
                target_id: t(),
                document_id: doc(),
                new_heads: BTreeMap::from([(
                    "st".to_string(),
                    RemoteHeads {
                        heads: vec!["ab".into()],
                        timestamp: 5,
                    },
                )]),
            },
            Message::Error {
                sender_id: Some(s()),
                target_id: None,
                message: "no".into(),
                document_id: Some(doc()),
            },
            Message::Leave { sender_id: s() },
        ];
        for m in messages {
            assert_eq!(decode(&encode(&m)), Ok(m.clone()), "{}", m.type_name());
        }
    }

    fn cbor(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&v, &mut out).expect("encodes");
        out
    }

    #[test]
    fn a_join_without_versions_means_version_one() {
        let bytes = cbor(Value::Map(vec![
            (text("type"), text("join")),
            (text("senderId"), text("p")),
        ]));
        assert_eq!(
            decode(&bytes),
            Ok(Message::Join {
                sender_id: "p".into(),
                peer_metadata: PeerMetadata::default(),
                supported_protocol_versions: vec!["1".into()]
            })
        );
    }

    #[test]
    fn malformed_frames_are_errors_that_say_what_is_wrong() {
        assert!(matches!(decode(&[0xff, 0x00]), Err(DecodeError::Cbor(_))));
        assert!(matches!(decode(&[]), Err(DecodeError::Cbor(_))));
        assert_eq!(
            decode(&cbor(Value::Array(vec![]))),
            Err(DecodeError::NotAMap)
        );
        assert!(matches!(
            decode(&cbor(Value::Map(vec![]))),
            Err(DecodeError::Missing { field: "type", .. })
        ));
        assert_eq!(
            decode(&cbor(Value::Map(vec![(text("type"), text("shout"))]))),
            Err(DecodeError::UnknownType("shout".into()))
        );
        let sync = |id: &str, data: Value| {
            cbor(Value::Map(vec![
                (text("type"), text("sync")),
                (text("senderId"), text("a")),
                (text("targetId"), text("b")),
                (text("documentId"), text(id)),
                (text("data"), data),
            ]))
        };
        assert!(matches!(
            decode(&sync("nope", Value::Bytes(vec![]))),
            Err(DecodeError::DocumentId(_))
        ));
        assert_eq!(
            decode(&sync("3kXEfxVKivNfLdGyESB61Q87pqST", text("x"))),
            Err(DecodeError::WrongType {
                field: "data",
                expected: "a byte string"
            })
        );
        let tagged = sync(
            "3kXEfxVKivNfLdGyESB61Q87pqST",
            Value::Tag(64, Box::new(Value::Bytes(vec![1]))),
        );
        assert!(matches!(decode(&tagged), Ok(Message::Sync { data, .. }) if data == vec![1]));
    }
}
