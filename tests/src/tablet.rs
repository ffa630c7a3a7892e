//! A simulated tablet: a Rust client built on `shared`, speaking the sync protocol to the
//! real server over a real WebSocket, holding its own automerge documents.

use std::collections::HashMap;
use std::time::Duration;

use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use shared::ids::{InspectionId, SiteId, UserId};
use shared::inspection::{AnswerKey, AnswerValue, NewInspection, write};
use shared::protocol::{self, ClientSession, DocumentId, Event, Message};
use shared::site::Area;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{TestApp, unique_name};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a tablet has heard from the server besides sync data.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A protocol `error`.
    Error {
        /// The message.
        message: String,
        /// The document it names.
        document_id: Option<DocumentId>,
    },
    /// `doc-unavailable`.
    Unavailable(DocumentId),
}

/// An `ephemeral` message a tablet received (presence relayed from another peer).
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The peer that sent it first.
    pub sender_id: String,
    /// The peer it was addressed to.
    pub target_id: String,
    /// The document.
    pub document_id: DocumentId,
    /// The sender's session.
    pub session_id: String,
    /// The sender's count.
    pub count: u64,
    /// The data.
    pub data: Vec<u8>,
}

/// A fresh random document id, as automerge-repo makes them.
pub fn random_doc_id() -> DocumentId {
    let bytes: [u8; 16] = ActorId::random()
        .to_bytes()
        .try_into()
        .expect("a random actor id is 16 bytes");
    DocumentId::from_bytes(bytes)
}

