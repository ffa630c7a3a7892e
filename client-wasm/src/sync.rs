//! The tablet's sync client: every document the tablet holds, and the protocol session
//! with the server, over frames the JavaScript side carries.
//!
//! The WebSocket, IndexedDB and timers live in JavaScript (they are browser APIs); every
//! decision lives here, in the shared protocol and document code: what to send, what a
//! received frame means, which documents changed, which changes the server has not yet
//! acknowledged.

use std::collections::HashMap;

use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash};
use serde::Serialize;
use shared::inspection::{self, write};
use shared::protocol::{self, ClientSession, DocumentId, Event};
use wasm_bindgen::prelude::*;

use crate::{apply_answer, apply_occupied, apply_submit, js_err, new_inspection, to_js};

struct Tracked {
    doc: Automerge,
    state: SyncState,
    /// The heads the server last reported for this document.
    server_heads: Option<Vec<ChangeHash>>,
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
    /// The server closed the session (or refused the handshake).
    closed: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorReport {
    message: String,
    document_id: Option<String>,
}

/// The documents a tablet holds and its session with the server.
#[wasm_bindgen]
pub struct SyncClient {
    peer_id: String,
    storage_id: String,
    session: ClientSession,
    docs: HashMap<DocumentId, Tracked>,
}

fn doc_id(id: &str) -> Result<DocumentId, JsError> {
    DocumentId::parse(id).map_err(js_err)
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
        let request = tracked.doc.get_heads().is_empty();
        let message = tracked.doc.generate_sync_message(&mut tracked.state)?;
        Some(protocol::encode(&self.session.sync(
            *id,
            message.encode(),
            request,
        )))
    }

    /// Handles one frame from the server. Returns `{joined, changed, unavailable, errors,
    /// closed}`; call `outgoing()` afterwards for the answers.
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
                    tracked.server_heads = Some(sorted(message.heads.clone()));
                    tracked
                        .doc
                        .receive_sync_message(&mut tracked.state, message)
                        .map_err(js_err)?;
                    if tracked.doc.get_heads() != before {
                        outcome.changed.push(document_id.to_string());
                    }
                }
                Event::Unavailable { document_id } => {
                    outcome.unavailable.push(document_id.to_string())
                }
                Event::PeerError {
                    message,
                    document_id,
                } => outcome.errors.push(ErrorReport {
                    message,
                    document_id: document_id.map(|d| d.to_string()),
                }),
                Event::Leave | Event::Close { .. } => outcome.closed = true,
                // Presence from other peers; the app does not show it yet.
                Event::Send(_) | Event::Ephemeral { .. } => {}
            }
        }
        to_js(&outcome)
    }

    /// Documents with changes the server has not acknowledged yet.
    #[wasm_bindgen(js_name = unacknowledged)]
    pub fn unacknowledged(&self) -> Vec<String> {
        self.docs
            .iter()
            .filter(|(_, t)| {
                let ours = sorted(t.doc.get_heads());
                !ours.is_empty() && t.server_heads.as_ref() != Some(&ours)
            })
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Adds a saved document (from IndexedDB).
    #[wasm_bindgen(js_name = load)]
    pub fn load(&mut self, id: &str, bytes: &[u8]) -> Result<(), JsError> {
        let doc = Automerge::load(bytes).map_err(js_err)?;
        self.docs.insert(
            doc_id(id)?,
            Tracked {
                doc,
                state: SyncState::new(),
                server_heads: None,
            },
        );
        Ok(())
    }

    /// Starts tracking a document the tablet does not have yet; the next `outgoing()`
    /// requests it.
    #[wasm_bindgen(js_name = want)]
    pub fn want(&mut self, id: &str) -> Result<(), JsError> {
        let id = doc_id(id)?;
        self.docs.entry(id).or_insert_with(|| Tracked {
            doc: Automerge::new(),
            state: SyncState::new(),
            server_heads: None,
        });
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
        self.docs.insert(
            id,
            Tracked {
                doc,
                state: SyncState::new(),
                server_heads: None,
            },
        );
        Ok(id.to_string())
    }

    /// Answers an item (see `InspectionDoc.answer`).
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
        apply_answer(
            &mut self.tracked_mut(id)?.doc,
            user,
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

    /// What stands between the inspection and its submission.
    #[wasm_bindgen(js_name = submissionProblems)]
    pub fn submission_problems(&self, id: &str) -> Result<Vec<String>, JsError> {
        Ok(inspection::read(&self.tracked(id)?.doc)
            .map_err(js_err)?
            .submission_problems())
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
