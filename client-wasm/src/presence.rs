//! Presence: who else has a document open, and where, from `ephemeral` messages.
//!
//! The data of each message is what automerge-repo's `Presence` broadcasts through
//! `DocHandle.broadcast` (CBOR): `{"__presence": {"type": "snapshot", "state": {…}}}`,
//! `{"type": "update", "channel", "value"}`, `{"type": "heartbeat"}` or
//! `{"type": "goodbye"}`. A tablet always sends a whole snapshot (its heartbeat too, so a
//! peer that missed the first message learns everything from the next) and its state is
//! `{user, name, area}`, so stock clients using `Presence` see the tablet and the tablet sees
//! them. Anything else (a plain `broadcast`, a message without the marker, bad CBOR) is
//! ignored.
//!
//! The table keeps, per document, the last state and last-seen time of each other peer;
//! a peer silent for longer than [`TTL_MS`] (three of the app's heartbeats) is no longer
//! listed, and a goodbye removes it at once. Times are the caller's (milliseconds since the
//! epoch), so the table is a pure function of what it was told.

use std::collections::HashMap;

use ciborium::value::Value;
use serde::{Deserialize, Serialize};

/// The marker automerge-repo's `Presence` puts around its messages.
const MARKER: &str = "__presence";

/// How often the app sends its presence while a document is open.
pub const HEARTBEAT_MS: f64 = 5_000.0;

/// A peer not heard from for this long has gone (three heartbeats, as automerge-repo's
/// `Presence` forgets a peer after three of its heartbeat intervals).
pub const TTL_MS: f64 = 3.0 * HEARTBEAT_MS;

/// What a tablet tells the other peers of a document about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The user id.
    #[serde(default)]
    pub user: String,
    /// The user's display name.
    #[serde(default)]
    pub name: String,
    /// The area (bay, room, entrance) the user is at, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

/// One message of `Presence`, as far as the table cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The sender's whole state.
    Snapshot(State),
    /// One field of the sender's state changed (`user`, `name` or `area`; others ignored).
    Update {
        /// The field.
        channel: String,
        /// Its new value (`None` when not a string).
        value: Option<String>,
    },
    /// The sender is still there.
    Heartbeat,
    /// The sender is leaving.
    Goodbye,
}

/// The CBOR data of a message, in the shape automerge-repo's `Presence` sends.
pub fn encode(message: &Message) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_string());
    let inner = match message {
        Message::Snapshot(state) => {
            let mut fields = vec![
                (text("user"), text(&state.user)),
                (text("name"), text(&state.name)),
            ];
            if let Some(area) = &state.area {
                fields.push((text("area"), text(area)));
            }
            vec![
                (text("type"), text("snapshot")),
                (text("state"), Value::Map(fields)),
            ]
        }
        Message::Update { channel, value } => vec![
            (text("type"), text("update")),
            (text("channel"), text(channel)),
            (text("value"), value.as_deref().map_or(Value::Null, text)),
        ],
        Message::Heartbeat => vec![(text("type"), text("heartbeat"))],
        Message::Goodbye => vec![(text("type"), text("goodbye"))],
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(
        &Value::Map(vec![(text(MARKER), Value::Map(inner))]),
        &mut bytes,
    )
    .expect("writing CBOR to a Vec cannot fail");
    bytes
}

/// Reads the data of an `ephemeral` message; `None` when it is not a presence message.
pub fn decode(data: &[u8]) -> Option<Message> {
    let value: Value = ciborium::from_reader(data).ok()?;
    let inner = field(&value, MARKER)?;
    let string = |v: Option<&Value>| v.and_then(Value::as_text).map(str::to_string);
    match field(inner, "type")?.as_text()? {
        "snapshot" => {
            let state = field(inner, "state")?;
            Some(Message::Snapshot(State {
                user: string(field(state, "user")).unwrap_or_default(),
                name: string(field(state, "name")).unwrap_or_default(),
                area: string(field(state, "area")),
            }))
        }
        "update" => Some(Message::Update {
            channel: string(field(inner, "channel"))?,
            value: string(field(inner, "value")),
        }),
        "heartbeat" => Some(Message::Heartbeat),
        "goodbye" => Some(Message::Goodbye),
        _ => None,
    }
}

fn field<'a>(map: &'a Value, name: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
}

/// Another peer of a document, as the app shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// The peer id (one per tablet).
    pub peer_id: String,
    /// The user id.
    pub user: String,
    /// The display name.
    pub name: String,
    /// The area it is at.
    pub area: Option<String>,
    /// When it was last heard from (milliseconds since the epoch).
    pub last_seen: f64,
}

#[derive(Debug, Clone)]
struct Entry {
    state: State,
    session_id: String,
    count: u64,
    last_seen: f64,
}

