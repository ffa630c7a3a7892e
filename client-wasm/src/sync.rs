//! The tablet's sync client: every document the tablet holds, and the protocol session
//! with the server, over frames the JavaScript side carries.
//!
//! The WebSocket, IndexedDB and timers live in JavaScript (they are browser APIs); every
//! decision lives here, in the shared protocol and document code: what to send, what a
//! received frame means, which documents changed, which changes the server has not yet
//! acknowledged.

use std::collections::HashMap;

use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use serde::Serialize;
use shared::inspection::{self, write};
use shared::protocol::{self, ClientSession, DocumentId, Event};
use wasm_bindgen::prelude::*;

use crate::presence::{self, Table};
use crate::recover::{self, Dropped, Refusal};
use crate::{
    apply_answer, apply_occupied, apply_submit, from_js, js_err, new_inspection, now, to_js,
};

struct Tracked {
    doc: Automerge,
    state: SyncState,
    /// The heads the server last reported for this document.
    server_heads: Option<Vec<ChangeHash>>,
    /// The server refused a change of it: nothing is sent until `recover` has rebuilt it
    /// (sending again would only repeat the refused change).
    held: bool,
    /// Recoveries in a row that found nothing to drop (the server refused for a reason
    /// this tablet could not reproduce); reset when the server acknowledges our heads.
    blind_recoveries: u8,
}

impl Tracked {
    fn new(doc: Automerge) -> Self {
        Tracked {
            doc,
            state: SyncState::new(),
            server_heads: None,
            held: false,
            blind_recoveries: 0,
        }
    }

    /// Whether it has changes the server has not acknowledged (an empty document has none).
    fn unsent(&self) -> bool {
        let ours = sorted(self.doc.get_heads());
        !ours.is_empty() && self.server_heads.as_ref() != Some(&ours)
    }
}

/// What a received frame meant, for the app.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    /// The handshake completed.
    joined: bool,
    /// Documents whose content changed.
    changed: Vec<String>,
    /// Documents the server does not have or will not show.
    unavailable: Vec<String>,
    /// Errors the server reported.
    errors: Vec<ErrorReport>,
    /// Documents of which the server refused a change: call `recover` for each (until
    /// then nothing more of them is sent).
    refused: Vec<ErrorReport>,
    /// The server closed the session (or refused the handshake).
    closed: bool,
    /// Documents whose content did not change but whose acknowledged heads did (the
    /// server now has more of our changes): save them (`save` and `acked`), so the count
    /// of pending changes survives a reload.
    acknowledged: Vec<String>,
    /// Documents whose other peers (`peers`) changed: one came, moved or left.
    presence: Vec<String>,
    /// Documents on which a peer not known before spoke: send our presence for them now
    /// (if open) rather than at the next heartbeat.
    announce: Vec<String>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ErrorReport {
    message: String,
    document_id: Option<String>,
}

/// What `recover` did to a document, for the app to tell the user.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Recovery {
    document_id: String,
    /// The edits dropped, each with what it was and why.
    dropped: Vec<Dropped>,
    /// How many of the tablet's unacknowledged changes survived.
    kept: usize,
    /// The document is gone from the tablet: its creation was refused.
    removed: bool,
    /// The server's reason, as its `error` said it.
    server_reason: String,
}

/// The server's refusal, in the words of `server/src/sync/connection.rs`.
const REFUSED: &str = "change refused: ";

/// The documents a tablet holds and its session with the server.
#[wasm_bindgen]
pub struct SyncClient {
    peer_id: String,
    storage_id: String,
    session: ClientSession,
    docs: HashMap<DocumentId, Tracked>,
    /// The other peers of each document, from their `ephemeral` messages.
    presence: Table,
    /// This connection's presence session (a new one per `join`) and the count of the
    /// last `ephemeral` message sent in it: receivers drop what does not grow.
    presence_session: String,
    presence_count: u64,
}

fn doc_id(id: &str) -> Result<DocumentId, JsError> {
    DocumentId::parse(id).map_err(js_err)
}