/// Logs in over HTTP and returns just the access token.
pub async fn access_token(app: &TestApp, username: &str, password: &str) -> String {
    login(app, username, password).await["access_token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// Logs in over HTTP and returns the login response.
pub async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    login_at(&app.address.to_string(), username, password).await
}

/// Logs in at the server listening on `address` and returns the login response.
pub async fn login_at(address: &str, username: &str, password: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://{address}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("responds");
    assert_eq!(response.status().as_u16(), 200, "login of {username}");
    response.json().await.expect("JSON")
}

/// A tablet with its documents.
pub struct Tablet {
    /// Who is logged in.
    pub user: UserId,
    /// Its access token.
    pub token: String,
    /// Its refresh token.
    pub refresh_token: String,
    address: String,
    ws: Option<Ws>,
    session: ClientSession,
    /// Its documents and their sync states with the server.
    pub docs: HashMap<DocumentId, (Automerge, SyncState)>,
    /// Errors and unavailability notices received.
    pub notices: Vec<Notice>,
    /// Presence messages received.
    pub heard: Vec<Heard>,
    /// The storage id it announces (`storage-<user>` unless set; each real device has
    /// its own).
    pub storage: String,
    /// The heads the server last reported for each document: what it has committed.
    pub acknowledged: HashMap<DocumentId, Vec<ChangeHash>>,
    /// Bytes of binary frames sent and received, for benchmarks.
    pub wire_bytes: (usize, usize),
    /// Binary frames sent and received, for benchmarks.
    pub wire_frames: (usize, usize),
    actor: u64,
}

impl Tablet {
    /// Logs in as `username` and connects.
    pub async fn login(app: &TestApp, username: &str, password: &str) -> Tablet {
        Tablet::login_at(&app.address.to_string(), username, password).await
    }

    /// Logs in as `username` at the server listening on `address`, and connects.
    pub async fn login_at(address: &str, username: &str, password: &str) -> Tablet {
        let body = login_at(address, username, password).await;
        let token = body["access_token"].as_str().expect("token").to_string();
        let mut tablet = Tablet {
            user: UserId::parse(username).expect("valid user id"),
            token,
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_string(),
            address: address.to_string(),
            ws: None,
            session: ClientSession::new(unique_name("tablet"), Some(unique_name("storage"))),
            docs: HashMap::new(),
            notices: Vec::new(),
            heard: Vec::new(),
            acknowledged: HashMap::new(),
            wire_bytes: (0, 0),
            wire_frames: (0, 0),
            storage: format!("storage-{username}"),
            actor: 0,
        };
        tablet.connect_to(address).await;
        tablet
    }

    /// (Re)connects: a new WebSocket, a fresh handshake, fresh sync states (as after a
    /// restart of the app).
    pub async fn connect(&mut self, app: &TestApp) {
        self.connect_to(&app.address.to_string()).await;
    }

    /// (Re)connects to the server listening on `address`.
    pub async fn connect_to(&mut self, address: &str) {
        if let Err(e) = self.try_connect_to(address).await {
            panic!("{e}");
        }
    }

    /// (Re)connects to the server listening on `address`, or says why it could not.
    pub async fn try_connect_to(&mut self, address: &str) -> Result<(), String> {
        self.address = address.to_string();
        self.ws = None;
        let url = format!("ws://{address}/sync?token={}", self.token);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("connects: {e}"))?;
        self.ws = Some(ws);
        let storage = self.session_storage();
        self.session = ClientSession::new(unique_name("tablet"), storage);
        // A new connection starts every document's sync afresh, as the app does: what was
        // sent on the old one may never have arrived.
        for (_, state) in self.docs.values_mut() {
            *state = SyncState::new();
        }
        let join = self.session.join();
        if !self.try_send_raw(protocol::encode(&join)).await {
            return Err("the connection closed before the handshake".to_string());
        }
        match self.next_message(Duration::from_secs(15)).await {
            Some(peer @ Message::Peer { .. }) => {
                self.session.receive(peer);
                Ok(())
            }
            other => Err(format!("expected peer, got {other:?}")),
        }
    }

    /// Its peer id on the current connection.
    pub fn peer_id(&self) -> String {
        self.session.peer_id().to_string()
    }

    /// Sends an `ephemeral` message (presence) for a document.
    pub async fn send_ephemeral(
        &mut self,
        id: DocumentId,
        session_id: &str,
        count: u64,
        data: Vec<u8>,
    ) {
        let message = self
            .session
            .ephemeral(id, session_id.to_string(), count, data);
        self.send(&message).await;
    }

    /// Reads and handles everything the server sends within `window` (as `sync` does,
    /// answering sync data), without pushing anything first.
    pub async fn listen(&mut self, window: Duration) {
        let deadline = tokio::time::Instant::now() + window;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return;
            }
            let Some(message) = self.next_message(deadline - now).await else {
                return;
            };
            self.handle(message, &mut HashMap::new()).await;
        }
    }

    fn session_storage(&self) -> Option<String> {
        Some(self.storage.clone())
    }

    /// Exchanges the refresh token for fresh tokens (as the app does before its access
    /// token expires) at the server listening on `address`.
    pub async fn refresh_at(&mut self, address: &str) {
        let response = reqwest::Client::new()
            .post(format!("http://{address}/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": self.refresh_token }))
            .send()
            .await
            .expect("responds");
        assert_eq!(response.status().as_u16(), 200, "refresh of {}", self.user);
        let body: Value = response.json().await.expect("JSON");
        self.token = body["access_token"].as_str().expect("token").to_string();
        self.refresh_token = body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_string();
    }

    /// Reconnects to the server it last connected to.
    pub async fn reconnect_same(&mut self) {
        let address = self.address.clone();
        self.connect_to(&address).await;
    }

    /// Goes offline: the connection is dropped.
    pub async fn disconnect(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        for (_, state) in self.docs.values_mut() {
            *state = SyncState::new();
        }
    }

    /// Whether the server has closed the connection (reads until close or timeout).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(WsMessage::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Sends a message; a connection that is gone is dropped (the tablet is offline until
    /// it reconnects), as the app does.
    async fn send(&mut self, message: &Message) {
        if !self.try_send_raw(protocol::encode(message)).await {
            self.ws = None;
        }
    }

    /// Sends raw bytes as one binary frame.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        assert!(self.try_send_raw(bytes).await, "sends");
    }

    /// Sends raw bytes as one binary frame; false if the connection is gone.
    pub async fn try_send_raw(&mut self, bytes: Vec<u8>) -> bool {
        self.wire_bytes.0 += bytes.len();
        self.wire_frames.0 += 1;
        match self.ws.as_mut() {
            Some(ws) => ws.send(WsMessage::Binary(bytes.into())).await.is_ok(),
            None => false,
        }
    }

    /// The next protocol message, if one arrives within `timeout`.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Message> {
        let ws = self.ws.as_mut()?;
        loop {
            match tokio::time::timeout(timeout, ws.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                    self.wire_bytes.1 += bytes.len();
                    self.wire_frames.1 += 1;
                    return Some(
                        protocol::decode(&bytes).expect("the server sends valid messages"),
                    );
                }
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    fn new_actor(&mut self) -> ActorId {
        self.actor += 1;
        ActorId::from(format!("{}-{}", self.user, self.actor).into_bytes())
    }

    /// Creates an inspection offline and returns its document id.
    pub fn create(&mut self, template: &str, site: &str, areas: Vec<Area>) -> DocumentId {
        let id = random_doc_id();
        let new = NewInspection {
            id: InspectionId::parse(id.to_string()).expect("bs58 is a valid inspection id"),
            site: SiteId::parse(site).expect("valid"),
            template: shared::builtin::find(template).expect("built-in"),
            areas,
            created_by: self.user.clone(),
            created_at: chrono::Utc::now(),
        };
        let actor = self.new_actor();
        let doc = write::create(&new, actor).expect("creates");
        self.docs.insert(id, (doc, SyncState::new()));
        id
    }

    /// Answers an item offline.
    pub fn answer(&mut self, id: &DocumentId, key: &str, value: AnswerValue, note: Option<&str>) {
        let user = self.user.clone();
        let (doc, _) = self.docs.get_mut(id).expect("has the document");
        let photos = [shared::inspection::PhotoRef::parse("ab".repeat(32)).expect("valid")];
        write::answer(
            doc,
            &user,
            chrono::Utc::now(),
            &AnswerKey::parse(key).expect("key"),
            &value,
            note,
            &photos,
        )
        .expect("answers");
    }

    /// Applies any edit to a document offline (for forging changes an honest app would
    /// never make).
    pub fn edit(&mut self, id: &DocumentId, f: impl FnOnce(&mut Automerge)) {
        let (doc, _) = self.docs.get_mut(id).expect("has the document");
        f(doc);
    }

    /// Starts tracking a document the tablet does not have yet (it will `request` it).
    pub fn want(&mut self, id: DocumentId) {
        self.docs
            .entry(id)
            .or_insert_with(|| (Automerge::new(), SyncState::new()));
    }

    /// Stops syncing a document (an inspection the tablet has finished with) and returns
    /// its replica.
    pub fn forget(&mut self, id: &DocumentId) -> Option<Automerge> {
        self.acknowledged.remove(id);
        self.docs.remove(id).map(|(doc, _)| doc)
    }

    /// How many changes its documents hold in all.
    pub fn change_count(&self) -> usize {
        self.docs
            .values()
            .map(|(d, _)| d.get_changes(&[]).len())
            .sum()
    }

    /// The heads of a document.
    pub fn heads(&self, id: &DocumentId) -> Vec<ChangeHash> {
        self.docs
            .get(id)
            .map(|(d, _)| d.get_heads())
            .unwrap_or_default()
    }

    /// Syncs every document until neither side has anything more to say.
    pub async fn sync(&mut self) {
        let idle = Duration::from_millis(300);
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in &ids {
            self.push(id).await;
        }
        // Bounded, so a sync that never settles fails the test instead of hanging it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Some(message) = self.next_message(idle).await {
            self.handle(message, &mut HashMap::new()).await;
            if tokio::time::Instant::now() > deadline {
                panic!("sync did not settle within 20 s");
            }
        }
    }

    /// Syncs every document until the server has acknowledged all of them: its latest
    /// sync message for each document reports exactly the tablet's heads. Returns false if
    /// that does not happen within `timeout`.
    pub async fn sync_until_acked(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        // What the server reported before still holds for documents that did not change
        // since (they get no new message).
        let mut server_heads: HashMap<DocumentId, Vec<ChangeHash>> = self.acknowledged.clone();
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in &ids {
            self.push(id).await;
        }
        loop {
            let done = self.docs.iter().all(|(id, (doc, _))| {
                server_heads.get(id).is_some_and(|h| {
                    let mut ours = doc.get_heads();
                    ours.sort();
                    let mut theirs = h.clone();
                    theirs.sort();
                    ours == theirs
                })
            });
            if done {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let Some(message) = self.next_message(deadline - now).await else {
                return false;
            };
            self.handle(message, &mut server_heads).await;
        }
    }

    /// Handles one message received with [`Tablet::next_message`] as `sync` would.
    pub async fn handle_message(&mut self, message: Message) {
        self.handle(message, &mut HashMap::new()).await;
    }

    /// Handles one message from the server: applies sync data (recording the heads the
    /// server reported), answers it, and keeps notices.
    async fn handle(
        &mut self,
        message: Message,
        server_heads: &mut HashMap<DocumentId, Vec<ChangeHash>>,
    ) {
        for id in self.absorb(message, server_heads) {
            self.push(&id).await;
        }
    }

    /// Applies one message from the server without answering it (to count round trips:
    /// the answers go out together with [`Tablet::send_changes`]). Returns the documents
    /// it carried sync data for.
    pub fn absorb_message(&mut self, message: Message) -> Vec<DocumentId> {
        self.absorb(message, &mut HashMap::new())
    }

    fn absorb(
        &mut self,
        message: Message,
        server_heads: &mut HashMap<DocumentId, Vec<ChangeHash>>,
    ) -> Vec<DocumentId> {
        let mut synced = Vec::new();
        if let Message::Ephemeral {
            sender_id,
            target_id,
            document_id,
            session_id,
            count,
            data,
        } = &message
        {
            self.heard.push(Heard {
                sender_id: sender_id.clone(),
                target_id: target_id.clone(),
                document_id: *document_id,
                session_id: session_id.clone(),
                count: *count,
                data: data.clone(),
            });
        }
        for event in self.session.receive(message) {
            match event {
                Event::Sync {
                    document_id, data, ..
                } => {
                    let Some((doc, state)) = self.docs.get_mut(&document_id) else {
                        continue;
                    };
                    let message =
                        SyncMessage::decode(&data).expect("valid sync data from the server");
                    server_heads.insert(document_id, message.heads.clone());
                    self.acknowledged.insert(document_id, message.heads.clone());
                    doc.receive_sync_message(state, message).expect("applies");
                    synced.push(document_id);
                }
                Event::Unavailable { document_id } => {
                    self.notices.push(Notice::Unavailable(document_id))
                }
                Event::PeerError {
                    message,
                    document_id,
                } => self.notices.push(Notice::Error {
                    message,
                    document_id,
                }),
                _ => {}
            }
        }
        synced
    }

    /// Sends what the server lacks of every document, without waiting for an answer.
    pub async fn send_changes(&mut self) {
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in &ids {
            self.push(id).await;
        }
    }

    /// Sends the next sync message for a document after `doctor` has changed it (and the
    /// sync state that records what was sent), to play a misbehaving or unlucky peer.
    pub async fn push_doctored(
        &mut self,
        id: &DocumentId,
        doctor: impl FnOnce(&Automerge, &mut SyncMessage, &mut SyncState),
    ) {
        let Some((doc, state)) = self.docs.get_mut(id) else {
            return;
        };
        if let Some(mut message) = doc.generate_sync_message(state) {
            doctor(doc, &mut message, state);
            let message = self.session.sync(*id, message.encode(), false);
            self.send(&message).await;
        }
    }

    async fn push(&mut self, id: &DocumentId) {
        let Some((doc, state)) = self.docs.get_mut(id) else {
            return;
        };
        let request = doc.get_heads().is_empty();
        if let Some(message) = doc.generate_sync_message(state) {
            let message = self.session.sync(*id, message.encode(), request);
            self.send(&message).await;
        }
    }
}

/// Every tablet reconnects at once and sends what it holds until the server acknowledges
/// all of it (as tablets coming back online together do); returns the tablets and how many
/// were fully acknowledged within `timeout`. A tablet that was not says so on stderr with
/// the notices it received.
pub async fn sync_all_at_once(tablets: Vec<Tablet>, timeout: Duration) -> (Vec<Tablet>, usize) {
    let tasks: Vec<_> = tablets
        .into_iter()
        .map(|mut tablet| {
            tokio::spawn(async move {
                tablet.reconnect_same().await;
                let ok = tablet.sync_until_acked(timeout).await;
                if !ok {
                    eprintln!(
                        "tablet {} not acknowledged; notices: {:?}",
                        tablet.user, tablet.notices
                    );
                }
                (tablet, ok)
            })
        })
        .collect();
    let mut synced = Vec::new();
    let mut acked = 0;
    for task in tasks {
        let (tablet, ok) = task.await.expect("joins");
        acked += usize::from(ok);
        synced.push(tablet);
    }
    (synced, acked)
}