/// What a received message did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heard {
    /// What the app shows changed: a peer came, moved or left.
    pub changed: bool,
    /// The peer was not known: tell it about ourselves now rather than at the next
    /// heartbeat (as `Presence` announces itself to a peer it has not seen).
    pub new_peer: bool,
}

/// The other peers of every document, as heard.
#[derive(Debug, Default)]
pub struct Table {
    docs: HashMap<String, HashMap<String, Entry>>,
}

impl Table {
    /// Takes in one `ephemeral` message from `sender` about `doc`, heard at `now`.
    /// A message not newer than the last one of the same session is ignored.
    pub fn hear(
        &mut self,
        doc: &str,
        sender: &str,
        session_id: &str,
        count: u64,
        data: &[u8],
        now: f64,
    ) -> Heard {
        let Some(message) = decode(data) else {
            return Heard::default();
        };
        let peers = self.docs.entry(doc.to_string()).or_default();
        let known = peers
            .get(sender)
            .filter(|e| now - e.last_seen <= TTL_MS)
            .cloned();
        if known
            .as_ref()
            .is_some_and(|e| e.session_id == session_id && count <= e.count)
        {
            return Heard::default();
        }
        let new_peer = known.is_none();
        let before = known.as_ref().map(|e| e.state.clone());
        let mut state = before.clone().unwrap_or_default();
        match message {
            Message::Goodbye => {
                peers.remove(sender);
                return Heard {
                    changed: !new_peer,
                    new_peer: false,
                };
            }
            // A heartbeat from a peer never heard says nothing to show; announcing
            // ourselves makes a stock peer send its snapshot.
            Message::Heartbeat if new_peer => {
                return Heard {
                    changed: false,
                    new_peer: true,
                };
            }
            Message::Heartbeat => {}
            Message::Snapshot(snapshot) => state = snapshot,
            Message::Update { channel, value } => match channel.as_str() {
                "user" => state.user = value.unwrap_or_default(),
                "name" => state.name = value.unwrap_or_default(),
                "area" => state.area = value,
                _ => {}
            },
        }
        let changed = before.as_ref() != Some(&state);
        peers.insert(
            sender.to_string(),
            Entry {
                state,
                session_id: session_id.to_string(),
                count,
                last_seen: now,
            },
        );
        Heard { changed, new_peer }
    }

    /// The peers of `doc` heard within [`TTL_MS`] of `now`, other than `ourselves`, by
    /// name; the silent ones are dropped from the table.
    pub fn peers(&mut self, doc: &str, ourselves: &str, now: f64) -> Vec<Peer> {
        let Some(peers) = self.docs.get_mut(doc) else {
            return vec![];
        };
        peers.retain(|_, e| now - e.last_seen <= TTL_MS);
        let mut listed: Vec<Peer> = peers
            .iter()
            .filter(|(id, _)| id.as_str() != ourselves)
            .map(|(id, e)| Peer {
                peer_id: id.clone(),
                user: e.state.user.clone(),
                name: e.state.name.clone(),
                area: e.state.area.clone(),
                last_seen: e.last_seen,
            })
            .collect();
        listed.sort_by(|a, b| (&a.name, &a.peer_id).cmp(&(&b.name, &b.peer_id)));
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "doc-1";

    fn wang(area: Option<&str>) -> State {
        State {
            user: "wang".into(),
            name: "车间经理 王强".into(),
            area: area.map(str::to_string),
        }
    }

    fn snapshot(state: State) -> Vec<u8> {
        encode(&Message::Snapshot(state))
    }

    #[test]
    fn every_message_reads_back_as_written() {
        for message in [
            Message::Snapshot(wang(Some("bay-1"))),
            Message::Snapshot(wang(None)),
            Message::Update {
                channel: "area".into(),
                value: Some("paint-room".into()),
            },
            Message::Heartbeat,
            Message::Goodbye,
        ] {
            assert_eq!(decode(&encode(&message)), Some(message));
        }
    }

    #[test]
    fn the_data_has_the_shape_stock_presence_reads() {
        let value: Value =
            ciborium::from_reader(snapshot(wang(Some("bay-1"))).as_slice()).expect("CBOR");
        let inner = field(&value, "__presence").expect("the marker");
        assert_eq!(
            field(inner, "type").and_then(Value::as_text),
            Some("snapshot")
        );
        let state = field(inner, "state").expect("a state");
        assert_eq!(field(state, "area").and_then(Value::as_text), Some("bay-1"));
        assert_eq!(field(state, "user").and_then(Value::as_text), Some("wang"));
    }

    #[test]
    fn what_is_not_presence_is_ignored() {
        let mut plain = Vec::new();
        ciborium::into_writer(
            &Value::Map(vec![(Value::Text("note".into()), Value::Text("hi".into()))]),
            &mut plain,
        )
        .expect("CBOR");
        assert_eq!(decode(&plain), None);
        assert_eq!(decode(&[0xff, 0x00]), None);
        let mut table = Table::default();
        assert_eq!(table.hear(DOC, "p", "s", 1, &plain, 0.0), Heard::default());
        assert!(table.peers(DOC, "me", 0.0).is_empty());
    }

    #[test]
    fn a_peer_is_listed_with_its_area_and_moves() {
        let mut table = Table::default();
        let heard = table.hear(
            DOC,
            "tablet-b",
            "s1",
            1,
            &snapshot(wang(Some("bay-1"))),
            1000.0,
        );
        assert_eq!(
            heard,
            Heard {
                changed: true,
                new_peer: true
            }
        );
        let peers = table.peers(DOC, "tablet-a", 1000.0);
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].peer_id, "tablet-b");
        assert_eq!(peers[0].area.as_deref(), Some("bay-1"));