/// The server's last reported heads that this tablet holds (the server may report changes
/// it has and the tablet has not received yet).
fn acked_heads(tracked: &Tracked) -> Vec<ChangeHash> {
    tracked
        .server_heads
        .iter()
        .flatten()
        .filter(|h| tracked.doc.get_change_by_hash(h).is_some())
        .copied()
        .collect()
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

#[wasm_bindgen]
impl SyncClient {
    /// A client that joins as `peer_id` and stores documents under `storage_id` (both
    /// stable per tablet, so the server can resume its sync state).
    #[wasm_bindgen(constructor)]
    pub fn new(peer_id: &str, storage_id: &str) -> SyncClient {
        SyncClient {
            peer_id: peer_id.to_string(),
            storage_id: storage_id.to_string(),
            session: ClientSession::new(peer_id, Some(storage_id.to_string())),
            docs: HashMap::new(),
            presence: Table::default(),
            presence_session: String::new(),
            presence_count: 0,
        }
    }

    /// Starts a new connection: resets the session and every document's sync state, and
    /// returns the `join` frame to send first.
    #[wasm_bindgen(js_name = join)]
    pub fn join(&mut self) -> Vec<u8> {
        self.session = ClientSession::new(self.peer_id.clone(), Some(self.storage_id.clone()));
        for tracked in self.docs.values_mut() {
            tracked.state = SyncState::new();
        }
        self.presence_session = ActorId::random().to_hex_string();
        self.presence_count = 0;
        protocol::encode(&self.session.join())
    }

    /// Whether the handshake has completed on the current connection.
    #[wasm_bindgen(js_name = isJoined)]
    pub fn is_joined(&self) -> bool {
        self.session.server_id().is_some()
    }

    /// The frames to send now: a sync message for every document with something to say.
    #[wasm_bindgen(js_name = outgoing)]
    pub fn outgoing(&mut self) -> js_sys::Array {
        let frames = js_sys::Array::new();
        if !self.is_joined() {
            return frames;
        }
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in ids {
            if let Some(frame) = self.frame_for(&id) {
                frames.push(&js_sys::Uint8Array::from(frame.as_slice()));
            }
        }
        frames
    }

    fn frame_for(&mut self, id: &DocumentId) -> Option<Vec<u8>> {
        let tracked = self.docs.get_mut(id)?;
        if tracked.held {
            return None;
        }
        let request = tracked.doc.get_heads().is_empty();
        let message = tracked.doc.generate_sync_message(&mut tracked.state)?;
        Some(protocol::encode(&self.session.sync(
            *id,
            message.encode(),
            request,
        )))
    }

    /// Handles one frame from the server. Returns `{joined, changed, unavailable, errors,
    /// refused, closed, presence, announce}`; call `outgoing()` afterwards for the answers.
    #[wasm_bindgen(js_name = receive)]
    pub fn receive(&mut self, frame: &[u8]) -> Result<JsValue, JsError> {
        let message = protocol::decode(frame).map_err(js_err)?;
        let mut outcome = Outcome::default();
        for event in self.session.receive(message) {
            match event {
                Event::Joined { .. } => outcome.joined = true,
                Event::Sync {
                    document_id, data, ..
                } => {
                    let Some(tracked) = self.docs.get_mut(&document_id) else {
                        continue;
                    };
                    let message = SyncMessage::decode(&data).map_err(js_err)?;
                    let before = tracked.doc.get_heads();
                    let acked_before = tracked.server_heads.clone();
                    tracked.server_heads = Some(sorted(message.heads.clone()));
                    tracked
                        .doc
                        .receive_sync_message(&mut tracked.state, message)
                        .map_err(js_err)?;
                    if tracked.server_heads.as_ref() == Some(&sorted(tracked.doc.get_heads())) {
                        tracked.blind_recoveries = 0;
                    }
                    if tracked.doc.get_heads() != before {
                        outcome.changed.push(document_id.to_string());
                    } else if tracked.server_heads != acked_before {
                        outcome.acknowledged.push(document_id.to_string());
                    }
                }
                Event::Unavailable { document_id } => {
                    outcome.unavailable.push(document_id.to_string())
                }
                Event::PeerError {
                    message,
                    document_id,
                } => {
                    let report = ErrorReport {
                        message,
                        document_id: document_id.map(|d| d.to_string()),
                    };
                    let tracked = document_id.and_then(|d| self.docs.get_mut(&d));
                    if let Some(tracked) = tracked.filter(|_| report.message.starts_with(REFUSED)) {
                        tracked.held = true;
                        outcome.refused.push(report.clone());
                    }
                    outcome.errors.push(report);
                }
                Event::Leave | Event::Close { .. } => outcome.closed = true,
                Event::Ephemeral {
                    sender_id,
                    document_id,
                    session_id,
                    count,
                    data,
                } => {
                    if sender_id == self.peer_id {
                        continue;
                    }
                    let doc = document_id.to_string();
                    let heard = self.presence.hear(
                        &doc,
                        &sender_id,
                        &session_id,
                        count,
                        &data,
                        now().timestamp_millis() as f64,
                    );
                    if heard.new_peer && !outcome.announce.contains(&doc) {
                        outcome.announce.push(doc.clone());
                    }
                    if heard.changed && !outcome.presence.contains(&doc) {
                        outcome.presence.push(doc);
                    }
                }
                Event::Send(_) => {}
            }
        }
        to_js(&outcome)
    }

    /// The `ephemeral` frame that tells the document's other peers who is here and where:
    /// `state` is `{user, name, area?}` (`area` the id of the bay, room or entrance the
    /// user is at). Sent as automerge-repo's `Presence` sends a snapshot, so stock clients
    /// see it too. `undefined` until the connection has joined. Send it when the document
    /// is opened, when the user moves, and every few seconds as a heartbeat (peers forget
    /// a peer silent for three heartbeats).
    #[wasm_bindgen(js_name = presence)]
    pub fn presence(&mut self, id: &str, state: JsValue) -> Result<Option<Vec<u8>>, JsError> {
        let state: presence::State = from_js(state, "presence")?;
        self.ephemeral(id, presence::Message::Snapshot(state))
    }

    /// The `ephemeral` frame that tells the document's other peers this tablet has left it
    /// (they drop it at once). `undefined` until the connection has joined.
    #[wasm_bindgen(js_name = presenceGoodbye)]
    pub fn presence_goodbye(&mut self, id: &str) -> Result<Option<Vec<u8>>, JsError> {
        self.ephemeral(id, presence::Message::Goodbye)
    }

    fn ephemeral(
        &mut self,
        id: &str,
        message: presence::Message,
    ) -> Result<Option<Vec<u8>>, JsError> {
        let id = doc_id(id)?;
        if !self.is_joined() {
            return Ok(None);
        }
        self.presence_count += 1;
        Ok(Some(protocol::encode(&self.session.ephemeral(
            id,
            self.presence_session.clone(),
            self.presence_count,
            presence::encode(&message),
        ))))
    }

    /// The other peers that have the document open, by name: `[{peerId, user, name, area,
    /// lastSeen}]`, without those silent for more than three heartbeats at `now_ms`
    /// (milliseconds since the epoch) or gone with a goodbye.
    #[wasm_bindgen(js_name = peers)]
    pub fn peers(&mut self, id: &str, now_ms: f64) -> Result<JsValue, JsError> {
        let id = doc_id(id)?;
        to_js(&self.presence.peers(&id.to_string(), &self.peer_id, now_ms))
    }

    /// Recovers a document after the server refused a change of it (`outcome.refused`):
    /// rebuilds it from the state the server acknowledged plus this tablet's later edits
    /// that `user` (`{id, role, sites}`, as `GET /api/v1/me` returns them now) may still
    /// make, judged with the shared policy; drops the others. `message` is the server's
    /// `error`. Returns `{documentId, dropped, kept, removed, serverReason}` (`dropped`:
    /// `{kind, key, item, area, template, code, reason, role}` each), or `null` when the
    /// document is not waiting for a recovery. Call `save` (or, when `removed`, delete the
    /// stored copy) and `outgoing()` afterwards.
    ///
    /// Should the server refuse twice in a row what this tablet finds allowed (its idea of
    /// the user lags behind the server's), the second time every unacknowledged edit is
    /// dropped with the server's reason, so nothing stays pending for ever.
    #[wasm_bindgen(js_name = recover)]
    pub fn recover(&mut self, id: &str, user: JsValue, message: &str) -> Result<JsValue, JsError> {
        let user: shared::policy::User = from_js(user, "user")?;
        let key = doc_id(id)?;
        let Some(tracked) = self.docs.get_mut(&key).filter(|t| t.held) else {
            return Ok(JsValue::NULL);
        };
        let server_reason = message.strip_prefix(REFUSED).unwrap_or(message).to_string();
        // What the server has of it: the heads it last reported that this tablet holds.
        let acked = acked_heads(tracked);
        let mut rebuilt =
            recover::rebuild(&tracked.doc, &acked, recover::judge_for(&user)).map_err(js_err)?;
        if rebuilt.dropped.is_empty() {
            tracked.blind_recoveries += 1;
            if tracked.blind_recoveries >= 2 {
                let refusal = Refusal {
                    code: "server",
                    reason: server_reason.clone(),
                    role: None,
                };
                rebuilt = recover::rebuild(&tracked.doc, &acked, |_, _| Err(refusal.clone()))
                    .map_err(js_err)?;
            }
        }
        let removed = rebuilt.doc.get_heads().is_empty();
        if removed {
            self.docs.remove(&key);
        } else {
            tracked.doc = rebuilt.doc;
            tracked.state = SyncState::new();
            tracked.held = false;
        }
        to_js(&Recovery {
            document_id: id.to_string(),
            dropped: rebuilt.dropped,
            kept: rebuilt.kept,
            removed,
            server_reason,
        })
    }

    /// Documents with changes the server has not acknowledged yet.
    #[wasm_bindgen(js_name = unacknowledged)]
    pub fn unacknowledged(&self) -> Vec<String> {
        self.docs
            .iter()
            .filter(|(_, t)| t.unsent())
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// How many of this tablet's changes the server has not acknowledged, over every
    /// document: what "pending" means to the user (one answer, one bay marked, one
    /// submission: one change each). A document the server never acknowledged counts all
    /// of its changes.
    #[wasm_bindgen(js_name = pendingChanges)]
    pub fn pending_changes(&self) -> usize {
        self.docs
            .values()
            .map(|t| {
                if !t.unsent() {
                    return 0;
                }
                t.doc.get_changes(&acked_heads(t)).len()
            })
            .sum()
    }

    /// The heads the server last acknowledged of document `id`, as hex strings, or `null`
    /// if it never did: saved with the document and given back to `load`, so a reload does
    /// not count acknowledged changes as pending.
    #[wasm_bindgen(js_name = acked)]
    pub fn acked(&self, id: &str) -> Result<Option<Vec<String>>, JsError> {
        let tracked = self.tracked(id)?;
        Ok(tracked.server_heads.as_ref().map(|_| {
            acked_heads(tracked)
                .iter()
                .map(ToString::to_string)
                .collect()
        }))
    }

    /// Adds a saved document (from IndexedDB) with the heads the server had acknowledged
    /// when it was saved (`acked`; absent for a document saved before any acknowledgement).
    /// Heads that are not change hashes of the document are ignored.
    #[wasm_bindgen(js_name = load)]
    pub fn load(
        &mut self,
        id: &str,
        bytes: &[u8],
        acked: Option<Vec<String>>,
    ) -> Result<(), JsError> {
        let doc = Automerge::load(bytes).map_err(js_err)?;
        let mut tracked = Tracked::new(doc);
        tracked.server_heads = acked.map(|heads| {
            sorted(
                heads
                    .iter()
                    .filter_map(|h| h.parse::<ChangeHash>().ok())
                    .filter(|h| tracked.doc.get_change_by_hash(h).is_some())
                    .collect(),
            )
        });
        self.docs.insert(doc_id(id)?, tracked);
        Ok(())
    }

    /// Starts tracking a document the tablet does not have yet; the next `outgoing()`
    /// requests it.
    #[wasm_bindgen(js_name = want)]
    pub fn want(&mut self, id: &str) -> Result<(), JsError> {
        let id = doc_id(id)?;
        self.docs
            .entry(id)
            .or_insert_with(|| Tracked::new(Automerge::new()));
        Ok(())
    }

    /// Stops tracking a document (the server said it is unavailable and the tablet has
    /// nothing of it).
    #[wasm_bindgen(js_name = forget)]
    pub fn forget(&mut self, id: &str) -> Result<(), JsError> {
        let id = doc_id(id)?;
        if self
            .docs
            .get(&id)
            .is_some_and(|t| t.doc.get_heads().is_empty())
        {
            self.docs.remove(&id);
        }
        Ok(())
    }

    /// Stops holding a document this device no longer keeps (bounded sync, `deviceKeeps`):
    /// removed, with its sync state, only if the server has acknowledged every change of
    /// it, so nothing unsent is ever dropped; the server's messages for it are ignored
    /// until it is wanted again. Whether it was removed.
    #[wasm_bindgen(js_name = release)]
    pub fn release(&mut self, id: &str) -> Result<bool, JsError> {
        let id = doc_id(id)?;
        let acknowledged = self
            .docs
            .get(&id)
            .is_some_and(|t| !t.doc.get_heads().is_empty() && !t.unsent());
        if acknowledged {
            self.docs.remove(&id);
        }
        Ok(acknowledged)
    }

    /// The ids of every document held (including wanted ones).
    #[wasm_bindgen(js_name = ids)]
    pub fn ids(&self) -> Vec<String> {
        self.docs.keys().map(ToString::to_string).collect()
    }

    /// Whether the document has content (a wanted one may not yet).
    #[wasm_bindgen(js_name = has)]
    pub fn has(&self, id: &str) -> bool {
        doc_id(id)
            .ok()
            .and_then(|id| self.docs.get(&id))
            .is_some_and(|t| !t.doc.get_heads().is_empty())
    }

    /// The document's bytes, for IndexedDB.
    #[wasm_bindgen(js_name = save)]
    pub fn save(&self, id: &str) -> Result<Vec<u8>, JsError> {
        Ok(self.tracked(id)?.doc.save())
    }

    fn tracked(&self, id: &str) -> Result<&Tracked, JsError> {
        self.docs
            .get(&doc_id(id)?)
            .ok_or_else(|| JsError::new("no such document on this tablet"))
    }

    fn tracked_mut(&mut self, id: &str) -> Result<&mut Tracked, JsError> {
        self.docs
            .get_mut(&doc_id(id)?)
            .ok_or_else(|| JsError::new("no such document on this tablet"))
    }

    /// Starts a new inspection offline; returns its document id.
    #[wasm_bindgen(js_name = createInspection)]
    pub fn create_inspection(
        &mut self,
        site: &str,
        template: JsValue,
        areas: JsValue,
        user: &str,
    ) -> Result<String, JsError> {
        let bytes: [u8; 16] = ActorId::random()
            .to_bytes()
            .try_into()
            .map_err(|_| JsError::new("random id of the wrong length"))?;
        let id = DocumentId::from_bytes(bytes);
        let new = new_inspection(&id.to_string(), site, template, areas, user)?;
        let doc = write::create(&new, ActorId::random()).map_err(js_err)?;
        self.docs.insert(id, Tracked::new(doc));
        Ok(id.to_string())
    }

    /// Answers an item (see `InspectionDoc.answer`); the record names this tablet (its
    /// peer id) as the device that wrote it.
    #[wasm_bindgen(js_name = answer)]
    pub fn answer(
        &mut self,
        id: &str,
        user: &str,
        key: &str,
        value: JsValue,
        note: Option<String>,
        photos: Vec<String>,
    ) -> Result<(), JsError> {
        let device = self.peer_id.clone();
        apply_answer(
            &mut self.tracked_mut(id)?.doc,
            user,
            Some(&device),
            key,
            value,
            note.as_deref(),
            photos,
        )
    }

    /// Marks a bay occupied or empty.
    #[wasm_bindgen(js_name = setOccupied)]
    pub fn set_occupied(
        &mut self,
        id: &str,
        user: &str,
        bay: &str,
        occupied: bool,
    ) -> Result<(), JsError> {
        apply_occupied(&mut self.tracked_mut(id)?.doc, user, bay, occupied)
    }

    /// Submits the inspection.
    #[wasm_bindgen(js_name = submit)]
    pub fn submit(&mut self, id: &str, user: &str) -> Result<(), JsError> {
        apply_submit(&mut self.tracked_mut(id)?.doc, user)
    }

    /// The inspection's state (answers with conflicts, submission).
    #[wasm_bindgen(js_name = state)]
    pub fn state(&self, id: &str) -> Result<JsValue, JsError> {
        to_js(&inspection::read(&self.tracked(id)?.doc).map_err(js_err)?)
    }

    /// Whether `user` (`{id, role, sites}`, as `GET /api/v1/me` returns it) may answer the
    /// inspection now: a role its template's `run_by` names, at its site, before it is
    /// submitted (`shared::policy::may_answer`, the rule the server judges by). The app
    /// shows everyone else a read-only inspection.
    #[wasm_bindgen(js_name = mayAnswer)]
    pub fn may_answer(&self, id: &str, user: JsValue) -> Result<bool, JsError> {
        let user: shared::policy::User = from_js(user, "user")?;
        let view = inspection::read(&self.tracked(id)?.doc).map_err(js_err)?;
        Ok(shared::policy::may_answer(&user, &view))
    }

    /// The sum of the inspection's money fines, yuan (`shared::rules::total_yuan`).
    #[wasm_bindgen(js_name = fineTotal)]
    pub fn fine_total(&self, id: &str) -> Result<f64, JsError> {
        let view = inspection::read(&self.tracked(id)?.doc).map_err(js_err)?;
        // Yuan sums stay far below 2^53: exact as a JavaScript number.
        Ok(shared::rules::total_yuan(&shared::rules::evaluate(&view)) as f64)
    }

    /// Whether this device keeps document `id` (bounded sync, issue 18): it has changes
    /// the server has not acknowledged, or it is not an inspection this client can read,
    /// or `shared::policy::device_keeps` says so for `opened_ms` (when the user last opened
    /// it here, ms, if ever), `now_ms` and `days` (discovery's `device_days`). One it does
    /// not keep may be forgotten and its stored bytes deleted; opened again, it is fetched.
    #[wasm_bindgen(js_name = deviceKeeps)]
    pub fn device_keeps(
        &self,
        id: &str,
        opened_ms: Option<f64>,
        now_ms: f64,
        days: u32,
    ) -> Result<bool, JsError> {
        let tracked = self.tracked(id)?;
        if tracked.unsent() {
            return Ok(true);
        }
        let Ok(view) = inspection::read(&tracked.doc) else {
            return Ok(true);
        };
        let at = |ms: f64| chrono::DateTime::from_timestamp_millis(ms as i64);
        let Some(now) = at(now_ms) else {
            return Err(JsError::new("invalid now"));
        };
        Ok(shared::policy::device_keeps(
            &view,
            opened_ms.and_then(at),
            now,
            days,
        ))
    }

    /// The keys the inspection asks for.
    #[wasm_bindgen(js_name = expectedKeys)]
    pub fn expected_keys(&self, id: &str) -> Result<Vec<String>, JsError> {
        let view = inspection::read(&self.tracked(id)?.doc).map_err(js_err)?;
        Ok(view
            .expected_keys()
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// What stands between the inspection and its submission:
    /// `[{key, reason}]`, `key` an answer key or `occupied@<bay>`, `reason` one of
    /// `not_answered`, `note_required`, `photo_required`, `conflicting_answers`,
    /// `occupancy_disagrees` (`shared::inspection::BlockReason`), for the screen to say in
    /// the user's language.
    #[wasm_bindgen(js_name = submissionProblems)]
    pub fn submission_problems(&self, id: &str) -> Result<JsValue, JsError> {
        to_js(
            &inspection::read(&self.tracked(id)?.doc)
                .map_err(js_err)?
                .submission_blockers(),
        )
    }

    /// The bays whose occupancy records disagree (tablets that marked one occupied and
    /// one empty offline), shown like an answer conflict until someone picks one.
    #[wasm_bindgen(js_name = occupancyDisagreements)]
    pub fn occupancy_disagreements(&self, id: &str) -> Result<Vec<String>, JsError> {
        let view = inspection::read(&self.tracked(id)?.doc).map_err(js_err)?;
        Ok(view
            .occupancy_disagreements()
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// The live violation list.
    #[wasm_bindgen(js_name = violations)]
    pub fn violations(&self, id: &str) -> Result<JsValue, JsError> {
        let view = inspection::read(&self.tracked(id)?.doc).map_err(js_err)?;
        to_js(&shared::rules::evaluate(&view))
    }
}

/// The SHA-256 of some bytes, lowercase hex: the reference of a photo. Computed here
/// because the browser's `crypto.subtle` exists only on HTTPS pages.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