        let moved = Message::Update {
            channel: "area".into(),
            value: Some("bay-2".into()),
        };
        let heard = table.hear(DOC, "tablet-b", "s1", 2, &encode(&moved), 2000.0);
        assert_eq!(
            heard,
            Heard {
                changed: true,
                new_peer: false
            }
        );
        assert_eq!(
            table.peers(DOC, "tablet-a", 2000.0)[0].area.as_deref(),
            Some("bay-2")
        );
        // The same state again (a heartbeat snapshot) changes nothing to show.
        let heard = table.hear(
            DOC,
            "tablet-b",
            "s1",
            3,
            &snapshot(wang(Some("bay-2"))),
            3000.0,
        );
        assert_eq!(heard, Heard::default());
        // Other documents know nothing of it.
        assert!(table.peers("doc-2", "tablet-a", 3000.0).is_empty());
    }

    #[test]
    fn ourselves_are_not_listed() {
        let mut table = Table::default();
        table.hear(DOC, "tablet-a", "s1", 1, &snapshot(wang(None)), 0.0);
        assert!(table.peers(DOC, "tablet-a", 0.0).is_empty());
    }

    #[test]
    fn a_repeat_of_the_same_session_is_ignored_and_a_new_session_starts_over() {
        let mut table = Table::default();
        table.hear(DOC, "b", "s1", 5, &snapshot(wang(Some("bay-1"))), 0.0);
        let stale = table.hear(DOC, "b", "s1", 4, &snapshot(wang(Some("bay-9"))), 10.0);
        assert_eq!(stale, Heard::default());
        assert_eq!(
            table.peers(DOC, "a", 10.0)[0].area.as_deref(),
            Some("bay-1")
        );
        // A reconnect is a new session whose count starts again at 1.
        let fresh = table.hear(DOC, "b", "s2", 1, &snapshot(wang(Some("bay-3"))), 20.0);
        assert!(fresh.changed);
        assert_eq!(
            table.peers(DOC, "a", 20.0)[0].area.as_deref(),
            Some("bay-3")
        );
    }

    #[test]
    fn a_peer_silent_for_three_heartbeats_is_dropped_and_heartbeats_keep_it() {
        let mut table = Table::default();
        table.hear(DOC, "b", "s1", 1, &snapshot(wang(None)), 0.0);
        let beat = encode(&Message::Heartbeat);
        table.hear(DOC, "b", "s1", 2, &beat, 10_000.0);
        assert_eq!(table.peers(DOC, "a", 10_000.0 + TTL_MS).len(), 1);
        assert!(table.peers(DOC, "a", 10_001.0 + TTL_MS).is_empty());
        // Heard again after it was dropped: a new peer, announced to.
        let heard = table.hear(DOC, "b", "s1", 3, &snapshot(wang(None)), 40_000.0);
        assert!(heard.new_peer && heard.changed);
    }

    #[test]
    fn a_heartbeat_from_an_unknown_peer_asks_for_an_announcement_only() {
        let mut table = Table::default();
        let heard = table.hear(DOC, "b", "s1", 1, &encode(&Message::Heartbeat), 0.0);
        assert_eq!(
            heard,
            Heard {
                changed: false,
                new_peer: true
            }
        );
        assert!(table.peers(DOC, "a", 0.0).is_empty());
    }

    #[test]
    fn a_goodbye_removes_the_peer_at_once() {
        let mut table = Table::default();
        table.hear(DOC, "b", "s1", 1, &snapshot(wang(Some("bay-1"))), 0.0);
        table.hear(DOC, "c", "s7", 1, &snapshot(wang(Some("bay-2"))), 0.0);
        let heard = table.hear(DOC, "b", "s1", 2, &encode(&Message::Goodbye), 100.0);
        assert!(heard.changed);
        let left: Vec<String> = table
            .peers(DOC, "a", 100.0)
            .into_iter()
            .map(|p| p.peer_id)
            .collect();
        assert_eq!(left, ["c"]);
    }
}
